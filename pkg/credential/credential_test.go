package credential

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

func TestResolveCloud(t *testing.T) {
	tests := []struct {
		name    string
		conn    endpoint.Connection
		want    Cloud
		wantErr string
	}{
		{name: "default", conn: endpoint.Connection{}, want: Cloud{Name: "AzureCloud", AuthorityHost: "https://login.microsoftonline.com/", VaultSuffix: "vault.azure.net", VaultResource: "https://vault.azure.net"}},
		{name: "china by name", conn: endpoint.Connection{Environment: "AzureChinaCloud"}, want: Cloud{Name: "AzureChinaCloud", AuthorityHost: "https://login.chinacloudapi.cn/", VaultSuffix: "vault.azure.cn", VaultResource: "https://vault.azure.cn"}},
		{name: "us gov any case", conn: endpoint.Connection{Environment: "azureusgovernment"}, want: Cloud{Name: "AzureUSGovernment", AuthorityHost: "https://login.microsoftonline.us/", VaultSuffix: "vault.usgovcloudapi.net", VaultResource: "https://vault.usgovcloudapi.net"}},
		{
			name: "explicit data wins",
			conn: endpoint.Connection{Environment: "AzureCloud", AuthorityHost: "https://login.example.com", VaultDNSSuffix: ".vault.example.com", VaultResource: "https://vault.example.com/"},
			want: Cloud{Name: "AzureCloud", AuthorityHost: "https://login.example.com/", VaultSuffix: "vault.example.com", VaultResource: "https://vault.example.com"},
		},
		{
			name: "unknown cloud with data",
			conn: endpoint.Connection{Environment: "MyCloud", AuthorityHost: "https://login.my/", VaultDNSSuffix: "vault.my"},
			want: Cloud{Name: "MyCloud", AuthorityHost: "https://login.my/", VaultSuffix: "vault.my", VaultResource: "https://vault.my"},
		},
		{name: "unknown cloud without data", conn: endpoint.Connection{Environment: "MyCloud"}, wantErr: `environment "MyCloud" is not supported`},
		{
			name: "AD FS authority from data",
			conn: endpoint.Connection{Environment: "AzureStack", AuthorityHost: "https://adfs.contoso.local/adfs/", VaultDNSSuffix: "vault.contoso.local"},
			want: Cloud{Name: "AzureStack", AuthorityHost: "https://adfs.contoso.local/", VaultSuffix: "vault.contoso.local", VaultResource: "https://vault.contoso.local", ADFS: true},
		},
		{
			name: "AD FS flag",
			conn: endpoint.Connection{Environment: "MyStack", AuthorityHost: "https://sts.contoso.local/", VaultDNSSuffix: "vault.contoso.local", EnableADFS: true},
			want: Cloud{Name: "MyStack", AuthorityHost: "https://sts.contoso.local/", VaultSuffix: "vault.contoso.local", VaultResource: "https://vault.contoso.local", ADFS: true},
		},
		{
			name: "azure stack needs its metadata",
			conn: endpoint.Connection{Environment: "azurestack", URL: "https://management.local.azurestack.external/"},
			want: Cloud{Name: "AzureStack", needsMetadata: true},
		},
		{
			name: "no name, China data",
			conn: endpoint.Connection{AuthorityHost: "https://login.chinacloudapi.cn", VaultDNSSuffix: "vault.azure.cn"},
			want: Cloud{Name: "AzureChinaCloud", AuthorityHost: "https://login.chinacloudapi.cn/", VaultSuffix: "vault.azure.cn", VaultResource: "https://vault.azure.cn"},
		},
		{name: "azure stack without URL", conn: endpoint.Connection{ID: "c", Environment: "AzureStack"}, wantErr: "without a management URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveCloud(&tt.conn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Cloud{})); diff != "" {
				t.Errorf("ResolveCloud mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRejectsIncompleteConnections(t *testing.T) {
	cl, _ := ResolveCloud(&endpoint.Connection{})
	tests := []struct {
		name    string
		conn    endpoint.Connection
		o       Options
		wantErr string
	}{
		{"no tenant", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", ClientID: "x", ClientSecret: "s"}, Options{}, "no tenant ID"},
		{"no secret", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "x", AuthenticationType: "spnKey"}, Options{}, "the secret is empty"},
		{"bad certificate", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "x", AuthenticationType: "spnCertificate", CertificatePEM: "junk"}, Options{}, "openssl pkcs12"},
		{"unknown auth type", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "x", AuthenticationType: "spnMagic"}, Options{}, `"spnMagic"`},
		{"publish profile", endpoint.Connection{ID: "c", Scheme: "PublishProfile"}, Options{}, `"PublishProfile"`},
		{"federation without token", endpoint.Connection{ID: "c", Scheme: "WorkloadIdentityFederation", TenantID: "t", ClientID: "x"}, Options{}, "job's access token"},
		{"federation without tenant", endpoint.Connection{ID: "c", Scheme: "WorkloadIdentityFederation", ClientID: "x"}, Options{Job: endpoint.Job{AccessToken: "a"}}, "no tenant ID"},
		{"distributed task route needs a GUID", endpoint.Connection{ID: "my-connection", Scheme: "WorkloadIdentityFederation", TenantID: "t", ClientID: "x"}, Options{Job: endpoint.Job{AccessToken: "a"}}, "GUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Transport = failTransport(t)
			_, err := New(context.Background(), &tt.conn, cl, o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDescribeNamesNoSecret(t *testing.T) {
	c := &endpoint.Connection{ID: "c1", Scheme: "ServicePrincipal", AuthenticationType: "spnKey", TenantID: "t1", ClientID: "client-id-1", ClientSecret: "secret-1"}
	cl, _ := ResolveCloud(c)
	got := Describe(c, cl)
	want := "service connection c1: ServicePrincipal/spnKey, tenant t1, cloud AzureCloud, authority https://login.microsoftonline.com/, vault suffix vault.azure.net, token audience https://vault.azure.net"
	if got != want {
		t.Errorf("Describe = %q\nwant       %q", got, want)
	}
}
