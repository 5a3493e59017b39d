package recorded

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBodiesAreWhatKeyVaultSent: every entry of every file parses, and the
// body this package re-encodes has exactly the recorded Content-Length, so
// it is the bytes Key Vault sent and not the recorder's rendering of them
// (which escapes '+' as \u002B, for one).
func TestBodiesAreWhatKeyVaultSent(t *testing.T) {
	n := 0
	for _, f := range Files() {
		for _, x := range MustOpen(f) {
			n++
			if x.Method == "" || x.URL == nil || x.URL.Host == "" || x.Status < 100 {
				t.Errorf("%s entry %d: incomplete exchange %+v", f, x.Entry, x)
			}
			cl := x.ContentLength()
			if x.Body == nil {
				if cl > 0 {
					t.Errorf("%s entry %d: no body but Content-Length %d", f, x.Entry, cl)
				}
				continue
			}
			if cl != len(x.Body) {
				t.Errorf("%s entry %d: body is %d bytes, recorded Content-Length %d", f, x.Entry, len(x.Body), cl)
			}
			if !json.Valid(x.Body) {
				t.Errorf("%s entry %d: body is not JSON", f, x.Entry)
			}
		}
	}
	if n < 60 {
		t.Errorf("read %d exchanges, want the 60 or more the files hold", n)
	}
}

// TestGoModuleCopiesAreByteExact: the files copied from the Go SDK's
// module zips are unchanged (the hashes are those of the files in the
// module cache; testdata/README.md names the modules and their go.sum
// lines).
func TestGoModuleCopiesAreByteExact(t *testing.T) {
	want := map[string]string{
		"go-azsecrets-v0.12.0-TestCRUD.json":        "14d1b5c35351d18707b0ecedacb99642e024da7da33fbb7ae6386362043c7bc6",
		"go-azsecrets-v0.12.0-TestListSecrets.json": "54ad801b7ed12410cd3becde165496813f5e289cb3b72af9708465bd0bd8d3b1",
		"go-azsecrets-v0.12.0-TestRecover.json":     "75356217ee131b2ed6db12c7c98a2b0da5b14aab218be5f78399bb9346f1ec92",
		"go-azsecrets-v0.7.0-TestSetGetSecret.json": "ac785fc339dbffe99a737ff3cb8a66a7ca649d86d5fd8bcb37010c526ff5f7ad",
	}
	for f, h := range want {
		raw, err := testdata.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if got := hex.EncodeToString(sum[:]); got != h {
			t.Errorf("%s: sha256 %s, want %s", f, got, h)
		}
	}
}

// TestNamedExchanges: the files the catalogue names hold what it says.
func TestNamedExchanges(t *testing.T) {
	type row struct {
		Method, Path string
		Status       int
		Value        string
		ContentType  string
	}
	of := func(x Exchange) row {
		v, _ := x.Value()
		return row{x.Method, x.URL.Path, x.Status, v, x.ContentType()}
	}
	for _, tc := range []struct {
		name string
		x    Exchange
		want row
	}{
		{"challenge", MustEntry(Challenge2026, 0), row{"PUT", "/secrets/sec-bk-6063", 401, "", ""}},
		{"plain", MustEntry(SecretPlain, SecretPlainEntry), row{"GET", "/secrets/secret3379360089/", 200, "value3379360089", ""}},
		{"content type", MustSecretGet(SecretContentType), row{"GET", "/secrets/secretcontenttype2250812526/", 200, "value2250812526", "text/plain"}},
		{"tagged, not yet valid", MustEntry(SecretTaggedNotYetValid, SecretTaggedNotYetValidEntry), row{"GET", "/secrets/secret518723441/", 200, "value518723441", "big secret"}},
		{"expired", MustSecretGet(SecretExpired), row{"GET", "/secrets/sec-dates-1350/", 200, "scheduled", ""}},
		{"disabled", MustEntry(SecretDisabled, 0), row{"GET", "/secrets/1730540092/", 403, "", ""}},
		{"missing", MustEntry(SecretMissing, SecretMissingEntry), row{"GET", "/secrets/secret422508987/", 404, "", ""}},
	} {
		if diff := cmp.Diff(tc.want, of(tc.x)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if got := MustEntry(Challenge2026, 0).Header.Get("WWW-Authenticate"); got != `Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"` {
		t.Errorf("challenge: WWW-Authenticate %q", got)
	}
	for i := ListPagedFirst; i <= ListPagedLast; i++ {
		if x := MustEntry(ListPaged, i); !x.IsList() || x.Status != http.StatusOK {
			t.Errorf("%s entry %d is not a listing: %s %s %d", ListPaged, i, x.Method, x.URL, x.Status)
		}
	}
}

// TestBodyForRewritesHostsOnly: ids and nextLinks name the new host, the
// recorded port stays, and nothing else in the body changes.
func TestBodyForRewritesHostsOnly(t *testing.T) {
	page := MustEntry(ListPaged, ListPagedFirst)
	got := string(page.BodyFor("kv1.vault.azure.net"))
	want := strings.ReplaceAll(string(page.Body), "https://fakevault.local", "https://kv1.vault.azure.net")
	if got != want || !strings.Contains(got, `"nextLink":"https://kv1.vault.azure.net:443/secrets?api-version=7.4&$skiptoken=`) {
		t.Errorf("BodyFor:\n got %s\nwant %s", got, want)
	}
	// The request host was sanitized, the body's ids were not: both go.
	ct := MustSecretGet(SecretContentType)
	if diff := cmp.Diff([]string{"Sanitized.vault.azure.net", "tb2cb0ea666d53791.vault.azure.net"}, ct.Hosts()); diff != "" {
		t.Errorf("Hosts (-want +got):\n%s", diff)
	}
	if b := ct.BodyFor("kv1.vault.azure.net"); !bytes.Contains(b, []byte(`"id":"https://kv1.vault.azure.net/secrets/secretcontenttype2250812526/204d23b5e2f34f78b0e708497bc631fa"`)) {
		t.Errorf("BodyFor: %s", b)
	}
	// A help link in an error message is not a vault.
	missing := MustEntry(SecretMissing, SecretMissingEntry)
	if b := missing.BodyFor("kv1.vault.azure.net"); !bytes.Contains(b, []byte("https://go.microsoft.com/fwlink/?linkid=2125182")) {
		t.Errorf("BodyFor rewrote the help link: %s", b)
	}
}

// TestCertificatesAreKeyVaultsOwn checks every certificate value with the
// real openssl, as transcribing it from its source could have broken it:
// a PFX decodes from base64 and its MAC verifies with the empty password;
// the certificate's self-signature verifies; the private key, when there
// is one, is consistent and signs what the certificate's public key
// verifies; a PEM has Key Vault's layout. A non-exportable certificate's
// secret holds no key.
func TestCertificatesAreKeyVaultsOwn(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is not on PATH; this test runs it on the recorded certificates (install OpenSSL 3): %v", err)
	}
	for _, c := range Certificates() {
		t.Run(c.File, func(t *testing.T) {
			x := MustSecretGet(c.File)
			value, _ := x.Value()
			if x.ContentType() != c.ContentType {
				t.Fatalf("contentType %q, want %q", x.ContentType(), c.ContentType)
			}
			var b struct {
				Managed bool
				Kid     string
			}
			if err := json.Unmarshal(x.Body, &b); err != nil || !b.Managed || !strings.Contains(b.Kid, "/keys/") {
				t.Errorf("managed %v, kid %q (%v): want a certificate's secret", b.Managed, b.Kid, err)
			}
			dir := t.TempDir()
			certPEM, keyPEM := value, value
			if c.ContentType == PFX {
				der, err := base64.StdEncoding.DecodeString(value)
				if err != nil || base64.StdEncoding.EncodeToString(der) != value {
					t.Fatalf("value is not canonical base64: %v", err)
				}
				write(t, dir, "f.p12", der)
				certPEM = string(openssl(t, dir, "pkcs12", "-in", "f.p12", "-passin", "pass:", "-nokeys"))
				keyPEM = string(openssl(t, dir, "pkcs12", "-in", "f.p12", "-passin", "pass:", "-nocerts", "-nodes"))
			} else {
				checkPEMLayout(t, value)
			}
			write(t, dir, "c.txt", []byte(certPEM))
			openssl(t, dir, "verify", "-CAfile", "c.txt", "-partial_chain", "-check_ss_sig", "-no_check_time", "c.txt")
			if hasKey := strings.Contains(keyPEM, "PRIVATE KEY"); hasKey != c.Exportable {
				t.Fatalf("holds a private key: %v, want %v (exportable)", hasKey, c.Exportable)
			}
			if !c.Exportable {
				return
			}
			write(t, dir, "k.txt", []byte(keyPEM))
			write(t, dir, "msg", []byte("recorded certificate check"))
			openssl(t, dir, "pkey", "-in", "k.txt", "-check", "-noout")
			write(t, dir, "pub.txt", openssl(t, dir, "x509", "-in", "c.txt", "-pubkey", "-noout"))
			openssl(t, dir, "dgst", "-sha256", "-sign", "k.txt", "-out", "sig", "msg")
			openssl(t, dir, "dgst", "-sha256", "-verify", "pub.txt", "-signature", "sig", "msg")
		})
	}
}

// pemBlock is one PEM block as Key Vault writes it: 64-column base64
// lines, LF.
var pemBlock = regexp.MustCompile(`(?s)-----BEGIN ([A-Z ]+)-----\n(.*?)-----END ([A-Z ]+)-----\n`)

func checkPEMLayout(t *testing.T, v string) {
	t.Helper()
	rest := v
	for rest != "" {
		m := pemBlock.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			t.Fatalf("text outside PEM blocks, or no final newline: %q", rest)
		}
		body := rest[m[4]:m[5]]
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		for i, l := range lines {
			if (i < len(lines)-1 && len(l) != 64) || len(l) == 0 || len(l) > 64 {
				t.Errorf("block %s line %d is %d columns", rest[m[2]:m[3]], i, len(l))
			}
		}
		if _, err := base64.StdEncoding.DecodeString(strings.Join(lines, "")); err != nil {
			t.Errorf("block %s: %v", rest[m[2]:m[3]], err)
		}
		rest = rest[m[1]:]
	}
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func openssl(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestListItem: the item derived from a certificate's secret get has the
// fields of the recorded list item of a certificate's secret
// (list-managed-disabled-2023.json), in its order, and the get's values.
func TestListItem(t *testing.T) {
	got, err := MustSecretGet("cert-rsa-pkcs12.json").ListItem()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"contentType":"application/x-pkcs12","id":"https://tcac7e9c41ef52cec.vault.azure.net/secrets/1524395116","managed":true,` +
		`"attributes":{"enabled":true,"nbf":1707529348,"exp":1739152348,"created":1707529948,"updated":1707529948,"recoveryLevel":"CustomizedRecoverable+Purgeable","recoverableDays":7}}`
	if string(got) != want {
		t.Errorf("ListItem:\n got %s\nwant %s", got, want)
	}
	items, err := MustEntry(ListManagedDisabled, 0).ListItems()
	if err != nil || len(items) != 5 || !bytes.HasPrefix(items[0], []byte(`{"contentType":"application/x-pkcs12","id":"https://fakevault.local/secrets/2455761926","managed":true,"attributes":{"enabled":false,`)) {
		t.Errorf("recorded items (%v): %s", err, items)
	}
}
