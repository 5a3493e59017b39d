package pfx

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// What Encode writes: Key Vault's own choices.
const (
	writeIterations = 2000
	pbeSaltLen      = 8
	macSaltLen      = 20
)

// keyVaultKeyID is the localKeyID Key Vault gives a key and its
// certificate.
var keyVaultKeyID = []byte{1, 0, 0, 0}

// Encode writes a PFX with the empty password in Key Vault's own layout:
// the certificates, leaf first, in an encryptedData, and the key (PKCS#8
// bytes; nil for none) in a pkcs8ShroudedKeyBag; 3DES (RFC 7292's
// pbeWithSHAAnd3-KeyTripleDES-CBC) for both, an HMAC-SHA-1 MAC, 2,000
// iterations, the password as zero bytes, and localKeyID 01 00 00 00 on
// the key and the leaf. OpenSSL 1.x and 3.x (without -legacy), Windows,
// Java and macOS read that, as they read Key Vault's own files. Key Vault
// puts the key's part first; the certificates' come first here, as
// OpenSSL and go-pkcs12 write them (no reader cares), so that openssl
// prints a written file's certificates before its key, as it always did.
func Encode(key []byte, certs [][]byte) ([]byte, error) {
	return encode(key, certs, writeIterations)
}

// encode is Encode with another count (fewer make cheap fuzzing seeds).
func encode(key []byte, certs [][]byte, iterations int64) ([]byte, error) {
	m := &meter{ctx: context.Background(), left: MaxWork}
	safe, err := certSafe(m, certs, key != nil, iterations)
	if err != nil {
		return nil, err
	}
	items := [][]byte{safe}
	if key != nil {
		if safe, err = keySafe(m, key, iterations); err != nil {
			return nil, err
		}
		items = append(items, safe)
	}
	authSafe, err := build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, it := range items {
				b.AddBytes(it)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	salt := random(macSaltLen)
	macKey, err := m.derive(crypto.SHA1, purposeMAC, zeroLength, salt, iterations, crypto.SHA1.Size())
	if err != nil {
		return nil, err
	}
	mac := hmac.New(crypto.SHA1.New, macKey)
	mac.Write(authSafe)
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(3)
			addContentInfo(b, oidData, func(b *cryptobyte.Builder) { b.AddASN1OctetString(authSafe) })
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					// SHA-1 without parameters, as Key Vault writes it.
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSHA1) })
					b.AddASN1OctetString(mac.Sum(nil))
				})
				b.AddASN1OctetString(salt)
				b.AddASN1Int64(iterations)
			})
		})
	})
}

// keySafe is the data ContentInfo that holds the key, encrypted.
func keySafe(m *meter, key []byte, iterations int64) ([]byte, error) {
	spec, alg := writeCipher(iterations)
	data, err := spec.encrypt(m, zeroLength, key)
	if err != nil {
		return nil, err
	}
	epki, err := build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			alg(b)
			b.AddASN1OctetString(data)
		})
	})
	if err != nil {
		return nil, err
	}
	contents, err := safeContents([]safeBag{{oidShroudedKeyBag, epki, keyVaultKeyID}})
	if err != nil {
		return nil, err
	}
	return build(func(b *cryptobyte.Builder) {
		addContentInfo(b, oidData, func(b *cryptobyte.Builder) { b.AddASN1OctetString(contents) })
	})
}

// certSafe is the encryptedData ContentInfo that holds the certificates;
// the first has the key's localKeyID when there is a key.
func certSafe(m *meter, certs [][]byte, withKey bool, iterations int64) ([]byte, error) {
	var bags []safeBag
	for i, der := range certs {
		value, err := build(func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidX509Certificate)
				b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(der) })
			})
		})
		if err != nil {
			return nil, err
		}
		bag := safeBag{oid: oidCertBag, value: value}
		if i == 0 && withKey {
			bag.keyID = keyVaultKeyID
		}
		bags = append(bags, bag)
	}
	contents, err := safeContents(bags)
	if err != nil {
		return nil, err
	}
	spec, alg := writeCipher(iterations)
	data, err := spec.encrypt(m, zeroLength, contents)
	if err != nil {
		return nil, err
	}
	return build(func(b *cryptobyte.Builder) {
		addContentInfo(b, oidEncryptedData, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(0)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidData)
					alg(b)
					b.AddASN1(implicit0, func(b *cryptobyte.Builder) { b.AddBytes(data) })
				})
			})
		})
	})
}

type safeBag struct {
	oid   asn1.ObjectIdentifier
	value []byte // the bag's value, DER
	keyID []byte // nil: no attributes
}

func safeContents(bags []safeBag) ([]byte, error) {
	return build(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, bag := range bags {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(bag.oid)
					b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddBytes(bag.value) })
					if bag.keyID != nil {
						addKeyID(b, bag.keyID)
					}
				})
			}
		})
	})
}

func addKeyID(b *cryptobyte.Builder, id []byte) {
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidLocalKeyID)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1OctetString(id) })
		})
	})
}

func addContentInfo(b *cryptobyte.Builder, typ asn1.ObjectIdentifier, content func(*cryptobyte.Builder)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(typ)
		b.AddASN1(explicit0, content)
	})
}

// writeCipher is a fresh pbeWithSHAAnd3-KeyTripleDES-CBC with its own
// salt, and the AlgorithmIdentifier that names it.
func writeCipher(iterations int64) (cipherSpec, func(*cryptobyte.Builder)) {
	spec := cipherSpec{salt: random(pbeSaltLen), iterations: iterations, keyLen: 24, blockSize: 8, newBlock: newTripleDES}
	return spec, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidSHAAnd3KeyDESEDE)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(spec.salt)
				b.AddASN1Int64(iterations)
			})
		})
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails (Go 1.24 and later).
	_, _ = rand.Read(b)
	return b
}

func build(f func(*cryptobyte.Builder)) ([]byte, error) {
	b := cryptobyte.NewBuilder(nil)
	f(b)
	return b.Bytes()
}
