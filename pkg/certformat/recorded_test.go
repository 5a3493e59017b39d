package certformat_test

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/recorded"
)

// The certificates the live Key Vault made (the Azure SDKs' recordings,
// pkg/testbed/recorded), each converted in each direction and checked with
// the real openssl against Key Vault's own value: the key written is the
// key Key Vault's value holds, and matches the certificate.

// recordedCert is a recorded certificate's value, with openssl's reading
// of it in dir.
type recordedCert struct {
	recorded.Certificate
	dir   string
	value string
	// key is openssl's one form (pkey -outform DER) of the key in the
	// value, certs the value's certificates (DER, in order).
	key   []byte
	certs [][]byte
	// keyUsage: the value's PKCS#8 key carries a key usage attribute.
	keyUsage bool
}

func newRecordedCert(t *testing.T, c recorded.Certificate) *recordedCert {
	t.Helper()
	value, ok := recorded.MustSecretGet(c.File).Value()
	if !ok {
		t.Fatalf("%s: no value", c.File)
	}
	r := &recordedCert{Certificate: c, dir: t.TempDir(), value: value}
	if c.ContentType == recorded.PFX {
		der, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			t.Fatal(err)
		}
		r.write(t, "kv.pfx", der)
		r.readPFX(t, "kv.pfx")
		r.keyUsage = strings.Contains(r.info(t, "kv.pfx"), "X509v3 Key Usage")
		return r
	}
	r.write(t, "kv.pem", []byte(value))
	r.certs = pemCerts([]byte(value))
	if c.Exportable {
		r.key = r.openssl(t, "pkey", "-in", "kv.pem", "-outform", "DER")
		block, _ := pem.Decode([]byte(value))
		r.keyUsage = hasKeyUsageAttribute(block.Bytes)
	}
	return r
}

func (r *recordedCert) write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (r *recordedCert) openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = r.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// info is openssl pkcs12 -info's description of a PFX (its layout is on
// stderr).
func (r *recordedCert) info(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command("openssl", "pkcs12", "-info", "-in", name, "-passin", "pass:", "-nodes")
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -info: %v\n%s", err, redactPEM(string(out)))
	}
	return string(out)
}

// readPFX sets key and certs to what openssl reads from the PFX name with
// the empty password.
func (r *recordedCert) readPFX(t *testing.T, name string) (key []byte, certs [][]byte) {
	t.Helper()
	certs = pemCerts(r.openssl(t, "pkcs12", "-in", name, "-passin", "pass:", "-nokeys"))
	keys := r.openssl(t, "pkcs12", "-in", name, "-passin", "pass:", "-nocerts", "-nodes")
	if bytes.Contains(keys, []byte("PRIVATE KEY")) {
		r.write(t, "key.pem", keys)
		key = r.openssl(t, "pkey", "-in", "key.pem", "-outform", "DER")
	}
	if name == "kv.pfx" {
		r.key, r.certs = key, certs
	}
	return key, certs
}

func pemCerts(b []byte) [][]byte {
	var certs [][]byte
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return certs
		}
		if block.Type == "CERTIFICATE" {
			certs = append(certs, block.Bytes)
		}
	}
}

// TestRecordedCertificates: every certificate Key Vault made in the
// recordings, every form.
func TestRecordedCertificates(t *testing.T) {
	certs := recorded.Certificates()
	if len(certs) != 12 {
		t.Fatalf("%d recorded certificates, want the 12 of issue 18", len(certs))
	}
	for _, c := range certs {
		r := newRecordedCert(t, c)
		name := c.Key + " " + map[string]string{recorded.PFX: "PFX", recorded.PEM: "PEM"}[c.ContentType]
		if !c.Exportable {
			name += " not exportable"
		}
		if (r.key == nil) == c.Exportable || len(r.certs) == 0 {
			t.Fatalf("%s: openssl reads %d key(s) and %d certificate(s) from Key Vault's value", name, len(r.key), len(r.certs))
		}
		t.Run(name+"/no as", func(t *testing.T) { r.checkAsIs(t, certformat.Default(c.ContentType)) })
		if c.ContentType == recorded.PFX {
			t.Run(name+"/as pfx", func(t *testing.T) { r.checkAsIs(t, certformat.PFX) })
			t.Run(name+"/as pem", func(t *testing.T) { r.checkPEM(t) })
		} else {
			t.Run(name+"/as pem", func(t *testing.T) { r.checkAsIs(t, certformat.PEM) })
			t.Run(name+"/as pfx", func(t *testing.T) { r.checkPFX(t, r.value, c.ContentType) })
		}
	}
}

// checkAsIs: the file is Key Vault's value (a PFX decoded from base64),
// NoKey for a key that is not exportable.
func (r *recordedCert) checkAsIs(t *testing.T, f certformat.Format) {
	got, err := convertFile(r.value, r.ContentType, f)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	want := []byte(r.value)
	if r.ContentType == recorded.PFX {
		want, _ = base64.StdEncoding.DecodeString(r.value)
	}
	if !bytes.Equal(got.Data, want) || got.NoKey != !r.Exportable {
		t.Errorf("%d bytes, NoKey %v; want Key Vault's %d bytes, NoKey %v", len(got.Data), got.NoKey, len(want), !r.Exportable)
	}
}

// checkPEM: as pem from Key Vault's PFX, the key Key Vault's PFX holds
// (its PKCS#8 attributes too), matching the certificate, then the
// certificate; the certificate alone if the key is not exportable. The
// PEM made converts back to a PFX that holds the same.
func (r *recordedCert) checkPEM(t *testing.T) {
	got, err := convertFile(r.value, r.ContentType, certformat.PEM)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if got.NoKey != !r.Exportable {
		t.Errorf("NoKey = %v", got.NoKey)
	}
	r.write(t, "out.pem", got.Data)
	if !cmp.Equal(r.certs, pemCerts(got.Data)) {
		t.Error("the PEM's certificates are not Key Vault's")
	}
	block, _ := pem.Decode(got.Data)
	if !r.Exportable {
		if block.Type != "CERTIFICATE" {
			t.Errorf("the first block is a %s", block.Type)
		}
		return
	}
	if block.Type != "PRIVATE KEY" || hasKeyUsageAttribute(block.Bytes) != r.keyUsage {
		t.Errorf("the first block is a %s with a key usage attribute: %v; want a PRIVATE KEY, %v as Key Vault's", block.Type, hasKeyUsageAttribute(block.Bytes), r.keyUsage)
	}
	if k := r.openssl(t, "pkey", "-in", "out.pem", "-outform", "DER"); !bytes.Equal(k, r.key) {
		t.Error("openssl reads another key from the PEM than from Key Vault's PFX")
	}
	r.checkKeyMatches(t, "out.pem")
	r.checkPFX(t, string(got.Data), recorded.PEM)
}

// checkKeyMatches: the key in file is the public key of the leaf.
func (r *recordedCert) checkKeyMatches(t *testing.T, file string) {
	t.Helper()
	r.write(t, "leaf.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.certs[0]}))
	if string(r.openssl(t, "pkey", "-in", file, "-pubout")) != string(r.openssl(t, "x509", "-in", "leaf.pem", "-noout", "-pubkey")) {
		t.Errorf("the key in %s does not match the certificate", file)
	}
}

// checkPFX: as pfx from a PEM, Key Vault's layout, which openssl reads
// with the empty password: the same key and certificates, the key
// matching the leaf; Java's keytool lists the key and its certificate
// where Java reads the key type (not secp256k1: Java 16 dropped it, and
// its PKCS#12 reader refuses explicit curve parameters, Key Vault's own
// file's too).
func (r *recordedCert) checkPFX(t *testing.T, value, contentType string) {
	t.Helper()
	got, err := convertFile(value, contentType, certformat.PFX)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if got.NoKey != !r.Exportable {
		t.Errorf("NoKey = %v", got.NoKey)
	}
	r.write(t, "out.pfx", got.Data)
	info := r.info(t, "out.pfx")
	for _, w := range []string{"MAC: sha1, Iteration 2000", "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2000"} {
		if !strings.Contains(info, w) {
			t.Errorf("openssl pkcs12 -info does not show %q", w)
		}
	}
	key, certs := r.readPFX(t, "out.pfx")
	if !bytes.Equal(key, r.key) {
		t.Error("openssl reads another key from the PFX written than from Key Vault's value")
	}
	if !cmp.Equal(r.certs, certs) {
		t.Error("openssl reads other certificates from the PFX written than from Key Vault's value")
	}
	if !r.Exportable {
		return
	}
	r.checkKeyMatches(t, "key.pem")
	if r.Key == "EC P-256K" {
		return
	}
	if list := keytool(t, r.dir, "out.pfx"); !strings.Contains(list, "Your keystore contains 1 entry") || !strings.Contains(list, "PrivateKeyEntry") {
		t.Errorf("keytool -list does not find the key and its certificate:\n%s", list)
	}
}
