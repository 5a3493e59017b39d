package agentrunner

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Endpoint is a service connection as the agent receives it in the job message.
type Endpoint struct {
	ID     string            `json:"id"`     // GUID; the connection input's value
	URL    string            `json:"url"`    // e.g. https://management.azure.com/
	Scheme string            `json:"scheme"` // ServicePrincipal, WorkloadIdentityFederation, ManagedServiceIdentity
	Params map[string]string `json:"params"` // auth parameters, keys as Azure DevOps spells them
	Data   map[string]string `json:"data"`   // endpoint data (subscriptionId, environment, ...)
}

// unmaskedAuthParams are the endpoint authorization parameters the agent does
// not register as secrets (MaskingUtil); every other one is masked.
var unmaskedAuthParams = [...]string{
	"tenantid",
	"authenticationtype",
	"workloadidentityfederationsubject",
	"workloadidentityfederationissuer",
}

func isSecretAuthParam(key string) bool {
	for _, k := range unmaskedAuthParams {
		if strings.EqualFold(k, key) {
			return false
		}
	}
	return true
}

// envName is the agent's VarUtil.ConvertToEnvVariableFormat.
func envName(name string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", " ", "_").Replace(name))
}

// envBuilder keeps the last value per name in first-seen order, like the
// handler's Environment dictionary.
type envBuilder struct {
	order []string
	vals  map[string]string
}

func newEnvBuilder() *envBuilder { return &envBuilder{vals: map[string]string{}} }

func (e *envBuilder) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.order = append(e.order, k)
	}
	e.vals[k] = v
}

func (e *envBuilder) list() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// toJSON serialises like Newtonsoft does by default: no HTML escaping.
func toJSON(v any, indent bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		// Only maps of strings and string slices are encoded here.
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

type endpointAuth struct {
	Parameters map[string]string `json:"parameters"`
	Scheme     string            `json:"scheme"`
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// addEndpoint adds the variables of Handler.AddEndpointsToEnvironment. The
// key part is the id as .NET prints a Guid: lower case.
func addEndpoint(env *envBuilder, key, url, scheme string, params, data map[string]string, withData bool) {
	env.set("ENDPOINT_URL_"+key, url)
	env.set("ENDPOINT_AUTH_"+key, toJSON(endpointAuth{Parameters: nonNil(params), Scheme: scheme}, false))
	if scheme != "" {
		env.set("ENDPOINT_AUTH_SCHEME_"+key, scheme)
		for _, k := range sortedKeys(params) {
			env.set("ENDPOINT_AUTH_PARAMETER_"+key+"_"+envName(k), params[k])
		}
	}
	if withData {
		env.set("ENDPOINT_DATA_"+key, toJSON(nonNil(data), false))
		for _, k := range sortedKeys(data) {
			env.set("ENDPOINT_DATA_"+key+"_"+envName(k), data[k])
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux and macOS
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// defaultCollectionURI points at a closed loopback port so that a task which
// talks to Azure DevOps without the test giving it a fake fails fast instead
// of reaching the internet.
const defaultCollectionURI = "http://127.0.0.1:1/gokeyvault/"

// jobDefaults are variables every real job has; each is added to the
// environment only when neither Options.Variables nor Options.Env has it.
func jobDefaults(tempDir string) [][2]string {
	return [][2]string{
		{"TF_BUILD", "True"},
		{"AGENT_TEMPDIRECTORY", tempDir},
		{"SYSTEM_COLLECTIONURI", defaultCollectionURI},
		{"SYSTEM_TEAMPROJECTID", randomGUID()},
		{"SYSTEM_HOSTTYPE", "build"},
		{"SYSTEM_PLANID", randomGUID()},
		{"SYSTEM_JOBID", randomGUID()},
	}
}

// buildEnv returns the task process's environment: Options.Env (standing in
// for what the agent process inherited) overlaid with what the Node handler
// adds, in the handler's order: variables, inputs, endpoints. A job
// variable of the name of an input or an endpoint variable is overwritten
// by the agent's own.
func buildEnv(opts *Options, inputs map[string]string, vars *varStore, token, tempDir string) ([]string, error) {
	env := newEnvBuilder()
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment entry %q is not NAME=value", kv)
		}
		env.set(k, v)
	}
	given := map[string]bool{}
	for _, k := range env.order {
		given[k] = true
	}
	for _, name := range vars.names() {
		v, _ := vars.get(name)
		given[v.envName(name)] = true
	}

	addVariables(env, vars)

	for _, name := range sortedKeys(inputs) {
		env.set("INPUT_"+envName(name), inputs[name])
	}

	for _, ep := range opts.Endpoints {
		if ep.ID == "" {
			return nil, fmt.Errorf("endpoint with URL %q has no ID", ep.URL)
		}
		addEndpoint(env, strings.ToLower(ep.ID), ep.URL, ep.Scheme, ep.Params, ep.Data, true)
	}
	collection := defaultCollectionURI
	if v, ok := vars.getEnvName("SYSTEM_COLLECTIONURI"); ok {
		collection = v.Value
	}
	addEndpoint(env, "SYSTEMVSSCONNECTION", collection, "OAuth", map[string]string{"AccessToken": token}, nil, false)

	for _, d := range jobDefaults(tempDir) {
		if !given[d[0]] {
			env.set(d[0], d[1])
		}
	}
	return env.list(), nil
}

// addVariables adds the variables of Handler.AddVariablesToEnvironment: each
// public one under its environment name, each secret one after SECRET_,
// and the lists of their names.
func addVariables(env *envBuilder, vars *varStore) {
	public, secret := []string{}, []string{}
	for _, name := range vars.names() {
		v, _ := vars.get(name)
		if v.Secret {
			env.set("SECRET_"+v.envName(name), v.Value)
			secret = append(secret, name)
		} else {
			env.set(v.envName(name), v.Value)
			public = append(public, name)
		}
	}
	env.set("VSTS_PUBLIC_VARIABLES", toJSON(public, true))
	env.set("VSTS_SECRET_VARIABLES", toJSON(secret, true))
}
