package reqpolicy

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

// TestLimiterAdapts walks the control law step by step on a fake clock:
// each step answers requests and checks the bound and the pace.
func TestLimiterAdapts(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(32, clk.now)
	type state struct {
		Limit, Rate, PushedBack float64
		Cold                    bool
		Doubling                time.Duration
	}
	get := func() state {
		l.mu.Lock()
		defer l.mu.Unlock()
		return state{l.limit, l.rate, l.pushedBack, l.cold, l.doubling}
	}
	// answer answers n requests, one every gap, each sent 1 ms before its
	// answer. held: a request waits behind them, as when the pace is
	// what holds the gets back; only then does the pace climb.
	answer := func(n int, gap time.Duration, throttled, held bool) {
		for range n {
			clk.t = clk.t.Add(gap)
			sent := clk.t.Add(-time.Millisecond)
			l.mu.Lock()
			l.startLocked(&waiter{}, sent)
			if held {
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
		{"start: a small bound, unpaced", func() {}, state{Limit: 8, Doubling: minDoubling}},
		{"slow start: one more per success, up to the bound", func() { answer(30, 10*ms, false, false) },
			state{Limit: 32, Doubling: minDoubling}},
		// 25 successes in the last 250 ms: 100/s.
		{"first 429: bound halved, pace at 3/4 of what the vault accepted", func() { answer(1, 5*ms, true, false) },
			state{Limit: 16, Rate: 75, PushedBack: 100, Doubling: minDoubling}},
		{"429s to requests sent within the settling time change nothing", func() { answer(3, 20*ms, true, false) },
			state{Limit: 16, Rate: 75, PushedBack: 100, Doubling: minDoubling}},
		{"successes the pace did not hold back leave it", func() { answer(5, 10*ms, false, false) },
			state{Limit: 16.31, Rate: 75, PushedBack: 100, Doubling: minDoubling}},
		// The last 429 was 50 ms ago: no escape yet. In 100 ms the pace
		// closes 1-e^-0.5 of the gap to 100, plus 10/s of probing.
		{"held back: back towards the pushed-back rate fast", func() { answer(10, 10*ms, false, true) },
			state{Limit: 16.92, Rate: 85.9, PushedBack: 100, Doubling: minDoubling}},
		// The last 250 ms held the 10 successes: 40/s.
		{"a 429 once settled: 4/5 of what the vault accepted", func() { answer(1, 150*ms, true, false) },
			state{Limit: 16.92, Rate: 32, PushedBack: 40, Doubling: minDoubling}},
		{"held back: back towards it fast, then probing by 10/s per second", func() { answer(25, 10*ms, false, true) },
			state{Limit: 18.33, Rate: 38.76, PushedBack: 40, Doubling: minDoubling}},
		// 300 ms and more since the last 429: the last 50 ms nearly
		// doubled it.
		{"quiet: the vault has room, the pace doubles every 80 ms", func() { answer(10, 10*ms, false, true) },
			state{Limit: 18.87, Rate: 65.86, PushedBack: 40, Doubling: minDoubling}},
		{"a 429 before the climb doubled the pushed-back rate: the next climb at half the speed", func() { answer(1, 10*ms, true, false) },
			state{Limit: 18.87, Rate: 52.69, PushedBack: 65.86, Doubling: 2 * minDoubling}},
		{"a climb that doubles it has found room: climbs at full speed again", func() { answer(60, 10*ms, false, true) },
			state{Limit: 21.82, Rate: 445.3, PushedBack: 65.86, Doubling: minDoubling}},
		{"a 429 with no success in the last 250 ms: cold, a trickle, the bound halved", func() { answer(1, 300*ms, true, false) },
			state{Limit: 10.91, Rate: minPace, Cold: true, Doubling: minDoubling}},
		// The first success climbs at once; 40 ms later, twice that.
		{"the first success after: climb from the trickle, doubling every 40 ms", func() { answer(2, 40*ms, false, true) },
			state{Limit: 12.91, Rate: 4 * minPace, Doubling: coldDoubling}},
	}
	round := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.05*max(1, math.Abs(a)/10) })
	for _, st := range steps {
		st.do()
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
		if got := l.holdUntil.Sub(clk.t); got != tt.want {
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
				l.limit, l.rate, l.slot = 8, 50, time.Now().Add(30*time.Millisecond)
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
