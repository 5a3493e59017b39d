package credential

import (
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
		{name: "default", conn: endpoint.Connection{}, want: Cloud{"AzureCloud", "https://login.microsoftonline.com/", "vault.azure.net", "https://vault.azure.net"}},
		{name: "china by name", conn: endpoint.Connection{Environment: "AzureChinaCloud"}, want: Cloud{"AzureChinaCloud", "https://login.chinacloudapi.cn/", "vault.azure.cn", "https://vault.azure.cn"}},
		{name: "us gov any case", conn: endpoint.Connection{Environment: "azureusgovernment"}, want: Cloud{"AzureUSGovernment", "https://login.microsoftonline.us/", "vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net"}},
		{
			name: "explicit data wins",
			conn: endpoint.Connection{Environment: "AzureCloud", AuthorityHost: "https://login.example.com", VaultDNSSuffix: ".vault.example.com", VaultResource: "https://vault.example.com/"},
			want: Cloud{"AzureCloud", "https://login.example.com/", "vault.example.com", "https://vault.example.com"},
		},
		{
			name: "unknown cloud with data",
			conn: endpoint.Connection{Environment: "MyCloud", AuthorityHost: "https://login.my/", VaultDNSSuffix: "vault.my"},
			want: Cloud{"MyCloud", "https://login.my/", "vault.my", "https://vault.my"},
		},
		{name: "unknown cloud without data", conn: endpoint.Connection{Environment: "MyCloud"}, wantErr: `environment "MyCloud" is not supported`},
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
			if diff := cmp.Diff(tt.want, got); diff != "" {
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
		wantErr string
	}{
		{"no tenant", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", ClientID: "x", ClientSecret: "s"}, "no tenant ID"},
		{"no secret", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "x", AuthenticationType: "spnKey"}, "the secret is empty"},
		{"bad certificate", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "x", AuthenticationType: "spnCertificate", CertificatePEM: "junk"}, "openssl pkcs12"},
		{"unknown auth type", endpoint.Connection{ID: "c", Scheme: "ServicePrincipal", TenantID: "t", ClientID: "x", AuthenticationType: "spnMagic"}, `"spnMagic"`},
		{"publish profile", endpoint.Connection{ID: "c", Scheme: "PublishProfile"}, `"PublishProfile"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.conn, cl, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
