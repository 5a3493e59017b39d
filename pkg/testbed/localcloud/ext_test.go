package localcloud_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

func selfSigned(t *testing.T, cn string) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// listNames lists a vault's secret names through the SDK with cred.
func listNames(t *testing.T, c *localcloud.Cloud, vaultHost string, cred azcore.TokenCredential, apiVersion string) ([]string, error) {
	t.Helper()
	sc, err := azsecrets.NewClient("https://"+vaultHost, cred, &azsecrets.ClientOptions{ClientOptions: withAPIVersion(sdkOptions(c), apiVersion)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pager := sc.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			return nil, err
		}
		for _, s := range page.Value {
			names = append(names, s.ID.Name())
		}
	}
	return names, nil
}

func aadsts(err error) string {
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		return "not an AuthenticationFailedError: " + fmt.Sprint(err)
	}
	for _, code := range []string{"700027", "700213", "70021", "700211", "7000215", "90002"} {
		if strings.Contains(err.Error(), "AADSTS"+code+":") {
			return code
		}
	}
	return "no known code in " + err.Error()
}

func TestCertificateApp(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	cert, key := selfSigned(t, "app")
	other, otherKey := selfSigned(t, "other")
	c.AddCertApp(tenantA, clientA, cert)
	c.AddVault("kv-cert", tenantA).Put(localcloud.Secret{Name: "s", Value: "v"})

	newCred := func(cert *x509.Certificate, key *rsa.PrivateKey) azcore.TokenCredential {
		cred, err := azidentity.NewClientCertificateCredential(tenantA, clientA, []*x509.Certificate{cert}, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: sdkOptions(c)})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	names, err := listNames(t, c, "kv-cert.vault.azure.net", newCred(cert, key), "")
	if err != nil || !cmp.Equal(names, []string{"s"}) {
		t.Fatalf("list with the registered certificate = %v, %v", names, err)
	}
	// An unregistered certificate.
	if _, err := listNames(t, c, "kv-cert.vault.azure.net", newCred(other, otherKey), ""); aadsts(err) != "700027" {
		t.Errorf("unregistered certificate: %s, want AADSTS700027", aadsts(err))
	}
	// The registered certificate's thumbprint over another key's signature,
	// and a valid assertion made for another token endpoint.
	endpoint := "https://login.microsoftonline.com/" + tenantA + "/oauth2/v2.0/token"
	for _, tc := range []struct {
		name     string
		key      *rsa.PrivateKey
		aud      string
		wantDesc string
	}{
		{"forged signature", otherKey, endpoint, "did not match the expected signature"},
		{"other audience", key, "https://login.microsoftonline.com/other/oauth2/v2.0/token", "invalid audience"},
		{"valid", key, endpoint, ""},
	} {
		assertion := psAssertion(t, cert, tc.key, clientA, tc.aud)
		r := do(t, c, http.MethodPost, endpoint, "", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {clientA}, "scope": {"https://vault.azure.net/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
		})
		if tc.wantDesc == "" {
			if r.status != 200 {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
			continue
		}
		if r.status != 401 || !strings.Contains(string(r.body), "AADSTS700027") || !strings.Contains(string(r.body), tc.wantDesc) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	// A client secret is no credential of a certificate app.
	secretCred, _ := azidentity.NewClientSecretCredential(tenantA, clientA, "guess", &azidentity.ClientSecretCredentialOptions{ClientOptions: sdkOptions(c)})
	if _, err := listNames(t, c, "kv-cert.vault.azure.net", secretCred, ""); aadsts(err) != "7000215" {
		t.Errorf("secret against a certificate app: %v", err)
	}
}

func TestAzureStackADFS(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	arm := c.EnableAzureStack(localcloud.AzureStackOptions{ADFS: true, Audience: "https://management.adfs.azurestack.local/x"})
	if arm != "https://management.local.azurestack.external/" {
		t.Errorf("ARM URL %q", arm)
	}
	r := do(t, c, http.MethodGet, arm+"metadata/endpoints?api-version=2015-01-01", "", nil)
	var md struct {
		Authentication struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
		} `json:"authentication"`
	}
	if err := json.Unmarshal(r.body, &md); err != nil || r.status != 200 {
		t.Fatalf("metadata: %d %s", r.status, r.body)
	}
	if md.Authentication.LoginEndpoint != "https://adfs.local.azurestack.external/adfs" || !cmp.Equal(md.Authentication.Audiences, []string{"https://management.adfs.azurestack.local/x"}) {
		t.Errorf("metadata = %+v", md)
	}

	cert, key := selfSigned(t, "stack")
	c.AddApp("adfs", clientA, secretA)
	c.AddCertApp("adfs", "cccccccc-0000-4000-8000-00000000000c", cert)
	v := c.AddVault("kv1.vault.local.azurestack.external", "adfs")
	v.Put(localcloud.Secret{Name: "s", Value: "v"})
	opts := sdkOptions(c)
	opts.Cloud.ActiveDirectoryAuthorityHost = "https://adfs.local.azurestack.external/"
	secretCred, err := azidentity.NewClientSecretCredential("adfs", clientA, secretA, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	certCred, err := azidentity.NewClientCertificateCredential("adfs", "cccccccc-0000-4000-8000-00000000000c", []*x509.Certificate{cert}, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	for name, cred := range map[string]azcore.TokenCredential{"secret": secretCred, "certificate (RS256, x5t)": certCred} {
		names, err := listNames(t, c, "kv1.vault.local.azurestack.external", cred, "2016-10-01")
		if err != nil || !cmp.Equal(names, []string{"s"}) {
			t.Errorf("%s: list = %v, %v", name, names, err)
		}
	}
	// The SDK's own, newer api-version is not served by the stack.
	_, err = listNames(t, c, "kv1.vault.local.azurestack.external", secretCred, "")
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || !strings.Contains(err.Error(), "latest supported version (2016-10-01)") {
		t.Errorf("list with the SDK's api-version: %v", err)
	}
	for _, req := range c.HostRequests() {
		if req.Host == localcloud.AzureStackADFSHost && req.Status != 200 {
			t.Errorf("AD FS request %+v", req)
		}
	}
}

func TestDevOpsOIDCAndFederation(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	const (
		systemToken = "system-access-token"
		connID      = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
		project     = "0e6f7a3c-1111-4222-8333-944455556666"
		plan        = "1a2b3c4d-1111-4222-8333-944455556666"
		job         = "5e6f7a8b-1111-4222-8333-944455556666"
		issuer      = "https://vstoken.dev.azure.com/9d2c0a11-0000-4000-8000-000000000001"
		subject     = "sc://org/proj/conn"
	)
	coll, err := c.EnableDevOps("org", systemToken)
	if err != nil {
		t.Fatal(err)
	}
	if coll != "https://dev.azure.com/org/" {
		t.Errorf("collection %q", coll)
	}
	c.AddPipelineConnection(connID, issuer, subject)
	c.AddVault("kv-wif", tenantA).Put(localcloud.Secret{Name: "s", Value: "v"})
	uri := c.OIDCRequestURI(project, "build", plan, job) + "?api-version=7.1&serviceConnectionId=" + connID

	if r := do(t, c, http.MethodPost, uri, "wrong-token", nil); r.status != 401 {
		t.Errorf("wrong system token: %d", r.status)
	}
	c.FailOIDCRequests(1)
	if r := do(t, c, http.MethodPost, uri, systemToken, nil); r.status != 503 {
		t.Errorf("failing request: %d", r.status)
	}
	r := do(t, c, http.MethodPost, uri, systemToken, nil)
	var got struct {
		OIDCToken string `json:"oidcToken"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || got.OIDCToken == "" {
		t.Fatalf("OIDC token: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff([]string{got.OIDCToken}, c.OIDCTokens()); diff != "" {
		t.Errorf("OIDCTokens (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, issuer, subject string
		want                  string // AADSTS code, "" for success
	}{
		{"match", issuer, subject, ""},
		{"other subject", issuer, "sc://org/proj/other", "700213"},
		{"other issuer", "https://vstoken.dev.azure.com/other", subject, "70021"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fmt.Sprintf("dddddddd-0000-4000-8000-00000000000%d", i)
			c.AddFederatedApp(tenantA, client, tt.issuer, tt.subject)
			cred, err := azidentity.NewClientAssertionCredential(tenantA, client, func(context.Context) (string, error) { return got.OIDCToken, nil },
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: sdkOptions(c)})
			if err != nil {
				t.Fatal(err)
			}
			names, err := listNames(t, c, "kv-wif.vault.azure.net", cred, "")
			if tt.want == "" {
				if err != nil || !cmp.Equal(names, []string{"s"}) {
					t.Errorf("list = %v, %v", names, err)
				}
				return
			}
			if code := aadsts(err); code != tt.want {
				t.Errorf("got %s, want AADSTS%s", code, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), got.OIDCToken) {
				t.Errorf("Entra's error quotes the assertion")
			}
		})
	}
}

func TestManagedIdentityEndpoint(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	env, err := c.EnableManagedIdentity()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	if !strings.HasPrefix(vars["IDENTITY_ENDPOINT"], "http://127.0.0.1:") || vars["IDENTITY_HEADER"] == "" {
		t.Fatalf("env %v", env)
	}
	c.AddManagedIdentity(tenantA, "eeeeeeee-0000-4000-8000-000000000001", false)
	c.AddManagedIdentity(tenantA, "eeeeeeee-0000-4000-8000-000000000002", true)
	v := c.AddVault("kv-mi", tenantA)

	get := func(header, query string) (int, map[string]any) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, vars["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource=https://vault.azure.net"+query, nil)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if status, _ := get("wrong", ""); status != 401 {
		t.Errorf("wrong header: %d", status)
	}
	if status, body := get(vars["IDENTITY_HEADER"], "&client_id=unknown"); status != 400 || !strings.Contains(fmt.Sprint(body["message"]), "Unable to load the proper Managed Identity") {
		t.Errorf("unknown user-assigned identity: %d %v", status, body)
	}
	for _, q := range []string{"", "&client_id=eeeeeeee-0000-4000-8000-000000000002"} {
		status, body := get(vars["IDENTITY_HEADER"], q)
		tok, _ := body["access_token"].(string)
		if status != 200 || tok == "" || body["resource"] != "https://vault.azure.net" {
			t.Fatalf("token%s: %d %v", q, status, body)
		}
		if r := do(t, c, http.MethodGet, "https://kv-mi.vault.azure.net/secrets?api-version=7.4", tok, nil); r.status != 200 {
			t.Errorf("vault with the identity's token%s: %d %s", q, r.status, r.body)
		}
	}
	_ = v
	var statuses []int
	for _, r := range c.HostRequests() {
		statuses = append(statuses, r.Status)
	}
	if diff := cmp.Diff([]int{401, 400, 200, 200}, statuses); diff != "" {
		t.Errorf("identity requests (-want +got):\n%s", diff)
	}
}

func TestProxyRequiresCredentials(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddVault("kv-auth", tenantA)
	c.RequireProxyAuth("alice", "pa:ss;word")
	get := func(user *url.Userinfo) error {
		proxy, _ := url.Parse(c.ProxyURL())
		proxy.User = user
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(mustRead(t, c.CAFile()))
		tr := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://kv-auth.vault.azure.net/secrets?api-version=7.4", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for _, user := range []*url.Userinfo{nil, url.UserPassword("alice", "wrong")} {
		if err := get(user); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
			t.Errorf("credentials %v: %v, want 407", user, err)
		}
	}
	if err := get(url.UserPassword("alice", "pa:ss;word")); err != nil {
		t.Errorf("with credentials: %v", err)
	}
	if got := c.ProxyAuthFailures(); got != 2 {
		t.Errorf("ProxyAuthFailures = %d, want 2", got)
	}
}

func TestRemoveTenant(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(tenantB, clientA, secretA)
	c.AddVault("kv-gone", tenantB)
	c.RemoveTenant(tenantB)
	cred, _ := azidentity.NewClientSecretCredential(tenantB, clientA, secretA, &azidentity.ClientSecretCredentialOptions{ClientOptions: sdkOptions(c)})
	if _, err := listNames(t, c, "kv-gone.vault.azure.net", cred, ""); aadsts(err) != "90002" {
		t.Errorf("removed tenant: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withAPIVersion(o azcore.ClientOptions, v string) azcore.ClientOptions {
	o.APIVersion = v
	return o
}

// psAssertion builds the client assertion MSAL sends for a certificate:
// PS256, x5t#S256 of the certificate.
func psAssertion(t *testing.T, cert *x509.Certificate, key *rsa.PrivateKey, clientID, aud string) string {
	t.Helper()
	thumb := sha256.Sum256(cert.Raw)
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	input := enc(map[string]string{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(thumb[:])}) + "." +
		enc(map[string]any{"aud": aud, "iss": clientID, "sub": clientID, "jti": "1", "nbf": now, "exp": now + 600})
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
