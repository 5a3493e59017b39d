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
				out, err := convert(tt.value, tt.contentType, certformat.PEM)
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
	out, err := convert(b64(pfx), pkcs12Type, certformat.PEM)
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
			out, err := convert(" "+b64(tt.pfx)+"\n", tt.contentType, certformat.PFX)
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
					out, err := convert(tt.value, tt.contentType, certformat.PFX)
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
		out, err := convert(value, contentType, certformat.PEM)
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
		out, err := convert(tt.value, tt.contentType, certformat.Raw)
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

// errorCase is a value Convert must refuse, and the message it must give.
type errorCase struct {
	name, value, contentType string
	format                   certformat.Format
	want                     string
}

func TestConvertErrors(t *testing.T) {
	fx := newFixture(t, ecdsaKey)
	other := newKey(t, ecdsaKey)
	tests := append(pfxErrorCases(t, fx, other), pemErrorCases(t, fx, other)...)
	tests = append(tests,
		errorCase{"unknown format", "dmFsdWU=", "", certformat.Format("jks"), `unknown file format "jks": use raw, pem or pfx`},
		errorCase{"neither PEM nor base64", "correct horse battery staple", "", certformat.PFX, "the value is neither PEM nor a base64 PFX"},
		errorCase{"neither PEM nor a PFX, but base64", "c2VjcmV0LXZhbHVlLWhlcmU=", "text/plain", certformat.PEM,
			"the value is neither PEM nor a base64 PFX (it is base64, 17 bytes decoded, but not a PKCS#12 file)"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := convert(tt.value, tt.contentType, tt.format)
			msg, leaked := redact(errText(err), tt.value)
			if leaked {
				t.Errorf("error holds bytes of the value: %q", msg)
			}
			if diff := cmp.Diff(tt.want, msg); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if out != nil {
				t.Errorf("Convert gave %d bytes with its error", len(out))
			}
		})
	}
}

func pfxErrorCases(t *testing.T, fx *fixture, other crypto.Signer) []errorCase {
	password := b64(fx.exportPFX(t, "password", "-inkey", "k.pem", "-passout", "pass:hunter2-pw"))
	badMAC := fx.legacyPFX(t)
	// openssl's file ends with the MAC's digest, its 8-byte salt (04 08 ...)
	// and its count (02 02 08 00): flip the digest's last bit.
	badMAC[len(badMAC)-15] ^= 1
	// 1,000,001 iterations for the MAC alone, which openssl makes in a
	// tenth of a second: over the cap by one.
	overCap := b64(fx.exportPFX(t, "over-cap", "-nokeys", "-certpbe", "NONE", "-iter", "1000001", "-passout", "pass:"))
	mismatched, err := pkcs12.LegacyDES.Encode(other, fx.leaf, []*x509.Certificate{fx.ca}, "")
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("only some text that was once base64-encoded")
	notBase64 := "the value is not base64 (a PFX must be base64-encoded, as Key Vault stores certificates)"
	passwordErr := "the PFX is protected by a password; Key Vault certificates have none"
	return []errorCase{
		{"not base64", "%%% this/is*not~b64 %%%", pkcs12Type, certformat.PEM, notBase64},
		{"PEM stored as a PFX", fx.keyVaultPEM(t), pkcs12Type, certformat.PFX, notBase64},
		{"empty", " \r\n", pkcs12Type, certformat.PEM, "the value is empty (a PFX must be base64-encoded, as Key Vault stores certificates)"},
		{"base64 of text", b64(text), pkcs12Type, certformat.PFX,
			"the value is base64 (" + itoa(len(text)) + " bytes decoded) but not a PKCS#12 file: its ASN.1 structure is not that of a DER-encoded PFX"},
		{"base64 of a certificate", b64(fx.leaf.Raw), pkcs12Type, certformat.PEM,
			"the value is base64 (" + itoa(len(fx.leaf.Raw)) + " bytes decoded) but not a PKCS#12 file: its ASN.1 structure is not that of a DER-encoded PFX"},
		{"password", password, pkcs12Type, certformat.PEM, passwordErr},
		{"password, checked for a passthrough", password, pkcs12Type, certformat.PFX, passwordErr},
		{"password, no content type", password, "", certformat.PEM, passwordErr},
		{"PFX whose MAC does not verify", b64(badMAC), pkcs12Type, certformat.PFX,
			"the PFX is damaged or was altered: its integrity check failed (the MAC does not verify, though its contents decrypt with the empty password)"},
		{"PFX whose MAC does not verify, no content type", b64(badMAC), "", certformat.PEM,
			"the PFX is damaged or was altered: its integrity check failed (the MAC does not verify, though its contents decrypt with the empty password)"},
		{"PFX with an iteration count over the cap", overCap, pkcs12Type, certformat.PFX,
			"the PFX asks for too much work: an iteration count in it is above the 1,000,000 this task allows (Key Vault writes 2,000)"},
		{"PFX whose key is another's", b64(mismatched), pkcs12Type, certformat.PEM, "the private key matches none of the certificates"},
	}
}

func pemErrorCases(t *testing.T, fx *fixture, other crypto.Signer) []errorCase {
	key, leaf, ca := pemBlock("PRIVATE KEY", pkcs8(t, fx.key)), pemBlock("CERTIFICATE", fx.leaf.Raw), pemBlock("CERTIFICATE", fx.ca.Raw)
	encrypted := pemBlock("ENCRYPTED PRIVATE KEY", []byte("opaque ciphertext of a PKCS#8 key"))
	traditional := string(pem.EncodeToMemory(&pem.Block{
		Type:    "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("opaque ciphertext of a SEC1 key"),
	}))
	encryptedErr := "the PEM's private key is encrypted; a PFX written here has no password, so the key must be stored decrypted"
	noBlock := "the value holds no complete PEM block (a BEGIN line, base64, then the matching END line)"
	return []errorCase{
		{"PEM without a certificate or a key", pemBlock("PUBLIC KEY", []byte("public")) + pemBlock("MYSECRETLABEL", []byte("hidden")), "", certformat.PFX,
			"the PEM holds no certificate and no private key (found 1 PUBLIC KEY block and 1 block of another type); a PFX needs a certificate"},
		{"key without a certificate", key, pemType, certformat.PFX, "the PEM holds a private key but no certificate"},
		{"another's key", pemBlock("PRIVATE KEY", pkcs8(t, other)) + leaf + ca, pemType, certformat.PFX, "the private key matches none of the certificates"},
		{"two keys", key + pemBlock("PRIVATE KEY", pkcs8(t, other)) + leaf, pemType, certformat.PFX, "the PEM holds 2 private keys; a PFX holds one"},
		{"encrypted PKCS#8 key", encrypted + leaf + ca, pemType, certformat.PFX, encryptedErr},
		{"encrypted PKCS#8 key, no content type", leaf + encrypted, "", certformat.PFX, encryptedErr},
		{"traditionally encrypted SEC1 key", traditional + leaf, pemType, certformat.PFX, encryptedErr},
		{"malformed certificate", key + pemBlock("CERTIFICATE", []byte("not DER at all")), pemType, certformat.PFX,
			"the PEM's block 2 (CERTIFICATE) is not an X.509 certificate"},
		{"malformed PKCS#8 key", pemBlock("PRIVATE KEY", []byte("not DER at all")) + leaf, pemType, certformat.PFX,
			"the PEM's block 1 (PRIVATE KEY) is not a PKCS#8 private key"},
		{"PKCS#8 key labelled SEC1", pemBlock("EC PRIVATE KEY", pkcs8(t, fx.key)) + leaf, pemType, certformat.PFX,
			"the PEM's block 1 (EC PRIVATE KEY) is not a SEC1 EC private key"},
		{"OpenSSH key", pemBlock("OPENSSH PRIVATE KEY", []byte("openssh-key-v1")) + leaf, pemType, certformat.PFX,
			"the PEM's block 1 holds a private key in a form this task cannot read (it reads PRIVATE KEY, RSA PRIVATE KEY and EC PRIVATE KEY blocks)"},
		{"PFX stored as PEM", b64(fx.modernPFX(t)), pemType, certformat.PEM, noBlock},
		{"PEM cut short", strings.TrimSuffix(leaf, "-----END CERTIFICATE-----\n"), "", certformat.PEM, noBlock},
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// redact replaces in msg every run of bytes that holds 6 bytes in a row of
// value's secret parts (secretParts) with "<value>", and reports whether
// there were any: a failing test shows where the value was, not the value.
func redact(msg, value string) (string, bool) {
	covered := make([]bool, len(msg))
	leaked := false
	for _, part := range secretParts(value) {
		for i := 0; i+6 <= len(part); i++ {
			for at := 0; ; at++ {
				j := strings.Index(msg[at:], part[i:i+6])
				if j < 0 {
					break
				}
				at += j
				leaked = true
				for k := at; k < at+6; k++ {
					covered[k] = true
				}
			}
		}
	}
	var b strings.Builder
	for i := range msg {
		switch {
		case !covered[i]:
			b.WriteByte(msg[i])
		case i == 0 || !covered[i-1]:
			b.WriteString("<value>")
		}
	}
	return b.String(), leaked
}

// secretParts are the parts of a value no message may quote: all of it,
// but for a PEM value's armour, which is fixed public text a message may
// name: the BEGIN and END lines (except for a type the package does not
// name, which is the value's own) and an encrypted key's headers.
func secretParts(value string) []string {
	var parts []string
	for _, line := range strings.Split(value, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if typ, ok := armourType(line); ok {
			if !publicBlockType(typ) {
				parts = append(parts, typ)
			}
			continue
		}
		if strings.HasPrefix(line, "Proc-Type: ") || strings.HasPrefix(line, "DEK-Info: ") {
			continue
		}
		parts = append(parts, line)
	}
	return parts
}

func armourType(line string) (string, bool) {
	for _, prefix := range []string{"-----BEGIN ", "-----END "} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.CutSuffix(rest, "-----")
		}
	}
	return "", false
}

func publicBlockType(typ string) bool {
	switch typ {
	case "CERTIFICATE", "PUBLIC KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return true
	}
	return false
}

// FuzzConvert: no value makes Convert panic or give an error that holds
// the value. The PFX seeds derive with one iteration, so that the fuzzer
// tries many values a second; a key Key Vault cannot export (certificates
// alone) and a P-256K-like key crypto/x509 cannot parse are among them.
func FuzzConvert(f *testing.F) {
	fx := newFixture(f, ecdsaKey)
	cheap := []string{"-noiter", "-nomaciter"}
	modern := b64(fx.exportPFX(f, "modern", append(cheap, "-inkey", "k.pem", "-passout", "pass:")...))
	legacy := b64(fx.exportPFX(f, "legacy", append(cheap, "-legacy", "-inkey", "k.pem", "-passout", "pass:")...))
	keyVault := b64(fx.exportPFX(f, "kv", append(cheap, "-inkey", "k.pem", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-passout", "pass:")...))
	certsOnly := b64(fx.exportPFX(f, "certs", append(cheap, "-nokeys", "-passout", "pass:")...))
	password := b64(fx.exportPFX(f, "password", append(cheap, "-inkey", "k.pem", "-passout", "pass:hunter2-pw")...))
	keyVaultPEM := fx.keyVaultPEM(f)
	certs := pemBlock("CERTIFICATE", fx.leaf.Raw) + pemBlock("CERTIFICATE", fx.ca.Raw)
	encrypted := pemBlock("ENCRYPTED PRIVATE KEY", []byte("opaque")) + certs
	// A PKCS#8 key whose algorithm crypto/x509 does not know, as P-256K's
	// explicit parameters are to it.
	unknownKey := pemBlock("PRIVATE KEY", []byte{0x30, 0x0e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x02, 0x01, 0x02})
	seeds := []struct {
		value, contentType string
		format             byte
	}{
		{modern, pkcs12Type, 1}, {modern, pkcs12Type, 2}, {legacy, "", 1}, {legacy, "text/plain", 2},
		{keyVault, pkcs12Type, 1}, {keyVault, pkcs12Type, 2}, {certsOnly, pkcs12Type, 1}, {certsOnly, pkcs12Type, 2},
		{"\n" + wrap(modern, 64) + "\n", pkcs12Type, 1}, {password, pkcs12Type, 1},
		{keyVaultPEM, pemType, 2}, {keyVaultPEM, "", 2}, {keyVaultPEM, pemType, 1}, {unknownKey + certs, pemType, 2},
		{certs, pemType, 2}, {certs, pemType, 1}, {encrypted, "", 2}, {pemBlock("PRIVATE KEY", pkcs8(f, fx.key)), pemType, 2},
		{"plain secret value", "", 0}, {"plain secret value", "", 1}, {"%%% not base64 %%%", pkcs12Type, 2},
		{"c2VjcmV0LXZhbHVlLWhlcmU=", "text/plain", 2}, {"", pkcs12Type, 1}, {"v", "", 3},
	}
	for _, s := range seeds {
		f.Add(s.value, s.contentType, s.format)
	}
	formats := []certformat.Format{certformat.Raw, certformat.PEM, certformat.PFX, "bogus"}
	f.Fuzz(func(t *testing.T, value, contentType string, format byte) {
		out, err := convert(value, contentType, formats[int(format)%len(formats)])
		if err == nil {
			if out == nil && value != "" {
				t.Fatalf("Convert gave neither bytes nor an error")
			}
			return
		}
		if msg := err.Error(); len(value) >= 8 && strings.Contains(msg, value) {
			t.Fatalf("error holds the value (%d bytes): %q", len(value), strings.ReplaceAll(msg, value, "<value>"))
		}
	})
}
