package check

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// TestCheckMembersAndExpiry: the check shows each member entry, its
// variable and the version it came from, never a value, and the run's
// expiry warnings; with --expiry-fails a pipeline would fail for them.
func TestCheckMembersAndExpiry(t *testing.T) {
	w, err := testworld.Start(context.Background(), testworld.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	soon := time.Now().UTC().Truncate(time.Second).Add(5*24*time.Hour + time.Hour)
	v := strings.Repeat("2", 32)
	w.Vault.Put(localcloud.Secret{Name: "db-config", Value: `{"user":"app","password":"s3cret-value"}`, Version: v, Expires: soon})
	proxy, err := url.Parse(w.Cloud.ProxyURL())
	if err != nil {
		t.Fatal(err)
	}
	tr := transport.New(transport.Options{Proxy: http.ProxyURL(proxy), RootCAs: w.Cloud.CertPool()})
	cred, err := azidentity.NewClientSecretCredential(testworld.TenantID, testworld.ClientID, testworld.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: policy.ClientOptions{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	for _, fails := range []bool{false, true} {
		signIn, err := NewSignIn("", Source{Name: "a test credential", Credential: cred})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := Run(context.Background(), Options{Vault: w.Name, Filter: "db-config.user, db-config.password as DB_PASSWORD", Out: &out, SignIn: signIn, Transport: tr,
			Expiry: task.Expiry{Days: 7, Fails: fails}})

		expiry := "  Secret 'db-config' expires on " + soon.Format(time.RFC3339) + ", in 5 day(s): renew it in vault kv-e2e before then"
		want := []string{
			"Vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
			"SecretsFilter: db-config.user, db-config.password as DB_PASSWORD",
			"Signed in with a test credential: a pipeline gets what its service connection may read, which this check cannot see.",
			"",
			"Secret variables (2):",
			"  db-config.user  <- db-config version " + v + ", member user",
			"  DB_PASSWORD     <- db-config version " + v + ", member password",
		}
		wantCode := ExitOK
		if fails {
			wantCode = ExitWouldFail
			want = append(want, "Errors (1):", expiry, "",
				"A pipeline with these inputs would fail: 1 secret(s) expire within 7 day(s) or have expired, and ExpiryFails is true.", "")
		} else {
			want = append(want, "Warnings (1):", expiry, "",
				"A pipeline with these inputs would succeed: Downloaded 1 secret(s) from kv-e2e.", "")
		}
		if diff := cmp.Diff(want, strings.Split(out.String(), "\n")); diff != "" {
			t.Errorf("report, fails %v (-want +got):\n%s", fails, diff)
		}
		if code != wantCode {
			t.Errorf("exit status %d, want %d", code, wantCode)
		}
		if strings.Contains(out.String(), "s3cret-value") {
			t.Error("the report holds a member's value")
		}
	}
}
