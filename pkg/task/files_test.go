package task

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"

	pfxpkg "github.com/gokeyvault/gokeyvault/pkg/pfx"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// SecretsToFiles' decisions, in-process: what is refused before any
// request, what is fetched once, and how each entry fails. The files
// themselves, their formats and the agent contract are tested end to end
// in cmd/gokeyvault.

const (
	pemType    = "application/x-pem-file"
	pkcs12Type = "application/x-pkcs12"
)

// files is a step's SecretsToFiles input.
func files(s step, entries string) step {
	if s.Inputs == nil {
		s.Inputs = map[string]string{}
	}
	s.Inputs["SecretsToFiles"] = entries
	return s
}

// TestFilesRefused: inputs that cannot work fail before any request,
// naming the input and what to do.
func TestFilesRefused(t *testing.T) {
	tests := []struct {
		name string
		s    step
		want string
	}{
		{"unknown format", files(step{}, "cert as der"), `input SecretsToFiles entry "cert as der": unknown file format "der": use raw, pem or pfx`},
		{"two entries, one variable", files(step{}, "cert, Cert as pem"), `input SecretsToFiles entries "cert" and "Cert as pem" would both set variable Cert.file`},
		{"a filter rename takes the variable", files(step{Filter: "db as cert.file"}, "cert"), `input SecretsToFiles entry "cert" sets variable cert.file, which the SecretsFilter entry "db as cert.file" sets too: rename the filter's variable with 'as'`},
		{"no agent temp directory", files(step{Env: []string{"AGENT_TEMPDIRECTORY="}}, "cert"), "input SecretsToFiles needs the agent's temp directory (AGENT_TEMPDIRECTORY), which is not set"},
		{"an empty filter without files", step{Inputs: map[string]string{"SecretsFilter": " , "}}, "input SecretsFilter is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "cert", Value: "c"})
			res := w.Run(tt.s)
			harness.FailedWith(t, res, tt.want)
			if got := w.Cloud.ProxyLog(); len(got) != 0 {
				t.Errorf("requests were made before the input was refused: %v", got)
			}
		})
	}
}

// TestFilesWithAListing: a secret a pattern selects and a file entry names
// is fetched once and sets both; the listing's rules still decide its
// variable (an expired one is skipped, its file written all the same, as a
// named secret is set whatever its dates).
func TestFilesWithAListing(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "app-a", Value: "v-app-a"})
	w.Vault.Put(localcloud.Secret{Name: "Cert", Value: "v-cert", ContentType: pemType})
	w.Vault.Put(localcloud.Secret{Name: "old-key", Value: "v-old-key", Expires: time.Now().Add(-time.Hour)})
	w.Vault.Put(localcloud.Secret{Name: "off", Value: "v-off", Disabled: true})

	res := w.Run(files(step{Filter: "*"}, "cert as raw, old-key"))

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	if diff := cmp.Diff(map[string]int{"app-a": 1, "cert": 1, "old-key": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	want := map[string]agentrunner.Variable{
		"app-a":        testworld.SecretVar("v-app-a"),
		"Cert":         testworld.SecretVar("v-cert"),
		"cert.file":    {Value: filepath.Join(fileDir(t, res), "cert")},
		"old-key.file": {Value: filepath.Join(fileDir(t, res), "old-key")},
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	log := strings.Join(testworld.NormalLog(res), "\n")
	harness.MustContain(t, log,
		"Downloading every enabled secret; to files: cert as raw, old-key\n",
		"Found 4 secret(s): 2 enabled and valid, 2 skipped\n  skipped off: disabled\n  skipped old-key: expired ",
		"Set 2 secret(s):\n  Cert\n  app-a\n",
		"Wrote 2 file(s):\n  cert -> "+want["cert.file"].Value+" (raw, variable cert.file)\n  old-key -> "+want["old-key.file"].Value+" (raw, variable old-key.file)\n",
		"Downloaded 3 secret(s) in X s")
}

// fileDir is the run's own directory under the agent's temp directory.
func fileDir(t *testing.T, res *agentrunner.Result) string {
	t.Helper()
	for rel, e := range res.Temp {
		if e.Mode.IsDir() && !strings.Contains(rel, string(filepath.Separator)) {
			return filepath.Join(res.TempDir, rel)
		}
	}
	t.Fatalf("no directory in the agent's temp directory: %v", res.TempFiles)
	return ""
}

// TestFileFailures: a file entry fails like a named secret when its
// secret is not there or disabled, optional in SecretsFilter or not, and
// on its own when the value cannot be converted; the fix names
// SecretsToFiles, and the other entries are written.
func TestFileFailures(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "good", Value: "v-good"})
	w.Vault.Put(localcloud.Secret{Name: "off", Value: "v-off", Disabled: true})
	w.Vault.Put(localcloud.Secret{Name: "certless", Value: keyOnlyPEM(t), ContentType: pemType})

	res := w.Run(files(step{Filter: "good, maybe?"}, "good, maybe, nowhere, off, certless as pfx"))

	if res.Result != "Failed" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	errs := testworld.Issues(res, "error")
	for i, e := range errs {
		errs[i], _, _ = strings.Cut(e, " (x-ms-request-id")
	}
	want := []string{
		"Secret 'maybe': not found in vault kv-e2e. Check the name (and version) in SecretsFilter and SecretsToFiles; a deleted secret shows in az keyvault secret list-deleted --vault-name kv-e2e",
		"Secret 'nowhere': not found in vault kv-e2e. Check the name (and version) in SecretsToFiles; a deleted secret shows in az keyvault secret list-deleted --vault-name kv-e2e",
		"Secret 'off': the secret is disabled. Enable it (az keyvault secret set-attributes --vault-name kv-e2e --name <name> --enabled true) or remove it from SecretsToFiles",
		"SecretsToFiles entry 'certless as pfx': secret certless (content type application/x-pem-file) cannot be written as pfx: the PEM holds a private key but no certificate. No file was written",
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	harness.MustContain(t, res.Log[len(res.Log)-1], "3 of 5 secret(s) could not be downloaded from kv-e2e; 1 of 2 file(s) could not be written")
	if got := res.Variables["good.file"].Value; got != filepath.Join(fileDir(t, res), "good") {
		t.Errorf("good.file = %q", got)
	}
	if diff := cmp.Diff(map[string]int{"good": 1, "maybe": 1, "nowhere": 1, "off": 1, "certless": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
}

// TestFilesOnly: an empty filter with files downloads only the files'
// secrets, without listing the vault, and sets only their variables.
func TestFilesOnly(t *testing.T) {
	w := newWorld(t)
	w.Put(map[string]string{"deploy-key": "v-deploy-key", "other": "v-other", "blank": ""})

	res := w.Run(files(step{Inputs: map[string]string{"SecretsFilter": ""}}, "deploy-key, blank"))

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	if diff := cmp.Diff([]string{"Secret 'blank' is empty: the file in variable blank.file is empty"}, testworld.Issues(res, "warning")); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	want := map[string]agentrunner.Variable{
		"deploy-key.file": {Value: filepath.Join(fileDir(t, res), "deploy-key")},
		"blank.file":      {Value: filepath.Join(fileDir(t, res), "blank")},
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if n := testworld.ListCalls(w.Vault); n != 0 {
		t.Errorf("%d list calls", n)
	}
	harness.MustContain(t, strings.Join(testworld.NormalLog(res), "\n"), "Downloading 2 secret(s) to files: deploy-key, blank\n", "Wrote 2 file(s):\n")
	if got := string(res.Temp[filepath.Join(filepath.Base(fileDir(t, res)), "deploy-key")].Data); got != "v-deploy-key" {
		t.Errorf("deploy-key's file holds %d bytes, not its value", len(got))
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
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyless"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// keyOnlyPEM is a private key in PEM without its certificate.
func keyOnlyPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestCertificatesWithoutKeys: a certificate whose key Key Vault may not
// export is stored alone (a PFX without a key bag, a PEM with one
// CERTIFICATE block). Each form writes the certificate alone with exactly
// one warning, naming the secret and the file's variable (issue 18). On
// main the PFX failed without as and with as pem, and the PEM as pfx. A
// certificate with its key has no warning.
func TestCertificatesWithoutKeys(t *testing.T) {
	w := newWorld(t)
	certPEM := certOnlyPEM(t)
	block, _ := pem.Decode([]byte(certPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// go-pkcs12 writes the certificate alone (with Java's trust attribute,
	// which changes nothing here), independently of the product.
	pfx, err := pkcs12.LegacyDES.EncodeTrustStore([]*x509.Certificate{cert}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ne-pfx", "ne-pfx-pem", "ne-pfx-pfx"} {
		w.Vault.Put(localcloud.Secret{Name: name, Value: base64.StdEncoding.EncodeToString(pfx), ContentType: pkcs12Type, Managed: true})
	}
	for _, name := range []string{"ne-pem", "ne-pem-pfx", "ne-pem-pem"} {
		w.Vault.Put(localcloud.Secret{Name: name, Value: certPEM, ContentType: pemType, Managed: true})
	}
	w.Vault.Put(localcloud.Secret{Name: "with-key", Value: keyOnlyPEM(t) + certPEM, ContentType: pemType, Managed: true})
	// A CA bundle stored by hand, not a Key Vault certificate's secret.
	w.Vault.Put(localcloud.Secret{Name: "ca-bundle", Value: certPEM, ContentType: pemType})

	res := w.Run(files(step{Inputs: map[string]string{"SecretsFilter": ""}}, "ne-pfx, ne-pfx-pem as pem, ne-pfx-pfx as pfx, ne-pem, ne-pem-pfx as pfx, ne-pem-pem as pem, with-key, ca-bundle"))

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := []string{"Secret 'ca-bundle' holds certificates without a private key, so the file in variable ca-bundle.file holds certificates alone"}
	for _, v := range []string{"ne-pem", "ne-pem-pem", "ne-pem-pfx", "ne-pfx", "ne-pfx-pem", "ne-pfx-pfx"} {
		want = append(want, "Secret '"+v+"' has no private key: the certificate's key is not exportable (exportable is false in its certificate policy), so the file in variable "+v+".file holds the certificate alone")
	}
	// Files are written as values arrive: in no set order.
	if diff := cmp.Diff(want, sorted(testworld.Issues(res, "warning"))); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	got := map[string][]byte{}
	for name, v := range res.Variables {
		rel, _ := filepath.Rel(res.TempDir, v.Value)
		got[strings.TrimSuffix(name, ".file")] = res.Temp[rel].Data
	}
	for name, wantData := range map[string]string{"ne-pfx": string(pfx), "ne-pfx-pfx": string(pfx), "ne-pfx-pem": certPEM, "ne-pem": certPEM, "ne-pem-pem": certPEM} {
		if string(got[name]) != wantData {
			t.Errorf("%s's file: %d bytes, not the %d expected", name, len(got[name]), len(wantData))
		}
	}
	c, err := pfxpkg.Decode(context.Background(), got["ne-pem-pfx"])
	if err != nil || len(c.Keys) != 0 || len(c.Certs) != 1 || !bytes.Equal(c.Certs[0].DER, cert.Raw) {
		t.Errorf("ne-pem-pfx's file is not a PFX of the certificate alone (%v)", err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestFileOfADisabledListedSecret: a disabled secret that a pattern
// selects and a file entry names is skipped for its variable, as the
// listing skips it, and fails its file entry, with one get.
func TestFileOfADisabledListedSecret(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "app-a", Value: "v-app-a"})
	w.Vault.Put(localcloud.Secret{Name: "off", Value: "v-off", Disabled: true})

	res := w.Run(files(step{Filter: "*"}, "off"))

	msg := harness.FailedWith(t, res, "Secret 'off': the secret is disabled.", "or remove it from SecretsToFiles")
	if strings.Contains(msg, "SecretsFilter") {
		t.Errorf("the fix names SecretsFilter, whose pattern skips a disabled secret anyway: %s", msg)
	}
	if diff := cmp.Diff(map[string]agentrunner.Variable{"app-a": testworld.SecretVar("v-app-a")}, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	harness.MustContain(t, strings.Join(res.Log, "\n"), "Found 2 secret(s): 1 enabled and valid, 1 skipped\n  skipped off: disabled\n")
	if diff := cmp.Diff(map[string]int{"app-a": 1, "off": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
}

// TestFileDecodePercentsOff: on an agent with DECODE_PERCENTS=false, a
// value the agent would decode on its way to the masker is not written:
// a later step that printed the file would show it. Other files are.
func TestFileDecodePercentsOff(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "decoded", Value: "topsecret%3Bvalue"})
	w.Vault.Put(localcloud.Secret{Name: "kept", Value: "fine%25value"})

	res := w.Run(files(step{Inputs: map[string]string{"SecretsFilter": ""}, Variables: map[string]agentrunner.Variable{"DECODE_PERCENTS": {Value: "false"}}}, "decoded, kept"))

	harness.FailedWith(t, res, "SecretsToFiles entry 'decoded': secret decoded (no content type) cannot be written as raw: its value holds a '%' followed by 0A, 0D, 3B or 5D, which this agent decodes before masking because its setting DECODE_PERCENTS is false, so a step that printed the file would show it. Set DECODE_PERCENTS to true for the job, or change the value. No file was written")
	want := map[string]agentrunner.Variable{"kept.file": {Value: filepath.Join(fileDir(t, res), "kept")}}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if got := res.MaskLater("cat: fine%25value"); got != "cat: ***" {
		t.Errorf("a later step printing the file written shows %q", got)
	}
	if got := len(res.Temp); got != 2 {
		t.Errorf("temp entries %v, want the run's directory and kept", res.TempFiles)
	}
}
