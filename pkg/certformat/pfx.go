package certformat

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// bundle is what a certificate file holds: a private key and its
// certificate, then the certificates that issued it.
type bundle struct {
	key   any
	leaf  *x509.Certificate
	chain []*x509.Certificate
}

// pfxError is a PFX that could not be read. isPFX says the value was
// recognisably a PKCS#12 file (say, with a password), which matters when the
// content type did not say what the value is.
type pfxError struct {
	msg   string
	isPFX bool
}

func (e pfxError) Error() string { return e.msg }

// panicError stands for a panic in go-pkcs12, whose value is not kept: it
// may quote the input.
type panicError struct{}

func (panicError) Error() string { return "go-pkcs12 panicked" }

func fromBase64PFX(value string, f Format) ([]byte, error) {
	der, err := decodeBase64(value)
	if err != nil {
		return nil, err
	}
	b, err := decodePFX(der)
	if err != nil {
		return nil, err
	}
	return fromPFX(der, b, f)
}

func fromPFX(der []byte, b bundle, f Format) ([]byte, error) {
	if f == PFX {
		// The file Key Vault made, byte for byte: re-encoding would only
		// risk losing attributes (friendly names, key usage) that
		// go-pkcs12 does not carry over.
		return der, nil
	}
	return encodePEM(b)
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
func decodePFX(der []byte) (bundle, error) {
	key, leaf, cas, err := decodeChain(der)
	if err != nil {
		return bundle{}, describePFXError(err, len(der))
	}
	// DecodeChain takes the first certificate for the leaf; the one that
	// matches the key is the leaf, whatever order the file had.
	return newBundle(key, append([]*x509.Certificate{leaf}, cas...))
}

// decodeChain is pkcs12.DecodeChain, with a panic on a crafted value turned
// into an error: a crash would stop the task and print the panic, which
// may quote the value.
func decodeChain(der []byte) (key any, leaf *x509.Certificate, cas []*x509.Certificate, err error) {
	defer func() {
		if recover() != nil {
			key, leaf, cas, err = nil, nil, nil, panicError{}
		}
	}()
	return pkcs12.DecodeChain(der, "")
}

func describePFXError(err error, decoded int) error {
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return pfxError{"the PFX is protected by a password; Key Vault certificates have none", true}
	case err.Error() == "pkcs12: private key missing":
		return pfxError{"the PFX holds no private key (as when a Key Vault certificate's key is not exportable)", true}
	case err.Error() == "pkcs12: certificate missing":
		return pfxError{"the PFX holds no certificate", true}
	}
	return pfxError{msg: fmt.Sprintf("the value is base64 (%d bytes decoded) but not a PKCS#12 file: %s", decoded, pfxReason(err))}
}

// pfxReason says why go-pkcs12 refused a file: in the library's words when
// they are fixed text, in ours when the library's could hold parsed bytes
// (ASN.1 and x509 errors can quote them; "not supported" errors name OIDs
// read from the file).
func pfxReason(err error) string {
	msg := err.Error()
	if isFixedLibraryMessage(msg) {
		return strings.TrimPrefix(msg, "pkcs12: ")
	}
	var notImplemented pkcs12.NotImplementedError
	switch {
	case errors.As(err, &panicError{}):
		return "go-pkcs12 failed on it (it panicked)"
	case errors.As(err, &notImplemented):
		return "it uses a PKCS#12 layout or algorithm go-pkcs12 does not support"
	case strings.HasPrefix(msg, "pkcs12: error reading P12 data"), strings.HasPrefix(msg, "asn1:"):
		return "its ASN.1 structure is not that of a DER-encoded PFX"
	case strings.HasPrefix(msg, "pkcs12: error decrypting"):
		return "its private key does not decrypt with the empty password"
	case strings.HasPrefix(msg, "pkcs12: error"), strings.HasPrefix(msg, "x509:"):
		return "a certificate or the private key in it is malformed or of an unsupported type"
	}
	return "go-pkcs12 cannot read it"
}

// isFixedLibraryMessage reports whether msg is one of go-pkcs12's
// (v0.7.4) error messages that hold nothing read from the input.
func isFixedLibraryMessage(msg string) bool {
	switch msg {
	case pkcs12.ErrDecryption.Error(),
		"pkcs12: trailing data found",
		"pkcs12: no MAC in data",
		"pkcs12: empty encrypted data",
		"pkcs12: input is not a multiple of the block size",
		"pkcs12: expected exactly one key bag",
		"pkcs12: expected exactly one certificate in the certBag",
		"pkcs12: can only decode v3 PFX PDU's",
		"pkcs12: only password-protected PFX is implemented",
		"pkcs12: only version 0 of EncryptedData is supported",
		"pkcs12: only data and encryptedData content types are supported in authenticated safe",
		"pkcs12: only X509 certificates are supported in cert bags":
		return true
	}
	return false
}

// newBundle puts the certificate whose public key is the key's first, as
// the leaf, and the others after it in the order they came.
func newBundle(key any, certs []*x509.Certificate) (bundle, error) {
	signer, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return bundle{}, fmt.Errorf("the private key is of a type (%T) that has no public key", key)
	}
	public := signer.Public()
	for i, c := range certs {
		if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(public) {
			chain := append(append([]*x509.Certificate{}, certs[:i]...), certs[i+1:]...)
			return bundle{key: key, leaf: c, chain: chain}, nil
		}
	}
	return bundle{}, errors.New("the private key matches none of the certificates")
}

// encodePEM writes the key as PKCS#8, which every current reader takes
// whatever the key's algorithm, unlike PKCS#1 (RSA only) or SEC1 (EC only).
func encodePEM(b bundle) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(b.key)
	if err != nil {
		return nil, fmt.Errorf("the private key (%T) cannot be written as PKCS#8", b.key)
	}
	var buf bytes.Buffer
	blocks := []*pem.Block{{Type: "PRIVATE KEY", Bytes: der}, {Type: "CERTIFICATE", Bytes: b.leaf.Raw}}
	for _, c := range b.chain {
		blocks = append(blocks, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	for _, block := range blocks {
		// Writing to a bytes.Buffer cannot fail, and these blocks have no
		// headers that could.
		_ = pem.Encode(&buf, block)
	}
	return buf.Bytes(), nil
}

// encodePFX writes a PFX with the empty password.
//
// The encoder is LegacyDES (3DES for keys and certificates, SHA-1 MAC),
// named rather than taken through the Legacy alias so that a library update
// cannot change what we write. With an empty password the encryption
// protects nothing, whatever the cipher, so all the choice decides is who
// can read the file, and LegacyDES is read by the most: OpenSSL 1.x and 3.x
// without -legacy (3DES is in OpenSSL 3's default provider), Windows and
// .NET of every version, Java, and macOS's keychain (security import, how
// pipelines install signing certificates), which refuses the AES/PBKDF2
// files that OpenSSL 3 and Modern2023 write ("MAC verification failed").
// The others fail someone: LegacyRC2 is not read by OpenSSL 3 without
// -legacy; Modern2026's PBMAC1 needs OpenSSL 3.4 and agents ship 3.0;
// Passwordless has no MAC, which OpenSSL 3.0 warns about and, as the
// library says, much software does not read.
func encodePFX(b bundle) ([]byte, error) {
	der, err := pkcs12.LegacyDES.Encode(b.key, b.leaf, b.chain, "")
	if err != nil {
		return nil, fmt.Errorf("the private key (%T) cannot be put in a PFX", b.key)
	}
	return der, nil
}
