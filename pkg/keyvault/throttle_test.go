package keyvault

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

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
	if !reqpolicy.IsList(r) {
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
