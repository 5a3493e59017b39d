package certformat

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// fromPEM converts a PEM value. A value with no block at all is refused
// even for PEM output, so that a mislabelled secret fails here, naming the
// cause, rather than in the step that reads the file.
func fromPEM(value string, f Format) (File, error) {
	if block, _ := pem.Decode([]byte(value)); block == nil {
		return File{}, errors.New("the value holds no complete PEM block (a BEGIN line, base64, then the matching END line)")
	}
	if f == PEM {
		// As stored: Key Vault's PEM is already key first, then the chain
		// leaf first, and rewriting it would drop what a reader may want
		// (comments, other blocks).
		return File{Data: []byte(value), NoKey: certificatesAlone(value)}, nil
	}
	b, err := readPEM(value)
	if err != nil {
		return File{}, err
	}
	return encodePFX(b)
}

// certificatesAlone reports whether a PEM value holds certificates and no
// private key in any form.
func certificatesAlone(value string) bool {
	certs := false
	for rest := []byte(value); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return certs
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return false
		}
		certs = certs || block.Type == "CERTIFICATE"
	}
}

// pemContents is what a PEM value holds, as far as a PFX cares: PKCS#8
// keys and DER certificates.
type pemContents struct {
	keys  [][]byte
	certs [][]byte
	found blockCounts
}

// readPEM reads every block, so that a key after its certificates, or a
// chain in any order, still makes a PFX.
func readPEM(value string) (bundle, error) {
	var c pemContents
	rest := []byte(value)
	for n := 1; ; n++ {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if err := c.add(block, n); err != nil {
			return bundle{}, err
		}
	}
	switch {
	case len(c.keys) > 1:
		return bundle{}, fmt.Errorf("the PEM holds %d private keys; a PFX holds one", len(c.keys))
	case len(c.certs) == 0 && len(c.keys) == 1:
		return bundle{}, errors.New("the PEM holds a private key but no certificate")
	case len(c.certs) == 0:
		return bundle{}, fmt.Errorf("the PEM holds no certificate and no private key (found %s); a PFX needs a certificate", c.found)
	case len(c.keys) == 0:
		// A certificate whose key Key Vault may not export.
		return bundle{certs: c.certs}, nil
	}
	return newBundle(c.keys[0], c.certs, -1)
}

// add reads the n-th block. Parse errors are not passed on: crypto/x509's
// can quote what they read (a malformed name or URI in a certificate).
func (c *pemContents) add(block *pem.Block, n int) error {
	c.found.add(block.Type)
	if isEncryptedKey(block) {
		return errors.New("the PEM's private key is encrypted; a PFX written here has no password, so the key must be stored decrypted")
	}
	switch block.Type {
	case "CERTIFICATE":
		if !isCertificate(block.Bytes) {
			return fmt.Errorf("the PEM's block %d (CERTIFICATE) is not an X.509 certificate", n)
		}
		c.certs = append(c.certs, block.Bytes)
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		key, err := pkcs8Of(block)
		if err != nil {
			return fmt.Errorf("the PEM's block %d (%s) is not a %s", n, block.Type, keyEncoding(block.Type))
		}
		c.keys = append(c.keys, key)
	default:
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return fmt.Errorf("the PEM's block %d holds a private key in a form this task cannot read (it reads PRIVATE KEY, RSA PRIVATE KEY and EC PRIVATE KEY blocks)", n)
		}
	}
	return nil
}

func isEncryptedKey(block *pem.Block) bool {
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return true
	}
	// OpenSSL's traditional encryption of PKCS#1 and SEC1 keys, marked in
	// the headers rather than in the type.
	return strings.HasSuffix(block.Type, "PRIVATE KEY") && strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
}

// pkcs8Of is a key block's PKCS#8 bytes: a PRIVATE KEY block's own, moved
// as they are (whatever the key's algorithm); a PKCS#1 or SEC1 key's
// re-encoded, which needs crypto/x509 to read it.
func pkcs8Of(block *pem.Block) ([]byte, error) {
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		if !isPKCS8(block.Bytes) {
			return nil, errors.New("not PKCS#8")
		}
		return block.Bytes, nil
	}
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKCS8PrivateKey(key)
}

func keyEncoding(blockType string) string {
	switch blockType {
	case "RSA PRIVATE KEY":
		return "PKCS#1 RSA private key"
	case "EC PRIVATE KEY":
		return "SEC1 EC private key"
	}
	return "PKCS#8 private key"
}

// blockCounts counts PEM blocks by type, in the order the types first came.
// Only the types listed in namedBlockType are named: a block's type is part
// of the value, and any other could be anything.
type blockCounts struct {
	named []typeCount
	other int
}

type typeCount struct {
	typ string
	n   int
}

func (c *blockCounts) add(typ string) {
	if !namedBlockType(typ) {
		c.other++
		return
	}
	for i := range c.named {
		if c.named[i].typ == typ {
			c.named[i].n++
			return
		}
	}
	c.named = append(c.named, typeCount{typ, 1})
}

func namedBlockType(typ string) bool {
	switch typ {
	case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST",
		"PUBLIC KEY", "RSA PUBLIC KEY", "EC PARAMETERS", "DH PARAMETERS", "PKCS7":
		return true
	}
	return false
}

// String describes the counts, as in "2 CERTIFICATE blocks and 1 block of
// another type".
func (c blockCounts) String() string {
	var parts []string
	for _, tc := range c.named {
		parts = append(parts, fmt.Sprintf("%d %s %s", tc.n, tc.typ, plural(tc.n, "block", "blocks")))
	}
	if c.other > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", c.other, plural(c.other, "block of another type", "blocks of other types")))
	}
	switch len(parts) {
	case 0:
		return "no PEM block"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
