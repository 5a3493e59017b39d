package pfx

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// fixture is a key and a self-signed certificate, as openssl reads them
// from dir (k.pem, cert.pem), with their DER.
type fixture struct {
	dir      string
	key      []byte // PKCS#8
	cert     []byte
	keyAny   any
	certX509 *x509.Certificate
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pfx test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := x509.ParseCertificate(cert)
	fx := &fixture{dir: t.TempDir(), key: p8, cert: cert, keyAny: key, certX509: parsed}
	fx.writePEM(t, "k.pem", "PRIVATE KEY", p8)
	fx.writePEM(t, "cert.pem", "CERTIFICATE", cert)
	return fx
}

func (fx *fixture) writePEM(t testing.TB, name, typ string, der []byte) {
	t.Helper()
	b := "-----BEGIN " + typ + "-----\n" + wrap64(der) + "-----END " + typ + "-----\n"
	if err := os.WriteFile(filepath.Join(fx.dir, name), []byte(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func wrap64(der []byte) string {
	s := b64(der)
	var out strings.Builder
	for len(s) > 64 {
		out.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return out.String() + s + "\n"
}

// openssl runs the real openssl in the fixture's directory and returns
// the file it wrote to out. CI installs it; a machine without it must not
// pass these tests by skipping them.
func (fx *fixture) openssl(t testing.TB, out string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is not on PATH (install OpenSSL 3): %v", err)
	}
	cmd := exec.Command(path, append(args, "-out", out)...)
	cmd.Dir = fx.dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	b, err := os.ReadFile(filepath.Join(fx.dir, out))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contents is what Decode should give for the fixture.
func (fx *fixture) contents(keyID []byte) Contents {
	return Contents{Keys: []Key{{PKCS8: fx.key, LocalKeyID: keyID}}, Certs: []Cert{{DER: fx.cert, LocalKeyID: keyID}}}
}

// TestDecodeOpenSSL: files openssl writes with every algorithm real files
// use, read with the empty password: the key's PKCS#8 exactly, the
// certificate, and the localKeyID openssl gives both.
func TestDecodeOpenSSL(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name    string
		options []string
	}{
		{"OpenSSL 3 defaults: PBES2 AES-256-CBC, PBKDF2-HMAC-SHA-256, SHA-256 MAC", nil},
		{"OpenSSL 1.x, -legacy: RC2-40 certificates, 3DES key, SHA-1 MAC", []string{"-legacy"}},
		{"Key Vault's algorithms: 3DES, SHA-1 MAC, 2000 iterations", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-iter", "2000"}},
		{"RC2-128 certificates, two-key 3DES key", []string{"-legacy", "-certpbe", "PBE-SHA1-RC2-128", "-keypbe", "PBE-SHA1-2DES"}},
		{"AES-128 key, AES-192 certificates, SHA-384 MAC", []string{"-keypbe", "AES-128-CBC", "-certpbe", "AES-192-CBC", "-macalg", "sha384"}},
		{"PBES2 3DES key, SHA-512 MAC", []string{"-keypbe", "DES-EDE3-CBC", "-macalg", "sha512"}},
		{"SHA-224 MAC, one iteration", []string{"-macalg", "sha224", "-noiter", "-nomaciter"}},
		{"certificates in the clear, no MAC", []string{"-certpbe", "NONE", "-nomac"}},
		{"key in the clear", []string{"-keypbe", "NONE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"pkcs12", "-export", "-inkey", "k.pem", "-in", "cert.pem", "-passout", "pass:"}, tt.options...)
			der := fx.openssl(t, "out.pfx", args...)
			got, err := Decode(context.Background(), der)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got.Keys) != 1 {
				t.Fatalf("%d keys", len(got.Keys))
			}
			// openssl names the pair by the certificate's SHA-1.
			if diff := cmp.Diff(fx.contents(got.Keys[0].LocalKeyID), got); diff != "" || len(got.Keys[0].LocalKeyID) != 20 {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecryptOpenSSLKeys: keys openssl encrypts with the PBE algorithms
// of RFC 7292 and PBES2 with each PBKDF2 HMAC, with the empty password,
// decrypt to the PKCS#8 openssl was given.
func TestDecryptOpenSSLKeys(t *testing.T) {
	fx := newFixture(t)
	for _, alg := range [][]string{
		{"-v1", "PBE-SHA1-3DES"}, {"-v1", "PBE-SHA1-2DES"},
		{"-v1", "PBE-SHA1-RC2-40", "-provider", "legacy", "-provider", "default"},
		{"-v1", "PBE-SHA1-RC2-128", "-provider", "legacy", "-provider", "default"},
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"}, {"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA224"},
		{"-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"}, {"-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA384"},
		{"-v2", "des3", "-v2prf", "hmacWithSHA512"},
	} {
		t.Run(strings.Join(alg, " "), func(t *testing.T) {
			epki := fx.openssl(t, "k.der", append([]string{"pkcs8", "-topk8", "-in", "k.pem", "-outform", "DER", "-passout", "pass:"}, alg...)...)
			enc, err := parseEncryptedKey(epki)
			if err != nil {
				t.Fatalf("parseEncryptedKey: %v", err)
			}
			forms := [][]byte{zeroLength, terminator}
			got, err := open(&meter{ctx: context.Background(), left: MaxWork}, enc, &forms, "key")
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if !bytes.Equal(got, fx.key) {
				t.Error("the key decrypted is not the one encrypted")
			}
		})
	}
}

// TestRC2: RFC 2268 section 5's test vectors, both ways.
func TestRC2(t *testing.T) {
	for _, v := range []struct {
		key       string
		bits      int
		plain, ct string
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", 129, "0000000000000000", "5b78d3a43dfff1f1"},
	} {
		c := newRC2Cipher(unhex(t, v.key), v.bits)
		got := make([]byte, 8)
		c.Encrypt(got, unhex(t, v.plain))
		if hex.EncodeToString(got) != v.ct {
			t.Errorf("key %s, %d bits: encrypts to %x, want %s", v.key, v.bits, got, v.ct)
		}
		c.Decrypt(got, unhex(t, v.ct))
		if hex.EncodeToString(got) != v.plain {
			t.Errorf("key %s, %d bits: decrypts to %x, want %s", v.key, v.bits, got, v.plain)
		}
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncode: what Encode writes decodes to what it was given, with or
// without a key; openssl reads it (the certformat tests check how), and
// so does go-pkcs12, written independently.
func TestEncode(t *testing.T) {
	fx := newFixture(t)
	der, err := Encode(fx.key, [][]byte{fx.cert})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(context.Background(), der)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(fx.contents(keyVaultKeyID), got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	key, leaf, cas, err := gopkcs12.DecodeChain(der, "")
	if err != nil || !cmp.Equal(key, fx.keyAny) || !bytes.Equal(leaf.Raw, fx.cert) || len(cas) != 0 {
		t.Errorf("go-pkcs12 reads another key or certificate (%v)", err)
	}

	certsOnly, err := Encode(nil, [][]byte{fx.cert, fx.cert})
	if err != nil {
		t.Fatal(err)
	}
	got, err = Decode(context.Background(), certsOnly)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(Contents{Certs: []Cert{{DER: fx.cert}, {DER: fx.cert}}}, got); diff != "" {
		t.Errorf("Decode, no key (-want +got):\n%s", diff)
	}
}

// TestPBMAC1: a file whose MAC is PBMAC1 (RFC 9579), as go-pkcs12's
// Modern2026 and OpenSSL 3.4 write, is read: go-pkcs12 read it before.
func TestPBMAC1(t *testing.T) {
	fx := newFixture(t)
	der, err := gopkcs12.Modern2026.Encode(fx.keyAny, fx.certX509, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(context.Background(), der)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(got.Keys) != 1 || !bytes.Equal(got.Keys[0].PKCS8, fx.key) || len(got.Certs) != 1 || !bytes.Equal(got.Certs[0].DER, fx.cert) {
		t.Error("Decode gave another key or certificate")
	}
}

// TestMACFailure: a file whose MAC does not verify with the empty
// password has a password when its contents do not decrypt with it either,
// and was altered when they do.
func TestMACFailure(t *testing.T) {
	fx := newFixture(t)
	password := fx.openssl(t, "pw.pfx", "pkcs12", "-export", "-inkey", "k.pem", "-in", "cert.pem", "-passout", "pass:hunter2")
	legacyPassword := fx.openssl(t, "pw-legacy.pfx", "pkcs12", "-export", "-legacy", "-inkey", "k.pem", "-in", "cert.pem", "-passout", "pass:hunter2")
	altered, err := Encode(fx.key, [][]byte{fx.cert})
	if err != nil {
		t.Fatal(err)
	}
	altered[len(altered)-30] ^= 1 // in the MAC's digest, before its salt (2+20 bytes) and count (4)
	tests := []struct {
		name string
		der  []byte
		want Kind
	}{
		{"a password, AES", password, Password},
		{"a password, 3DES and RC2", legacyPassword, Password},
		{"altered", altered, Integrity},
	}
	for _, tt := range tests {
		_, err := Decode(context.Background(), tt.der)
		if got := KindOf(err); got != tt.want {
			t.Errorf("%s: Decode error %v (kind %d), want kind %d", tt.name, err, got, tt.want)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
