package keyvault

import (
	"context"
	"fmt"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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

// sharedVault is a vault whose limit several in-process clients share, for
// tests in a synctest bubble, where its latency and Retry-After cost no
// real time: a token bucket, 429s that name whole seconds as Key Vault's
// Retry-After does, and other clients who keep it exhausted until
// busyUntil, leaving a token to one request in busyEvery (then it is empty
// and refills).
type sharedVault struct {
	mu        sync.Mutex
	n         int // secrets s0000, s0001, ...
	rate      float64
	burst     float64
	tokens    float64
	at        time.Time
	busyUntil time.Time
	busyEvery int
	busySeen  int
	latency   time.Duration
	answers   []vaultAnswer
}

// vaultAnswer is one request as the vault answered it.
type vaultAnswer struct {
	client int
	at     time.Time
	status int
	secret string // "" for the list
}

func (v *sharedVault) admit(now time.Time) (bool, time.Duration) {
	if now.Before(v.busyUntil) {
		v.tokens, v.at = 0, now
		v.busySeen++
		return v.busyEvery > 0 && v.busySeen%v.busyEvery == 0, time.Duration(float64(time.Second) / v.rate)
	}
	if v.at.IsZero() {
		v.tokens = v.burst
	} else {
		v.tokens = min(v.burst, v.tokens+now.Sub(v.at).Seconds()*v.rate)
	}
	v.at = now
	if v.tokens < 1 {
		return false, time.Duration((1 - v.tokens) / v.rate * float64(time.Second))
	}
	v.tokens--
	return true, 0
}

// client is what one job's Client sends through.
func (v *sharedVault) client(id int) policy.Transporter { return vaultClient{v, id} }

type vaultClient struct {
	v  *sharedVault
	id int
}

func (c vaultClient) Do(r *http.Request) (*http.Response, error) {
	v := c.v
	select {
	case <-time.After(v.latency):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	reply := func(status int, h http.Header, body string) *http.Response {
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1, Request: r}
	}
	if r.Header.Get("Authorization") == "" {
		return reply(401, http.Header{"Www-Authenticate": {`Bearer authorization="https://login.microsoftonline.com/t1", resource="https://vault.azure.net"`}}, `{"error":{"code":"Unauthorized"}}`), nil
	}
	secret := ""
	if !isList(r) {
		secret = strings.Split(strings.Trim(r.URL.Path, "/"), "/")[1]
	}
	v.mu.Lock()
	ok, wait := v.admit(time.Now())
	a := vaultAnswer{client: c.id, at: time.Now(), status: http.StatusOK, secret: secret}
	if !ok {
		a.status = http.StatusTooManyRequests
	}
	v.answers = append(v.answers, a)
	v.mu.Unlock()
	switch {
	case !ok:
		h := http.Header{"Retry-After": {strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))}}
		return reply(a.status, h, `{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received."}}`), nil
	case secret != "":
		return okGet(r), nil
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	var names []string
	for i := from; i < min(v.n, from+25); i++ {
		names = append(names, fmt.Sprintf("s%04d", i))
	}
	next := ""
	if from+25 < v.n {
		next = fmt.Sprintf("https://kv.vault.azure.net:443/secrets?api-version=2026-04-01&$skiptoken=%d", from+25)
	}
	return reply(http.StatusOK, http.Header{}, pageJSON(names, next)), nil
}

// jobRun is what one job got.
type jobRun struct {
	values   map[string]int  // times each value was delivered
	times    []time.Duration // when, since the bubble's start
	end      time.Duration
	failures []Failure
	err      error
}

// runJobs runs one Client per start time against v, each downloading every
// secret, as the task does (retries as reqpolicy.RunVaultRetry sets them), and returns
// what each job got. It runs inside a synctest bubble.
func runJobs(t *testing.T, v *sharedVault, starts []time.Duration) []jobRun {
	t.Helper()
	base := time.Now()
	runs := make([]jobRun, len(starts))
	var wg sync.WaitGroup
	for i, start := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(start)
			c, err := New(Options{VaultURL: "https://kv.vault.azure.net", Credential: staticToken{}, HTTP: transport.Pipeline{Transport: v.client(i),
				Retry: policy.RetryOptions{MaxRetries: 12, TryTimeout: 30 * time.Second, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 16 * time.Second}}})
			if err != nil {
				runs[i].err = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
			defer cancel()
			var mu sync.Mutex
			r := &runs[i]
			r.values = map[string]int{}
			rep, err := c.All(ctx, func(val Value) {
				mu.Lock()
				defer mu.Unlock()
				r.values[val.Name]++
				r.times = append(r.times, time.Since(base))
			})
			r.err, r.failures, r.end = err, rep.Failures, time.Since(base)
		}()
	}
	wg.Wait()
	return runs
}

// everyValueOnce checks that a job got every secret exactly once.
func everyValueOnce(t *testing.T, job int, r jobRun, n int) {
	t.Helper()
	if r.err != nil || len(r.failures) > 0 {
		t.Fatalf("job %d: err %v, %d failures (first: %v)", job, r.err, len(r.failures), r.failures)
	}
	want := map[string]int{}
	for i := range n {
		want[fmt.Sprintf("s%04d", i)] = 1
	}
	if diff := cmp.Diff(want, r.values); diff != "" {
		t.Errorf("job %d: values delivered (-want +got):\n%s", job, diff)
	}
}

// TestLimiterClimbsBackAfterColdThrottle: other clients keep the vault
// exhausted for the first 2 s of the job; now and then a token is left for
// it. Once the vault has room again the job must be back at the speed it has
// on a free vault within a second: not settle at the trickle the 429s
// allowed and crawl up from there.
func TestLimiterClimbsBackAfterColdThrottle(t *testing.T) {
	const n = 1000
	const busy = 2 * time.Second
	var free, cold time.Duration
	synctest.Test(t, func(t *testing.T) {
		v := &sharedVault{n: n, rate: 5000, burst: 5000, latency: 10 * time.Millisecond}
		r := runJobs(t, v, []time.Duration{0})
		everyValueOnce(t, 0, r[0], n)
		free = r[0].end
	})
	synctest.Test(t, func(t *testing.T) {
		v := &sharedVault{n: n, rate: 5000, burst: 5000, latency: 10 * time.Millisecond, busyUntil: time.Now().Add(busy), busyEvery: 4}
		r := runJobs(t, v, []time.Duration{0})
		everyValueOnce(t, 0, r[0], n)
		cold = r[0].end
	})
	// A Retry-After of a second may hold the list up to a second past
	// the recovery, and the climb takes a fraction of one.
	t.Logf("free vault: %v; exhausted for %v: %v", free, busy, cold)
	if limit := busy + time.Second + free + time.Second; cold > limit {
		t.Errorf("after 2 s of an exhausted vault the job took %v, more than 2 s + one Retry-After + %v (its time on a free vault) + 1 s = %v", cold, free, limit)
	}
}

// TestLimiterSharesTheVault: ten jobs read one vault whose limit they
// share, each knowing only its own requests and the vault's answers; other
// clients keep it exhausted for the first 2 s. Every secret is answered
// exactly once per job, every job completes, and none is starved: once the
// vault answers again, each job gets requests through every second. Two
// waits are the vault's, not the limiter's: a refused list page waits out
// its Retry-After of a second, and the job has nothing else to ask for
// until it comes; and its last few values may be retries waiting out one
// each time the vault refuses them again.
func TestLimiterSharesTheVault(t *testing.T) {
	const k, n = 10, 300
	const busy = 2 * time.Second
	synctest.Test(t, func(t *testing.T) {
		base := time.Now()
		v := &sharedVault{n: n, rate: 400, burst: 400, latency: 10 * time.Millisecond, busyUntil: base.Add(busy)}
		starts := make([]time.Duration, k)
		for i := range starts {
			starts[i] = time.Duration(i) * 30 * time.Millisecond
		}
		runs := runJobs(t, v, starts)
		answered := map[int]map[string]int{}
		for _, a := range v.answers {
			if a.status == http.StatusOK && a.secret != "" {
				if answered[a.client] == nil {
					answered[a.client] = map[string]int{}
				}
				answered[a.client][a.secret]++
			}
		}
		for i, r := range runs {
			everyValueOnce(t, i, r, n)
			for name, c := range answered[i] {
				if c != 1 {
					t.Errorf("job %d: the vault answered %s %d times, want once", i, name, c)
				}
			}
			// From one Retry-After after the recovery until all but the
			// job's last ten values are in, no second without a value,
			// but for the second a refused list page is told to wait:
			// with no page, the job has nothing to ask for.
			var listWaits []time.Duration
			for _, a := range v.answers {
				if a.client == i && a.secret == "" && a.status == http.StatusTooManyRequests {
					listWaits = append(listWaits, a.at.Sub(base))
				}
			}
			const tail = 10
			from, to := busy+time.Second, r.times[len(r.times)-tail]
			last := from
			for _, got := range r.times {
				if got < from {
					continue
				}
				if got > to {
					break
				}
				allowed := time.Second
				for _, w := range listWaits {
					if w >= last-time.Second && w < got {
						allowed += time.Second
					}
				}
				if gap := got - last; gap >= allowed {
					t.Errorf("job %d got nothing for %v from %v (its list told to wait %v meanwhile; it ran %v to %v)", i, gap.Round(time.Millisecond),
						last.Round(time.Millisecond), allowed-time.Second, starts[i], r.end.Round(time.Millisecond))
				}
				last = got
			}
		}
	})
}
