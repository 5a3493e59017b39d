package check

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// TestCheckCertificateWithoutKey: gokeyvault check reports a certificate
// whose key is not exportable as a run does: the file it would write, and
// the run's warning in its Warnings section (issue 18). On main the entry
// failed.
func TestCheckCertificateWithoutKey(t *testing.T) {
	w, err := testworld.Start(context.Background(), testworld.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Vault.Put(localcloud.Secret{Name: "nx-cert", Value: certOnlyPEM(t), Version: strings.Repeat("1", 32), ContentType: "application/x-pem-file", Managed: true})
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
	signIn, err := NewSignIn("", Source{Name: "a test credential", Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer

	code := Run(context.Background(), Options{Vault: w.Name, Files: "nx-cert as pfx", Out: &out, SignIn: signIn, Transport: tr})

	got := strings.Split(regexp.MustCompile(`\d+ bytes`).ReplaceAllString(out.String(), "N bytes"), "\n")
	want := []string{
		"Vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
		"SecretsFilter: (none)",
		"SecretsToFiles: nx-cert as pfx",
		"Signed in with a test credential: a pipeline gets what its service connection may read, which this check cannot see.",
		"",
		"Secret variables (0):",
		"Files (1), each path in a plain variable:",
		"  nx-cert.file  <- nx-cert version " + strings.Repeat("1", 32) + " (application/x-pem-file), written as nx-cert.pfx, N bytes",
		"Warnings (1):",
		"  Secret 'nx-cert' has no private key: the certificate's key is not exportable (exportable is false in its certificate policy), so the file in variable nx-cert.file holds the certificate alone",
		"",
		"A pipeline with these inputs would succeed: Downloaded 1 secret(s) from kv-e2e, wrote 1 file(s).",
		"",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if code != ExitOK {
		t.Errorf("exit status %d", code)
	}
}

// certOnlyPEM is a certificate in PEM without its key, as Key Vault
// stores a certificate whose key is not exportable.
func certOnlyPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nx"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
