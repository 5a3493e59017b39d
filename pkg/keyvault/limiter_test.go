package keyvault

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLimiterNeverExceedsBound(t *testing.T) {
	l := newLimiter(8, time.Now)
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, err := l.acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			l.release(sent, false)
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 8 || p < 1 {
		t.Fatalf("peak in flight %d, bound 8", p)
	}
	if l.Peak() != int(peak.Load()) {
		t.Errorf("limiter Peak %d, observed %d", l.Peak(), peak.Load())
	}
}

// fakeClock is a settable clock for the limiter's arithmetic.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiterAdapts(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(32, clk.now)
	type state struct {
		Limit float64
		Paced bool
	}
	get := func() state { return state{l.limit, l.rate > 0} }

	if diff := cmp.Diff(state{8, false}, get()); diff != "" {
		t.Fatalf("start (-want +got):\n%s", diff)
	}
	// Slow start: +1 per success until the bound.
	for i := 0; i < 30; i++ {
		clk.t = clk.t.Add(10 * time.Millisecond)
		l.release(clk.t, false)
		l.inFlight++ // release decrements; keep the count balanced
	}
	if diff := cmp.Diff(state{32, false}, get()); diff != "" {
		t.Fatalf("after slow start (-want +got):\n%s", diff)
	}
	// A 429 halves the bound and starts pacing below the recent success rate.
	sent := clk.t
	clk.t = clk.t.Add(5 * time.Millisecond)
	l.release(sent, true)
	l.inFlight++
	if diff := cmp.Diff(state{16, true}, get()); diff != "" {
		t.Fatalf("after a 429 (-want +got):\n%s", diff)
	}
	rate := l.rate
	// More 429s to requests sent before that decrease change nothing.
	l.release(sent, true)
	l.inFlight++
	if l.limit != 16 || l.rate != rate {
		t.Fatalf("a 429 from the same window decreased again: limit %v rate %v", l.limit, l.rate)
	}
	// Successes raise the pace again.
	for i := 0; i < 10; i++ {
		clk.t = clk.t.Add(10 * time.Millisecond)
		l.release(clk.t, false)
		l.inFlight++
	}
	if l.rate <= rate {
		t.Fatalf("rate %v did not recover from %v", l.rate, rate)
	}
}

func TestLimiterAcquireHonoursContext(t *testing.T) {
	l := newLimiter(1, time.Now)
	sent, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx); err == nil {
		t.Fatal("second acquire succeeded past the bound")
	}
	l.release(sent, false)
	if _, err := l.acquire(context.Background()); err != nil {
		t.Fatalf("slot not handed back after a cancelled wait: %v", err)
	}
}

func TestThrottleDelay(t *testing.T) {
	for n, base := range map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 9: 8 * time.Second} {
		for i := 0; i < 50; i++ {
			d := throttleDelay(n)
			if d < base*8/10 || d >= base*12/10 {
				t.Fatalf("throttleDelay(%d) = %v, want within [0.8, 1.2) x %v", n, d, base)
			}
		}
	}
}

func TestSecretName(t *testing.T) {
	tests := []struct {
		id   string
		want string
		ok   bool
	}{
		{"https://v.vault.azure.net/secrets/db-password", "db-password", true},
		{"https://v.vault.azure.net:443/secrets/db-password/0123456789abcdef0123456789abcdef", "db-password", true},
		{"https://v.vault.azure.net/keys/db-password", "", false},
		{"https://v.vault.azure.net/secrets/", "", false},
		{"https://v.vault.azure.net/secrets/a%0Ab", "", false},
		{"https://v.vault.azure.net/secrets/a;b", "", false},
		{"https://v.vault.azure.net/secrets/a/b/c/d", "", false},
		{"::not a url", "", false},
	}
	for _, tt := range tests {
		got, ok := SecretName(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SecretName(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}
