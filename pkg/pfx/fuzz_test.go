package pfx

import (
	"context"
	"strings"
	"testing"
)

// FuzzDecode: no file makes Decode panic, or give an error that quotes any
// 16 bytes of the file. The budget is small so that the fuzzer tries many
// files a second; the seeds derive with one iteration. (That no file works
// past its budget is TestRefusedBeforeAnyWork's and TestMostWorkAllowed's.)
func FuzzDecode(f *testing.F) {
	fx := newFixture(f)
	cheap := []string{"-noiter", "-nomaciter", "-passout", "pass:"}
	for _, options := range [][]string{
		nil, {"-legacy"}, {"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"},
		{"-keypbe", "AES-128-CBC", "-certpbe", "NONE", "-macalg", "sha512"}, {"-keypbe", "NONE", "-nomac"},
	} {
		args := append(append([]string{"pkcs12", "-export", "-inkey", "k.pem", "-in", "cert.pem"}, cheap...), options...)
		f.Add(fx.openssl(f, "seed.pfx", args...))
	}
	for _, key := range [][]byte{fx.key, nil} {
		der, err := encode(key, [][]byte{fx.cert}, 1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	const budget = 20_000
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := decode(context.Background(), der, budget)
		if err == nil {
			if len(c.Keys)+len(c.Certs) > maxBags {
				t.Fatalf("%d bags", len(c.Keys)+len(c.Certs))
			}
			return
		}
		if KindOf(err) == 0 {
			t.Fatalf("an error of no Kind: %v", err)
		}
		msg := err.Error()
		for i := 0; i+16 <= len(der); i++ {
			if strings.Contains(msg, string(der[i:i+16])) {
				t.Fatalf("the error quotes the file at %d: %q", i, msg)
			}
		}
	})
}
