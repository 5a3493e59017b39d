package endpoint

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const id = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    *Connection
		wantErr string
	}{
		{
			name: "client secret, upper-case names",
			environ: []string{
				"ENDPOINT_URL_" + id + "=https://management.azure.com/",
				"ENDPOINT_AUTH_SCHEME_" + id + "=ServicePrincipal",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID=tenant-1",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALID=client-1",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_AUTHENTICATIONTYPE=spnKey",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALKEY=s3cr=t",
				"ENDPOINT_DATA_" + id + "_SUBSCRIPTIONID=sub-1",
				"ENDPOINT_DATA_" + id + "_ENVIRONMENT=AzureCloud",
			},
			want: &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "tenant-1",
				ClientID: "client-1", AuthenticationType: "spnKey", ClientSecret: "s3cr=t", SubscriptionID: "sub-1", Environment: "AzureCloud"},
		},
		{
			// A pipeline variable becomes an environment variable in upper
			// case: with the id in upper case it is another variable than
			// the agent's, and fills nothing.
			name: "only the names the agent writes",
			environ: []string{
				"ENDPOINT_URL_" + id + "=https://management.azure.com/",
				"ENDPOINT_AUTH_SCHEME_" + id + "=ServicePrincipal",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID=t",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALID=c",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALKEY=k",
				"ENDPOINT_DATA_" + strings.ToUpper(id) + "_ACTIVEDIRECTORYAUTHORITY=https://login.attacker.example/",
				"ENDPOINT_DATA_" + strings.ToUpper(id) + "_ENVIRONMENT=AzureChinaCloud",
				"endpoint_data_" + id + "_environmentAuthorityUrl=https://login.attacker.example/",
				"ENDPOINT_AUTH_PARAMETER_" + strings.ToUpper(id) + "_SERVICEPRINCIPALCERTIFICATE=PEM",
			},
			want: &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "c",
				AuthenticationType: "spnKey", ClientSecret: "k"},
		},
		{
			// What the agent writes, and beside it the variable of a field
			// the connection lacks, which a step's setvariable with
			// preservecase=true can make under exactly the agent's name: the
			// JSON forms, written by the agent after the job's variables,
			// hold every field the connection has.
			name: "the JSON forms, not a field the connection lacks",
			environ: []string{
				"ENDPOINT_URL_" + id + "=https://management.azure.com/",
				`ENDPOINT_AUTH_` + id + `={"parameters":{"tenantid":"t","serviceprincipalid":"c","serviceprincipalkey":"k","authenticationType":"spnKey"},"scheme":"ServicePrincipal"}`,
				"ENDPOINT_AUTH_SCHEME_" + id + "=ServicePrincipal",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID=t",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALKEY=k",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALCERTIFICATE=PEM",
				`ENDPOINT_DATA_` + id + `={"subscriptionId":"sub-1","environment":"AzureCloud"}`,
				"ENDPOINT_DATA_" + id + "_SUBSCRIPTIONID=sub-1",
				"ENDPOINT_DATA_" + id + "_ENVIRONMENT=AzureCloud",
				"ENDPOINT_DATA_" + id + "_ACTIVEDIRECTORYAUTHORITY=https://login.attacker.example/",
				`VSTS_PUBLIC_VARIABLES=["ENDPOINT_DATA_` + id + `_ACTIVEDIRECTORYAUTHORITY"]`,
			},
			want: &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "c",
				AuthenticationType: "spnKey", ClientSecret: "k", SubscriptionID: "sub-1", Environment: "AzureCloud"},
		},
		{
			name: "no JSON form: single fields, but not those a pipeline variable may have written",
			environ: []string{
				"ENDPOINT_URL_" + id + "=https://management.azure.com/",
				"ENDPOINT_AUTH_SCHEME_" + id + "=ServicePrincipal",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID=t",
				"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALID=c",
				"ENDPOINT_DATA_" + id + "_ENVIRONMENT=AzureCloud",
				"ENDPOINT_DATA_" + id + "_ENVIRONMENTAUTHORITYURL=https://login.attacker.example/",
				// Set by a step with preservecase=true: exactly the agent's name.
				`VSTS_PUBLIC_VARIABLES=["system.debug", "ENDPOINT_DATA_` + id + `_ENVIRONMENTAUTHORITYURL"]`,
			},
			want: &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "c",
				AuthenticationType: "spnKey", Environment: "AzureCloud"},
		},
		{
			name: "only the JSON form",
			environ: []string{
				"ENDPOINT_URL_" + id + "=https://management.azure.com/",
				`ENDPOINT_AUTH_` + id + `={"parameters":{"tenantid":"t","serviceprincipalid":"c","authenticationType":"spnCertificate","servicePrincipalCertificate":"PEM"},"scheme":"ServicePrincipal"}`,
			},
			want: &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "c",
				AuthenticationType: "spnCertificate", CertificatePEM: "PEM"},
		},
		{
			name:    "missing connection",
			environ: []string{"PATH=/bin"},
			wantErr: "is not available to this job",
		},
		{
			name:    "broken JSON does not echo it",
			environ: []string{"ENDPOINT_URL_" + id + "=x", "ENDPOINT_AUTH_" + id + `={"parameters":{"serviceprincipalkey":"hunter2"`},
			wantErr: "is not valid JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(NewEnv(tt.environ), id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Read error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadWindows: Windows' environment ignores case, and so does the
// agent there: any spelling is the one variable.
func TestReadWindows(t *testing.T) {
	e := newEnv([]string{
		"endpoint_url_" + strings.ToUpper(id) + "=https://management.azure.com/",
		"Endpoint_Auth_Scheme_" + id + "=ServicePrincipal",
		"endpoint_auth_parameter_" + id + "_tenantid=t",
		"ENDPOINT_DATA_" + id + "_environment=AzureCloud",
	}, true)
	got, err := Read(e, id)
	if err != nil {
		t.Fatal(err)
	}
	want := &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", AuthenticationType: "spnKey", Environment: "AzureCloud"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}

func TestReadEmptyID(t *testing.T) {
	if _, err := Read(NewEnv(nil), "  "); err == nil || !strings.Contains(err.Error(), "azureSubscription") {
		t.Fatalf("Read(\"\") error = %v, want one naming azureSubscription", err)
	}
}

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

func FuzzRead(f *testing.F) {
	// A key that must never be quoted back, in the JSON and as a parameter.
	const key = "fuzz-key-3b9d7e1c"
	f.Add("ServicePrincipal", `{"parameters":{"tenantid":"t","serviceprincipalkey":"`+key+`"},"scheme":"x"}`, "t", "spnKey", "AzureCloud")
	f.Add("ServicePrincipal", `{"parameters":{"serviceprincipalkey":"`+key+`"`, "", "spnKey", "")
	f.Add("", "{", "", "", "")
	f.Fuzz(func(t *testing.T, scheme, authJSON, tenant, authType, env string) {
		environ := []string{
			"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALKEY=" + key,
			"ENDPOINT_URL_" + id + "=https://management.azure.com/",
			"ENDPOINT_AUTH_SCHEME_" + id + "=" + scheme,
			"ENDPOINT_AUTH_" + id + "=" + authJSON,
			"ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID=" + tenant,
			"ENDPOINT_AUTH_PARAMETER_" + id + "_AUTHENTICATIONTYPE=" + authType,
			"ENDPOINT_DATA_" + id + "_ENVIRONMENT=" + env,
		}
		c, err := Read(NewEnv(environ), id)
		if err != nil {
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error quotes the key: %q", strings.ReplaceAll(err.Error(), key, "<key>"))
			}
			return
		}
		if c.ID != id {
			t.Fatalf("ID = %q", c.ID)
		}
	})
}

func TestReadJob(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    Job
	}{
		{
			name: "agent variables",
			environ: []string{
				"SYSTEM_OIDCREQUESTURI=https://dev.azure.com/org/p/_apis/distributedtask/hubs/build/plans/pl/jobs/j/oidctoken",
				"SYSTEM_COLLECTIONURI=https://dev.azure.com/org/", "SYSTEM_TEAMPROJECTID=p", "SYSTEM_HOSTTYPE=build", "SYSTEM_PLANID=pl", "SYSTEM_JOBID=j",
				"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=tok",
			},
			want: Job{OIDCRequestURI: "https://dev.azure.com/org/p/_apis/distributedtask/hubs/build/plans/pl/jobs/j/oidctoken", CollectionURI: "https://dev.azure.com/org/", ProjectID: "p", HostType: "build", PlanID: "pl", JobID: "j", AccessToken: "tok"},
		},
		{
			name: "token and collection from the SystemVssConnection endpoint",
			environ: []string{
				`ENDPOINT_AUTH_SYSTEMVSSCONNECTION={"parameters":{"AccessToken":"tok2"},"scheme":"OAuth"}`,
				"ENDPOINT_URL_SYSTEMVSSCONNECTION=https://dev.azure.com/org2/",
			},
			want: Job{CollectionURI: "https://dev.azure.com/org2/", AccessToken: "tok2"},
		},
		{
			// A step can set system.collectionUri; the agent writes its
			// connection to the collection after the job's variables.
			name: "the SystemVssConnection's collection before SYSTEM_COLLECTIONURI",
			environ: []string{
				"SYSTEM_COLLECTIONURI=https://attacker.example/",
				"ENDPOINT_URL_SYSTEMVSSCONNECTION=https://dev.azure.com/org/",
				"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=tok",
			},
			want: Job{CollectionURI: "https://dev.azure.com/org/", AccessToken: "tok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(tt.environ)
			if diff := cmp.Diff(tt.want, ReadJob(e)); diff != "" {
				t.Errorf("ReadJob (-want +got):\n%s", diff)
			}
			sensitive := e.Sensitive()
			sort.Strings(sensitive)
			for _, n := range sensitive {
				if !strings.HasPrefix(n, "ENDPOINT_AUTH_") {
					t.Errorf("unexpected sensitive variable %s", n)
				}
			}
			if len(sensitive) != 1 {
				t.Errorf("sensitive = %v, want the token's variable", sensitive)
			}
		})
	}
}

// TestPipeline: the environment names a job variable may have written, as
// the agent writes them: '.' and ' ' made '_', upper-cased or (a step's
// preservecase=true) as spelled, secret ones after SECRET_.
func TestPipeline(t *testing.T) {
	e := newEnv([]string{
		`VSTS_PUBLIC_VARIABLES=["https_proxy", "system.debug", "Decode Percents"]`,
		`VSTS_SECRET_VARIABLES=["agent.proxyPassword"]`,
	}, false)
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
	if got, known := newEnv([]string{"HTTPS_PROXY=x"}, false).Pipeline("HTTPS_PROXY"); got != nil || known {
		t.Errorf("Pipeline without the agent's lists = %v, %v; want nothing known", got, known)
	}
	w := newEnv([]string{`VSTS_PUBLIC_VARIABLES=["https_proxy"]`}, true)
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
			if diff := cmp.Diff(tt.want, newEnv(tt.environ, false).Setting("DECODE_PERCENTS")); diff != "" {
				t.Errorf("Setting (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadIDInUpperCase: a connection input that holds the GUID in upper
// case reads the variables the agent writes, under the GUID as .NET
// prints it (lower case), not a pipeline variable's upper-case name.
func TestReadIDInUpperCase(t *testing.T) {
	up := strings.ToUpper(id)
	e := newEnv([]string{
		"ENDPOINT_URL_" + id + "=https://management.azure.com/",
		"ENDPOINT_AUTH_SCHEME_" + id + "=ServicePrincipal",
		`ENDPOINT_AUTH_` + id + `={"parameters":{"tenantid":"t"},"scheme":"ServicePrincipal"}`,
		`ENDPOINT_DATA_` + id + `={"environment":"AzureCloud"}`,
		"ENDPOINT_URL_" + up + "=https://management.attacker.example/",
		"ENDPOINT_DATA_" + up + "_ACTIVEDIRECTORYAUTHORITY=https://login.attacker.example/",
	}, false)
	got, err := Read(e, up)
	if err != nil {
		t.Fatal(err)
	}
	want := &Connection{ID: up, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", AuthenticationType: "spnKey", Environment: "AzureCloud"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}
