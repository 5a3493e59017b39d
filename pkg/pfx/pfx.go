// Package pfx reads and writes PKCS#12 (PFX) files (RFC 7292) as
// containers: the private key comes out as the PKCS#8 bytes the file holds
// and each certificate as its DER bytes, and they go in the same way,
// neither parsed. So a key or a certificate of any algorithm moves,
// including the ones crypto/x509 cannot parse, such as Key Vault's
// secp256k1 (P-256K) keys and certificates with explicit curve parameters.
//
// Files are read with the empty password, the only one a Key Vault
// certificate has, in both forms real files use: zero bytes, as Key Vault
// and Windows derive keys from it, and the two-byte BMPString terminator,
// as OpenSSL does for -passout pass:.
//
// A file names its own cost: every key derivation repeats a hash as many
// times as the file says. Each such count is capped at MaxIterations and the
// derivations of one file at MaxWork, checked before the work is done, so a
// hostile file fails fast instead of running for hours.
//
// Errors hold fixed text, never a byte of the file.
package pfx

import (
	"context"
	"errors"
)

// Limits on what one file may ask for. Key Vault, Windows and OpenSSL
// write 2,000 or 2,048 iterations, Java 10,000.
const (
	// MaxIterations caps each iteration count a file names (its MAC's,
	// each encryption's).
	MaxIterations = 1_000_000
	// MaxWork caps the hashing all of a file's derivations take together,
	// counted in 64-byte hash blocks (a SHA-512 block counts two): about
	// 0.75 s at SHA-1's speed on a current x86 core.
	MaxWork = 3_000_000
	// maxItems caps the parts of a file's authenticated safe (Key Vault,
	// OpenSSL and Windows write two), maxBags its bags (one per key or
	// certificate).
	maxItems = 32
	maxBags  = 256
)

// Contents is what a file holds, in its order.
type Contents struct {
	Keys  []Key
	Certs []Cert
}

// Key is a private key: its PKCS#8 PrivateKeyInfo bytes as the file holds
// them, and the localKeyID attribute that names its certificate (nil if
// none).
type Key struct {
	PKCS8      []byte
	LocalKeyID []byte
}

// Cert is an X.509 certificate's DER bytes and its localKeyID attribute.
type Cert struct {
	DER        []byte
	LocalKeyID []byte
}

// Kind is why a file was refused.
type Kind int

const (
	// Malformed: not a DER-encoded PFX, or a part of it is not what its
	// type says.
	Malformed Kind = iota + 1
	// Unsupported: a layout or an algorithm this package does not read.
	Unsupported
	// Password: the MAC does not verify with the empty password and the
	// contents do not decrypt with it: the file has a password.
	Password
	// Integrity: the MAC does not verify with the empty password, yet the
	// contents decrypt with it: the file was damaged or altered.
	Integrity
	// Undecryptable: the MAC verifies, but a part does not decrypt.
	Undecryptable
	// TooCostly: an iteration count or the file's work is above the limits.
	TooCostly
)

// Error is a file refused: its kind, and a reason in fixed words.
type Error struct {
	Kind   Kind
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func refuse(kind Kind, reason string) error { return &Error{Kind: kind, Reason: reason} }

// KindOf is err's Kind, or 0 when err is not an *Error (a canceled
// context).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

var (
	errStructure = refuse(Malformed, "its ASN.1 structure is not that of a DER-encoded PFX")
	errCount     = refuse(TooCostly, "an iteration count in it is above the 1,000,000 this task allows (Key Vault writes 2,000)")
	errWork      = refuse(TooCostly, "its key derivations together ask for more hashing than this task allows (its iteration counts add up to more than about 3,000,000)")
	errParts     = refuse(TooCostly, "it has more parts or bags than this task reads (32 parts, 256 bags)")
)

// The empty password in its two forms (RFC 7292 appendix B.1 writes a
// password as a BMPString with a two-byte terminator; Key Vault and
// Windows derive from zero bytes).
var (
	zeroLength = []byte{}
	terminator = []byte{0, 0}
)

// Decode reads der, checks its MAC with the empty password and returns its
// keys and certificates. ctx stops it between derivations.
func Decode(ctx context.Context, der []byte) (Contents, error) {
	return decode(ctx, der, MaxWork)
}

// decode is Decode with a budget of work (a smaller one lets a fuzzer try
// more files).
func decode(ctx context.Context, der []byte, budget int64) (Contents, error) {
	f, err := parse(der)
	if err != nil {
		return Contents{}, err
	}
	if f.cost() > budget {
		return Contents{}, errWork
	}
	m := &meter{ctx: ctx, left: budget}
	forms, verified, err := f.verifyMAC(m)
	if err != nil {
		return Contents{}, err
	}
	c, err := f.contents(m, forms)
	if verified {
		return c, err
	}
	return Contents{}, macFailure(err)
}

// macFailure says why a MAC failed, from what reading the contents with
// the empty password gave: contents that decrypt were altered after the
// MAC was made; contents that do not have a password.
func macFailure(contentsErr error) error {
	switch KindOf(contentsErr) {
	case 0:
		if contentsErr != nil {
			return contentsErr // canceled
		}
		return refuse(Integrity, "its integrity check failed (the MAC does not verify, though its contents decrypt with the empty password)")
	case Malformed:
		return refuse(Integrity, "its integrity check failed (the MAC does not verify, and its contents are damaged)")
	}
	return refuse(Password, "the MAC does not verify with the empty password")
}
