package keyvault

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// limiter shapes the requests sent to the vault. The vault's limit is
// shared with every other client of the vault, so no fixed number is right:
// the limiter finds what is left and gives it back when the vault recovers.
//
// Two controls, both adapted the way TCP adapts its window:
//   - a bound on gets in flight: a 429 halves it, each answered window of
//     gets raises it by one;
//   - once the vault has throttled, a pace: requests start at most every
//     interval. A 429 halves the rate (measured over the last second of
//     sends); each success raises it a little. Pacing is what keeps a
//     throttled vault at its limit without a stream of 429s, each of
//     which costs the request at least a second.
//
// The list call is the sequential critical path: it never waits for a slot
// or a pace, but it does use up pace, so gets make room for it. At most one
// list request is in flight, so the total in flight stays within max+1.
type limiter struct {
	mu           sync.Mutex
	limit        float64 // bound on gets in flight; 1 <= limit <= max
	max          float64
	inFlight     int
	peak         int
	waiters      []chan struct{}
	lastDecrease time.Time
	rate         float64 // requests per second once paced; 0 = unpaced
	ceiling      float64 // the success rate when the vault last pushed back; 0 = not known yet
	firstSuccess time.Time
	next         time.Time   // earliest start of the next paced request
	successes    []time.Time // success times in the last second, for the rate
	now          func() time.Time
}

const (
	// rateStep is how much each success raises a paced rate (requests per
	// second) near the rate the vault last accepted: a rate r grows by
	// about rateStep*r per second, i.e. 5%/s; ten times faster below it.
	rateStep = 0.05
	// slowStart is the bound on gets in flight before the vault has answered
	// any: a vault that is already throttled by other clients then sees a
	// small first burst, which leaves room for the next list page.
	slowStart = 8
	// unpacedAbove ends pacing when the rate has recovered this far.
	unpacedAbove = 5000
)

func newLimiter(max int, now func() time.Time) *limiter {
	if max < 1 {
		max = 1
	}
	return &limiter{limit: float64(min(max, slowStart)), max: float64(max), now: now}
}

// acquire waits for a slot and for the pace, and returns when the request
// may go.
func (l *limiter) acquire(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inFlight < int(l.limit) {
		l.grantLocked()
		l.mu.Unlock()
	} else {
		ch := make(chan struct{})
		l.waiters = append(l.waiters, ch)
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			defer l.mu.Unlock()
			for i, w := range l.waiters {
				if w == ch {
					l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
					return time.Time{}, ctx.Err()
				}
			}
			// Granted while giving up: hand the slot on.
			l.inFlight--
			l.wakeLocked()
			return time.Time{}, ctx.Err()
		}
	}
	if err := l.pace(ctx); err != nil {
		l.mu.Lock()
		l.inFlight--
		l.wakeLocked()
		l.mu.Unlock()
		return time.Time{}, err
	}
	return l.now(), nil
}

// pace waits for this request's start time.
func (l *limiter) pace(ctx context.Context) error {
	l.mu.Lock()
	wait := l.reserveLocked()
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reserveLocked takes the next start time and returns how long to wait
// for it.
func (l *limiter) reserveLocked() time.Duration {
	now := l.now()
	if l.rate <= 0 {
		return 0
	}
	start := l.next
	if start.Before(now) {
		start = now
	}
	l.next = start.Add(time.Duration(float64(time.Second) / l.rate))
	return start.Sub(now)
}

func (l *limiter) recordSuccessLocked(now time.Time) {
	if l.firstSuccess.IsZero() {
		l.firstSuccess = now
	}
	l.successes = append(trimWindow(l.successes, now), now)
}

// trimWindow drops times older than a second.
func trimWindow(ts []time.Time, now time.Time) []time.Time {
	cut := now.Add(-time.Second)
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	return ts[i:]
}

// successRateLocked is the rate of successes over the last second. Early
// on, when less than a second has passed, the span counts as at least
// 200 ms, so that a handful of quick successes does not look like a high
// rate.
func (l *limiter) successRateLocked(now time.Time) float64 {
	l.successes = trimWindow(l.successes, now)
	if len(l.successes) == 0 {
		return 1
	}
	span := max(now.Sub(l.successes[0]), 200*time.Millisecond)
	return float64(len(l.successes)) / span.Seconds()
}

func (l *limiter) grantLocked() {
	l.inFlight++
	if l.inFlight > l.peak {
		l.peak = l.inFlight
	}
}

func (l *limiter) wakeLocked() {
	for len(l.waiters) > 0 && l.inFlight < int(l.limit) {
		ch := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.grantLocked()
		close(ch)
	}
}

// release frees a get's slot and adapts to its outcome.
func (l *limiter) release(sent time.Time, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.adaptLocked(sent, throttled)
	l.wakeLocked()
}

// adaptLocked applies one outcome. Only a 429 to a request sent after the
// last decrease counts, so that a burst of 429s answering one window of
// requests halves the controls once, not once per request.
func (l *limiter) adaptLocked(sent time.Time, throttled bool) {
	now := l.now()
	switch {
	case throttled && sent.After(l.lastDecrease):
		l.limit = max(1, l.limit/2)
		// The vault let through about what succeeded lately; aim a little
		// below it.
		r := l.successRateLocked(now)
		l.rate = max(1, 0.9*r)
		// A rate measured over less than half a second is mostly the
		// vault's burst allowance: aim below it, but keep climbing fast
		// until the next 429 measures the real limit.
		l.ceiling = 0
		if !l.firstSuccess.IsZero() && now.Sub(l.firstSuccess) >= 500*time.Millisecond {
			l.ceiling = r
		}
		l.lastDecrease = now
	case !throttled && l.lastDecrease.IsZero():
		// Slow start: one more per success doubles the bound per round
		// trip until the vault first pushes back.
		l.limit = min(l.max, l.limit+1)
	case !throttled:
		l.limit = min(l.max, l.limit+1/l.limit)
	}
	if !throttled {
		l.recordSuccessLocked(now)
		if l.rate > 0 {
			// Back quickly to just under where the vault pushed back,
			// then probe slowly above it: each 429 costs its request a
			// second or more.
			step := rateStep
			if l.ceiling == 0 || l.rate < 0.95*l.ceiling {
				step = 10 * rateStep
			}
			l.rate += step
			if l.rate > unpacedAbove {
				l.rate = 0
			}
		}
	}
}

// listSent records an ungated list request's start: it uses up pace.
func (l *limiter) listSent() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.rate > 0 {
		if l.next.Before(now) {
			l.next = now
		}
		l.next = l.next.Add(time.Duration(float64(time.Second) / l.rate))
	}
	return now
}

// listDone adapts to a list reply.
func (l *limiter) listDone(sent time.Time, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.adaptLocked(sent, throttled)
}

// Peak is the most gets that were ever in flight at once.
func (l *limiter) Peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// policy returns the pipeline policy that applies the limiter to each try.
func (l *limiter) policy() policy.Policy { return limitPolicy{l} }

type limitPolicy struct{ l *limiter }

func (p limitPolicy) Do(req *policy.Request) (*http.Response, error) {
	if isList(req.Raw()) {
		sent := p.l.listSent()
		resp, err := req.Next()
		p.l.listDone(sent, err == nil && resp.StatusCode == http.StatusTooManyRequests)
		return resp, err
	}
	sent, err := p.l.acquire(req.Raw().Context())
	if err != nil {
		return nil, err
	}
	resp, err := req.Next()
	p.l.release(sent, err == nil && resp.StatusCode == http.StatusTooManyRequests)
	return resp, err
}

func isList(r *http.Request) bool {
	return strings.TrimSuffix(r.URL.Path, "/") == "/secrets"
}
