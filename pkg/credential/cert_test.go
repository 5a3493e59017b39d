package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestParseCertificatePEM(t *testing.T) {
	a := newTestCert(t, "a")
	b := newTestCert(t, "b")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	ecP8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecSEC1 := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))
	ecPKCS8 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecP8}))
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"
	legacyEncrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("ciphertext")}))

	tests := []struct {
		name     string
		pem      string
		wantLeaf string // CN of the first certificate returned
		wantErr  []string
	}{
		{name: "openssl pkcs12 -nodes output", pem: a.opensslNodes(), wantLeaf: "a"},
		{name: "PKCS#1 key first, CRLF line ends", pem: strings.ReplaceAll(a.keyPKCS1+a.certPEM, "\n", "\r\n"), wantLeaf: "a"},
		{name: "chain: the key's certificate comes first", pem: b.certPEM + a.certPEM + a.keyPKCS8, wantLeaf: "a"},
		{name: "encrypted PKCS#8", pem: a.certPEM + encrypted, wantErr: []string{"encrypted", "-nodes"}},
		{name: "encrypted legacy PEM", pem: a.certPEM + legacyEncrypted, wantErr: []string{"encrypted", "openssl rsa"}},
		{name: "EC key (SEC 1)", pem: a.certPEM + ecSEC1, wantErr: []string{"an EC private key", "RSA", "openssl req -x509 -newkey rsa:2048"}},
		{name: "EC key (PKCS#8)", pem: a.certPEM + ecPKCS8, wantErr: []string{"an EC private key"}},
		{name: "no key", pem: a.certPEM, wantErr: []string{"has no private key", "openssl pkcs12 -in cert.pfx -nodes"}},
		{name: "no certificate", pem: a.keyPKCS8, wantErr: []string{"no certificate"}},
		{name: "key of another certificate", pem: b.certPEM + a.keyPKCS8, wantErr: []string{"belongs to none of its certificates"}},
		{name: "empty", pem: "  \n", wantErr: []string{"is empty"}},
		{name: "not PEM", pem: "MIIC...base64 of a pfx", wantErr: []string{"is not PEM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, key, err := parseCertificatePEM("conn-1", tt.pem)
			if len(tt.wantErr) > 0 {
				var ce *CertificateError
				if !errors.As(err, &ce) {
					t.Fatalf("error = %v, want a CertificateError", err)
				}
				for _, w := range append(tt.wantErr, "service connection conn-1") {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				for _, line := range strings.Split(tt.pem, "\n") {
					if len(line) > 20 && strings.Contains(err.Error(), line) {
						t.Errorf("error quotes the PEM line %q", line)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key == nil || len(certs) == 0 {
				t.Fatalf("got %d certificate(s), key %v", len(certs), key != nil)
			}
			if got := certs[0].Subject.CommonName; got != tt.wantLeaf {
				t.Errorf("leaf CN %q, want %q", got, tt.wantLeaf)
			}
		})
	}
}
