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
			name: "lower-case names and the id in another case",
			environ: []string{
				"endpoint_url_" + strings.ToUpper(id) + "=https://management.azure.com/",
				"endpoint_auth_scheme_" + id + "=ServicePrincipal",
				"Endpoint_Auth_Parameter_" + id + "_TenantId=t",
				"endpoint_auth_parameter_" + id + "_serviceprincipalid=c",
				"endpoint_auth_parameter_" + id + "_serviceprincipalkey=k",
				"endpoint_data_" + id + "_environmentAuthorityUrl=https://login.example/",
				"endpoint_data_" + id + "_enableAdfsAuthentication=True",
			},
			want: &Connection{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "c",
				AuthenticationType: "spnKey", ClientSecret: "k", AuthorityHost: "https://login.example/", EnableADFS: true},
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
