package pfx

import (
	"crypto"
	"crypto/hmac"
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// macData is a PFX's MAC: RFC 7292's (an HMAC keyed by appendix B's
// function from the BMPString password), or PBMAC1's (RFC 9579: keyed by
// PBKDF2 from the UTF-8 password).
type macData struct {
	hash       crypto.Hash
	pbmac1     *pbmac1
	digest     []byte
	salt       []byte
	iterations int64
}

type pbmac1 struct {
	kdf  pbkdf2Params
	hmac crypto.Hash
}

// parseMAC reads a MacData; its iteration count is checked here, before
// any work.
func parseMAC(s *cryptobyte.String) (macData, error) {
	var md, di cryptobyte.String
	var m macData
	if !s.ReadASN1(&md, cbasn1.SEQUENCE) || !md.ReadASN1(&di, cbasn1.SEQUENCE) {
		return m, errStructure
	}
	alg, ok := readAlgorithm(&di)
	if !ok || !di.ReadASN1Bytes(&m.digest, cbasn1.OCTET_STRING) || !di.Empty() || !md.ReadASN1Bytes(&m.salt, cbasn1.OCTET_STRING) {
		return m, errStructure
	}
	if alg.oid.Equal(oidPBMAC1) {
		// RFC 9579: PBMAC1 takes its salt and count from its parameters
		// and ignores MacData's (go-pkcs12 writes a count of 0).
		if !md.SkipOptionalASN1(cbasn1.INTEGER) || !md.Empty() {
			return m, errStructure
		}
		var err error
		m.pbmac1, err = parsePBMAC1(alg.params)
		return m, err
	}
	m.iterations = 1 // the DEFAULT
	var err error
	if !md.Empty() {
		if m.iterations, err = readCount(&md); err != nil {
			return m, err
		}
	}
	if !md.Empty() {
		return m, errStructure
	}
	if m.hash = digestHash(alg.oid); m.hash == 0 {
		return m, refuse(Unsupported, "its MAC uses a digest this task does not read (it reads SHA-1 and SHA-2)")
	}
	if !alg.noParams() {
		return m, errStructure
	}
	return m, nil
}

func digestHash(oid asn1.ObjectIdentifier) crypto.Hash {
	for _, h := range []struct {
		oid  asn1.ObjectIdentifier
		hash crypto.Hash
	}{
		{oidSHA1, crypto.SHA1}, {oidSHA224, crypto.SHA224}, {oidSHA256, crypto.SHA256},
		{oidSHA384, crypto.SHA384}, {oidSHA512, crypto.SHA512},
	} {
		if oid.Equal(h.oid) {
			return h.hash
		}
	}
	return 0
}

// parsePBMAC1 reads PBMAC1-params: PBKDF2 with a stated key length, and an
// HMAC.
func parsePBMAC1(params cryptobyte.String) (*pbmac1, error) {
	var seq cryptobyte.String
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() {
		return nil, errStructure
	}
	kdf, ok1 := readAlgorithm(&seq)
	mac, ok2 := readAlgorithm(&seq)
	if !ok1 || !ok2 || !seq.Empty() || !mac.noParams() {
		return nil, errStructure
	}
	if !kdf.oid.Equal(oidPBKDF2) {
		return nil, refuse(Unsupported, "its PBMAC1 key derivation is not PBKDF2")
	}
	p := &pbmac1{hmac: hmacHash(mac.oid)}
	if p.hmac == 0 {
		return nil, refuse(Unsupported, "its MAC uses an HMAC this task does not read (it reads HMAC with SHA-1 and SHA-2)")
	}
	var err error
	if p.kdf, err = parsePBKDF2(kdf.params); err != nil {
		return nil, err
	}
	// RFC 9579 makes the key length mandatory and recommends refusing one
	// under 20 bytes: a short key makes a MAC easy to forge.
	if p.kdf.keyLen < 20 {
		return nil, refuse(Malformed, "its PBMAC1 key length is missing or too short")
	}
	return p, nil
}

// cost is the work of one verification.
func (m *macData) cost() int64 {
	if m.pbmac1 != nil {
		return m.pbmac1.kdf.iterations * 2 * units(m.pbmac1.kdf.prf, m.pbmac1.kdf.keyLen)
	}
	return m.iterations * units(m.hash, m.hash.Size())
}

// usesBMP reports whether the two forms of the empty password give two
// keys: PBMAC1 takes the password as UTF-8, where both are zero bytes.
func (m *macData) usesBMP() bool { return m.pbmac1 == nil }

// verify reports whether the MAC of authSafe with password matches.
func (m *macData) verify(mt *meter, password, authSafe []byte) (bool, error) {
	var key []byte
	var err error
	h := m.hash
	if m.pbmac1 != nil {
		h = m.pbmac1.hmac
		key, err = mt.pbkdf2Key(m.pbmac1.kdf.prf, nil, m.pbmac1.kdf.salt, m.pbmac1.kdf.iterations, m.pbmac1.kdf.keyLen)
	} else {
		key, err = mt.derive(h, purposeMAC, password, m.salt, m.iterations, h.Size())
	}
	if err != nil {
		return false, err
	}
	mac := hmac.New(h.New, key)
	mac.Write(authSafe)
	return hmac.Equal(mac.Sum(nil), m.digest), nil
}
