package credential

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// TestManagedIdentityIMDS drives the Instance Metadata Service source
// through a fake transport: the requests name 169.254.169.254 but never
// reach a network.
func TestManagedIdentityIMDS(t *testing.T) {
	for _, v := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(v, "")
	}
	refused := func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: network is unreachable")}
	}
	blackhole := func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	tests := []struct {
		name         string
		clientID     string
		handle       func(*http.Request) (*http.Response, error)
		wantKind     ManagedIdentityFailure // 0: success
		wantRequests int
	}{
		{name: "no IMDS: connection fails", handle: refused, wantKind: ManagedIdentityUnreachable, wantRequests: 1},
		{name: "no IMDS: connection never answered", handle: blackhole, wantKind: ManagedIdentityUnreachable, wantRequests: 1},
		{
			name: "VM without system identity",
			handle: func(*http.Request) (*http.Response, error) {
				return reply(400, `{"error":"invalid_request","error_description":"Identity not found"}`), nil
			},
			wantKind: ManagedIdentityNotAssigned, wantRequests: 1,
		},
		{
			name:     "user-assigned identity not on the VM",
			clientID: "uami-client",
			handle: func(*http.Request) (*http.Response, error) {
				return reply(400, `{"error":"invalid_request","error_description":"Identity not found"}`), nil
			},
			wantKind: ManagedIdentityNotAssigned, wantRequests: 1,
		},
		{
			name:     "user-assigned identity",
			clientID: "uami-client",
			handle: func(r *http.Request) (*http.Response, error) {
				return reply(200, fmt.Sprintf(`{"access_token":"tok","expires_in":"3599","expires_on":"%d","resource":%q,"token_type":"Bearer"}`, time.Now().Add(time.Hour).Unix(), r.URL.Query().Get("resource"))), nil
			},
			wantRequests: 1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTransport{handle: tt.handle}
			// MSAL caches managed identity tokens process-wide: a resource
			// per case keeps the cases apart.
			cl := cloud.Cloud{Name: "AzureCloud", AuthorityHost: "https://login.microsoftonline.com/", VaultSuffix: "vault.azure.net", VaultResource: fmt.Sprintf("https://vault%d.azure.net", i)}
			conn := &endpoint.Connection{ID: "c", Scheme: "ManagedServiceIdentity", MSIClientID: tt.clientID}
			start := time.Now()
			cred, err := New(context.Background(), conn, cl, Options{HTTP: transport.Pipeline{Transport: ft}, ManagedIdentityTimeout: 300 * time.Millisecond})
			took := time.Since(start)
			if took > 3*time.Second {
				t.Errorf("took %v", took)
			}
			if got := len(ft.requests); got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
			for _, r := range ft.requests {
				if r.URL.Host != "169.254.169.254" || r.Header.Get("Metadata") != "true" {
					t.Errorf("request to %s (Metadata %q)", r.URL, r.Header.Get("Metadata"))
				}
				if got := r.URL.Query().Get("client_id"); got != tt.clientID {
					t.Errorf("client_id %q, want %q", got, tt.clientID)
				}
			}
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if cred == nil {
					t.Fatal("no credential")
				}
				return
			}
			var mie *ManagedIdentityError
			if !errors.As(err, &mie) {
				t.Fatalf("error %v, want a ManagedIdentityError", err)
			}
			if mie.Kind != tt.wantKind || mie.ClientID != tt.clientID || !strings.Contains(mie.Endpoint, "169.254.169.254") {
				t.Errorf("got kind %d client %q endpoint %q, want kind %d", mie.Kind, mie.ClientID, mie.Endpoint, tt.wantKind)
			}
		})
	}
}

func TestManagedIdentityRunCanceled(t *testing.T) {
	for _, v := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "IMDS_ENDPOINT"} {
		t.Setenv(v, "")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cl := cloud.Cloud{Name: "AzureCloud", AuthorityHost: "https://login.microsoftonline.com/", VaultResource: "https://vault-canceled.azure.net"}
	_, err := New(ctx, &endpoint.Connection{ID: "c", Scheme: "ManagedServiceIdentity"}, cl, Options{HTTP: transport.Pipeline{Transport: &fakeTransport{handle: func(r *http.Request) (*http.Response, error) {
		return nil, r.Context().Err()
	}}}})
	var mie *ManagedIdentityError
	if err == nil || errors.As(err, &mie) {
		t.Fatalf("error %v: a canceled run is not the identity's fault", err)
	}
}

// TestManagedIdentityEnv: the endpoint messages name is the one azidentity
// picks from the same variables: IDENTITY_ENDPOINT, then MSI_ENDPOINT, then
// the Instance Metadata Service.
func TestManagedIdentityEnv(t *testing.T) {
	for _, tt := range []struct {
		environ []string
		want    string
	}{
		{nil, imdsName},
		{[]string{"IDENTITY_ENDPOINT= http://127.0.0.1:41/msi/token ", "MSI_ENDPOINT=http://127.0.0.1:42/"}, "http://127.0.0.1:41/msi/token (IDENTITY_ENDPOINT)"},
		{[]string{"MSI_ENDPOINT=http://127.0.0.1:42/"}, "http://127.0.0.1:42/ (MSI_ENDPOINT)"},
		{[]string{"identity_endpoint=http://127.0.0.1:41/"}, imdsName},
	} {
		if got := ReadManagedIdentityEnv(agentenv.NewEnvFor(tt.environ, "linux")).endpoint(); got != tt.want {
			t.Errorf("endpoint for %q = %q, want %q", tt.environ, got, tt.want)
		}
	}
}
