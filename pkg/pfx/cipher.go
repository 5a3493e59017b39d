package pfx

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// cipherSpec is how a part of a file is encrypted: RFC 7292's own PBE
// (keys from appendix B with SHA-1, the password as a BMPString), or
// PBES2 (RFC 8018: keys from PBKDF2, the password as UTF-8 bytes).
type cipherSpec struct {
	pbes2      bool
	salt       []byte
	iterations int64
	keyLen     int
	blockSize  int
	newBlock   func(key []byte) (cipher.Block, error)
	prf        crypto.Hash // PBES2's PBKDF2 HMAC
	iv         []byte      // PBES2's
}

// pkcs12Cipher is an RFC 7292 appendix C algorithm's key length and block
// cipher.
type pkcs12Cipher struct {
	keyLen   int
	newBlock func(key []byte) (cipher.Block, error)
}

func newTripleDES(key []byte) (cipher.Block, error) {
	if len(key) == 16 {
		// Two-key 3DES: K1, K2, K1.
		key = append(append([]byte{}, key...), key[:8]...)
	}
	return des.NewTripleDESCipher(key)
}

func newRC2(key []byte) (cipher.Block, error) { return newRC2Cipher(key, 8*len(key)), nil }

var pkcs12Ciphers = []struct {
	oid asn1.ObjectIdentifier
	pkcs12Cipher
}{
	{oidSHAAnd3KeyDESEDE, pkcs12Cipher{24, newTripleDES}},
	{oidSHAAnd2KeyDESEDE, pkcs12Cipher{16, newTripleDES}},
	{oidSHAAnd40BitRC2, pkcs12Cipher{5, newRC2}},
	{oidSHAAnd128BitRC2, pkcs12Cipher{16, newRC2}},
}

// parseCipher reads an encryption AlgorithmIdentifier's parameters.
func parseCipher(a algorithm) (cipherSpec, error) {
	if a.oid.Equal(oidPBES2) {
		return parsePBES2(a.params)
	}
	for _, c := range pkcs12Ciphers {
		if a.oid.Equal(c.oid) {
			spec := cipherSpec{keyLen: c.keyLen, blockSize: 8, newBlock: c.newBlock}
			var seq cryptobyte.String
			p := a.params
			if !p.ReadASN1(&seq, cbasn1.SEQUENCE) || !p.Empty() || !seq.ReadASN1Bytes(&spec.salt, cbasn1.OCTET_STRING) {
				return spec, errStructure
			}
			var err error
			if spec.iterations, err = readCount(&seq); err != nil {
				return spec, err
			}
			if !seq.Empty() {
				return spec, errStructure
			}
			return spec, nil
		}
	}
	return cipherSpec{}, refuse(Unsupported, "it is encrypted with an algorithm this task does not read (it reads 3DES, RC2 and PBES2 with AES or 3DES)")
}

// parsePBES2 reads PBES2-params: PBKDF2, then AES-CBC or DES-EDE3-CBC.
func parsePBES2(params cryptobyte.String) (cipherSpec, error) {
	var seq cryptobyte.String
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() {
		return cipherSpec{}, errStructure
	}
	kdf, ok1 := readAlgorithm(&seq)
	enc, ok2 := readAlgorithm(&seq)
	if !ok1 || !ok2 || !seq.Empty() {
		return cipherSpec{}, errStructure
	}
	spec := cipherSpec{pbes2: true, blockSize: aes.BlockSize}
	switch {
	case enc.oid.Equal(oidAES128CBC):
		spec.keyLen = 16
	case enc.oid.Equal(oidAES192CBC):
		spec.keyLen = 24
	case enc.oid.Equal(oidAES256CBC):
		spec.keyLen = 32
	case enc.oid.Equal(oidDESEDE3CBC):
		spec.keyLen, spec.blockSize = 24, des.BlockSize
	default:
		return spec, refuse(Unsupported, "it is encrypted with a PBES2 cipher this task does not read (it reads AES-CBC and DES-EDE3-CBC)")
	}
	spec.newBlock = aes.NewCipher
	if spec.blockSize == des.BlockSize {
		spec.newBlock = des.NewTripleDESCipher
	}
	if !enc.params.ReadASN1Bytes(&spec.iv, cbasn1.OCTET_STRING) || !enc.params.Empty() || len(spec.iv) != spec.blockSize {
		return spec, errStructure
	}
	if !kdf.oid.Equal(oidPBKDF2) {
		return spec, refuse(Unsupported, "its PBES2 key derivation is not PBKDF2")
	}
	p, err := parsePBKDF2(kdf.params)
	if err == nil && p.keyLen != 0 && p.keyLen != spec.keyLen {
		err = errStructure
	}
	spec.salt, spec.iterations, spec.prf = p.salt, p.iterations, p.prf
	return spec, err
}

// pbkdf2Params are PBKDF2-params; keyLen is 0 when they do not state it.
type pbkdf2Params struct {
	salt       []byte
	iterations int64
	keyLen     int
	prf        crypto.Hash
}

func parsePBKDF2(params cryptobyte.String) (pbkdf2Params, error) {
	var seq cryptobyte.String
	p := pbkdf2Params{prf: crypto.SHA1} // the DEFAULT
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() {
		return p, errStructure
	}
	if !seq.ReadASN1Bytes(&p.salt, cbasn1.OCTET_STRING) {
		return p, refuse(Unsupported, "its PBKDF2 salt is not an OCTET STRING")
	}
	var err error
	if p.iterations, err = readCount(&seq); err != nil {
		return p, err
	}
	if seq.PeekASN1Tag(cbasn1.INTEGER) {
		var n int64
		if !seq.ReadASN1Integer(&n) || n <= 0 || n > 64 {
			return p, errStructure
		}
		p.keyLen = int(n)
	}
	if !seq.Empty() {
		a, ok := readAlgorithm(&seq)
		if !ok || !seq.Empty() || !a.noParams() {
			return p, errStructure
		}
		if p.prf = hmacHash(a.oid); p.prf == 0 {
			return p, refuse(Unsupported, "its PBKDF2 uses an HMAC this task does not read (it reads HMAC with SHA-1 and SHA-2)")
		}
	}
	return p, nil
}

func hmacHash(oid asn1.ObjectIdentifier) crypto.Hash {
	for _, h := range []struct {
		oid  asn1.ObjectIdentifier
		hash crypto.Hash
	}{
		{oidHMACWithSHA1, crypto.SHA1}, {oidHMACWithSHA224, crypto.SHA224}, {oidHMACWithSHA256, crypto.SHA256},
		{oidHMACWithSHA384, crypto.SHA384}, {oidHMACWithSHA512, crypto.SHA512},
	} {
		if oid.Equal(h.oid) {
			return h.hash
		}
	}
	return 0
}

// cost is the work of one decryption, for the check made before any.
func (c cipherSpec) cost() int64 {
	if c.pbes2 {
		return c.iterations * 2 * units(c.prf, c.keyLen)
	}
	return c.iterations * (units(crypto.SHA1, c.keyLen) + units(crypto.SHA1, c.blockSize))
}

// usesBMP reports whether the two forms of the empty password give two
// keys: PBES2 takes the password as UTF-8, where both are zero bytes.
func (c cipherSpec) usesBMP() bool { return !c.pbes2 }

func (c cipherSpec) keyIV(m *meter, password []byte) (key, iv []byte, err error) {
	if c.pbes2 {
		key, err = m.pbkdf2Key(c.prf, nil, c.salt, c.iterations, c.keyLen)
		return key, c.iv, err
	}
	if key, err = m.derive(crypto.SHA1, purposeKey, password, c.salt, c.iterations, c.keyLen); err != nil {
		return nil, nil, err
	}
	iv, err = m.derive(crypto.SHA1, purposeIV, password, c.salt, c.iterations, c.blockSize)
	return key, iv, err
}

// decrypt decrypts data with password; ok is false when the padding shows
// that the key is wrong.
func (c cipherSpec) decrypt(m *meter, password, data []byte) (plain []byte, ok bool, err error) {
	if len(data) == 0 || len(data)%c.blockSize != 0 {
		return nil, false, refuse(Malformed, "an encrypted part of it is not a whole number of cipher blocks")
	}
	key, iv, err := c.keyIV(m, password)
	if err != nil {
		return nil, false, err
	}
	block, err := c.newBlock(key)
	if err != nil {
		return nil, false, refuse(Malformed, "an encrypted part of it has a key the cipher refuses")
	}
	plain = make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > c.blockSize {
		return nil, false, nil
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, false, nil
		}
	}
	return plain[:len(plain)-pad], true, nil
}

// encrypt pads and encrypts plain with password (RFC 7292 PBE only: what
// Encode writes).
func (c cipherSpec) encrypt(m *meter, password, plain []byte) ([]byte, error) {
	key, iv, err := c.keyIV(m, password)
	if err != nil {
		return nil, err
	}
	block, err := c.newBlock(key)
	if err != nil {
		return nil, err
	}
	pad := c.blockSize - len(plain)%c.blockSize
	out := append(append([]byte{}, plain...), make([]byte, pad)...)
	for i := len(plain); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, out)
	return out, nil
}
