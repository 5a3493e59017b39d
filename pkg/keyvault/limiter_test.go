package keyvault

import (
	"context"
	"math"
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
			sent, err := l.acquire(context.Background(), firstTry)
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
			l.release(firstTry, sent, false)
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
		Limit   float64
		Rate    float64
		Ceiling float64
	}
	get := func() state { return state{l.limit, l.rate, l.ceiling} }
	// answer starts and answers n requests, one every gap. atPace starts
	// them at the pace instead, with another request waiting its turn, as
	// when the pace is what holds the gets back.
	answer := func(n int, gap time.Duration, throttled, atPace bool) {
		for i := 0; i < n; i++ {
			if atPace && l.rate > 0 {
				gap = time.Duration(float64(time.Second) / l.rate)
			}
			clk.t = clk.t.Add(gap)
			sent := clk.t.Add(-time.Millisecond)
			l.mu.Lock()
			l.startLocked(&waiter{}, sent)
			if atPace {
				l.waiters = []*waiter{{ready: make(chan struct{})}}
			}
			l.mu.Unlock()
			l.release(firstTry, sent, throttled)
			l.mu.Lock()
			l.waiters = nil
			l.mu.Unlock()
		}
	}
	const ms = time.Millisecond
	steps := []struct {
		name string
		do   func()
		want state
	}{
		{"start", func() {}, state{Limit: 8}},
		{"slow start: +1 per success up to the bound", func() { answer(30, 10*ms, false, false) }, state{Limit: 32}},
		// 30 successes in the 295 ms since the first: 101.7/s.
		{"first 429: bound halved, pace 0.75 x what succeeded", func() { answer(1, 5*ms, true, false) },
			state{Limit: 16, Rate: 76.27}},
		{"429s within the settling time change nothing", func() { answer(3, 20*ms, true, false) },
			state{Limit: 16, Rate: 76.27}},
		{"successes at a pace nothing waits for leave it", func() { answer(10, 10*ms, false, false) },
			state{Limit: 16.6, Rate: 76.27}},
		{"successes while the pace holds requests back raise it by one each, no ceiling known", func() { answer(10, 10*ms, false, true) },
			state{Limit: 17.2, Rate: 86.27}},
		{"a 429 while paced: the pace is the ceiling, aim 10% under; bound kept", func() { answer(1, 300*ms, true, false) },
			state{Limit: 17.2, Rate: 77.64, Ceiling: 86.27}},
		{"back to 95% of the ceiling at 0.1 per success (the last few past it at 0.01)", func() { answer(51, 10*ms, false, true) },
			state{Limit: 19.96, Rate: 82.11, Ceiling: 86.27}},
		{"above it, 0.01 per success", func() { answer(100, 10*ms, false, true) },
			state{Limit: 24.46, Rate: 83.11, Ceiling: 86.27}},
		{"a 429 after a second or more: the ceiling is what succeeded, if less than the pace", func() {
			answer(20, 50*ms, false, false) // a second at 20/s: the gets ran short of work
			answer(1, 10*ms, true, false)
		}, state{Limit: 25.23, Rate: 18.75, Ceiling: 20.83}},
	}
	for _, st := range steps {
		st.do()
		round := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.05 })
		if diff := cmp.Diff(st.want, get(), round); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestLimiterHold: after a 429 nothing starts for the round trip it took,
// and a slow 429 does not stop the run for as long as it took.
func TestLimiterHold(t *testing.T) {
	for _, tt := range []struct {
		took, want time.Duration
	}{
		{took: 12 * time.Millisecond, want: 12 * time.Millisecond},
		{took: 10 * time.Second, want: settle},
	} {
		clk := &fakeClock{t: time.Unix(1000, 0)}
		l := newLimiter(32, clk.now)
		sent := clk.t
		clk.t = clk.t.Add(tt.took)
		l.inFlight++
		l.release(firstTry, sent, true)
		if got := l.next.Sub(clk.t); got != tt.want {
			t.Errorf("429 after %v: starts held for %v, want %v", tt.took, got, tt.want)
		}
	}
}

func TestLimiterAcquireHonoursContext(t *testing.T) {
	l := newLimiter(1, time.Now)
	sent, err := l.acquire(context.Background(), firstTry)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, firstTry); err == nil {
		t.Fatal("second acquire succeeded past the bound")
	}
	l.release(firstTry, sent, false)
	if _, err := l.acquire(context.Background(), firstTry); err != nil {
		t.Fatalf("slot not handed back after a cancelled wait: %v", err)
	}
}

// TestLimiterPaces: once paced, requests start one pace interval apart
// however many are waiting (after an idle pace, one may go early).
func TestLimiterPaces(t *testing.T) {
	l := newLimiter(32, time.Now)
	l.rate = 100 // as after a 429: one start per 10 ms
	starts := make(chan time.Time, 5)
	for i := 0; i < 5; i++ {
		go func() {
			sent, err := l.acquire(context.Background(), firstTry)
			if err != nil {
				t.Error(err)
			}
			starts <- sent
			l.release(firstTry, sent, false)
		}()
	}
	var first, last time.Time
	for i := 0; i < 5; i++ {
		s := <-starts
		if first.IsZero() || s.Before(first) {
			first = s
		}
		if s.After(last) {
			last = s
		}
	}
	// Four intervals, less the one the pace saved up while idle: 30 ms,
	// with room for clock granularity. Unpaced, all five go within 1 ms.
	if span := last.Sub(first); span < 25*time.Millisecond {
		t.Errorf("5 requests started within %v; at 100/s they take about 30ms", span)
	}
}

// TestLimiterOrder: requests that arrive while the limiter holds them back
// start list first, then retries, then first tries in arrival order.
func TestLimiterOrder(t *testing.T) {
	type arrival struct {
		name string
		turn turn
	}
	tests := []struct {
		name     string
		paced    bool // held back by the pace; otherwise by the one slot, taken
		arrivals []arrival
		want     []string
	}{{
		name:     "slot taken: a retry overtakes first tries",
		arrivals: []arrival{{"first 1", firstTry}, {"first 2", firstTry}, {"retry", retryTry}},
		want:     []string{"retry", "first 1", "first 2"},
	}, {
		name:     "pace: the list overtakes retries, retries overtake first tries",
		paced:    true,
		arrivals: []arrival{{"first 1", firstTry}, {"retry 1", retryTry}, {"first 2", firstTry}, {"list", listPage}, {"retry 2", retryTry}},
		want:     []string{"list", "retry 1", "retry 2", "first 1", "first 2"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(1, time.Now)
			var held time.Time
			if tt.paced {
				l.mu.Lock()
				l.limit, l.rate, l.next = 8, 50, time.Now().Add(50*time.Millisecond)
				l.mu.Unlock()
			} else {
				var err error
				if held, err = l.acquire(context.Background(), firstTry); err != nil {
					t.Fatal(err)
				}
			}
			order := make(chan string, len(tt.arrivals))
			waiters := func() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) }
			for i, a := range tt.arrivals {
				go func() {
					sent, err := l.acquire(context.Background(), a.turn)
					if err != nil {
						t.Error(err)
						return
					}
					order <- a.name
					if a.turn == listPage {
						l.release(listPage, sent, false)
					} else {
						l.release(firstTry, sent, false)
					}
				}()
				for waiters() < i+1 {
					time.Sleep(time.Millisecond)
				}
			}
			if !tt.paced {
				l.release(firstTry, held, false)
			}
			var got []string
			for range tt.arrivals {
				got = append(got, <-order)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("start order (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLimiterListNeedsNoSlot: with every get slot taken, the list still
// goes at once.
func TestLimiterListNeedsNoSlot(t *testing.T) {
	l := newLimiter(1, time.Now)
	if _, err := l.acquire(context.Background(), firstTry); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.acquire(ctx, listPage); err != nil {
		t.Fatalf("list waited for a get slot: %v", err)
	}
}
