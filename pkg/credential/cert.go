package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

// exportHint is how to produce the PEM a service connection needs.
const exportHint = "export the certificate and its private key as one unencrypted PEM (openssl pkcs12 -in cert.pfx -nodes -out cert.pem) and paste it into the service connection"

// CertificateError says why the connection's PEM cannot be used. It never
// quotes the PEM.
type CertificateError struct {
	ConnectionID string
	Problem      string
}

// Explained marks the message as saying what to do.
func (e *CertificateError) Explained() {}

func (e *CertificateError) Error() string {
	return fmt.Sprintf("service connection %s: the service principal certificate %s", e.ConnectionID, e.Problem)
}

func newCertificateCredential(c *endpoint.Connection, tenant string, co azcore.ClientOptions) (azcore.TokenCredential, error) {
	certs, key, err := parseCertificatePEM(c.ID, c.CertificatePEM)
	if err != nil {
		return nil, err
	}
	cred, err := azidentity.NewClientCertificateCredential(tenant, c.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, SendCertificateChain: true})
	if err != nil {
		return nil, fmt.Errorf("create client certificate credential: %w", err)
	}
	return cred, nil
}

// parseCertificatePEM reads what Azure DevOps stores for an spnCertificate
// connection: PEM certificate(s) and an unencrypted RSA private key, often
// with the "Bag Attributes" lines openssl pkcs12 -nodes writes between the
// blocks (pem.Decode skips them). The leaf that matches the key comes first.
func parseCertificatePEM(connID, text string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	fail := func(format string, args ...any) error {
		return &CertificateError{ConnectionID: connID, Problem: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil, fail("is empty: %s", exportHint)
	}
	var certs []*x509.Certificate
	var key *rsa.PrivateKey
	keyKind := ""
	blocks := 0
	for rest := []byte(text); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		switch b.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fail("holds a certificate that cannot be parsed (%v): %s", err, exportHint)
			}
			certs = append(certs, cert)
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, fail("has an encrypted (password-protected) private key, which GoKeyVault cannot use: export it without a password (openssl pkcs12 -in cert.pfx -nodes -out cert.pem) and paste the PEM into the service connection")
		case "RSA PRIVATE KEY":
			if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
				return nil, nil, fail("has an encrypted (password-protected) private key, which GoKeyVault cannot use: remove the password (openssl rsa -in key.pem -out key-plain.pem) and paste the certificate and the plain key into the service connection")
			}
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fail("has an RSA private key that cannot be parsed (%v): %s", err, exportHint)
			}
			if key == nil {
				key = k
			}
		case "EC PRIVATE KEY":
			keyKind = "an EC"
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fail("has a private key that cannot be parsed (%v): %s", err, exportHint)
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				if key == nil {
					key = k
				}
			case *ecdsa.PrivateKey:
				keyKind = "an EC"
			case ed25519.PrivateKey:
				keyKind = "an Ed25519"
			default:
				keyKind = fmt.Sprintf("a %T", k)
			}
		}
	}
	switch {
	case blocks == 0:
		return nil, nil, fail("is not PEM (no -----BEGIN ...----- block): %s", exportHint)
	case key == nil && keyKind != "":
		return nil, nil, fail("has %s private key; Microsoft Entra ID certificate credentials need an RSA key: create an RSA certificate (openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 -subj /CN=pipelines), upload cert.pem to the app registration and paste cert.pem and key.pem into the service connection", keyKind)
	case key == nil:
		return nil, nil, fail("has no private key: %s", exportHint)
	case len(certs) == 0:
		return nil, nil, fail("has a private key but no certificate: %s", exportHint)
	}
	for i, cert := range certs {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&key.PublicKey) {
			ordered := append([]*x509.Certificate{cert}, certs[:i]...)
			return append(ordered, certs[i+1:]...), key, nil
		}
	}
	return nil, nil, fail("has a private key that belongs to none of its certificates: %s", exportHint)
}
