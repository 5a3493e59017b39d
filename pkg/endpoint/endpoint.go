// Package endpoint reads whom the task authenticates as, from what the
// agent gives it (through pkg/agentenv): the AzureRM service connection
// (Read) and the job's own identity to Azure DevOps (ReadDevOps).
package endpoint

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
)

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
//
// The agent writes each connection's variables after the job's variables
// and under the id as the input gives it (a GUID in lower case), so that
// its own win over a pipeline variable of the same name: ENDPOINT_URL_<id>
// and the JSON forms ENDPOINT_AUTH_<id> and ENDPOINT_DATA_<id>, which hold
// every parameter and data field of the connection. A field the
// connection lacks has no variable of the agent's, and a pipeline variable
// of that name (one set with preservecase=true, or an id of digits only)
// would fill it: so the fields are read from the JSON forms, and the
// variables of single fields only when the agent gave no JSON form, and
// then not those a pipeline variable may have written.
func Read(e *agentenv.Env, id string) (*Connection, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("input azureSubscription is empty: choose an Azure Resource Manager service connection")
	}
	key := id
	if isGUID(id) {
		// The agent prints a connection's id as .NET prints a Guid.
		key = strings.ToLower(id)
	}
	url, hasURL := e.Lookup(agentenv.EndpointURL(key))
	authJSON := e.Secret(agentenv.EndpointAuth(key))
	scheme := e.Get(agentenv.EndpointAuthScheme(key))
	if scheme == "" && !hasURL && authJSON == "" {
		return nil, fmt.Errorf("service connection %q (input azureSubscription) is not available to this job: check that it exists, that this pipeline is authorised to use it, and that its name is spelled right", id)
	}
	var auth struct {
		Parameters map[string]string `json:"parameters"`
		Scheme     string            `json:"scheme"`
	}
	if authJSON != "" {
		if err := json.Unmarshal([]byte(authJSON), &auth); err != nil {
			return nil, fmt.Errorf("read service connection %s: %s is not valid JSON", id, agentenv.EndpointAuth(key))
		}
		scheme = auth.Scheme
	}
	param := fields(e, func(k string) string { return agentenv.EndpointAuthParameter(key, k) }, true, auth.Parameters, authJSON != "")
	dataJSON, hasData := e.Lookup(agentenv.EndpointData(key))
	var dataMap map[string]string
	if hasData && json.Unmarshal([]byte(dataJSON), &dataMap) != nil {
		return nil, fmt.Errorf("read service connection %s: %s is not valid JSON", id, agentenv.EndpointData(key))
	}
	data := fields(e, func(k string) string { return agentenv.EndpointDataField(key, k) }, false, dataMap, hasData)

	c := &Connection{
		ID:                 id,
		URL:                url,
		Scheme:             scheme,
		TenantID:           strings.TrimSpace(param("TENANTID")),
		ClientID:           strings.TrimSpace(param("SERVICEPRINCIPALID")),
		AuthenticationType: param("AUTHENTICATIONTYPE"),
		ClientSecret:       param("SERVICEPRINCIPALKEY"),
		CertificatePEM:     param("SERVICEPRINCIPALCERTIFICATE"),
		FederationSubject:  param("WORKLOADIDENTITYFEDERATIONSUBJECT"),
		FederationIssuer:   param("WORKLOADIDENTITYFEDERATIONISSUER"),
		SubscriptionID:     data("SUBSCRIPTIONID"),
		Environment:        data("ENVIRONMENT"),
		AuthorityHost:      firstNonEmpty(data("ACTIVEDIRECTORYAUTHORITY"), data("ENVIRONMENTAUTHORITYURL")),
		VaultDNSSuffix:     data("AZUREKEYVAULTDNSSUFFIX"),
		VaultResource:      data("AZUREKEYVAULTSERVICEENDPOINTRESOURCEID"),
		MSIClientID:        data("MSICLIENTID"),
		EnableADFS:         agentenv.TaskLibTrue(data("ENABLEADFSAUTHENTICATION")),
	}
	if c.AuthenticationType == "" && c.Scheme == "ServicePrincipal" {
		c.AuthenticationType = "spnKey"
	}
	return c, nil
}

// fields reads a connection's fields: from the agent's JSON form when it
// gave one (keys in any case, as Azure DevOps spells them), else from the
// variables varName(KEY), except those a pipeline variable may have
// written.
// Every variable read is recorded as sensitive when the fields are auth
// parameters.
func fields(e *agentenv.Env, varName func(key string) string, sensitive bool, fromJSON map[string]string, hasJSON bool) func(key string) string {
	return func(key string) string {
		name := varName(key)
		v := e.Get(name)
		if sensitive {
			v = e.Secret(name)
		}
		if hasJSON {
			for k, jv := range fromJSON {
				if strings.EqualFold(k, key) {
					return jv
				}
			}
			return ""
		}
		if names, _ := e.Pipeline(name); len(names) > 0 {
			return ""
		}
		return v
	}
}

// isGUID reports whether s is a GUID in its usual form, 8-4-4-4-12 hex
// digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
