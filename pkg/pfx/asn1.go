package pfx

import (
	"encoding/asn1"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of RFC 7292 (PKCS#12), RFC 8018 (PKCS#5), RFC 9579
// (PBMAC1), PKCS#7 and PKCS#9.
var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}

	oidKeyBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidSafeContentsBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 6}
	oidX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidLocalKeyID      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}

	oidSHAAnd128BitRC2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidSHAAnd40BitRC2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidSHAAnd3KeyDESEDE = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidSHAAnd2KeyDESEDE = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}

	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}

	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// explicit0 is the [0] EXPLICIT tag of ContentInfo's and SafeBag's
// content; implicit0 the [0] IMPLICIT OCTET STRING of an encrypted
// content.
var (
	explicit0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	implicit0 = cbasn1.Tag(0).ContextSpecific()
)

// algorithm is an AlgorithmIdentifier: its OID and its parameters' bytes
// (empty when absent).
type algorithm struct {
	oid    asn1.ObjectIdentifier
	params cryptobyte.String
}

func readAlgorithm(s *cryptobyte.String) (algorithm, bool) {
	var seq cryptobyte.String
	var a algorithm
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.oid) {
		return a, false
	}
	a.params = seq
	return a, true
}

// noParams reports whether an algorithm's parameters are absent or NULL,
// as they are for a digest or an HMAC.
func (a algorithm) noParams() bool {
	p := a.params
	return p.Empty() || (p.SkipASN1(cbasn1.NULL) && p.Empty())
}

// readCount reads an iteration count: at least 1, and refused above
// MaxIterations before any work, whatever its size.
func readCount(s *cryptobyte.String) (int64, error) {
	n := new(big.Int)
	if !s.ReadASN1Integer(n) || n.Sign() <= 0 {
		return 0, errStructure
	}
	if !n.IsInt64() || n.Int64() > MaxIterations {
		return 0, errCount
	}
	return n.Int64(), nil
}

// isSequence reports whether der is exactly one DER SEQUENCE.
func isSequence(der []byte) bool {
	s := cryptobyte.String(der)
	return s.SkipASN1(cbasn1.SEQUENCE) && s.Empty()
}
