package cloud

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

func TestResolve(t *testing.T) {
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
			want: Cloud{Name: "AzureStack", AuthorityHost: "https://adfs.contoso.local/", VaultSuffix: "vault.contoso.local", VaultResource: "https://vault.contoso.local", ADFS: true, Tenant: "adfs"},
		},
		{
			name: "AD FS flag",
			conn: endpoint.Connection{Environment: "MyStack", AuthorityHost: "https://sts.contoso.local/", VaultDNSSuffix: "vault.contoso.local", EnableADFS: true},
			want: Cloud{Name: "MyStack", AuthorityHost: "https://sts.contoso.local/", VaultSuffix: "vault.contoso.local", VaultResource: "https://vault.contoso.local", ADFS: true, Tenant: "adfs"},
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
			got, err := Resolve(&tt.conn)
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
				t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTenant(t *testing.T) {
	for _, tt := range []struct {
		conn endpoint.Connection
		want string
	}{
		{endpoint.Connection{TenantID: "t1"}, "t1"},
		{endpoint.Connection{TenantID: "t1", Environment: "AzureStack", AuthorityHost: "https://adfs.contoso.local/adfs", VaultDNSSuffix: "v.contoso.local"}, "adfs"},
	} {
		cl, err := Resolve(&tt.conn)
		if err != nil || cl.Tenant != tt.want {
			t.Errorf("Resolve(%+v).Tenant = %q, %v; want %q", tt.conn, cl.Tenant, err, tt.want)
		}
	}
}

// fakeTransport answers requests in-process: no test in this package
// touches the network.
type fakeTransport struct {
	mu       sync.Mutex
	handle   func(*http.Request) (*http.Response, error)
	requests []*http.Request
}

func (f *fakeTransport) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	resp, err := f.handle(req)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

func failTransport(t *testing.T) *fakeTransport {
	return &fakeTransport{handle: func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		return reply(500, ""), nil
	}}
}

func reply(status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}
}
