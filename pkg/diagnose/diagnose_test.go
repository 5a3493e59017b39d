package diagnose

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/credential"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// entraFailure is what azidentity returns for an Entra error reply.
func entraFailure(code string) error {
	req, _ := http.NewRequest(http.MethodPost, "https://login.chinacloudapi.cn/t1/oauth2/v2.0/token", nil)
	return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{
		StatusCode: 400,
		Status:     "400 Bad Request",
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(`{"error":"invalid_request","error_description":"AADSTS` + code + `: something. Trace ID: x"}`)),
		Request:    req,
	}}
}

func TestExplain(t *testing.T) {
	ctx := Context{Vault: "kv1", TenantID: "t1", ConnectionPage: "https://dev.azure.com/o/p/_settings/adminservices?resourceId=c1"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	kvVersion := &azcore.ResponseError{StatusCode: 400, ErrorCode: "BadParameter", RawResponse: &http.Response{
		StatusCode: 400, Header: http.Header{"X-Ms-Request-Id": {"req-1"}},
		Body: io.NopCloser(strings.NewReader(`{"error":{"code":"BadParameter","message":"The specified version (2026-04-01) is not recognized. Consider using the latest supported version (2016-10-01)."}}`)),
	}}
	tests := []struct {
		name string
		err  error
		want []string
		not  []string
	}{
		{"federation subject", &credential.FederationError{Subject: "sc://o/p/c", Issuer: "https://vstoken.dev.azure.com/x", Err: entraFailure("700213")},
			[]string{"(AADSTS700213)", "issuer 'https://vstoken.dev.azure.com/x'", "subject 'sc://o/p/c'", "api://AzureADTokenExchange", ctx.ConnectionPage}, nil},
		{"federation issuer", &credential.FederationError{Subject: "s", Issuer: "i", Err: entraFailure("70021")}, []string{"(AADSTS70021)", "issuer 'i' and subject 's'"}, nil},
		{"federation, other Entra error", &credential.FederationError{Subject: "s", Issuer: "i", Err: entraFailure("700016")}, []string{"(AADSTS700016)", "not found in tenant t1"}, []string{"issuer"}},
		{"token reply without an Entra code", &azidentity.AuthenticationFailedError{RawResponse: &http.Response{
			StatusCode: 502, Status: "502 Bad Gateway", Header: http.Header{},
			Body:    io.NopCloser(strings.NewReader("<html>upstream unreachable</html>")),
			Request: &http.Request{Method: http.MethodPost, URL: &url.URL{Scheme: "https", Host: "login.microsoftonline.com", Path: "/t1/oauth2/v2.0/token"}},
		}}, []string{"could not get a token from Microsoft Entra ID: network error:", "502", ctx.ConnectionPage}, []string{"unknown error"}},
		{"certificate not registered", entraFailure("700027"), []string{"(AADSTS700027)", "not registered on the app registration"}, nil},
		{"tenant not found names the cloud", entraFailure("90002"), []string{"tenant t1 was not found at login.chinacloudapi.cn (AADSTS90002)", "environment"}, nil},
		{"managed identity unreachable", &credential.ManagedIdentityError{Endpoint: "the Azure Instance Metadata Service (169.254.169.254)", Kind: credential.ManagedIdentityUnreachable, Err: refused},
			[]string{"this agent has no managed identity", "nothing answered at the Azure Instance Metadata Service (169.254.169.254) (connection refused)", "workload identity federation"}, nil},
		{"managed identity timed out", &credential.ManagedIdentityError{Endpoint: "e", Kind: credential.ManagedIdentityTimedOut, Timeout: "20s", Err: errors.New("x")}, []string{"issued no token within 20s", "system-assigned"}, nil},
		{"system identity missing", &credential.ManagedIdentityError{Endpoint: "e", Kind: credential.ManagedIdentityNotAssigned, Err: errors.New("x")}, []string{"no system-assigned managed identity", "az vm identity assign"}, nil},
		{"user-assigned identity missing", &credential.ManagedIdentityError{Endpoint: "e", ClientID: "u1", Kind: credential.ManagedIdentityNotAssigned, Err: errors.New("x")}, []string{"user-assigned managed identity u1", "is not assigned"}, nil},
		{"OIDC request through a dead proxy", &credential.OIDCError{ConnectionID: "c1", Route: "SYSTEM_OIDCREQUESTURI", URL: "https://dev.azure.com/o/x", Err: &transport.ProxyError{Proxy: "http://127.0.0.1:1", Target: "dev.azure.com:443", Err: refused}},
			[]string{"workload identity federation token for service connection c1", "could not connect to the proxy http://127.0.0.1:1"}, nil},
		{"API version a cloud does not serve", kvVersion, []string{"does not support API version 2026-04-01", "GoKeyVault.ApiVersion", "(it names 2016-10-01)", "req-1"}, nil},
		{"azidentity refuses the challenge's tenant", errors.New(`ClientSecretCredential isn't configured to acquire tokens for tenant "t2". To enable acquiring tokens for this tenant add it to the AdditionallyAllowedTenants on the credential options`),
			[]string{"vault kv1 belongs to tenant t2, but the service connection is for tenant t1: use a service connection of the vault's tenant, or a vault of the connection's tenant"}, []string{"network error"}},
		{"proxy wants credentials", &transport.ProxyError{Proxy: "http://p:8080", Target: "kv1.vault.azure.net:443", StatusCode: 407, SentCredentials: true}, []string{"rejected the proxy credentials"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Explain(ctx, tt.err, "list")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q\ndoes not contain %q", got, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("%q\ncontains %q", got, w)
				}
			}
		})
	}
}

func TestSetupKeepsPlainErrors(t *testing.T) {
	err := errors.New("service connection c1 has no tenant ID or service principal ID: edit the connection and fill them in")
	if got := Setup(Context{}, err); got != err.Error() {
		t.Errorf("Setup = %q, want the error unchanged", got)
	}
	ce := &credential.CertificateError{ConnectionID: "c1", Problem: "has no private key"}
	if got := Setup(Context{}, ce); got != ce.Error() {
		t.Errorf("Setup = %q", got)
	}
}

// TestSecretNamesItsInput: the fix for a missing or disabled secret names
// the input that asked for it.
func TestSecretNamesItsInput(t *testing.T) {
	reply := func(status int, code, inner string) error {
		return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: &http.Response{
			StatusCode: status, Header: http.Header{"X-Ms-Request-Id": {"req-2"}},
			Body: io.NopCloser(strings.NewReader(`{"error":{"code":"` + code + `","message":"m","innererror":{"code":"` + inner + `"}}}`)),
		}}
	}
	tests := []struct {
		input string
		err   error
		want  string
	}{
		{"", reply(404, "SecretNotFound", ""), "Secret 'cert': not found in vault kv1. Check the name (and version) in SecretsFilter; a deleted secret shows in az keyvault secret list-deleted --vault-name kv1 (x-ms-request-id: req-2)"},
		{"SecretsToFiles", reply(404, "SecretNotFound", ""), "Secret 'cert': not found in vault kv1. Check the name (and version) in SecretsToFiles; a deleted secret"},
		{"SecretsFilter and SecretsToFiles", reply(403, "Forbidden", "SecretDisabled"), "Secret 'cert': the secret is disabled. Enable it (az keyvault secret set-attributes --vault-name kv1 --name <name> --enabled true) or remove it from SecretsFilter and SecretsToFiles (x-ms-request-id: req-2)"},
	}
	for _, tt := range tests {
		got := Secret(Context{Vault: "kv1", Input: tt.input}, "cert", tt.err)
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("input %q:\n%s\nwant it to start with\n%s", tt.input, got, tt.want)
		}
	}
}

// TestPrivateEndpointHost: the private-endpoint fix names the vault's host
// in its own cloud.
func TestPrivateEndpointHost(t *testing.T) {
	err := &azcore.ResponseError{StatusCode: 403, ErrorCode: "Forbidden", RawResponse: &http.Response{
		StatusCode: 403, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"error":{"code":"Forbidden","message":"m","innererror":{"code":"ForbiddenByConnection"}}}`)),
	}}
	for host, want := range map[string]string{
		"":                   "resolves kv1.vault.azure.net to it",
		"kv1.vault.azure.cn": "resolves kv1.vault.azure.cn to it",
	} {
		if got := Secret(Context{Vault: "kv1", Host: host}, "cert", err); !strings.Contains(got, want) {
			t.Errorf("host %q: %s\nwant it to contain %q", host, got, want)
		}
	}
}
