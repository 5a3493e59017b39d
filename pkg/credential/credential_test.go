package credential

import (
	"context"
	"strings"
	"testing"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

func TestNewRejectsIncompleteConnections(t *testing.T) {
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
		{"federation without tenant", endpoint.Connection{ID: "c", Scheme: "WorkloadIdentityFederation", ClientID: "x"}, Options{DevOps: endpoint.DevOps{AccessToken: "a"}}, "no tenant ID"},
		{"distributed task route needs a GUID", endpoint.Connection{ID: "my-connection", Scheme: "WorkloadIdentityFederation", TenantID: "t", ClientID: "x"}, Options{DevOps: endpoint.DevOps{AccessToken: "a"}}, "GUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.HTTP.Transport = failTransport(t)
			cl, _ := cloud.Resolve(&tt.conn)
			_, err := New(context.Background(), &tt.conn, cl, o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDescribeNamesNoSecret(t *testing.T) {
	c := &endpoint.Connection{ID: "c1", Scheme: "ServicePrincipal", AuthenticationType: "spnKey", TenantID: "t1", ClientID: "client-id-1", ClientSecret: "secret-1"}
	cl, _ := cloud.Resolve(c)
	got := Describe(c, cl)
	want := "service connection c1: ServicePrincipal/spnKey, tenant t1, cloud AzureCloud, authority https://login.microsoftonline.com/, vault suffix vault.azure.net, token audience https://vault.azure.net"
	if got != want {
		t.Errorf("Describe = %q\nwant       %q", got, want)
	}
}
