package task

import (
	"bytes"
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
)

const (
	connID = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
	tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// environ is what the agent hands the task for a service principal
// connection, with the sensitive variables spelled as different agents
// spell them, and a proxy password.
func environ(extra ...string) []string {
	env := []string{
		"INPUT_AZURESUBSCRIPTION=" + connID,
		"INPUT_KEYVAULTNAME=kv-unit",
		"INPUT_SECRETSFILTER=*",
		"INPUT_RUNASPREJOB=false",
		"ENDPOINT_URL_" + connID + "=https://management.azure.com/",
		"ENDPOINT_AUTH_SCHEME_" + connID + "=ServicePrincipal",
		"ENDPOINT_AUTH_" + connID + `={"parameters":{"tenantid":"` + tenant + `","serviceprincipalid":"client-id","serviceprincipalkey":"client-secret-value"},"scheme":"ServicePrincipal"}`,
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_TENANTID=" + tenant,
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_SERVICEPRINCIPALID=client-id",
		"endpoint_auth_parameter_" + connID + "_serviceprincipalkey=client-secret-value",
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_AUTHENTICATIONTYPE=spnKey",
		"ENDPOINT_DATA_" + connID + "_ENVIRONMENT=AzureCloud",
		"ENDPOINT_DATA_" + connID + "_SUBSCRIPTIONID=c0ffee00-1111-2222-3333-444455556666",
		"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=job-token",
		"ENDPOINT_AUTH_SYSTEMVSSCONNECTION=" + `{"parameters":{"AccessToken":"job-token"},"scheme":"OAuth"}`,
		"SECRET_AGENT_PROXYPASSWORD=proxy-password",
		"SYSTEM_ACCESSTOKEN=job-token",
		"SYSTEM_DEBUG=true",
		"PATH=/usr/bin",
	}
	// A later entry replaces an earlier one of the same name.
	return append(env, extra...)
}

// sensitive is every variable of environ() that holds a secret.
var sensitive = []string{
	"ENDPOINT_AUTH_" + connID,
	"ENDPOINT_AUTH_PARAMETER_" + connID + "_AUTHENTICATIONTYPE",
	"ENDPOINT_AUTH_PARAMETER_" + connID + "_SERVICEPRINCIPALID",
	"ENDPOINT_AUTH_PARAMETER_" + connID + "_TENANTID",
	"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN",
	"ENDPOINT_AUTH_SYSTEMVSSCONNECTION",
	"SECRET_AGENT_PROXYPASSWORD",
	"SYSTEM_ACCESSTOKEN",
	"endpoint_auth_parameter_" + connID + "_serviceprincipalkey",
}

// TestRunUnsetsSensitiveVariables: whatever way a run ends, every
// sensitive variable in its environment is unset, as spelled, and nothing
// else is. The runs below end before any request.
func TestRunUnsetsSensitiveVariables(t *testing.T) {
	tests := []struct {
		name   string
		stage  Stage
		extra  []string
		result string   // in the task.complete line
		output string   // a line of the output
		more   []string // sensitive variables beyond the usual ones
	}{
		{"skipped stage", StagePreJob, nil, "result=Skipped;", "nothing to do in this stage", nil},
		{"bad vault name, before the connection is read", StageMain, []string{"INPUT_KEYVAULTNAME=kv"}, "result=Failed;", "KeyVaultName", nil},
		{"unknown cloud, after the connection is read", StageMain, []string{"ENDPOINT_DATA_" + connID + "_ENVIRONMENT=AzureMars"},
			"result=Failed;", `service connection environment "AzureMars" is not supported`, nil},
		// Go reads it from the process when it first loads the system's
		// certificates: gone before the first connection.
		{"a trust store a pipeline variable set", StageMain, []string{"ENDPOINT_DATA_" + connID + "_ENVIRONMENT=AzureMars", "SSL_CERT_FILE=/tmp/pipeline-ca.pem", `VSTS_PUBLIC_VARIABLES=["ssl_cert_file"]`},
			"result=Failed;", "The pipeline variable 'ssl_cert_file' sets SSL_CERT_FILE, which GoKeyVault ignores", []string{"SSL_CERT_FILE"}},
		{"missing CA file, after the proxy settings are read", StageMain, []string{"AGENT_CAINFO=" + filepath.Join(t.TempDir(), "missing.pem")},
			"result=Failed;", "AGENT_CAINFO", nil},
		{"bad proxy URL", StageMain, []string{"AGENT_PROXYURL=http://[::1", "AGENT_PROXYUSERNAME=proxy-user"},
			"result=Failed;", "AGENT_PROXYURL is not a valid URL", nil},
		// Read from an agent that passes the password unprefixed: the
		// name carries no hint, only having read it does.
		{"proxy password without prefix", StageMain, []string{"AGENT_PROXYURL=http://proxy.example:8080", "AGENT_PROXYUSERNAME=proxy-user",
			"SECRET_AGENT_PROXYPASSWORD=", "AGENT_PROXYPASSWORD=proxy-password", "AGENT_CAINFO=" + filepath.Join(t.TempDir(), "missing.pem")},
			"result=Failed;", "AGENT_CAINFO", []string{"AGENT_PROXYPASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			var unset []string
			code := Run(context.Background(), Options{
				Stage:    tt.stage,
				Environ:  environ(tt.extra...),
				Out:      &out,
				Unsetenv: func(name string) { unset = append(unset, name) },
				Version:  "test",
			})
			if code != ExitOK {
				t.Errorf("exit code %d", code)
			}
			text := out.String()
			mustHave := []string{tt.result, tt.output}
			for _, s := range mustHave {
				if !strings.Contains(text, s) {
					t.Errorf("output lacks %q:\n%s", s, text)
				}
			}
			if diff := cmp.Diff(distinct(append(tt.more, sensitive...)), distinct(unset)); diff != "" {
				t.Errorf("unset variables (-want +got):\n%s", diff)
			}
			for _, secret := range []string{"client-secret-value", "job-token", "proxy-password"} {
				if strings.Contains(text, secret) {
					t.Errorf("output holds %q:\n%s", secret, text)
				}
			}
		})
	}
}

func distinct(names []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// TestReadConnectionInput: a definition that reaches the task with the
// input under AzureKeyVault@2's name (INPUT_CONNECTEDSERVICENAME) binds
// too.
func TestReadConnectionInput(t *testing.T) {
	env := environ("INPUT_AZURESUBSCRIPTION=", "INPUT_CONNECTEDSERVICENAME="+connID)
	job, err := Read(agentenv.NewEnv(env), StageMain)
	if err != nil {
		t.Fatal(err)
	}
	if job.Link.Conn.ID != connID || job.Link.Conn.TenantID != tenant {
		t.Errorf("connection %+v", job.Link.Conn)
	}
}

// TestReadTempDirectorySteered: an earlier step cannot choose where
// SecretsToFiles writes: the agent's temp directory named by a pipeline
// variable of another spelling is refused before any request.
func TestReadTempDirectorySteered(t *testing.T) {
	env := environ("INPUT_SECRETSTOFILES=cert", "AGENT_TEMPDIRECTORY="+t.TempDir(), `VSTS_PUBLIC_VARIABLES=["agent_tempdirectory"]`)
	_, err := Read(agentenv.NewEnv(env), StageMain)
	want := "input SecretsToFiles: the agent's temp directory (AGENT_TEMPDIRECTORY) is named by the pipeline variable 'agent_tempdirectory', which any earlier step can set too, so the files could outlive the job where others can read them. Remove that variable: SecretsToFiles writes only under the agent's own temp directory"
	if err == nil || err.Error() != want {
		t.Errorf("Read: %v\nwant %s", err, want)
	}
	// The agent's own variable is the agent's word.
	env = environ("INPUT_SECRETSTOFILES=cert", "AGENT_TEMPDIRECTORY="+t.TempDir(), `VSTS_PUBLIC_VARIABLES=["agent.tempdirectory"]`)
	if _, err := Read(agentenv.NewEnv(env), StageMain); err != nil {
		t.Errorf("Read with the agent's own temp directory: %v", err)
	}
}
