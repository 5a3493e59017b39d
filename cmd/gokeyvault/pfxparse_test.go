package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
)

// This file reads a PFX with the empty password independently of the
// product's code, to check what a written file holds byte for byte: the
// PKCS#8 bytes of each key bag (decrypted) and the DER of each
// certificate. It knows the two encryptions PFX files here use:
// pbeWithSHAAnd3-KeyTripleDES-CBC (Key Vault's, and LegacyDES) and PBES2
// with PBKDF2 and AES-CBC (OpenSSL 3's default). The MAC is openssl's to
// check (openssl pkcs12 -info).

// pfxContents is what a PFX holds, in bag order.
type pfxContents struct {
	Keys  [][]byte // PKCS#8 PrivateKeyInfo, as stored
	Certs [][]byte // DER
}

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidPBE3DES       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBES2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES128CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
)

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

type p12EncryptedData struct {
	Version int
	Info    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     []byte `asn1:"tag:0,optional"`
	}
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

type p12EncryptedKey struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type p12CertBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

// readPFXBags returns what der holds, decrypted with the empty password.
func readPFXBags(der []byte) (pfxContents, error) {
	var out pfxContents
	var pfx p12PFX
	if err := strictUnmarshal(der, &pfx); err != nil {
		return out, fmt.Errorf("PFX: %w", err)
	}
	var authSafe []byte
	if err := strictUnmarshal(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return out, fmt.Errorf("authenticated safe: %w", err)
	}
	var infos []p12ContentInfo
	if err := strictUnmarshal(authSafe, &infos); err != nil {
		return out, fmt.Errorf("authenticated safe items: %w", err)
	}
	for _, ci := range infos {
		var safe []byte
		switch {
		case ci.ContentType.Equal(oidData):
			if err := strictUnmarshal(ci.Content.Bytes, &safe); err != nil {
				return out, fmt.Errorf("data item: %w", err)
			}
		case ci.ContentType.Equal(oidEncryptedData):
			var ed p12EncryptedData
			if err := strictUnmarshal(ci.Content.Bytes, &ed); err != nil {
				return out, fmt.Errorf("encrypted item: %w", err)
			}
			var err error
			if safe, err = pbeDecrypt(ed.Info.Algorithm, ed.Info.Content); err != nil {
				return out, fmt.Errorf("encrypted item: %w", err)
			}
		default:
			return out, fmt.Errorf("authenticated safe item of type %v", ci.ContentType)
		}
		if err := readBags(safe, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

func readBags(safe []byte, out *pfxContents) error {
	var bags []p12SafeBag
	if err := strictUnmarshal(safe, &bags); err != nil {
		return fmt.Errorf("safe contents: %w", err)
	}
	for _, b := range bags {
		switch {
		case b.ID.Equal(oidKeyBag):
			out.Keys = append(out.Keys, b.Value.Bytes)
		case b.ID.Equal(oidShroudedBag):
			var ek p12EncryptedKey
			if err := strictUnmarshal(b.Value.Bytes, &ek); err != nil {
				return fmt.Errorf("shrouded key bag: %w", err)
			}
			key, err := pbeDecrypt(ek.Algorithm, ek.Data)
			if err != nil {
				return fmt.Errorf("shrouded key bag: %w", err)
			}
			out.Keys = append(out.Keys, key)
		case b.ID.Equal(oidCertBag):
			var cb p12CertBag
			if err := strictUnmarshal(b.Value.Bytes, &cb); err != nil {
				return fmt.Errorf("certificate bag: %w", err)
			}
			out.Certs = append(out.Certs, cb.Data)
		default:
			return fmt.Errorf("bag of type %v", b.ID)
		}
	}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	rest, err := asn1.Unmarshal(b, v)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d bytes after the value", len(rest))
	}
	return err
}

// pbeDecrypt decrypts data with the empty password.
func pbeDecrypt(alg pkix.AlgorithmIdentifier, data []byte) ([]byte, error) {
	switch {
	case alg.Algorithm.Equal(oidPBE3DES):
		var p struct {
			Salt       []byte
			Iterations int
		}
		if err := strictUnmarshal(alg.Parameters.FullBytes, &p); err != nil {
			return nil, err
		}
		// An empty password is either zero bytes (Key Vault's PFX: its MAC
		// verifies with nothing else) or the BMPString terminator alone.
		var failed error
		for _, pass := range [][]byte{{}, {0, 0}} {
			block, err := des.NewTripleDESCipher(pkcs12KDF(pass, p.Salt, 1, p.Iterations, 24))
			if err != nil {
				return nil, err
			}
			plain, err := cbcDecrypt(block, pkcs12KDF(pass, p.Salt, 2, p.Iterations, 8), data)
			if err == nil {
				return plain, nil
			}
			failed = err
		}
		return nil, failed
	case alg.Algorithm.Equal(oidPBES2):
		block, iv, err := pbes2Cipher(alg.Parameters.FullBytes)
		if err != nil {
			return nil, err
		}
		return cbcDecrypt(block, iv, data)
	}
	return nil, fmt.Errorf("encryption %v", alg.Algorithm)
}

// cbcDecrypt decrypts and unpads data, which must be one DER value.
func cbcDecrypt(block cipher.Block, iv, data []byte) ([]byte, error) {
	if len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("ciphertext of %d bytes", len(data))
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	n := int(plain[len(plain)-1])
	if n < 1 || n > block.BlockSize() || !bytes.Equal(plain[len(plain)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, fmt.Errorf("bad padding: not the empty password")
	}
	var v asn1.RawValue
	if err := strictUnmarshal(plain[:len(plain)-n], &v); err != nil {
		return nil, fmt.Errorf("decrypted, not one DER value: not the empty password")
	}
	return plain[:len(plain)-n], nil
}

func pbes2Cipher(params []byte) (cipher.Block, []byte, error) {
	var p struct {
		KDF pkix.AlgorithmIdentifier
		Enc pkix.AlgorithmIdentifier
	}
	if err := strictUnmarshal(params, &p); err != nil {
		return nil, nil, err
	}
	var kp struct {
		Salt       []byte
		Iterations int
		KeyLength  int                      `asn1:"optional"`
		PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, nil, fmt.Errorf("PBES2 key derivation %v", p.KDF.Algorithm)
	}
	if err := strictUnmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, nil, err
	}
	var h func() hash.Hash = sha1.New
	if kp.PRF.Algorithm.Equal(oidHMACSHA256) {
		h = sha256.New
	}
	size := 32
	if p.Enc.Algorithm.Equal(oidAES128CBC) {
		size = 16
	} else if !p.Enc.Algorithm.Equal(oidAES256CBC) {
		return nil, nil, fmt.Errorf("PBES2 encryption %v", p.Enc.Algorithm)
	}
	var iv []byte
	if err := strictUnmarshal(p.Enc.Parameters.FullBytes, &iv); err != nil {
		return nil, nil, err
	}
	key, err := pbkdf2.Key(h, "", kp.Salt, kp.Iterations, size)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	return block, iv, err
}

// pkcs12KDF is RFC 7292 appendix B.2 with SHA-1 (u = 20, v = 64).
func pkcs12KDF(pass, salt []byte, id byte, iterations, size int) []byte {
	const v = 64 // SHA-1's block size
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, v*((len(b)+v-1)/v))
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	d := bytes.Repeat([]byte{id}, v)
	in := append(fill(salt), fill(pass)...)
	var out []byte
	for len(out) < size {
		h := sha1.New()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for i := 1; i < iterations; i++ {
			s := sha1.Sum(a)
			a = s[:]
		}
		out = append(out, a...)
		b := fill(a)
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				s := int(in[j+k]) + int(b[k]) + carry
				in[j+k], carry = byte(s), s>>8
			}
		}
	}
	return out[:size]
}
