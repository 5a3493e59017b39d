package certformat

import (
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The shapes of the DER this package moves without parsing it: enough to
// refuse what is not a key or a certificate at all, without needing to
// understand the key's algorithm.

// isPKCS8 reports whether der is a OneAsymmetricKey (RFC 5958, PKCS#8's
// PrivateKeyInfo and its version 2): a version, an algorithm, the key,
// then optional attributes and public key.
func isPKCS8(der []byte) bool {
	s := cryptobyte.String(der)
	var info cryptobyte.String
	var version int64
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() || !info.ReadASN1Integer(&version) || (version != 0 && version != 1) {
		return false
	}
	var alg cryptobyte.String
	if !info.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) || !info.SkipASN1(cbasn1.OCTET_STRING) {
		return false
	}
	return info.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) &&
		info.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific()) && info.Empty()
}

// isCertificate reports whether der is an X.509 Certificate's outline: the
// to-be-signed part, the signature algorithm and the signature.
func isCertificate(der []byte) bool {
	s := cryptobyte.String(der)
	var cert cryptobyte.String
	return s.ReadASN1(&cert, cbasn1.SEQUENCE) && s.Empty() && cert.SkipASN1(cbasn1.SEQUENCE) &&
		cert.SkipASN1(cbasn1.SEQUENCE) && cert.SkipASN1(cbasn1.BIT_STRING) && cert.Empty()
}
