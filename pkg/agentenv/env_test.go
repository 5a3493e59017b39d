package agentenv

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSensitive(t *testing.T) {
	e := NewEnv([]string{
		"ENDPOINT_AUTH_SCHEME_X=ServicePrincipal",
		"ENDPOINT_AUTH_X={}",
		"endpoint_auth_parameter_x_serviceprincipalkey=k",
		"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=tok",
		"SECRET_AGENT_PROXYPASSWORD=p",
		"ENDPOINT_DATA_X_SUBSCRIPTIONID=s",
		"System_AccessToken=t",
		"SYSTEM_ACCESSTOKENS=not-it",
		"PATH=/bin",
	})
	got := e.Sensitive()
	sort.Strings(got)
	want := []string{"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN", "ENDPOINT_AUTH_X", "SECRET_AGENT_PROXYPASSWORD", "System_AccessToken", "endpoint_auth_parameter_x_serviceprincipalkey"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sensitive mismatch (-want +got):\n%s", diff)
	}
}

// TestPipeline: the environment names a job variable may have written, as
// the agent writes them: '.' and ' ' made '_', upper-cased or (a step's
// preservecase=true) as spelled, secret ones after SECRET_.
func TestPipeline(t *testing.T) {
	e := NewEnvFor([]string{
		`VSTS_PUBLIC_VARIABLES=["https_proxy", "system.debug", "Decode Percents"]`,
		`VSTS_SECRET_VARIABLES=["agent.proxyPassword"]`,
	}, "linux")
	for _, tt := range []struct {
		env  string
		want []string
	}{
		{"HTTPS_PROXY", []string{"https_proxy"}},
		{"https_proxy", []string{"https_proxy"}},
		{"Https_Proxy", nil},
		{"SYSTEM_DEBUG", []string{"system.debug"}},
		{"system_debug", []string{"system.debug"}},
		{"DECODE_PERCENTS", []string{"Decode Percents"}},
		{"SECRET_AGENT_PROXYPASSWORD", []string{"agent.proxyPassword"}},
		{"AGENT_PROXYPASSWORD", nil},
		{"SSL_CERT_FILE", nil},
	} {
		got, known := e.Pipeline(tt.env)
		if diff := cmp.Diff(tt.want, got); diff != "" || !known {
			t.Errorf("Pipeline(%s) = %v, %v; want %v, true", tt.env, got, known, tt.want)
		}
	}
	if got, known := NewEnvFor([]string{"HTTPS_PROXY=x"}, "linux").Pipeline("HTTPS_PROXY"); got != nil || known {
		t.Errorf("Pipeline without the agent's lists = %v, %v; want nothing known", got, known)
	}
	w := NewEnvFor([]string{`VSTS_PUBLIC_VARIABLES=["https_proxy"]`}, "windows")
	if got, _ := w.Pipeline("Https_Proxy"); len(got) != 1 {
		t.Errorf("on Windows, Pipeline(Https_Proxy) = %v, want https_proxy", got)
	}
}

// TestSetting: one of the agent's settings as the agent resolves it (a
// job variable of exactly its name, in any case, then the agent's own
// environment), and unknown when a job variable of another spelling
// hides it.
func TestSetting(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    Setting
	}{
		{"no lists: the environment at its word", []string{"DECODE_PERCENTS=false"}, Setting{Value: "false", Known: true, Variable: true}},
		{"the agent's own environment", []string{"DECODE_PERCENTS=false", `VSTS_PUBLIC_VARIABLES=["system.debug"]`}, Setting{Value: "false", Known: true}},
		{"not set at all", []string{`VSTS_PUBLIC_VARIABLES=[]`}, Setting{Known: true}},
		{"a job variable of its name", []string{"DECODE_PERCENTS=false", `VSTS_PUBLIC_VARIABLES=["decode_Percents"]`}, Setting{Value: "false", Known: true, Variable: true}},
		{"set with preservecase", []string{"decode_percents=false", `VSTS_PUBLIC_VARIABLES=["decode_percents"]`}, Setting{Value: "false", Known: true, Variable: true}},
		{"another spelling hides the agent's", []string{"DECODE_PERCENTS=false", `VSTS_PUBLIC_VARIABLES=["decode.percents"]`}, Setting{}},
		{"both spellings", []string{"DECODE_PERCENTS=false", `VSTS_PUBLIC_VARIABLES=["DECODE_PERCENTS", "decode.percents"]`}, Setting{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NewEnvFor(tt.environ, "linux").Setting("DECODE_PERCENTS")); diff != "" {
				t.Errorf("Setting (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskLibTrue(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "True": true, " TRUE ": true, "false": false, "": false, "1": false, "yes": false} {
		if got := TaskLibTrue(in); got != want {
			t.Errorf("TaskLibTrue(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestTaskLibVariableTrue: a variable's value is not trimmed, as
// tl.getVariable does not trim it.
func TestTaskLibVariableTrue(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "TRUE": true, " true": false, "true\n": false, "1": false, "": false} {
		if got := TaskLibVariableTrue(in); got != want {
			t.Errorf("TaskLibVariableTrue(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestAgentTrue(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "$true": true, "$True": true, "": false, "false": false, "0": false, "yes": false} {
		if got := AgentTrue(in); got != want {
			t.Errorf("AgentTrue(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestNames: the names the agent writes, as it writes them.
func TestNames(t *testing.T) {
	const id = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
	got := []string{
		Input("azureSubscription"), Input("KeyVaultName"), Input("Secrets.To Files"),
		EndpointURL(id), EndpointAuth(id), EndpointAuthScheme(id), EndpointAuthParameter(id, "TENANTID"),
		EndpointData(id), EndpointDataField(id, "ENVIRONMENT"),
	}
	want := []string{
		"INPUT_AZURESUBSCRIPTION", "INPUT_KEYVAULTNAME", "INPUT_SECRETS_TO_FILES",
		"ENDPOINT_URL_" + id, "ENDPOINT_AUTH_" + id, "ENDPOINT_AUTH_SCHEME_" + id, "ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID",
		"ENDPOINT_DATA_" + id, "ENDPOINT_DATA_" + id + "_ENVIRONMENT",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}
