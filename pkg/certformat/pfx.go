package certformat

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/pfx"
)

// bundle is what a certificate file holds: a private key's PKCS#8 bytes
// (nil for none) and certificates' DER bytes, the key's own first.
type bundle struct {
	key   []byte
	certs [][]byte
}

// pfxError is a PFX that could not be read. isPFX says the value was
// recognisably a PKCS#12 file (say, with a password), which matters when the
// content type did not say what the value is.
type pfxError struct {
	msg   string
	isPFX bool
}

func (e pfxError) Error() string { return e.msg }

func fromBase64PFX(ctx context.Context, value string, f Format) (File, error) {
	der, err := decodeBase64(value)
	if err != nil {
		return File{}, err
	}
	b, err := decodePFX(ctx, der)
	if err != nil {
		return File{}, err
	}
	return fromPFX(der, b, f)
}

func fromPFX(der []byte, b bundle, f Format) (File, error) {
	if f == PFX {
		// The file Key Vault made, byte for byte: re-encoding would only
		// risk losing what it holds (attributes, the CSP name Windows
		// reads) and what it was made for.
		return File{Data: der, NoKey: b.key == nil}, nil
	}
	return encodePEM(b), nil
}

func decodeBase64(value string) ([]byte, error) {
	// Surrounding whitespace is trimmed; line breaks inside are skipped by
	// the decoder itself, so wrapped base64 (as openssl base64 writes it)
	// is read too.
	trimmed := strings.TrimSpace(value)
	if trimmed == "" {
		return nil, errors.New("the value is empty (a PFX must be base64-encoded, as Key Vault stores certificates)")
	}
	der, err := base64.StdEncoding.DecodeString(trimmed)
	if err != nil {
		return nil, errors.New("the value is not base64 (a PFX must be base64-encoded, as Key Vault stores certificates)")
	}
	return der, nil
}

// decodePFX reads a PFX with the empty password, the one Key Vault gives
// the PFX of every certificate.
func decodePFX(ctx context.Context, der []byte) (bundle, error) {
	c, err := pfx.Decode(ctx, der)
	if err != nil {
		return bundle{}, describePFXError(err, len(der))
	}
	switch {
	case len(c.Certs) == 0:
		return bundle{}, pfxError{"the PFX holds no certificate", true}
	case len(c.Keys) > 1:
		return bundle{}, pfxError{fmt.Sprintf("the PFX holds %d private keys; a certificate file holds one", len(c.Keys)), true}
	}
	certs := make([][]byte, len(c.Certs))
	for i, cert := range c.Certs {
		certs[i] = cert.DER
	}
	if !wellFormed(c) {
		return bundle{}, pfxError{msg: fmt.Sprintf("the value is base64 (%d bytes decoded) but not a PKCS#12 file: a certificate or the private key in it is malformed", len(der))}
	}
	if len(c.Keys) == 0 {
		// A certificate whose key Key Vault may not export.
		return bundle{certs: certs}, nil
	}
	key := c.Keys[0]
	leaf := leafByKeyID(key.LocalKeyID, c.Certs)
	b, err := newBundle(key.PKCS8, certs, leaf)
	if err != nil {
		return bundle{}, pfxError{err.Error(), true}
	}
	return b, nil
}

// wellFormed reports whether every key is PKCS#8 and every certificate
// an X.509 certificate, in outline.
func wellFormed(c pfx.Contents) bool {
	for _, k := range c.Keys {
		if !isPKCS8(k.PKCS8) {
			return false
		}
	}
	for _, cert := range c.Certs {
		if !isCertificate(cert.DER) {
			return false
		}
	}
	return true
}

// leafByKeyID is the index of the first certificate the key's localKeyID
// names, or -1.
func leafByKeyID(id []byte, certs []pfx.Cert) int {
	for i, c := range certs {
		if len(id) > 0 && bytes.Equal(c.LocalKeyID, id) {
			return i
		}
	}
	return -1
}

// describePFXError says why a PFX was refused. Only a file that is not
// one at all is "not a PKCS#12 file": the others are PFX files this task
// cannot use.
func describePFXError(err error, decoded int) error {
	var pe *pfx.Error
	if !errors.As(err, &pe) {
		return err // the context's
	}
	switch pe.Kind {
	case pfx.Password:
		return pfxError{"the PFX is protected by a password; Key Vault certificates have none", true}
	case pfx.Integrity:
		return pfxError{"the PFX is damaged or was altered: " + pe.Reason, true}
	case pfx.TooCostly:
		return pfxError{"the PFX asks for too much work: " + pe.Reason, true}
	case pfx.Malformed:
		return pfxError{msg: fmt.Sprintf("the value is base64 (%d bytes decoded) but not a PKCS#12 file: %s", decoded, pe.Reason)}
	}
	return pfxError{"the PFX cannot be read: " + pe.Reason, true}
}

// newBundle puts the key's certificate first, as the leaf, and the others
// after it in the order they came. The leaf is the certificate whose
// public key is the key's, where crypto/x509 parses both; else the one at
// index named (the key's localKeyID names it in a PFX); else the first.
// A key that matches none of the certificates it can compare is refused.
func newBundle(key []byte, certs [][]byte, named int) (bundle, error) {
	leaf, err := matchKey(key, certs)
	if err != nil {
		return bundle{}, err
	}
	if leaf < 0 {
		leaf = max(named, 0)
	}
	ordered := append([][]byte{certs[leaf]}, certs[:leaf]...)
	return bundle{key: key, certs: append(ordered, certs[leaf+1:]...)}, nil
}

// matchKey is the index of the certificate whose public key is key's, or
// -1 when that cannot be told: the key or a certificate does not parse.
func matchKey(key []byte, certs [][]byte) (int, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(key)
	if err != nil {
		return -1, nil
	}
	signer, ok := parsed.(interface{ Public() crypto.PublicKey })
	if !ok {
		return -1, nil
	}
	public := signer.Public()
	compared := 0
	for i, der := range certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		compared++
		if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(public) {
			return i, nil
		}
	}
	if compared == len(certs) {
		return -1, errors.New("the private key matches none of the certificates")
	}
	return -1, nil
}

// encodePEM writes the key as PKCS#8, exactly the bytes the PFX held (an
// EC key's attributes, such as its key usage, stay), then the
// certificates, the key's own first.
func encodePEM(b bundle) File {
	var buf bytes.Buffer
	var blocks []*pem.Block
	if b.key != nil {
		blocks = append(blocks, &pem.Block{Type: "PRIVATE KEY", Bytes: b.key})
	}
	for _, c := range b.certs {
		blocks = append(blocks, &pem.Block{Type: "CERTIFICATE", Bytes: c})
	}
	for _, block := range blocks {
		// Writing to a bytes.Buffer cannot fail, and these blocks have no
		// headers that could.
		_ = pem.Encode(&buf, block)
	}
	return File{Data: buf.Bytes(), NoKey: b.key == nil}
}

// encodePFX writes a PFX with the empty password, in the layout Key Vault
// itself writes (see pfx.Encode).
//
// With an empty password the encryption protects nothing, whatever the
// cipher, so all the choice decides is who can read the file, and 3DES
// with a SHA-1 MAC is read by the most: OpenSSL 1.x and 3.x without
// -legacy (3DES is in OpenSSL 3's default provider), Windows and .NET of
// every version, Java, and macOS's keychain (security import, how
// pipelines install signing certificates), which refuses the AES/PBKDF2
// files that OpenSSL 3 writes ("MAC verification failed"). The others fail
// someone: RC2 is not read by OpenSSL 3 without -legacy; PBMAC1 needs
// OpenSSL 3.4 and agents ship 3.0; a file without a MAC makes OpenSSL 3.0
// warn and much software refuse it.
func encodePFX(b bundle) (File, error) {
	der, err := pfx.Encode(b.key, b.certs)
	if err != nil {
		return File{}, errors.New("the PFX could not be written")
	}
	return File{Data: der, NoKey: b.key == nil}, nil
}
