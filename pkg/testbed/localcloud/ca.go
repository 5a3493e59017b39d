package localcloud

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// serverNames are the names the one leaf certificate answers for: Entra and
// Key Vault in the public and sovereign clouds, Azure DevOps, and an Azure
// Stack Hub region.
func serverNames() []string {
	return []string{
		"login.microsoftonline.com",
		"login.chinacloudapi.cn",
		"login.microsoftonline.us",
		"*.vault.azure.net",
		"*.vault.azure.cn",
		"*.vault.usgovcloudapi.net",
		// Azure DevOps (OIDC tokens) and an Azure Stack Hub region.
		"dev.azure.com",
		"*.visualstudio.com",
		AzureStackARMHost,
		AzureStackADFSHost,
		"*." + AzureStackVaultSuffix,
	}
}

// pki is a throw-away CA and the leaf it signed. The CA's key is kept so
// that hostile.go can sign a certificate for the wrong name.
type pki struct {
	caPEM  []byte
	leaf   tls.Certificate
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newPKI(now time.Time) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "GoKeyVault localcloud test CA", Organization: []string{"GoKeyVault localcloud"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	leaf, err := signLeaf(serverNames(), []net.IP{net.IPv4(127, 0, 0, 1)}, caCert, caKey, now)
	if err != nil {
		return nil, err
	}
	return &pki{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf:   leaf,
		caCert: caCert,
		caKey:  caKey,
	}, nil
}

func randomSerial() *big.Int {
	// 128 random bits; rand.Int cannot fail with crypto/rand on supported platforms.
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n
}

// signLeaf issues a server certificate for names (and ips) under the CA.
func signLeaf(names []string, ips []net.IP, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
