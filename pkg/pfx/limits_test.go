package pfx

import (
	"context"
	"crypto"
	"crypto/hmac"
	"errors"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A file names its own cost. These tests build files that ask for too
// much, or for as much as is allowed, and check what is refused before
// any work, and how long the most a file may ask for takes.

// hostile is a PFX under construction: the authenticated safe's items and
// the MAC, each written as the test says.
type hostile struct {
	items [][]byte
	mac   func(b *cryptobyte.Builder, authSafe []byte)
}

func (h hostile) build(t testing.TB) []byte {
	t.Helper()
	authSafe := mustBuild(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, it := range h.items {
				b.AddBytes(it)
			}
		})
	})
	return mustBuild(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(3)
			addContentInfo(b, oidData, func(b *cryptobyte.Builder) { b.AddASN1OctetString(authSafe) })
			if h.mac != nil {
				h.mac(b, authSafe)
			}
		})
	})
}

func mustBuild(t testing.TB, f func(*cryptobyte.Builder)) []byte {
	t.Helper()
	der, err := build(f)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// sha1MAC is an RFC 7292 MAC with SHA-1 and the given count; right is
// whether its digest is the right one for the zero-length password (else
// it is zeros, as a file with a password or an altered one has).
func sha1MAC(t testing.TB, iterations *big.Int, right bool) func(*cryptobyte.Builder, []byte) {
	return func(b *cryptobyte.Builder, authSafe []byte) {
		salt := make([]byte, 8)
		digest := make([]byte, 20)
		if right {
			m := &meter{ctx: context.Background(), left: MaxWork}
			key, err := m.derive(crypto.SHA1, purposeMAC, zeroLength, salt, iterations.Int64(), 20)
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(crypto.SHA1.New, key)
			mac.Write(authSafe)
			digest = mac.Sum(nil)
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSHA1) })
				b.AddASN1OctetString(digest)
			})
			b.AddASN1OctetString(salt)
			b.AddASN1BigInt(iterations)
		})
	}
}

// certsItem is a data item holding n certificate bags in the clear.
func certsItem(t testing.TB, cert []byte, n int) []byte {
	t.Helper()
	bags := make([]safeBag, n)
	for i := range bags {
		bags[i] = safeBag{oid: oidCertBag, value: mustBuild(t, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidX509Certificate)
				b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(cert) })
			})
		})}
	}
	contents, err := safeContents(bags)
	if err != nil {
		t.Fatal(err)
	}
	return mustBuild(t, func(b *cryptobyte.Builder) {
		addContentInfo(b, oidData, func(b *cryptobyte.Builder) { b.AddASN1OctetString(contents) })
	})
}

// pbes2Item is an encryptedData item under PBES2 with PBKDF2-HMAC-SHA-1
// and AES-128-CBC with the given count; its ciphertext is noise.
func pbes2Item(t testing.TB, iterations *big.Int) []byte {
	t.Helper()
	return encryptedItem(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPBES2)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidPBKDF2)
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(make([]byte, 8))
						b.AddASN1BigInt(iterations)
					})
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidAES128CBC)
					b.AddASN1OctetString(make([]byte, 16))
				})
			})
		})
	}, make([]byte, 64))
}

// tripleDESItem is an encryptedData item under RFC 7292's 3DES with the
// given count, holding plain encrypted with the zero-length password.
func tripleDESItem(t testing.TB, iterations *big.Int, plain []byte) []byte {
	t.Helper()
	spec := cipherSpec{salt: make([]byte, 8), iterations: iterations.Int64(), keyLen: 24, blockSize: 8, newBlock: newTripleDES}
	data := make([]byte, 64) // noise, for a count no one may derive with
	if spec.iterations <= MaxIterations {
		var err error
		if data, err = spec.encrypt(&meter{ctx: context.Background(), left: MaxWork}, zeroLength, plain); err != nil {
			t.Fatal(err)
		}
	}
	return encryptedItem(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidSHAAnd3KeyDESEDE)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(spec.salt)
				b.AddASN1BigInt(iterations)
			})
		})
	}, data)
}

func encryptedItem(t testing.TB, alg func(*cryptobyte.Builder), data []byte) []byte {
	t.Helper()
	return mustBuild(t, func(b *cryptobyte.Builder) {
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

func n(x int64) *big.Int { return big.NewInt(x) }

func pow2(e uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), e) }

// TestRefusedBeforeAnyWork: a count over the cap, wherever it is and
// however large, and files whose derivations add up to more than MaxWork,
// are refused by parse or by the cost check, before a key is derived.
func TestRefusedBeforeAnyWork(t *testing.T) {
	fx := newFixture(t)
	certs := certsItem(t, fx.cert, 1)
	tests := []struct {
		name string
		h    hostile
		want error
	}{
		{"MAC count 2^62", hostile{[][]byte{certs}, sha1MAC(t, pow2(62), false)}, errCount},
		{"MAC count 2^70, past int64", hostile{[][]byte{certs}, sha1MAC(t, pow2(70), false)}, errCount},
		{"MAC count one over the cap", hostile{[][]byte{certs}, sha1MAC(t, n(MaxIterations+1), false)}, errCount},
		{"PBES2 count 2^62", hostile{[][]byte{pbes2Item(t, pow2(62))}, nil}, errCount},
		{"3DES count 2^24", hostile{[][]byte{tripleDESItem(t, pow2(24), []byte{0x30, 0})}, nil}, errCount},
		{"each count at the cap, the sum over MaxWork", hostile{[][]byte{pbes2Item(t, n(MaxIterations)), pbes2Item(t, n(MaxIterations))}, sha1MAC(t, n(MaxIterations), false)}, errWork},
		{"33 items", hostile{repeat(certs, maxItems+1), nil}, errParts},
		{"257 bags", hostile{[][]byte{certsItem(t, fx.cert, maxBags+1)}, nil}, errParts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der := tt.h.build(t)
			f, err := parse(der)
			if err == nil && f.cost() > MaxWork {
				err = errWork
			}
			if err != tt.want {
				t.Errorf("parse and cost: %v, want %v", err, tt.want)
			}
			start := time.Now()
			if _, err := Decode(context.Background(), der); err != tt.want {
				t.Errorf("Decode: %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Decode took %s to refuse", d)
			}
		})
	}
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestCountInsideEncryptedPart: a count that only decryption reveals (a
// key bag inside an encrypted part) is refused before its own derivation.
func TestCountInsideEncryptedPart(t *testing.T) {
	fx := newFixture(t)
	key := mustBuild(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidSHAAnd3KeyDESEDE)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1OctetString(make([]byte, 8))
					b.AddASN1BigInt(pow2(62))
				})
			})
			b.AddASN1OctetString(make([]byte, 16))
		})
	})
	safe, err := safeContents([]safeBag{{oid: oidShroudedKeyBag, value: key}})
	if err != nil {
		t.Fatal(err)
	}
	der := hostile{[][]byte{certsItem(t, fx.cert, 1), tripleDESItem(t, n(2000), safe)}, sha1MAC(t, n(2000), true)}.build(t)
	if _, err := Decode(context.Background(), der); err != errCount {
		t.Errorf("Decode: %v, want %v", err, errCount)
	}
}

// TestMostWorkAllowed: the costliest file within the limits (a MAC with a
// count at the cap that verifies with neither form of the empty password,
// so both are tried, then a PBES2 part whose derivation takes the rest of
// MaxWork, tried to tell a password from an altered file) spends MaxWork
// and no more, in about a second at most, and is reported as having a
// password.
func TestMostWorkAllowed(t *testing.T) {
	fx := newFixture(t)
	der := hostile{[][]byte{certsItem(t, fx.cert, 1), pbes2Item(t, n(MaxIterations/2))}, sha1MAC(t, n(MaxIterations), false)}.build(t)
	f, err := parse(der)
	if err != nil {
		t.Fatal(err)
	}
	m := &meter{ctx: context.Background(), left: MaxWork}
	start := time.Now()
	_, verified, err := f.verifyMAC(m)
	if err != nil || verified {
		t.Fatalf("verifyMAC: %v, %v", verified, err)
	}
	_, err = f.contents(m, [][]byte{zeroLength, terminator})
	elapsed := time.Since(start)
	if KindOf(err) != Undecryptable || m.left != 0 {
		t.Errorf("contents: %v with %d units of work left, want Undecryptable with none", err, m.left)
	}
	t.Logf("the most work a file may ask for (%d units of 64-byte hash blocks) took %s", MaxWork, elapsed)
	if KindOf(macFailure(err)) != Password {
		t.Errorf("reported as %v", macFailure(err))
	}
	// A bound that catches unbounded work, not a benchmark: the race
	// detector and a loaded machine slow hashing several times over.
	if elapsed > 20*time.Second {
		t.Errorf("took %s", elapsed)
	}
}

// TestCanceled: a canceled context stops a derivation under way, not only
// between derivations.
func TestCanceled(t *testing.T) {
	fx := newFixture(t)
	der := hostile{[][]byte{certsItem(t, fx.cert, 1)}, sha1MAC(t, n(MaxIterations), false)}.build(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(5 * time.Millisecond)
		cancel()
	}()
	if _, err := Decode(ctx, der); !errors.Is(err, context.Canceled) {
		t.Errorf("Decode: %v, want %v", err, context.Canceled)
	}
	if _, err := Decode(ctx, der); !errors.Is(err, context.Canceled) {
		t.Errorf("Decode after the cancel: %v", err)
	}
}

// cancelsLater is a context whose Err is nil at the first look and
// Canceled from the second on: a derivation that starts, then is canceled.
type cancelsLater struct {
	context.Context
	looks int
}

func (c *cancelsLater) Err() error {
	if c.looks++; c.looks > 1 {
		return context.Canceled
	}
	return nil
}

// TestCanceledDuringDerivation: the look at the context inside a
// derivation's loop stops it.
func TestCanceledDuringDerivation(t *testing.T) {
	ctx := &cancelsLater{Context: context.Background()}
	m := &meter{ctx: ctx, left: MaxWork}
	if _, err := m.derive(crypto.SHA1, purposeMAC, zeroLength, nil, MaxIterations, 20); !errors.Is(err, context.Canceled) || ctx.looks != 2 {
		t.Errorf("derive: %v after %d looks at the context, want %v after 2", err, ctx.looks, context.Canceled)
	}
}
