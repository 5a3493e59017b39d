package certformat_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
)

// The certificates Key Vault makes (issue 18), made here by openssl in
// Key Vault's shapes: every key type, exportable or not, PFX or PEM, in
// every form a SecretsToFiles entry asks for.

// kvKeyType is a key type Key Vault makes, and openssl genpkey's
// arguments for it. Key Vault writes a P-256K (secp256k1) key and
// certificate with explicit prime-field curve parameters, which
// crypto/x509 cannot parse.
type kvKeyType struct {
	name     string
	genpkey  []string
	explicit bool // neither crypto/x509, go-pkcs12 nor Java reads it
}

var kvKeyTypes = []kvKeyType{
	{"RSA 2048", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}, false},
	{"EC P-256", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, false},
	{"EC P-384", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"}, false},
	{"EC P-521", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"}, false},
	{"EC P-256K", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-pkeyopt", "ec_param_enc:explicit"}, true},
}

// kvCert is a certificate as Key Vault stores it: kv.pfx in Key Vault's
// PFX layout (3DES key and certificate bags, HMAC-SHA-1, 2,000
// iterations, a key usage attribute in the PKCS#8 as Key Vault's EC keys
// carry) and kvPEM (PKCS#8 key, then the certificate), and the same
// certificate without its key, as Key Vault stores one whose key is not
// exportable (ne.pfx, nePEM).
type kvCert struct {
	*fixture
	typ           kvKeyType
	keyDER        []byte // openssl's one form of the key (pkey -outform DER), to compare keys
	certDER       []byte
	pfx, nePFX    []byte
	kvPEM, nePEM  string
	publicKeyText string // openssl x509 -pubkey of the certificate
}

func newKVCert(t *testing.T, typ kvKeyType) *kvCert {
	t.Helper()
	c := &kvCert{fixture: &fixture{dir: t.TempDir()}, typ: typ}
	c.openssl(t, append(append([]string{"genpkey"}, typ.genpkey...), "-out", "k.pem")...)
	c.openssl(t, "req", "-x509", "-key", "k.pem", "-subj", "/CN=default", "-days", "2",
		"-addext", "keyUsage=critical,digitalSignature", "-out", "cert.pem")
	shape := []string{"-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-iter", "2000", "-passout", "pass:"}
	c.openssl(t, append([]string{"pkcs12", "-export", "-inkey", "k.pem", "-in", "cert.pem", "-keysig", "-keypbe", "PBE-SHA1-3DES", "-out", "kv.pfx"}, shape...)...)
	c.openssl(t, append([]string{"pkcs12", "-export", "-nokeys", "-in", "cert.pem", "-out", "ne.pfx"}, shape...)...)
	c.pfx, c.nePFX = c.read(t, "kv.pfx"), c.read(t, "ne.pfx")
	c.nePEM = string(c.read(t, "cert.pem"))
	c.kvPEM = string(c.read(t, "k.pem")) + c.nePEM
	c.keyDER = c.openssl(t, "pkey", "-in", "k.pem", "-outform", "DER")
	block, _ := pem.Decode([]byte(c.nePEM))
	c.certDER = block.Bytes
	c.publicKeyText = string(c.openssl(t, "x509", "-in", "cert.pem", "-noout", "-pubkey"))
	if strings.Contains(string(c.openssl(t, "asn1parse", "-in", "cert.pem")), "prime-field") != typ.explicit {
		t.Fatalf("%s: the certificate's curve parameters are not as Key Vault writes them", typ.name)
	}
	return c
}

func (c *kvCert) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyVaultCertificates: each key type Key Vault makes, exportable, in
// each form. P-256K failed on main in every conversion (issue 18's table,
// rows 1 to 3); the others worked and still do.
func TestKeyVaultCertificates(t *testing.T) {
	for _, typ := range kvKeyTypes {
		c := newKVCert(t, typ)
		t.Run(typ.name+"/PFX, no as: Key Vault's bytes", func(t *testing.T) {
			c.checkFile(t, b64(c.pfx), pkcs12Type, certformat.PFX, c.pfx, false)
		})
		t.Run(typ.name+"/PFX as pfx: Key Vault's bytes", func(t *testing.T) {
			c.checkFile(t, b64(c.pfx), pkcs12Type, certformat.PFX, c.pfx, false)
		})
		t.Run(typ.name+"/PFX as pem: its key's PKCS#8 bytes, then the certificate", func(t *testing.T) {
			f, err := convertFile(b64(c.pfx), pkcs12Type, certformat.PEM)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			c.checkPEM(t, f)
		})
		t.Run(typ.name+"/PEM, no as: Key Vault's bytes", func(t *testing.T) {
			c.checkFile(t, c.kvPEM, pemType, certformat.PEM, []byte(c.kvPEM), false)
		})
		t.Run(typ.name+"/PEM as pfx: Key Vault's layout, read by openssl", func(t *testing.T) {
			f, err := convertFile(c.kvPEM, pemType, certformat.PFX)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if f.NoKey {
				t.Error("NoKey is set for a PEM with its key")
			}
			c.checkPFX(t, f.Data, true)
		})
	}
}

// TestNonExportableCertificates: a certificate whose key Key Vault may not
// export is stored alone, in a PFX with no key bag or a PEM with one
// CERTIFICATE block. Each form writes the certificate alone and says so
// (NoKey). On main, the PFX failed without as and with as pem (issue 18's
// table, rows 4 and 5), and the PEM as pfx.
func TestNonExportableCertificates(t *testing.T) {
	c := newKVCert(t, kvKeyTypes[0])
	t.Run("PFX, no as: Key Vault's bytes", func(t *testing.T) {
		c.checkFile(t, b64(c.nePFX), pkcs12Type, certformat.PFX, c.nePFX, true)
	})
	t.Run("PFX as pem: the certificate alone", func(t *testing.T) {
		c.checkFile(t, b64(c.nePFX), pkcs12Type, certformat.PEM, []byte(c.nePEM), true)
	})
	t.Run("PFX, no content type, as pem", func(t *testing.T) {
		c.checkFile(t, b64(c.nePFX), "", certformat.PEM, []byte(c.nePEM), true)
	})
	t.Run("PEM, no as: Key Vault's bytes", func(t *testing.T) {
		c.checkFile(t, c.nePEM, pemType, certformat.PEM, []byte(c.nePEM), true)
	})
	t.Run("PEM as pfx: the certificate alone in Key Vault's layout", func(t *testing.T) {
		f, err := convertFile(c.nePEM, pemType, certformat.PFX)
		if err != nil {
			t.Fatalf("Convert: %v", err)
		}
		if !f.NoKey {
			t.Error("NoKey is not set")
		}
		c.checkPFX(t, f.Data, false)
	})
	t.Run("raw: not looked into", func(t *testing.T) {
		c.checkFile(t, c.nePEM, pemType, certformat.Raw, []byte(c.nePEM), false)
	})
}

// checkFile converts and checks the file's exact bytes and NoKey.
func (c *kvCert) checkFile(t *testing.T, value, contentType string, f certformat.Format, want []byte, noKey bool) {
	t.Helper()
	got, err := convertFile(value, contentType, f)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if !bytes.Equal(got.Data, want) {
		t.Errorf("the file's %d bytes are not the %d expected", len(got.Data), len(want))
	}
	if got.NoKey != noKey {
		t.Errorf("NoKey = %v, want %v", got.NoKey, noKey)
	}
}

// checkPEM checks a PEM written from kv.pfx: the PKCS#8 key exactly as the
// PFX holds it (its key usage attribute kept), then the certificate, and
// that openssl reads the key as the one made and matching the certificate.
func (c *kvCert) checkPEM(t *testing.T, f certformat.File) {
	t.Helper()
	if f.NoKey {
		t.Error("NoKey is set for a PFX with its key")
	}
	var types []string
	var key []byte
	var certs [][]byte
	for rest := f.Data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		types = append(types, block.Type)
		switch block.Type {
		case "PRIVATE KEY":
			key = block.Bytes
		case "CERTIFICATE":
			certs = append(certs, block.Bytes)
		}
	}
	if diff := cmp.Diff([]string{"PRIVATE KEY", "CERTIFICATE"}, types); diff != "" {
		t.Fatalf("PEM blocks (-want +got):\n%s", diff)
	}
	if !bytes.Equal(certs[0], c.certDER) {
		t.Error("the certificate is not the one made")
	}
	if !hasKeyUsageAttribute(key) {
		t.Error("the PKCS#8 key lost its attributes (the key usage openssl -keysig, like Key Vault, put there)")
	}
	c.write(t, "out.pem", string(f.Data))
	if got := c.openssl(t, "pkey", "-in", "out.pem", "-outform", "DER"); !bytes.Equal(got, c.keyDER) {
		t.Error("openssl reads another key from the PEM than the one made")
	}
	if got := string(c.openssl(t, "pkey", "-in", "out.pem", "-pubout")); got != c.publicKeyText {
		t.Error("the key in the PEM does not match its certificate")
	}
}

// hasKeyUsageAttribute reports whether a PKCS#8 PrivateKeyInfo ends with
// an attributes set holding a key usage (2.5.29.15).
func hasKeyUsageAttribute(der []byte) bool {
	s := cryptobyte.String(der)
	var info, attrs cryptobyte.String
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !info.SkipASN1(cbasn1.INTEGER) || !info.SkipASN1(cbasn1.SEQUENCE) ||
		!info.SkipASN1(cbasn1.OCTET_STRING) || !info.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return false
	}
	return bytes.Contains(attrs, []byte{0x06, 0x03, 0x55, 0x1d, 0x0f})
}

// checkPFX checks a PFX written here: openssl 3 (without -legacy) reads it
// with the empty password and finds Key Vault's layout, the key made (if
// withKey) and the certificate; go-pkcs12 and Java's keytool read it too,
// for a key they can parse.
func (c *kvCert) checkPFX(t *testing.T, der []byte, withKey bool) {
	t.Helper()
	c.write(t, "out.pfx", string(der))
	info := c.pkcs12Info(t, "out.pfx")
	want := []string{"MAC: sha1, Iteration 2000", "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2000", "Certificate bag"}
	if withKey {
		want = append(want, "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2000", "localKeyID: 01 00 00 00")
	}
	for _, w := range want {
		if !strings.Contains(info, w) {
			t.Errorf("openssl pkcs12 -info does not show %q:\n%s", w, redactPEM(info))
		}
	}
	if strings.Contains(info, "PRIVATE KEY") != withKey {
		t.Errorf("openssl pkcs12 -info shows a private key: %v, want %v", !withKey, withKey)
	}
	certs := string(c.openssl(t, "pkcs12", "-in", "out.pfx", "-passin", "pass:", "-nokeys"))
	if block, _ := pem.Decode([]byte(certs)); block == nil || !bytes.Equal(block.Bytes, c.certDER) || strings.Count(certs, "BEGIN CERTIFICATE") != 1 {
		t.Error("openssl does not read the certificate made, alone, from the PFX")
	}
	if !withKey {
		return
	}
	c.write(t, "key.pem", string(c.openssl(t, "pkcs12", "-in", "out.pfx", "-passin", "pass:", "-nocerts", "-nodes")))
	if got := c.openssl(t, "pkey", "-in", "key.pem", "-outform", "DER"); !bytes.Equal(got, c.keyDER) {
		t.Error("openssl reads another key from the PFX than the one made")
	}
	if c.typ.explicit {
		return
	}
	key, leaf, _, err := pkcs12.DecodeChain(der, "")
	if err != nil {
		t.Fatalf("go-pkcs12 does not read the PFX: %v", err)
	}
	block, _ := pem.Decode([]byte(c.kvPEM))
	wantKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(leaf.Raw, c.certDER) || !cmp.Equal(key, wantKey) {
		t.Error("go-pkcs12 reads another key or certificate from the PFX")
	}
	if list := keytool(t, c.dir, "out.pfx"); !strings.Contains(list, "Your keystore contains 1 entry") || !strings.Contains(list, "PrivateKeyEntry") {
		t.Errorf("keytool -list does not find the key and its certificate:\n%s", list)
	}
}

// pkcs12Info is what openssl pkcs12 -info prints of a PFX with the empty
// password: its layout on stderr, its contents on stdout.
func (c *kvCert) pkcs12Info(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command("openssl", "pkcs12", "-info", "-in", name, "-passin", "pass:", "-nodes")
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -info: %v\n%s", err, redactPEM(string(out)))
	}
	return string(out)
}

// keytool lists a PKCS#12 keystore with the empty password. CI installs
// Java; a machine without it must not pass by skipping.
func keytool(t *testing.T, dir, name string) string {
	t.Helper()
	path, err := exec.LookPath("keytool")
	if err != nil {
		t.Fatalf("keytool is not on PATH; these tests run it to read the PFX files written (install a Java runtime): %v", err)
	}
	// A JVM that starts fast: the listing is short work.
	cmd := exec.Command(path, "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-list", "-keystore", name, "-storetype", "PKCS12", "-storepass", "")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keytool -list: %v\n%s", err, out)
	}
	return string(out)
}

// redactPEM drops the base64 lines of a PEM, so that a failing test shows
// openssl's description of a file, not the key.
func redactPEM(s string) string {
	var out []string
	inside := false
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "-----BEGIN"):
			inside = true
			out = append(out, line, "<base64>")
		case strings.HasPrefix(line, "-----END"):
			inside = false
			out = append(out, line)
		case !inside:
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
