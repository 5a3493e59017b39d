package localcloud_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
	clientA = "aaaaaaaa-0000-4000-8000-00000000000a"
	secretA = "s3cret~value.A"
)

func startCloud(t *testing.T) *localcloud.Cloud {
	t.Helper()
	c, err := localcloud.Start(t.Context(), localcloud.Options{Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// sdkOptions are production settings except the transport, which is what
// HTTPS_PROXY + SSL_CERT_FILE give the real binary.
func sdkOptions(c *localcloud.Cloud) azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: c.HTTPClient(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

func newSecretsClient(t *testing.T, c *localcloud.Cloud, tenant, client, secret, vaultHost string) *azsecrets.Client {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: sdkOptions(c)})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	sc, err := azsecrets.NewClient("https://"+vaultHost, cred, &azsecrets.ClientOptions{ClientOptions: sdkOptions(c)})
	if err != nil {
		t.Fatalf("azsecrets.NewClient: %v", err)
	}
	return sc
}

type listed struct {
	Name        string
	Enabled     bool
	Expires     int64
	NotBefore   int64
	ContentType string
	Tags        map[string]string
	Managed     bool
}

func TestSDKEndToEnd(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(tenantA, clientA, secretA)
	v := c.AddVault("kv-e2e", tenantA)

	values := map[string]string{
		"multi-line": "line1\nline2\r\nline3\n",
		"escapes":    "100% %AZP25 %3B;]##vso[task.debug]x",
		"json":       "{\n  \"a\": [1, 2],\n  \"b\": \"<&>\\u0041\"\n}",
		"unicode":    "héllo ✓ 🚀 \u2028 tab\there",
		"big":        strings.Repeat("0123456789abcdef", 1600), // 25,600 bytes
		"empty":      "",
	}
	for i := range 30 {
		values[fmt.Sprintf("bulk-%02d", i)] = fmt.Sprintf("value-%02d", i)
	}
	var want []listed
	for name, val := range values {
		v.Put(localcloud.Secret{Name: name, Value: val})
		want = append(want, listed{Name: name, Enabled: true})
	}
	exp := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	nbf := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	v.Put(localcloud.Secret{Name: "decorated", Value: "pfx", Expires: exp, NotBefore: nbf, ContentType: "application/x-pkcs12", Tags: map[string]string{"env": "prod"}, Managed: true})
	want = append(want, listed{Name: "decorated", Enabled: true, Expires: exp.Unix(), NotBefore: nbf.Unix(), ContentType: "application/x-pkcs12", Tags: map[string]string{"env": "prod"}, Managed: true})
	v.Put(localcloud.Secret{Name: "off", Value: "x", Disabled: true})
	want = append(want, listed{Name: "off"})
	oldVersion := v.Put(localcloud.Secret{Name: "rotated", Value: "old"})
	v.Put(localcloud.Secret{Name: "rotated", Value: "new"})
	want = append(want, listed{Name: "rotated", Enabled: true})
	values["rotated"] = "new"

	sc := newSecretsClient(t, c, tenantA, clientA, secretA, v.Host())
	ctx := t.Context()

	var got []listed
	pager := sc.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list page: %v", err)
		}
		for _, p := range page.Value {
			l := listed{Name: p.ID.Name(), Enabled: *p.Attributes.Enabled, Tags: map[string]string{}}
			if p.Attributes.Expires != nil {
				l.Expires = p.Attributes.Expires.Unix()
			}
			if p.Attributes.NotBefore != nil {
				l.NotBefore = p.Attributes.NotBefore.Unix()
			}
			if p.ContentType != nil {
				l.ContentType = *p.ContentType
			}
			for k, tv := range p.Tags {
				l.Tags[k] = *tv
			}
			if len(l.Tags) == 0 {
				l.Tags = nil
			}
			if p.Managed != nil {
				l.Managed = *p.Managed
			}
			got = append(got, l)
		}
	}
	byName := func(s []listed) { sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name }) }
	byName(want)
	byName(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed secrets (-want +got):\n%s", diff)
	}

	gotValues := map[string]string{}
	for name := range values {
		resp, err := sc.GetSecret(ctx, name, "", nil)
		if err != nil {
			t.Fatalf("GetSecret(%s): %v", name, err)
		}
		gotValues[name] = *resp.Value
		if resp.ID.Name() != name || len(resp.ID.Version()) != 32 {
			t.Errorf("GetSecret(%s) id = %s", name, *resp.ID)
		}
	}
	if diff := cmp.Diff(values, gotValues); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}

	old, err := sc.GetSecret(ctx, "rotated", oldVersion, nil)
	if err != nil {
		t.Fatalf("GetSecret(rotated, old): %v", err)
	}
	if *old.Value != "old" || old.ID.Version() != oldVersion {
		t.Errorf("GetSecret(rotated, %s) = %q, %s", oldVersion, *old.Value, *old.ID)
	}

	_, err = sc.GetSecret(ctx, "off", "", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("GetSecret(off) error = %v, want 403", err)
	}

	// What the SDK sent: one challenge, ceil(39/25) = 2 list pages without
	// maxresults, gets with a trailing slash, api-version 2026-04-01.
	reqs := v.Requests()
	if reqs[0].Status != http.StatusUnauthorized || reqs[0].Authorized {
		t.Errorf("first request = %+v, want unauthenticated 401", reqs[0])
	}
	var lists []string
	gets := 0
	for _, r := range reqs[1:] {
		if r.APIVersion != "2026-04-01" {
			t.Errorf("request %s %s api-version %q", r.Method, r.Path, r.APIVersion)
		}
		switch {
		case r.Path == "/secrets":
			lists = append(lists, r.RawQuery)
		case r.Secret != "" && strings.HasSuffix(r.Path, "/"):
			gets++
		}
	}
	if len(lists) != 2 || lists[0] != "api-version=2026-04-01" || !strings.Contains(lists[1], "skiptoken=") {
		t.Errorf("list queries = %q", lists)
	}
	if gets != len(values)+1 {
		t.Errorf("latest-version gets = %d, want %d", gets, len(values)+1)
	}
	if n := c.TokenRequests(); n != 1 {
		t.Errorf("TokenRequests = %d, want 1", n)
	}
	for _, target := range c.ProxyLog() {
		if target != "login.microsoftonline.com:443" && target != "kv-e2e.vault.azure.net:443" {
			t.Errorf("unexpected CONNECT %s", target)
		}
	}
}

func TestSDKEntraErrors(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(tenantA, clientA, secretA)
	c.AddApp(tenantA, "expired-app", "pw")
	c.ExpireSecret(tenantA, "expired-app")

	tests := []struct {
		name, tenant, client, secret string
		wantStatus                   int
		wantCode                     string
	}{
		{"wrong secret", tenantA, clientA, "nope", http.StatusUnauthorized, "AADSTS7000215: Invalid client secret provided."},
		{"expired secret", tenantA, "expired-app", "pw", http.StatusUnauthorized, "AADSTS7000222: The provided client secret keys for app 'expired-app' are expired."},
		{"unknown app", tenantA, "bbbbbbbb-0000-4000-8000-00000000000b", "pw", http.StatusBadRequest, "AADSTS700016: Application with identifier 'bbbbbbbb-0000-4000-8000-00000000000b' was not found"},
		{"unknown tenant", tenantB, clientA, secretA, http.StatusBadRequest, "AADSTS90002: Tenant '" + tenantB + "' not found."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := azidentity.NewClientSecretCredential(tc.tenant, tc.client, tc.secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: sdkOptions(c)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
			var afe *azidentity.AuthenticationFailedError
			if !errors.As(err, &afe) {
				t.Fatalf("GetToken error = %v, want AuthenticationFailedError", err)
			}
			if afe.RawResponse == nil || afe.RawResponse.StatusCode != tc.wantStatus || !strings.Contains(err.Error(), tc.wantCode) {
				t.Errorf("GetToken error = %v (status %v), want %d with %q", err, afe.RawResponse, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func TestSDKChallengeTenantMustMatch(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(tenantA, clientA, secretA)
	v := c.AddVault("kv-other", tenantB)
	v.Put(localcloud.Secret{Name: "x", Value: "y"})
	sc := newSecretsClient(t, c, tenantA, clientA, secretA, v.Host())
	_, err := sc.GetSecret(t.Context(), "x", "", nil)
	if err == nil || !strings.Contains(err.Error(), tenantB) {
		t.Errorf("GetSecret across tenants error = %v, want one naming %s", err, tenantB)
	}
	if n := c.TokenRequests(); n != 0 {
		t.Errorf("TokenRequests = %d, want 0 (azidentity refuses the foreign tenant itself)", n)
	}
}

// TestEnvOnlyChildProcess runs the SDK with production options in a child
// process whose only link to the fake is Env(): the path the task binary takes.
func TestEnvOnlyChildProcess(t *testing.T) {
	if os.Getenv("LOCALCLOUD_CHILD") == "1" {
		childMain(t)
		return
	}
	t.Parallel()
	c := startCloud(t)
	c.AddApp(tenantA, clientA, secretA)
	v := c.AddVault("kv-child", tenantA)
	want := "multi\nline %AZP25;]"
	v.Put(localcloud.Secret{Name: "x", Value: want})

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestEnvOnlyChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), c.Env()...)
	cmd.Env = append(cmd.Env, "LOCALCLOUD_CHILD=1", "LOCALCLOUD_VAULT=https://"+v.Host(), "LOCALCLOUD_WANT_SHA="+fmt.Sprintf("%x", sha256.Sum256([]byte(want))))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if reqs := v.Requests(); len(reqs) != 2 || reqs[1].Status != http.StatusOK || !reqs[1].Authorized {
		t.Errorf("vault saw %+v, want challenge + authorized get", reqs)
	}
}

func childMain(t *testing.T) {
	cred, err := azidentity.NewClientSecretCredential(tenantA, clientA, secretA, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := azsecrets.NewClient(os.Getenv("LOCALCLOUD_VAULT"), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	resp, err := sc.GetSecret(ctx, "x", "", nil)
	if err != nil {
		t.Fatalf("GetSecret through env-configured proxy: %v", err)
	}
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(*resp.Value))); got != os.Getenv("LOCALCLOUD_WANT_SHA") {
		t.Fatalf("value digest %s, want %s", got, os.Getenv("LOCALCLOUD_WANT_SHA"))
	}
}
