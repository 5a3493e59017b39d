package keyvault

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// limiter shapes the requests sent to the vault. The vault's limit is
// shared with every other client of the vault, so no fixed number is right:
// the limiter finds what is left and gives it back when the vault recovers.
//
// Two controls, adapted the way TCP adapts its window:
//   - a bound on gets in flight: slow start doubles it every round trip
//     until the first 429 halves it; then each answered window of gets
//     raises it by one;
//   - from the first 429 on, a pace: requests start one interval apart.
//     It starts under the rate the vault accepted, climbs while requests
//     wait for it and the vault keeps up, and on a 429 drops 10% under
//     the rate at which the vault pushed back. The pace is what keeps a
//     throttled vault at its limit rather than flooded with retries.
//
// Requests wait for the pace in one line, in priority order: the list (the
// sequential critical path, which also needs no get slot), then retries,
// then first tries. At most one list request is in flight, so the total in
// flight stays within max+1.
type limiter struct {
	mu           sync.Mutex
	limit        float64 // bound on gets in flight; 1 <= limit <= max
	max          float64
	inFlight     int
	peak         int
	waiters      []*waiter
	lastDecrease time.Time
	rate         float64 // requests per second once paced; 0 = unpaced
	ceiling      float64 // the rate at which the vault last pushed back; 0 = not known yet
	firstSuccess time.Time
	next         time.Time   // earliest start of the next paced request
	timer        *time.Timer // wakes the waiters at the pace's next turn; nil = not armed
	successes    []time.Time // success times in the last second, for the rate
	now          func() time.Time
}

const (
	// rateStep is how much each success raises a paced rate (requests per
	// second) near the rate the vault last pushed back at: a rate r grows
	// by about rateStep*r per second, i.e. 1%/s; ten times faster below it.
	rateStep = 0.01
	// slowStart is the bound on gets in flight before the vault has answered
	// any: a vault that is already throttled by other clients then sees a
	// small first burst, which leaves room for the next list page.
	slowStart = 8
	// settle is how long after a decrease 429s are not held against the
	// new pace: the vault's allowance, drained by the burst that caused
	// the decrease, takes a moment to refill.
	settle = 250 * time.Millisecond
	// minFirstPace is where pacing starts when the vault refused nearly
	// everything from the start (other clients have used up its limit):
	// low enough to leave the vault alone, high enough to climb from in
	// a few seconds if it was a passing burst.
	minFirstPace = 10
	// unpacedAbove ends pacing when the rate has recovered this far.
	unpacedAbove = 5000
)

func newLimiter(max int, now func() time.Time) *limiter {
	if max < 1 {
		max = 1
	}
	return &limiter{limit: float64(min(max, slowStart)), max: float64(max), now: now}
}

// turn says where a request waits in the limiter's line.
type turn int

// In the order of their priority, lowest first.
const (
	firstTry turn = iota // a get's first try: the back of the line
	retryTry             // a get's retry: ahead of first tries
	listPage             // the list: first of all, and needs no slot
)

// waiter is one request waiting in the limiter's line.
type waiter struct {
	ready chan struct{}
	turn  turn
}

func (w *waiter) list() bool { return w.turn == listPage }

// acquire waits until the request may go: a slot is free (gets only) and
// its turn in the pace has come. Waiting requests go in order, except that
// a retry goes ahead of the first tries: it has waited out its backoff
// already, and at the back of the line it would wait again for every get
// queued meanwhile, becoming the straggler that ends the run. The list goes
// first of all: each page it brings is work for the gets, and a page held
// up leaves them idle.
func (l *limiter) acquire(ctx context.Context, t turn) (time.Time, error) {
	l.mu.Lock()
	now := l.now()
	w := &waiter{turn: t}
	if (t != firstTry || len(l.waiters) == 0) && l.mayStartLocked(w, now) {
		l.startLocked(w, now)
		l.mu.Unlock()
		return now, nil
	}
	w.ready = make(chan struct{})
	// Behind every waiter of the same or an earlier turn.
	i := len(l.waiters)
	for i > 0 && l.waiters[i-1].turn < t {
		i--
	}
	l.waiters = slices.Insert(l.waiters, i, w)
	l.wakeLocked()
	l.mu.Unlock()
	select {
	case <-w.ready:
		return l.now(), nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, x := range l.waiters {
			if x == w {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				return time.Time{}, ctx.Err()
			}
		}
		// Started while giving up: hand the slot on.
		if !w.list() {
			l.inFlight--
		}
		l.wakeLocked()
		return time.Time{}, ctx.Err()
	}
}

func (l *limiter) mayStartLocked(w *waiter, now time.Time) bool {
	return (w.list() || l.inFlight < int(l.limit)) && !l.next.After(now)
}

// startLocked counts a request as started now and takes its place in the
// pace.
func (l *limiter) startLocked(w *waiter, now time.Time) {
	if !w.list() {
		l.inFlight++
		l.peak = max(l.peak, l.inFlight)
	}
	if l.rate <= 0 {
		return
	}
	interval := time.Duration(float64(time.Second) / l.rate)
	// Keep to the schedule rather than restart it from now: the timer
	// that releases waiters fires a little late every time, and lateness
	// added up would pace below the rate. Unused pace is saved up for
	// one request at most: after a lull, two may start back to back.
	if earliest := now.Add(-interval); l.next.Before(earliest) {
		l.next = earliest
	}
	l.next = l.next.Add(interval)
}

// wakeLocked starts waiting requests, in order, while slots and the pace
// allow, and arms a timer for the pace's next turn if one is still waiting
// for it.
func (l *limiter) wakeLocked() {
	now := l.now()
	for len(l.waiters) > 0 {
		w := l.waiters[0]
		if !w.list() && l.inFlight >= int(l.limit) {
			return
		}
		if l.next.After(now) {
			if l.timer == nil {
				l.timer = time.AfterFunc(l.next.Sub(now), func() {
					l.mu.Lock()
					defer l.mu.Unlock()
					l.timer = nil
					l.wakeLocked()
				})
			}
			return
		}
		l.waiters = l.waiters[1:]
		l.startLocked(w, now)
		close(w.ready)
	}
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
// 100 ms, so that a handful of quick successes does not look like a high
// rate.
func (l *limiter) successRateLocked(now time.Time) float64 {
	l.successes = trimWindow(l.successes, now)
	if len(l.successes) == 0 {
		return 1
	}
	span := max(now.Sub(l.successes[0]), 100*time.Millisecond)
	return float64(len(l.successes)) / span.Seconds()
}

// release ends a request of turn t started at sent: a get frees its slot,
// and both adapt the limiter to the outcome.
func (l *limiter) release(t turn, sent time.Time, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t != listPage {
		l.inFlight--
	}
	l.adaptLocked(sent, throttled)
	l.wakeLocked()
}

// adaptLocked applies one outcome. Only a 429 to a request sent after the
// last decrease counts, so that a burst of 429s answering one window of
// requests lowers the controls once, not once per request.
func (l *limiter) adaptLocked(sent time.Time, throttled bool) {
	now := l.now()
	switch {
	case throttled && sent.After(l.lastDecrease) && l.rate == 0:
		// The first push-back ends slow start: halve the bound, which had
		// doubled every round trip, and start pacing under what the vault
		// let through. Measured this early, that includes the vault's
		// burst allowance, so aim at three quarters of it; the pace
		// climbs from there until the vault pushes back again. Aiming
		// higher keeps the vault drained while the list is still running,
		// and a list page refused with a Retry-After of a second leaves
		// the gets without work.
		l.limit = max(1, l.limit/2)
		l.rate = max(minFirstPace, 0.75*l.successRateLocked(now))
		l.holdLocked(now, sent)
	case throttled && sent.After(l.lastDecrease.Add(settle)):
		// Pushed back while paced: every request starts at the pace, so
		// the pace is at or above what the vault accepts. Remember it and
		// aim under it; once there is a second to measure, the rate that
		// succeeded may be lower still, since the vault's burst allowance
		// lets a pace run above its rate for a while before the first
		// 429. The bound stays: the pace governs now, and halving the
		// bound too would cap the rate at bound / latency. (429s to
		// requests sent sooner after a decrease are the vault still
		// recovering from what was sent before it.)
		l.ceiling = l.rate
		if now.Sub(l.firstSuccess) >= time.Second {
			l.ceiling = min(l.ceiling, l.successRateLocked(now))
		}
		l.rate = max(1, 0.9*l.ceiling)
		l.holdLocked(now, sent)
	case !throttled && l.lastDecrease.IsZero():
		// Slow start: one more per success doubles the bound per round
		// trip until the vault first pushes back.
		l.limit = min(l.max, l.limit+1)
	case !throttled:
		l.limit = min(l.max, l.limit+1/l.limit)
	}
	if throttled {
		return
	}
	l.recordSuccessLocked(now)
	if l.rate <= 0 || len(l.waiters) == 0 || !l.next.After(now) {
		// Only a pace that is holding requests back is tested by their
		// success. Raising one the gets do not use up (the list has not
		// delivered enough work yet, say) would only set up a burst for
		// when they pick up again.
		return
	}
	switch {
	case l.ceiling == 0:
		// No ceiling known yet: one more per success, so the pace grows
		// by its own size every second or so.
		l.rate++
	case l.rate < 0.95*l.ceiling:
		// Back quickly to just under where the vault pushed back...
		l.rate += 10 * rateStep
	default:
		// ...then probe slowly above it: each 429 costs its request a
		// retry, often after a Retry-After of a second or more.
		l.rate += rateStep
	}
	if l.rate > unpacedAbove {
		l.rate = 0
		l.ceiling = 0
	}
}

// holdLocked records a decrease and holds every start for one round trip
// (the 429's, settle at most, in case that reply was slow): the requests
// already under way meet a vault with nothing left to give, and what they
// do not take refills for the list page that goes first once the hold ends.
func (l *limiter) holdLocked(now, sent time.Time) {
	l.lastDecrease = now
	if end := now.Add(min(now.Sub(sent), settle)); end.After(l.next) {
		l.next = end
	}
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
	t := firstTry
	switch {
	case isList(req.Raw()):
		t = listPage
	case retrying(req):
		t = retryTry
	}
	sent, err := p.l.acquire(req.Raw().Context(), t)
	if err != nil {
		return nil, err
	}
	resp, err := req.Next()
	p.l.release(t, sent, err == nil && resp.StatusCode == http.StatusTooManyRequests)
	return resp, err
}

func isList(r *http.Request) bool {
	return strings.TrimSuffix(r.URL.Path, "/") == "/secrets"
}
