// Package endpoint reads an AzureRM service connection, and the job's
// other settings, from the variables the agent puts in the task's
// environment.
//
// Names are looked up exactly as the agent writes them (on Windows, where
// the environment ignores case, without case): pipeline variables become
// environment variables too, so a name in another case is another
// variable, and one an earlier step of the job may have made.
package endpoint

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
)

// Env is a snapshot of the process environment. It remembers which
// sensitive variables were read so the caller can remove them from the
// process once they are in memory, and knows which names the job's
// pipeline variables may have written.
type Env struct {
	fold      bool              // names compare without case (Windows)
	vars      map[string]string // key(name) -> value
	names     map[string]string // key(name) -> name as spelled
	sensitive map[string]bool   // names as spelled
	// pipeline maps key(environment name) to the pipeline variables, as
	// the pipeline spells them, that may have written it; nil when the
	// agent gave no list.
	pipeline map[string][]string
}

// NewEnv builds an Env from os.Environ()-style "NAME=value" entries, for
// the system the task runs on.
func NewEnv(environ []string) *Env { return newEnv(environ, runtime.GOOS == "windows") }

func newEnv(environ []string, fold bool) *Env {
	e := &Env{fold: fold, vars: map[string]string{}, names: map[string]string{}, sensitive: map[string]bool{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		e.vars[e.key(k)] = v
		e.names[e.key(k)] = k
	}
	e.pipeline = e.readPipelineNames()
	return e
}

func (e *Env) key(name string) string {
	if e.fold {
		return strings.ToUpper(name)
	}
	return name
}

// Get returns a variable's value.
func (e *Env) Get(name string) string { return e.vars[e.key(name)] }

// Lookup is Get that also says whether the variable exists.
func (e *Env) Lookup(name string) (string, bool) {
	v, ok := e.vars[e.key(name)]
	return v, ok
}

// Secret reads a sensitive variable and records it for Sensitive.
func (e *Env) Secret(name string) string {
	if n, ok := e.names[e.key(name)]; ok {
		e.sensitive[n] = true
	}
	return e.vars[e.key(name)]
}

// Sensitive lists, as spelled in the environment, every sensitive variable
// that was read, plus every variable present whose name, in any case,
// says it holds a credential (endpoint auth parameters, secret
// variables): none of them should outlive their first read.
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
	for _, n := range e.names {
		if sensitiveName(strings.ToUpper(n)) {
			add(n)
		}
	}
	return out
}

// readPipelineNames reads the agent's lists of the job's variables
// (VSTS_PUBLIC_VARIABLES, VSTS_SECRET_VARIABLES: JSON arrays of names as
// the pipeline spells them) into the environment names each may have
// written. The agent writes a variable under its name with '.' and ' '
// made '_', upper-cased, or as spelled when a step set it with
// preservecase=true; a secret one with SECRET_ before it. Which of the
// two a variable used is not in the list, so both count.
func (e *Env) readPipelineNames() map[string][]string {
	out := map[string][]string{}
	found := false
	for _, list := range []struct{ name, prefix string }{{"VSTS_PUBLIC_VARIABLES", ""}, {"VSTS_SECRET_VARIABLES", "SECRET_"}} {
		var names []string
		if json.Unmarshal([]byte(e.Get(list.name)), &names) != nil {
			continue
		}
		found = true
		for _, n := range names {
			spelled := strings.NewReplacer(".", "_", " ", "_").Replace(n)
			for _, env := range distinct(e.key(list.prefix+strings.ToUpper(spelled)), e.key(list.prefix+spelled)) {
				out[env] = append(out[env], n)
			}
		}
	}
	if !found {
		return nil
	}
	return out
}

func distinct(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// Pipeline returns the pipeline variables (YAML, the definition, or an
// earlier step's setvariable), as the pipeline spells them, that may
// have written the environment variable name; known is false when the
// agent gave no list of the job's variables, and so nothing can be said.
// Note that the agent's own settings (agent.proxyurl...) are job
// variables too: only a name the agent never sets, or one the agent
// writes after the job's variables, can be judged by this.
func (e *Env) Pipeline(name string) (names []string, known bool) {
	if e.pipeline == nil {
		return nil, false
	}
	return e.pipeline[e.key(name)], true
}

// Setting is one of the agent's own settings as the task can know it.
type Setting struct {
	Value string
	// Known is false when the task cannot see what the agent reads: a
	// pipeline variable of another spelling took the setting's name in
	// the environment, hiding the agent's own.
	Known bool
	// Variable: a job variable of the setting's name holds it, which a
	// task may set again.
	Variable bool
}

// Setting reads one of the agent's settings (DECODE_PERCENTS,
// SYSTEM_UNSAFEALLOWMULTILINESECRET) as the agent resolves it: the job
// variable of exactly that name, in any case, then the agent's own
// environment. A job variable of another spelling (decode.percents)
// reaches the task under the same environment name, but is not what the
// agent reads. Without the agent's lists the environment is taken at its
// word, as a job variable.
func (e *Env) Setting(name string) Setting {
	v := e.Get(name)
	names, known := e.Pipeline(name)
	if !known {
		return Setting{Value: v, Known: true, Variable: true}
	}
	exact := ""
	for _, n := range names {
		if !strings.EqualFold(n, name) {
			return Setting{}
		}
		exact = n
	}
	if exact == "" {
		// Not a job variable: the agent's own environment, read as is.
		return Setting{Value: v, Known: true}
	}
	if pv, ok := e.Lookup(exact); ok {
		// Set with preservecase: under its own spelling.
		v = pv
	}
	return Setting{Value: v, Known: true, Variable: true}
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
func Read(e *Env, id string) (*Connection, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("input azureSubscription is empty: choose an Azure Resource Manager service connection")
	}
	key := id
	if isGUID(id) {
		// The agent prints a connection's id as .NET prints a Guid.
		key = strings.ToLower(id)
	}
	url, hasURL := e.Lookup("ENDPOINT_URL_" + key)
	authJSON := e.Secret("ENDPOINT_AUTH_" + key)
	scheme := e.Get("ENDPOINT_AUTH_SCHEME_" + key)
	if scheme == "" && !hasURL && authJSON == "" {
		return nil, fmt.Errorf("service connection %q (input azureSubscription) is not available to this job: check that it exists, that this pipeline is authorised to use it, and that its name is spelled right", id)
	}
	var auth struct {
		Parameters map[string]string `json:"parameters"`
		Scheme     string            `json:"scheme"`
	}
	if authJSON != "" {
		if err := json.Unmarshal([]byte(authJSON), &auth); err != nil {
			return nil, fmt.Errorf("read service connection %s: ENDPOINT_AUTH_%s is not valid JSON", id, key)
		}
		scheme = auth.Scheme
	}
	param := e.fields("ENDPOINT_AUTH_PARAMETER_"+key+"_", auth.Parameters, authJSON != "")
	dataJSON, hasData := e.Lookup("ENDPOINT_DATA_" + key)
	var dataMap map[string]string
	if hasData && json.Unmarshal([]byte(dataJSON), &dataMap) != nil {
		return nil, fmt.Errorf("read service connection %s: ENDPOINT_DATA_%s is not valid JSON", id, key)
	}
	data := e.fields("ENDPOINT_DATA_"+key+"_", dataMap, hasData)

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
		EnableADFS:         strings.EqualFold(strings.TrimSpace(data("ENABLEADFSAUTHENTICATION")), "true"),
	}
	if c.AuthenticationType == "" && c.Scheme == "ServicePrincipal" {
		c.AuthenticationType = "spnKey"
	}
	return c, nil
}

// fields reads a connection's fields: from the agent's JSON form when it
// gave one (keys in any case, as Azure DevOps spells them), else from the
// variables prefix+KEY, except those a pipeline variable may have written.
// Every variable of the prefix read is recorded as sensitive when it is
// an auth parameter.
func (e *Env) fields(prefix string, fromJSON map[string]string, hasJSON bool) func(key string) string {
	return func(key string) string {
		name := prefix + key
		v := e.Get(name)
		if strings.HasPrefix(prefix, "ENDPOINT_AUTH_") {
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
