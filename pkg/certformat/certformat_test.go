package certformat_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
)

const (
	pkcs12Type = "application/x-pkcs12"
	pemType    = "application/x-pem-file"
)

type keyAlg string

const (
	rsaKey     keyAlg = "RSA"
	ecdsaKey   keyAlg = "ECDSA P-256"
	ed25519Key keyAlg = "Ed25519"
)

func allAlgs() []keyAlg { return []keyAlg{rsaKey, ecdsaKey, ed25519Key} }

// fixture is a key, a leaf certificate for it and the CA that signed the
// leaf, also written to dir (k.pem, leaf.pem, ca.pem) for openssl.
type fixture struct {
	dir      string
	key      crypto.Signer
	ca, leaf *x509.Certificate
}

func newFixture(t testing.TB, alg keyAlg) *fixture {
	t.Helper()
	caKey, key := newKey(t, alg), newKey(t, alg)
	ca := newCert(t, "Test CA", caKey.Public(), nil, caKey)
	fx := &fixture{dir: t.TempDir(), key: key, ca: ca, leaf: newCert(t, "leaf.example", key.Public(), ca, caKey)}
	fx.write(t, "k.pem", pemBlock("PRIVATE KEY", pkcs8(t, key)))
	fx.write(t, "leaf.pem", pemBlock("CERTIFICATE", fx.leaf.Raw))
	fx.write(t, "ca.pem", pemBlock("CERTIFICATE", fx.ca.Raw))
	return fx
}

func newKey(t testing.TB, alg keyAlg) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case rsaKey:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case ecdsaKey:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ed25519Key:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || key == nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	return key
}

// newCert makes a CA certificate when parent is nil, else a leaf signed by
// parent's key (signer).
func newCert(t testing.TB, name string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent = tmpl
	} else {
		tmpl.DNSNames = []string{name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("create certificate %s: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func pkcs8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func (fx *fixture) write(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(fx.dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keyVaultPEM is the fixture as Key Vault stores a PEM certificate: the
// key, then the chain, leaf first.
func (fx *fixture) keyVaultPEM(t testing.TB) string {
	return pemBlock("PRIVATE KEY", pkcs8(t, fx.key)) + pemBlock("CERTIFICATE", fx.leaf.Raw) + pemBlock("CERTIFICATE", fx.ca.Raw)
}

// openssl runs the real openssl in the fixture's directory. CI installs
// it; a machine without it must not pass these tests by skipping them.
func (fx *fixture) openssl(t testing.TB, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is not on PATH; these tests run it to make and read PFX files (install OpenSSL 3): %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = fx.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// exportPFX makes name.pfx from the fixture's files with openssl pkcs12
// -export and the given options.
func (fx *fixture) exportPFX(t testing.TB, name string, options ...string) []byte {
	t.Helper()
	args := append([]string{"pkcs12", "-export"}, options...)
	args = append(args, "-in", "leaf.pem", "-certfile", "ca.pem", "-out", name+".pfx")
	fx.openssl(t, args...)
	b, err := os.ReadFile(filepath.Join(fx.dir, name+".pfx"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OpenSSL 3's defaults: AES-256-CBC, PBKDF2, SHA-256 MAC.
func (fx *fixture) modernPFX(t testing.TB) []byte {
	return fx.exportPFX(t, "modern", "-inkey", "k.pem", "-passout", "pass:")
}

// OpenSSL 1.x's algorithms: RC2-40 for certificates, 3DES for the key,
// SHA-1 MAC.
func (fx *fixture) legacyPFX(t testing.TB) []byte {
	return fx.exportPFX(t, "legacy", "-legacy", "-inkey", "k.pem", "-passout", "pass:")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// certName names a certificate in diffs: its subject and a digest of it.
func certName(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return c.Subject.CommonName + " " + hex.EncodeToString(sum[:8])
}

func certNames(certs ...*x509.Certificate) []string {
	var names []string
	for _, c := range certs {
		names = append(names, certName(c))
	}
	return names
}

// pemFile is what a PEM file holds: its block types in order, the key and
// the certificates.
type pemFile struct {
	Types []string
	Key   any
	Certs []string
}

func readPEMFile(t testing.TB, b []byte) pemFile {
	t.Helper()
	var f pemFile
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return f
		}
		f.Types = append(f.Types, block.Type)
		switch block.Type {
		case "PRIVATE KEY":
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("PRIVATE KEY block: %v", err)
			}
			f.Key = key
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatalf("CERTIFICATE block: %v", err)
			}
			f.Certs = append(f.Certs, certName(c))
		}
	}
}

// The key types' Equal methods compare keys; cmp uses them.
func (fx *fixture) wantPEM() pemFile {
	return pemFile{
		Types: []string{"PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"},
		Key:   fx.key,
		Certs: certNames(fx.leaf, fx.ca),
	}
}

func TestPFXToPEM(t *testing.T) {
	for _, alg := range allAlgs() {
		fx := newFixture(t, alg)
		modern, legacy := fx.modernPFX(t), fx.legacyPFX(t)
		tests := []struct {
			name, value, contentType string
		}{
			{"modern", b64(modern), pkcs12Type},
			{"legacy", b64(legacy), pkcs12Type},
			{"modern, content type with parameters and in capitals", b64(modern), "Application/X-PKCS12; charset=binary"},
			{"legacy, wrapped base64 with surrounding newlines", "\n" + wrap(b64(legacy), 64) + "\r\n \t", pkcs12Type},
			{"modern, no content type", b64(modern), ""},
			{"legacy, another content type", b64(legacy), "text/plain"},
		}
		for _, tt := range tests {
			t.Run(string(alg)+"/"+tt.name, func(t *testing.T) {
				out, err := certformat.Convert(tt.value, tt.contentType, certformat.PEM)
				if err != nil {
					t.Fatalf("Convert: %v", err)
				}
				if diff := cmp.Diff(fx.wantPEM(), readPEMFile(t, out)); diff != "" {
					t.Errorf("PEM (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func wrap(s string, width int) string {
	var lines []string
	for len(s) > width {
		lines = append(lines, s[:width])
		s = s[width:]
	}
	return strings.Join(append(lines, s), "\n")
}

// A PFX whose certificates come CA first still gives a PEM with the leaf
// first: the leaf is the certificate that matches the key.
func TestPFXToPEMPutsTheKeysCertificateFirst(t *testing.T) {
	fx := newFixture(t, ecdsaKey)
	pfx, err := pkcs12.LegacyDES.Encode(fx.key, fx.ca, []*x509.Certificate{fx.leaf}, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := certformat.Convert(b64(pfx), pkcs12Type, certformat.PEM)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if diff := cmp.Diff(fx.wantPEM(), readPEMFile(t, out)); diff != "" {
		t.Errorf("PEM (-want +got):\n%s", diff)
	}
}

func TestPFXPassthrough(t *testing.T) {
	fx := newFixture(t, rsaKey)
	tests := []struct {
		name        string
		pfx         []byte
		contentType string
	}{
		{"modern", fx.modernPFX(t), pkcs12Type},
		{"legacy", fx.legacyPFX(t), pkcs12Type},
		{"no content type", fx.modernPFX(t), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := certformat.Convert(" "+b64(tt.pfx)+"\n", tt.contentType, certformat.PFX)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if !bytes.Equal(out, tt.pfx) {
				t.Errorf("Convert gave %d bytes that differ from the %d bytes of the PFX", len(out), len(tt.pfx))
			}
		})
	}
}

// keyBlocks are the PEM forms of a key the package reads: PKCS#8 for every
// key, and PKCS#1 or SEC1 for the keys those encode.
func keyBlocks(t testing.TB, key crypto.Signer) map[string]string {
	t.Helper()
	blocks := map[string]string{"PKCS#8": pemBlock("PRIVATE KEY", pkcs8(t, key))}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		blocks["PKCS#1"] = pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		blocks["SEC1"] = pemBlock("EC PRIVATE KEY", der)
	}
	return blocks
}

// decodedPFX is what pkcs12.DecodeChain reads from a PFX.
type decodedPFX struct {
	Key   any
	Certs []string
}

func TestPEMToPFX(t *testing.T) {
	for _, alg := range allAlgs() {
		fx := newFixture(t, alg)
		leaf, ca := pemBlock("CERTIFICATE", fx.leaf.Raw), pemBlock("CERTIFICATE", fx.ca.Raw)
		for encoding, key := range keyBlocks(t, fx.key) {
			tests := []struct {
				name, value, contentType string
			}{
				{"Key Vault order", key + leaf + ca, pemType},
				{"CA first, key between, no content type", ca + key + leaf, ""},
				{"CRLF line ends, another content type", strings.ReplaceAll(leaf+ca+key, "\n", "\r\n"), "text/plain"},
			}
			for _, tt := range tests {
				t.Run(string(alg)+"/"+encoding+"/"+tt.name, func(t *testing.T) {
					out, err := certformat.Convert(tt.value, tt.contentType, certformat.PFX)
					if err != nil {
						t.Fatalf("Convert: %v", err)
					}
					fx.checkPFX(t, out)
				})
			}
		}
	}
}

// checkPFX checks that go-pkcs12 and openssl both read the fixture back from
// pfx with the empty password, leaf first.
func (fx *fixture) checkPFX(t *testing.T, pfx []byte) {
	t.Helper()
	key, leaf, cas, err := pkcs12.DecodeChain(pfx, "")
	if err != nil {
		t.Fatalf("DecodeChain: %v", err)
	}
	want := decodedPFX{Key: fx.key, Certs: certNames(fx.leaf, fx.ca)}
	got := decodedPFX{Key: key, Certs: certNames(append([]*x509.Certificate{leaf}, cas...)...)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeChain (-want +got):\n%s", diff)
	}

	// Without -legacy, as OpenSSL 3 reads by default; it writes the
	// certificates, then the key.
	fx.write(t, "out.pfx", string(pfx))
	printed := fx.openssl(t, "pkcs12", "-in", "out.pfx", "-nodes", "-passin", "pass:")
	wantPrinted := pemFile{Types: []string{"CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"}, Key: fx.key, Certs: certNames(fx.leaf, fx.ca)}
	if diff := cmp.Diff(wantPrinted, readPEMFile(t, printed)); diff != "" {
		t.Errorf("openssl pkcs12 -in out.pfx -nodes -passin pass: (-want +got):\n%s", diff)
	}
}

func TestPEMToPEMIsTheValue(t *testing.T) {
	fx := newFixture(t, ecdsaKey)
	value := "# from Key Vault\n" + fx.keyVaultPEM(t)
	for _, contentType := range []string{pemType, "", "text/plain"} {
		out, err := certformat.Convert(value, contentType, certformat.PEM)
		if err != nil {
			t.Fatalf("Convert(content type %q): %v", contentType, err)
		}
		if diff := cmp.Diff(value, string(out)); diff != "" {
			t.Errorf("Convert(content type %q) (-want +got):\n%s", contentType, diff)
		}
	}
}

func TestRawIsTheValue(t *testing.T) {
	tests := []struct{ value, contentType string }{
		{"plain value", ""},
		{"not base64 at all", pkcs12Type},
		{"no PEM here", pemType},
		{"", "text/plain"},
		{" \n spaces and ünïcode \n", "application/json"},
	}
	for _, tt := range tests {
		out, err := certformat.Convert(tt.value, tt.contentType, certformat.Raw)
		if err != nil {
			t.Errorf("Convert(%q, %q, Raw): %v", tt.value, tt.contentType, err)
			continue
		}
		if diff := cmp.Diff([]byte(tt.value), out); diff != "" {
			t.Errorf("Convert(%q, %q, Raw) (-want +got):\n%s", tt.value, tt.contentType, diff)
		}
	}
}

func TestDefault(t *testing.T) {
	tests := map[string]certformat.Format{
		"application/x-pkcs12":                     certformat.PFX,
		"APPLICATION/X-PKCS12":                     certformat.PFX,
		"application/x-pkcs12; charset=binary":     certformat.PFX,
		" application/x-pkcs12 ;":                  certformat.PFX,
		"application/x-pem-file":                   certformat.PEM,
		"Application/X-Pem-File; charset=utf-8":    certformat.PEM,
		"application/x-pem-file;charset=\"utf-8":   certformat.PEM,
		"":                                         certformat.Raw,
		"text/plain":                               certformat.Raw,
		"application/x-pkcs12x":                    certformat.Raw,
		"application/x-pem":                        certformat.Raw,
		"x-pkcs12":                                 certformat.Raw,
		"application/json; x=application/x-pkcs12": certformat.Raw,
	}
	for contentType, want := range tests {
		if got := certformat.Default(contentType); got != want {
			t.Errorf("Default(%q) = %q, want %q", contentType, got, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    certformat.Format
		wantErr string
	}{
		{in: "raw", want: certformat.Raw},
		{in: "pem", want: certformat.PEM},
		{in: "pfx", want: certformat.PFX},
		{in: "PFX", want: certformat.PFX},
		{in: "Pem", want: certformat.PEM},
		{in: " RAW\n", want: certformat.Raw},
		{in: "", wantErr: `unknown file format "": use raw, pem or pfx`},
		{in: "p12", wantErr: `unknown file format "p12": use raw, pem or pfx`},
		{in: "pkcs12", wantErr: `unknown file format "pkcs12": use raw, pem or pfx`},
		{in: "pem,pfx", wantErr: `unknown file format "pem,pfx": use raw, pem or pfx`},
	}
	for _, tt := range tests {
		got, err := certformat.ParseFormat(tt.in)
		if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
			t.Errorf("ParseFormat(%q) error (-want +got):\n%s", tt.in, diff)
		}
		if got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
