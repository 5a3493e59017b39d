package main

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/recorded"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// The recorded world end to end: the task folder against vaults whose
// every answer is one the live Key Vault gave the Azure SDKs' tests
// (pkg/testbed/recorded), served by the local cloud with the host name
// rewritten and nothing else.

// notYetValidUntil is the recorded not-yet-valid secret's nbf: after it,
// the recording no longer shows what it was kept for.
var notYetValidUntil = time.Date(2030, 1, 1, 1, 1, 1, 0, time.UTC)

func newRecordedWorld(t *testing.T) (w *world, vault, pages *localcloud.Vault) {
	t.Helper()
	if time.Now().After(notYetValidUntil) {
		t.Fatalf("secret518723441's recorded nbf (%s) has passed: the recorded world needs a not-yet-valid secret with a later nbf", notYetValidUntil)
	}
	w = newWorld(t)
	vault, pages, err := w.AddRecordedVaults()
	if err != nil {
		t.Fatal(err)
	}
	return w, vault, pages
}

// TestRecordedDownloadAll: '*' against the recorded vault. The listing is
// composed of the recorded secrets (an empty first page, then pages of 5,
// as Key Vault pages); the task skips the disabled, expired and
// not-yet-valid ones without a get, gets the two that are valid, and sets
// them byte for byte as Key Vault returned them.
func TestRecordedDownloadAll(t *testing.T) {
	w, vault, _ := newRecordedWorld(t)

	res := w.Run(step{Vault: testworld.RecordedVault})

	harness.Succeeded(t, res, nil)
	want := map[string]agentrunner.Variable{
		"secret3379360089":            testworld.SecretVar("value3379360089"),
		"secretcontenttype2250812526": testworld.SecretVar("value2250812526"),
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"secret3379360089": 1, "secretcontenttype2250812526": 1}, testworld.SecretGets(vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	// 18 items: one empty page, then 5, 5, 5, 3.
	if n := testworld.ListCalls(vault); n != 5 {
		t.Errorf("%d list calls, want 5", n)
	}
	if harness.ForceDebug() {
		return
	}
	wantLog := []string{
		"GoKeyVault dev (commit unknown): vault kv-recorded (https://kv-recorded.vault.azure.net/), cloud AzureCloud",
		"TLS: trusting the certificates of SSL_CERT_FILE=" + w.Cloud.CAFile() + " (instead of the system's CA bundle)",
		"Downloading every enabled secret",
		"Found 18 secret(s): 2 enabled and valid, 16 skipped",
		"  skipped 1205940853: expired 2025-02-10T01:49:41Z",
		"  skipped 1524395116: expired 2025-02-10T01:52:28Z",
		"  skipped 1553629278: expired 2025-02-10T01:53:04Z",
		"  skipped 1557749662: expired 2025-02-10T01:52:56Z",
		"  skipped 1595218806: expired 2025-02-10T01:52:40Z",
		"  skipped 1620302207: expired 2025-02-10T01:50:51Z",
		"  skipped 1960886170: expired 2025-02-10T01:50:31Z",
		"  skipped 2455761926: disabled",
		"  skipped 279584110: expired 2025-02-10T01:50:38Z",
		"  skipped 355006500: expired 2025-02-10T01:50:15Z",
		"  skipped 4025787: expired 2025-02-10T01:50:03Z",
		"  skipped 578086763: expired 2025-02-10T01:49:30Z",
		"  skipped 94835878: expired 2025-02-10T01:49:54Z",
		"  skipped sec-ct-3859: disabled",
		"  skipped sec-dates-1350: expired 2026-07-15T12:00:00Z",
		"  skipped secret518723441: not valid before 2030-01-01T01:01:01Z",
		"Set 2 secret(s):",
		"  secret3379360089",
		"  secretcontenttype2250812526",
		"Downloaded 2 secret(s) in X s",
		"Downloaded 2 secret(s) from kv-recorded",
	}
	if diff := cmp.Diff(wantLog, testworld.NormalLog(res)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestRecordedNamedSecrets: secrets named in SecretsFilter are fetched
// without a listing. Key Vault returns an expired and a not-yet-valid
// secret to a get (200, with the value), so they are set; a disabled one
// is its recorded 403 SecretDisabled and a missing one its recorded 404,
// each a failure line quoting the recorded x-ms-request-id; a secret no
// recording knows gets the recorded 404's shape.
func TestRecordedNamedSecrets(t *testing.T) {
	w, vault, _ := newRecordedWorld(t)

	before := time.Now()
	res := w.Run(step{Vault: testworld.RecordedVault, Filter: "secret3379360089, secretcontenttype2250812526, secret518723441, sec-dates-1350, 1730540092, secret422508987, never-recorded, secret3379360089/3f3b11064811494a8a8b27edf4f0985b"})
	after := time.Now()

	if res.Result != "Failed" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	wantErrs := []string{
		"Secret '1730540092': the secret is disabled. Enable it (az keyvault secret set-attributes --vault-name kv-recorded --name <name> --enabled true) or remove it from SecretsFilter (x-ms-request-id: 4b5b5e88-dccd-4195-959e-60b263e50fb4)",
		"Secret 'never-recorded': not found in vault kv-recorded. Check the name (and version) in SecretsFilter; a deleted secret shows in az keyvault secret list-deleted --vault-name kv-recorded (x-ms-request-id: ae1eb2a0-bcd3-44dd-add2-cb72762f9a5d)",
		"Secret 'secret422508987': not found in vault kv-recorded. Check the name (and version) in SecretsFilter; a deleted secret shows in az keyvault secret list-deleted --vault-name kv-recorded (x-ms-request-id: ae1eb2a0-bcd3-44dd-add2-cb72762f9a5d)",
	}
	errs := testworld.Issues(res, "error")
	sort.Strings(errs)
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	want := map[string]agentrunner.Variable{
		"secret3379360089":            testworld.SecretVar("value3379360089"),
		"secretcontenttype2250812526": testworld.SecretVar("value2250812526"),
		"secret518723441":             testworld.SecretVar("value518723441"),
		"sec-dates-1350":              testworld.SecretVar("scheduled"),
		"secret3379360089/3f3b11064811494a8a8b27edf4f0985b": testworld.SecretVar("value3379360089"),
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if n := testworld.ListCalls(vault); n != 0 {
		t.Errorf("%d list calls for named secrets", n)
	}
	// The expired secret is set, with the warning its recorded date calls
	// for (exp 1784116800, 2026-07-15).
	exp := time.Unix(1784116800, 0).UTC()
	var warnings []string
	for _, at := range []time.Time{before, after} {
		warnings = append(warnings, fmt.Sprintf("Secret 'sec-dates-1350' expired on %s, %d day(s) ago, and the step uses it because an entry names it: renew it in vault kv-recorded", exp.Format(time.RFC3339), int(at.Sub(exp)/(24*time.Hour))))
	}
	if got := testworld.Issues(res, "warning"); len(got) != 1 || got[0] != warnings[0] && got[0] != warnings[1] {
		t.Errorf("warnings %q, want %q", got, warnings[0])
	}
}

// TestRecordedNextLinksVerbatim: the task follows Key Vault's own
// nextLinks, as recorded (host rewritten): ":443", a literal $skiptoken,
// the recorded api-version and maxresults=1, through an empty last page
// with "nextLink": null. The recordings hold no get of the four secrets
// listed, so each get is the recorded 404, and the task reports each.
func TestRecordedNextLinksVerbatim(t *testing.T) {
	w, _, pages := newRecordedWorld(t)

	res := w.Run(step{Vault: testworld.RecordedPagesVault})

	// The client re-encodes a nextLink's query (sorted, "$" as "%24"):
	// the parameters are what must be Key Vault's.
	var lists []url.Values
	for _, r := range pages.Requests() {
		if r.Status != 401 && strings.TrimRight(r.Path, "/") == "/secrets" {
			q, err := url.ParseQuery(r.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			lists = append(lists, q)
		}
	}
	var wantLists []url.Values
	for i := recorded.ListPagedFirst + 1; i <= recorded.ListPagedLast; i++ {
		wantLists = append(wantLists, recorded.MustEntry(recorded.ListPaged, i).URL.Query())
	}
	if len(lists) > 0 {
		lists = lists[1:] // the first page is the task's own request
	}
	if diff := cmp.Diff(wantLists, lists); diff != "" {
		t.Errorf("query parameters of the pages after the first (-want the recorded nextLinks' +got):\n%s", diff)
	}
	if res.Result != "Failed" || len(res.Variables) != 0 {
		t.Fatalf("result %s, variables %v; log:\n%s", res.Result, res.Variables, strings.Join(res.Log, "\n"))
	}
	var wantErrs []string
	for i := range 4 {
		wantErrs = append(wantErrs, fmt.Sprintf("Secret 'listsecrets%d2663316706': not found in vault kv-recorded-pages. Check the name (and version) in SecretsFilter; a deleted secret shows in az keyvault secret list-deleted --vault-name kv-recorded-pages (x-ms-request-id: ae1eb2a0-bcd3-44dd-add2-cb72762f9a5d)", i))
	}
	errs := testworld.Issues(res, "error")
	sort.Strings(errs)
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	harness.MustContain(t, strings.Join(res.Log, "\n"), "Found 4 secret(s): 4 enabled and valid, 0 skipped")
}

// recordedCert is a recorded certificate's secret and what its files must
// hold, taken from the recorded value alone.
type recordedCert struct {
	recorded.Certificate
	Name  string
	Value string
	Keys  [][]byte // PKCS#8, as Key Vault stored it
	Certs [][]byte // DER, leaf first
}

func recordedCerts(t *testing.T) []recordedCert {
	t.Helper()
	var out []recordedCert
	for _, c := range recorded.Certificates() {
		x := recorded.MustSecretGet(c.File)
		name, _, _ := x.SecretPath()
		v, _ := x.Value()
		rc := recordedCert{Certificate: c, Name: name, Value: v}
		if c.ContentType == recorded.PFX {
			der, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readPFXBags(der)
			if err != nil {
				t.Fatalf("%s: %v", c.File, err)
			}
			rc.Keys, rc.Certs = got.Keys, got.Certs
		} else {
			rc.Keys, rc.Certs = pemBlocks(t, []byte(v))
		}
		if len(rc.Certs) != 1 || len(rc.Keys) != map[bool]int{true: 1, false: 0}[c.Exportable] {
			t.Fatalf("%s holds %d keys and %d certificates", c.File, len(rc.Keys), len(rc.Certs))
		}
		out = append(out, rc)
	}
	return out
}

// pemBlocks splits a PEM file into its key and certificate blocks; text
// outside blocks, or another kind of block, fails t.
func pemBlocks(t *testing.T, b []byte) (keys, certs [][]byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
		t.Errorf("PEM file starts with %.20q", b)
	}
	for len(b) > 0 {
		block, rest := pem.Decode(b)
		if block == nil {
			t.Errorf("text after the PEM blocks: %.40q", b)
			return keys, certs
		}
		switch block.Type {
		case "PRIVATE KEY":
			keys = append(keys, block.Bytes)
		case "CERTIFICATE":
			certs = append(certs, block.Bytes)
		default:
			t.Errorf("unexpected PEM block %s", block.Type)
		}
		b = rest
	}
	return keys, certs
}

// TestRecordedCertificatesToFiles: every certificate Key Vault makes, in
// each of its two content types, written by SecretsToFiles in each form:
// without "as" and as its own format, Key Vault's own bytes; converted,
// the key moves between containers as the very PKCS#8 bytes Key Vault
// stored (read here by the test's own PFX reader) and the certificates as
// their DER, leaf first, and the real openssl opens each PFX written with
// the empty password and finds each PEM's key to match its certificate. A
// certificate whose key is not exportable is written without a key, with
// a warning naming why.
func TestRecordedCertificatesToFiles(t *testing.T) {
	w, _, _ := newRecordedWorld(t)
	certs := recordedCerts(t)
	for _, form := range []string{"", "pfx", "pem"} {
		t.Run(map[string]string{"": "no as", "pfx": "as pfx", "pem": "as pem"}[form], func(t *testing.T) {
			var entries []string
			for _, c := range certs {
				if form == "" {
					entries = append(entries, c.Name)
				} else {
					entries = append(entries, c.Name+" as "+form)
				}
			}
			// The recorded certificates expired in 2025: their expiry
			// warnings are TestRecordedNamedSecrets' subject, not this one's.
			res := w.Run(step{Vault: testworld.RecordedVault, Filter: "", Inputs: map[string]string{"SecretsToFiles": strings.Join(entries, ", "), "ExpiryWarningDays": "0"}})

			if res.Result != "Succeeded" || len(testworld.Issues(res, "error")) != 0 {
				t.Errorf("result %s, errors:\n%s", res.Result, strings.Join(testworld.Issues(res, "error"), "\n"))
			}
			var wantWarnings []string
			for _, c := range certs {
				if !c.Exportable {
					wantWarnings = append(wantWarnings, fmt.Sprintf("Secret '%s' has no private key: the certificate's key is not exportable (exportable is false in its certificate policy), so the file in variable %s.file holds the certificate alone", c.Name, c.Name))
				}
			}
			sort.Strings(wantWarnings)
			warnings := testworld.Issues(res, "warning")
			sort.Strings(warnings)
			if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, c := range certs {
				checkRecordedFile(t, res, c, form)
			}
		})
	}
}

// checkRecordedFile checks the file written for c in form ("" for none).
func checkRecordedFile(t *testing.T, res *agentrunner.Result, c recordedCert, form string) {
	t.Helper()
	own := map[string]string{recorded.PFX: "pfx", recorded.PEM: "pem"}[c.ContentType]
	if form == "" {
		form = own
	}
	what := fmt.Sprintf("%s (%s, %s) as %s", c.Name, c.Key, c.ContentType, form)
	v, ok := res.Variables[c.Name+".file"]
	if !ok {
		t.Errorf("%s: no file", what)
		return
	}
	rel, _ := filepath.Rel(res.TempDir, v.Value)
	got := res.Temp[rel].Data
	if filepath.Base(v.Value) != c.Name+"."+form {
		t.Errorf("%s.file = %s: not the secret's name and the .%s extension", c.Name, v.Value, form)
	}
	harness.CheckNoValueLeaks(t, res, []string{string(got)})
	switch {
	case form == own && form == "pfx":
		if der, _ := base64.StdEncoding.DecodeString(c.Value); !bytes.Equal(got, der) {
			t.Errorf("%s: %d bytes, not Key Vault's PFX (%d bytes)", what, len(got), len(der))
		}
		return
	case form == own:
		if string(got) != c.Value {
			t.Errorf("%s: not Key Vault's PEM", what)
		}
		return
	}
	var keys, certs [][]byte
	if form == "pem" {
		keys, certs = pemBlocks(t, got)
		for i, line := range strings.Split(string(got), "\n") {
			if !strings.HasPrefix(line, "-----") && line != "" && strings.Contains(res.MaskLater(line), line) {
				t.Errorf("%s: line %d would be printed unmasked by a later step", what, i)
			}
		}
	} else {
		pfx, err := readPFXBags(got)
		if err != nil {
			t.Errorf("%s: the written PFX does not read with the empty password: %v", what, err)
			return
		}
		keys, certs = pfx.Keys, pfx.Certs
	}
	if diff := cmp.Diff(c.Keys, keys); diff != "" {
		t.Errorf("%s: private keys are not Key Vault's PKCS#8 bytes (-want +got):\n%s", what, diff)
	}
	if diff := cmp.Diff(c.Certs, certs); diff != "" {
		t.Errorf("%s: certificates (-want +got):\n%s", what, diff)
	}
	checkWithOpenSSL(t, got, form, c.Exportable)
}

// checkWithOpenSSL opens a converted file with the real openssl: a PFX
// with the empty password (its MAC verified, every bag decrypted); in a
// PEM, the key's public half must be the certificate's.
func checkWithOpenSSL(t *testing.T, file []byte, form string, withKey bool) {
	t.Helper()
	dir := &certs{dir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(dir.dir, "f"), file, 0o600); err != nil {
		t.Fatal(err)
	}
	if form == "pfx" {
		dir.openssl(t, "pkcs12", "-in", "f", "-passin", "pass:", "-info", "-nodes", "-out", "all.txt")
		return
	}
	if !withKey {
		return
	}
	if cert, key := dir.openssl(t, "x509", "-in", "f", "-pubkey", "-noout"), dir.openssl(t, "pkey", "-in", "f", "-pubout"); !bytes.Equal(cert, key) {
		t.Errorf("the PEM's key is not the certificate's:\n%s\n%s", key, cert)
	}
}
