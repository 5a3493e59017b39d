package pfx

import (
	"context"
	"crypto"
	"crypto/pbkdf2"

	// The hashes a file may name, registered for crypto.Hash.New.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// meter is what is left of a file's work, and the context that may stop
// it.
type meter struct {
	ctx  context.Context
	left int64
}

// spend takes the cost of one derivation before it is made: iterations
// repeats of a hash over blocks 64-byte blocks each.
func (m *meter) spend(iterations, blocks int64) error {
	if err := m.ctx.Err(); err != nil {
		return err
	}
	if iterations > MaxIterations {
		return errCount
	}
	cost := iterations * blocks
	if cost > m.left {
		return errWork
	}
	m.left -= cost
	return nil
}

// units is how many 64-byte blocks one iteration producing n bytes of h
// hashes: a SHA-512 block is 128 bytes.
func units(h crypto.Hash, n int) int64 {
	blocks := (n + h.Size() - 1) / h.Size()
	return int64(blocks * h.New().BlockSize() / 64)
}

// ctxEvery is how many iterations pass between two looks at the context.
const ctxEvery = 1 << 14

// Purposes of RFC 7292 appendix B.3.
const (
	purposeKey byte = 1
	purposeIV  byte = 2
	purposeMAC byte = 3
)

// derive is RFC 7292 appendix B.2: n bytes of key material for purpose
// id from password (the BMPString form) and salt, by iterations repeats of
// h.
func (m *meter) derive(h crypto.Hash, id byte, password, salt []byte, iterations int64, n int) ([]byte, error) {
	if err := m.spend(iterations, units(h, n)); err != nil {
		return nil, err
	}
	hh := h.New()
	v := hh.BlockSize()
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt, v), fill(password, v)...)
	var out []byte
	for len(out) < n {
		hh.Reset()
		hh.Write(d)
		hh.Write(in)
		a := hh.Sum(nil)
		for r := int64(1); r < iterations; r++ {
			if r%ctxEvery == 0 {
				if err := m.ctx.Err(); err != nil {
					return nil, err
				}
			}
			hh.Reset()
			hh.Write(a)
			a = hh.Sum(a[:0])
		}
		out = append(out, a...)
		b := fill(a, v)
		for j := 0; j < len(in); j += v {
			addPlusOne(in[j:j+v], b)
		}
	}
	return out[:n], nil
}

// fill repeats s to the smallest multiple of v bytes that holds it (none
// for an empty s).
func fill(s []byte, v int) []byte {
	if len(s) == 0 {
		return nil
	}
	out := make([]byte, v*((len(s)+v-1)/v))
	for i := range out {
		out[i] = s[i%len(s)]
	}
	return out
}

// addPlusOne sets x to x + y + 1 modulo 2^(8·len(x)), both big-endian and
// of one length.
func addPlusOne(x, y []byte) {
	carry := 1
	for k := len(x) - 1; k >= 0; k-- {
		sum := int(x[k]) + int(y[k]) + carry
		x[k] = byte(sum)
		carry = sum >> 8
	}
}

// pbkdf2Key is PBKDF2 (RFC 8018) with HMAC-prf, metered: each iteration
// hashes two blocks per output block of prf.
func (m *meter) pbkdf2Key(prf crypto.Hash, password, salt []byte, iterations int64, n int) ([]byte, error) {
	if err := m.spend(iterations, 2*units(prf, n)); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(prf.New, string(password), salt, int(iterations), n)
	if err != nil {
		// Only FIPS 140-only mode refuses parameters; say so in our words.
		return nil, refuse(Unsupported, "its PBKDF2 parameters are refused in FIPS 140-only mode")
	}
	return key, nil
}
