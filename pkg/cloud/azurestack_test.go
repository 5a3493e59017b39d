package cloud

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

func TestDiscoverAzureStack(t *testing.T) {
	const adfsMeta = `{"galleryEndpoint":"https://providers.local.azurestack.external:30016/","authentication":{"loginEndpoint":"https://adfs.local.azurestack.external/adfs","audiences":["https://management.adfs.azurestack.local/4de154de"]}}`
	const entraMeta = `{"authentication":{"loginEndpoint":"https://login.microsoftonline.com/","audiences":["https://management.contoso.onmicrosoft.com/81b3"]},"suffixes":{"keyVaultDns":"vault.region1.contoso.com"}}`
	tests := []struct {
		name    string
		conn    endpoint.Connection
		body    string
		status  int
		want    Cloud
		wantErr []string
	}{
		{
			name: "AD FS, suffix derived from the management URL",
			conn: endpoint.Connection{Environment: "AzureStack", URL: "https://management.local.azurestack.external/"},
			body: adfsMeta,
			want: Cloud{Name: "AzureStack", AuthorityHost: "https://adfs.local.azurestack.external/", VaultSuffix: "vault.local.azurestack.external", VaultResource: "https://vault.local.azurestack.external", ADFS: true, Tenant: "adfs", ARMAudience: "https://management.adfs.azurestack.local/4de154de"},
		},
		{
			name: "Microsoft Entra ID, suffix from the metadata",
			conn: endpoint.Connection{Environment: "AzureStack", URL: "https://management.region1.contoso.com"},
			body: entraMeta,
			want: Cloud{Name: "AzureStack", AuthorityHost: "https://login.microsoftonline.com/", VaultSuffix: "vault.region1.contoso.com", VaultResource: "https://vault.region1.contoso.com", ARMAudience: "https://management.contoso.onmicrosoft.com/81b3"},
		},
		{
			name: "connection data wins",
			conn: endpoint.Connection{Environment: "AzureStack", URL: "https://management.local.azurestack.external/", VaultDNSSuffix: "kv.example", VaultResource: "https://kv.example/"},
			body: adfsMeta,
			want: Cloud{Name: "AzureStack", AuthorityHost: "https://adfs.local.azurestack.external/", VaultSuffix: "kv.example", VaultResource: "https://kv.example", ADFS: true, Tenant: "adfs", ARMAudience: "https://management.adfs.azurestack.local/4de154de"},
		},
		{
			name:    "not found",
			conn:    endpoint.Connection{Environment: "AzureStack", URL: "https://management.local.azurestack.external/"},
			status:  404,
			wantErr: []string{"could not read the Azure Stack Hub endpoints from https://management.local.azurestack.external/metadata/endpoints (404)", "Resource Manager URL"},
		},
		{
			name:    "no login endpoint",
			conn:    endpoint.Connection{Environment: "AzureStack", URL: "https://management.local.azurestack.external/"},
			body:    `{"authentication":{}}`,
			wantErr: []string{"names no login endpoint"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := Resolve(&tt.conn)
			if err != nil {
				t.Fatal(err)
			}
			ft := &fakeTransport{handle: func(r *http.Request) (*http.Response, error) {
				if tt.status != 0 {
					return reply(tt.status, `{"error":{"code":"NotFound"}}`), nil
				}
				return reply(200, tt.body), nil
			}}
			got, err := Discover(context.Background(), &tt.conn, cl, transport.Pipeline{Transport: ft, Retry: policy.RetryOptions{MaxRetries: -1}}, nil)
			if len(ft.requests) != 1 {
				t.Fatalf("%d requests, want 1", len(ft.requests))
			}
			if q := ft.requests[0].URL; q.Path != "/metadata/endpoints" || q.Query().Get("api-version") != "2015-01-01" {
				t.Errorf("request %s", q)
			}
			if len(tt.wantErr) > 0 {
				var me *AzureStackMetadataError
				if !errors.As(err, &me) {
					t.Fatalf("error %v, want an AzureStackMetadataError", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q\ndoes not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Cloud{})); diff != "" {
				t.Errorf("Discover (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiscoverLeavesOtherCloudsAlone(t *testing.T) {
	cl, _ := Resolve(&endpoint.Connection{Environment: "AzureUSGovernment"})
	got, err := Discover(context.Background(), &endpoint.Connection{Environment: "AzureUSGovernment"}, cl, transport.Pipeline{Transport: failTransport(t)}, nil)
	if err != nil || got != cl {
		t.Fatalf("Discover = %+v, %v; want the cloud unchanged", got, err)
	}
}
