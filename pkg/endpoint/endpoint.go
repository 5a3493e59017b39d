// Package endpoint reads an AzureRM service connection from the variables the
// agent puts in the task's environment.
//
// The agent spells the variable names in upper case, but some agents and
// older servers do not, so every name is looked up case-insensitively.
package endpoint

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Env is a snapshot of the process environment with case-insensitive
// lookup. It remembers which sensitive variables were read so the caller can
// remove them from the process once they are in memory.
type Env struct {
	vars      map[string]string // upper-cased name -> value
	names     map[string]string // upper-cased name -> name as spelled
	sensitive map[string]bool   // names as spelled
}

// NewEnv builds an Env from os.Environ()-style "NAME=value" entries.
func NewEnv(environ []string) *Env {
	e := &Env{vars: map[string]string{}, names: map[string]string{}, sensitive: map[string]bool{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		up := strings.ToUpper(k)
		e.vars[up] = v
		e.names[up] = k
	}
	return e
}

// Get returns a variable's value, looked up case-insensitively.
func (e *Env) Get(name string) string { return e.vars[strings.ToUpper(name)] }

// Lookup is Get that also says whether the variable exists.
func (e *Env) Lookup(name string) (string, bool) {
	v, ok := e.vars[strings.ToUpper(name)]
	return v, ok
}

// Secret reads a sensitive variable and records it for Sensitive.
func (e *Env) Secret(name string) string {
	up := strings.ToUpper(name)
	if n, ok := e.names[up]; ok {
		e.sensitive[n] = true
	}
	return e.vars[up]
}

// Sensitive lists, as spelled in the environment, every sensitive variable
// that was read, plus every endpoint auth parameter and secret variable
// present: none of them should outlive their first read.
func (e *Env) Sensitive() []string {
	out := []string{}
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for n := range e.sensitive {
		add(n)
	}
	for up, n := range e.names {
		if sensitiveName(up) {
			add(n)
		}
	}
	return out
}

// sensitiveName says whether an upper-cased variable name holds a
// credential by its name alone: every endpoint auth parameter (the scheme
// is not one), every secret variable, and the job's access token when a
// pipeline maps it into the environment.
func sensitiveName(up string) bool {
	switch {
	case strings.HasPrefix(up, "ENDPOINT_AUTH_SCHEME_"):
		return false
	case strings.HasPrefix(up, "ENDPOINT_AUTH_"), strings.HasPrefix(up, "SECRET_"):
		return true
	}
	return up == "SYSTEM_ACCESSTOKEN"
}

// Connection is the part of an AzureRM service connection the task uses.
type Connection struct {
	ID     string
	URL    string // the ARM endpoint, e.g. https://management.azure.com/
	Scheme string // ServicePrincipal, WorkloadIdentityFederation, ManagedServiceIdentity

	TenantID           string
	ClientID           string
	AuthenticationType string // spnKey or spnCertificate
	ClientSecret       string
	CertificatePEM     string
	FederationSubject  string
	FederationIssuer   string

	SubscriptionID string
	Environment    string // AzureCloud, AzureChinaCloud, AzureUSGovernment, AzureStack
	AuthorityHost  string // ACTIVEDIRECTORYAUTHORITY or ENVIRONMENTAUTHORITYURL
	VaultDNSSuffix string
	VaultResource  string
	MSIClientID    string
	EnableADFS     bool
}

// Read reads the connection whose id is the value of the azureSubscription
// input.
func Read(e *Env, id string) (*Connection, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("input azureSubscription is empty: choose an Azure Resource Manager service connection")
	}
	scheme := e.Get("ENDPOINT_AUTH_SCHEME_" + id)
	url, hasURL := e.Lookup("ENDPOINT_URL_" + id)
	authJSON := e.Secret("ENDPOINT_AUTH_" + id)
	if scheme == "" && !hasURL && authJSON == "" {
		return nil, fmt.Errorf("service connection %q (input azureSubscription) is not available to this job: check that it exists, that this pipeline is authorised to use it, and that its name is spelled right", id)
	}
	// The JSON form carries the same parameters; it is the fallback for
	// agents that do not export each one on its own.
	var auth struct {
		Parameters map[string]string `json:"parameters"`
		Scheme     string            `json:"scheme"`
	}
	if authJSON != "" {
		if err := json.Unmarshal([]byte(authJSON), &auth); err != nil {
			return nil, fmt.Errorf("read service connection %s: ENDPOINT_AUTH_%s is not valid JSON", id, id)
		}
	}
	if scheme == "" {
		scheme = auth.Scheme
	}
	param := func(key string, sensitive bool) string {
		name := "ENDPOINT_AUTH_PARAMETER_" + id + "_" + key
		var v string
		if sensitive {
			v = e.Secret(name)
		} else {
			v = e.Get(name)
		}
		if v != "" {
			return v
		}
		for k, pv := range auth.Parameters {
			if strings.EqualFold(k, key) {
				return pv
			}
		}
		return ""
	}
	data := func(key string) string { return e.Get("ENDPOINT_DATA_" + id + "_" + key) }

	c := &Connection{
		ID:                 id,
		URL:                url,
		Scheme:             scheme,
		TenantID:           strings.TrimSpace(param("TENANTID", false)),
		ClientID:           strings.TrimSpace(param("SERVICEPRINCIPALID", true)),
		AuthenticationType: param("AUTHENTICATIONTYPE", false),
		ClientSecret:       param("SERVICEPRINCIPALKEY", true),
		CertificatePEM:     param("SERVICEPRINCIPALCERTIFICATE", true),
		FederationSubject:  param("WORKLOADIDENTITYFEDERATIONSUBJECT", false),
		FederationIssuer:   param("WORKLOADIDENTITYFEDERATIONISSUER", false),
		SubscriptionID:     data("SUBSCRIPTIONID"),
		Environment:        data("ENVIRONMENT"),
		AuthorityHost:      firstNonEmpty(data("ACTIVEDIRECTORYAUTHORITY"), data("ENVIRONMENTAUTHORITYURL")),
		VaultDNSSuffix:     data("AZUREKEYVAULTDNSSUFFIX"),
		VaultResource:      data("AZUREKEYVAULTSERVICEENDPOINTRESOURCEID"),
		MSIClientID:        data("MSICLIENTID"),
		EnableADFS:         strings.EqualFold(strings.TrimSpace(data("ENABLEADFSAUTHENTICATION")), "true"),
	}
	if c.AuthenticationType == "" && c.Scheme == "ServicePrincipal" {
		c.AuthenticationType = "spnKey"
	}
	return c, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
