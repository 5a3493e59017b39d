package certformat

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestNewBundle: which certificate is the key's. crypto/x509 decides
// where it parses the key and every certificate; the key's localKeyID
// where it cannot (a P-256K key, or a certificate it cannot parse); the
// first certificate else.
func TestNewBundle(t *testing.T) {
	key, leaf := keyAndCert(t, "leaf")
	_, ca := keyAndCert(t, "ca")
	// A key crypto/x509 does not parse: an unknown algorithm's OID.
	opaque := []byte{0x30, 0x0e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x02, 0x01, 0x02}
	notParsed := []byte{0x30, 0x06, 0x30, 0x00, 0x30, 0x00, 0x03, 0x00}
	tests := []struct {
		name    string
		key     []byte
		certs   [][]byte
		named   int
		want    [][]byte
		wantErr string
	}{
		{"the public key decides", key, [][]byte{ca, leaf}, -1, [][]byte{leaf, ca}, ""},
		{"the public key decides over a localKeyID", key, [][]byte{ca, leaf}, 0, [][]byte{leaf, ca}, ""},
		{"a key that parses and matches none", key, [][]byte{ca}, 0, nil, "the private key matches none of the certificates"},
		{"a key that does not parse: the localKeyID", opaque, [][]byte{ca, leaf}, 1, [][]byte{leaf, ca}, ""},
		{"a key that does not parse, no localKeyID: the first", opaque, [][]byte{ca, leaf}, -1, [][]byte{ca, leaf}, ""},
		{"a certificate that does not parse: the localKeyID", key, [][]byte{ca, notParsed}, 1, [][]byte{notParsed, ca}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newBundle(tt.key, tt.certs, tt.named)
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, b.certs); err == nil && diff != "" {
				t.Errorf("certificates (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func keyAndCert(t *testing.T, name string) (pkcs8, cert []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	if cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key); err != nil {
		t.Fatal(err)
	}
	if pkcs8, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		t.Fatal(err)
	}
	return pkcs8, cert
}
