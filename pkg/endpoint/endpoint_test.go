package endpoint

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
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
			got, err := Read(agentenv.NewEnv(tt.environ), id)
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
	e := agentenv.NewEnvFor([]string{
		"endpoint_url_" + strings.ToUpper(id) + "=https://management.azure.com/",
		"Endpoint_Auth_Scheme_" + id + "=ServicePrincipal",
		"endpoint_auth_parameter_" + id + "_tenantid=t",
		"ENDPOINT_DATA_" + id + "_environment=AzureCloud",
	}, "windows")
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
	if _, err := Read(agentenv.NewEnv(nil), "  "); err == nil || !strings.Contains(err.Error(), "azureSubscription") {
		t.Fatalf("Read(\"\") error = %v, want one naming azureSubscription", err)
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
		c, err := Read(agentenv.NewEnv(environ), id)
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
		want    DevOps
	}{
		{
			name: "agent variables",
			environ: []string{
				"SYSTEM_OIDCREQUESTURI=https://dev.azure.com/org/p/_apis/distributedtask/hubs/build/plans/pl/jobs/j/oidctoken",
				"SYSTEM_COLLECTIONURI=https://dev.azure.com/org/", "SYSTEM_TEAMPROJECTID=p", "SYSTEM_HOSTTYPE=build", "SYSTEM_PLANID=pl", "SYSTEM_JOBID=j",
				"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=tok",
			},
			want: DevOps{OIDCRequestURI: "https://dev.azure.com/org/p/_apis/distributedtask/hubs/build/plans/pl/jobs/j/oidctoken", CollectionURI: "https://dev.azure.com/org/", ProjectID: "p", HostType: "build", PlanID: "pl", JobID: "j", AccessToken: "tok"},
		},
		{
			name: "token and collection from the SystemVssConnection endpoint",
			environ: []string{
				`ENDPOINT_AUTH_SYSTEMVSSCONNECTION={"parameters":{"AccessToken":"tok2"},"scheme":"OAuth"}`,
				"ENDPOINT_URL_SYSTEMVSSCONNECTION=https://dev.azure.com/org2/",
			},
			want: DevOps{CollectionURI: "https://dev.azure.com/org2/", AccessToken: "tok2"},
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
			want: DevOps{CollectionURI: "https://dev.azure.com/org/", AccessToken: "tok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := agentenv.NewEnv(tt.environ)
			if diff := cmp.Diff(tt.want, ReadDevOps(e)); diff != "" {
				t.Errorf("ReadDevOps (-want +got):\n%s", diff)
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

// TestReadIDInUpperCase: a connection input that holds the GUID in upper
// case reads the variables the agent writes, under the GUID as .NET
// prints it (lower case), not a pipeline variable's upper-case name.
func TestReadIDInUpperCase(t *testing.T) {
	up := strings.ToUpper(id)
	e := agentenv.NewEnvFor([]string{
		"ENDPOINT_URL_" + id + "=https://management.azure.com/",
		"ENDPOINT_AUTH_SCHEME_" + id + "=ServicePrincipal",
		`ENDPOINT_AUTH_` + id + `={"parameters":{"tenantid":"t"},"scheme":"ServicePrincipal"}`,
		`ENDPOINT_DATA_` + id + `={"environment":"AzureCloud"}`,
		"ENDPOINT_URL_" + up + "=https://management.attacker.example/",
		"ENDPOINT_DATA_" + up + "_ACTIVEDIRECTORYAUTHORITY=https://login.attacker.example/",
	}, "linux")
	got, err := Read(e, up)
	if err != nil {
		t.Fatal(err)
	}
	want := &Connection{ID: up, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", AuthenticationType: "spnKey", Environment: "AzureCloud"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}
