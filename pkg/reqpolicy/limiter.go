package reqpolicy

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Limiter shapes the requests sent to one vault (see the package's
// design note): it finds the job's share of a vault others use too, keeps
// the vault busy without any job crawling, and takes the room back when
// others leave. It bounds the gets in flight and, from the first 429 on,
// starts requests at a pace. The pace climbs with time, not per success: a
// job at a trickle would otherwise see that the vault has room only as
// fast as its trickle.
//
// Requests wait in one line, in priority order: the list (the sequential
// critical path, which also needs no get slot), then retries, then first
// tries. At most one list request is in flight, so the total in flight
// stays within max+1.
type Limiter struct {
	mu    sync.Mutex
	limit float64 // bound on gets in flight; 1 <= limit <= max
	max   float64
	// slowStart: the bound grows by one per success, doubling every round
	// trip, until the first 429 halves it; then each answered window of
	// gets raises it by one.
	slowStart bool
	inFlight  int
	peak      int
	waiters   []*waiter
	timer     *time.Timer // wakes the waiters at the next start; nil = not armed
	timerAt   time.Time
	started   time.Time // the first request's start

	rate       float64   // requests per second once paced; 0 = unpaced
	slot       time.Time // when the latest paced start was due
	holdUntil  time.Time // no start before, after a 429
	pushedBack float64   // the rate the vault accepted when it last pushed back; 0 = not known
	cold       bool      // paced after a 429 with no success before it
	doubling   time.Duration
	escaping   bool // doubling since the last 429

	lastDecrease time.Time
	lastThrottle time.Time   // the latest 429, counted or not
	lastRaise    time.Time   // when the pace last had the chance to climb
	successes    []time.Time // in the last second
	now          func() time.Time
}

const (
	// slowStartBound is the bound on gets in flight before the vault has
	// answered any: a vault that is already throttled by other clients
	// then sees a small first burst, which leaves room for the next list
	// page.
	slowStartBound = 8
	// settle is how long after a decrease 429s are not held against the
	// new pace: the requests sent just before it still meet a vault the
	// burst drained, and each 429 counted costs a fifth of the pace.
	settle = 250 * time.Millisecond
	// measureSpan is how far back the rate the vault accepted is measured
	// at a 429: long enough to hold a few requests at a small share, short
	// enough to be about now.
	measureSpan = 250 * time.Millisecond
	// firstBeta and beta are where the pace goes under the accepted rate
	// at a 429; the first time, that rate includes the vault's burst.
	firstBeta = 0.75
	beta      = 0.8
	// The pace returns to returnTo of the pushed-back rate, which the vault
	// did accept, with this time constant.
	returnTo   = 0.95
	returnTime = 200 * time.Millisecond
	// Above that it probes by addRate requests per second every second,
	// or by probeShare of the pushed-back rate when that is more: equal for
	// every job sharing the vault, and still 10% a second for a job alone
	// at a large limit.
	addRate    = 10
	probeShare = 0.1
	// quietTime without a 429 while the pace holds requests back means
	// the vault has room the probing has not found.
	quietTime = 300 * time.Millisecond
	// The doubling period of such a climb: minDoubling after one that
	// found room, up to maxDoubling while they keep ending in a 429 near
	// where they started.
	minDoubling = 80 * time.Millisecond
	maxDoubling = 2560 * time.Millisecond
	// coldDoubling is the climb after the vault was busy with others.
	coldDoubling = 40 * time.Millisecond
	// minPace is the trickle a cold job keeps to: enough to see the vault
	// recover, too little to matter to it.
	minPace = 2
	// unpacedAbove ends pacing when the rate has recovered this far.
	unpacedAbove = 5000
)

func newLimiter(max int, now func() time.Time) *Limiter {
	if max < 1 {
		max = 1
	}
	return &Limiter{limit: float64(min(max, slowStartBound)), max: float64(max), slowStart: true, doubling: minDoubling, now: now}
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
func (l *Limiter) acquire(ctx context.Context, t turn) (time.Time, error) {
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

func (l *Limiter) mayStartLocked(w *waiter, now time.Time) bool {
	return (w.list() || l.inFlight < int(l.limit)) && !l.nextStartLocked().After(now)
}

// nextStartLocked is the earliest time the pace and a hold allow a start.
func (l *Limiter) nextStartLocked() time.Time {
	t := l.holdUntil
	if l.rate > 0 {
		if due := l.slot.Add(l.intervalLocked()); due.After(t) {
			t = due
		}
	}
	return t
}

func (l *Limiter) intervalLocked() time.Duration {
	return time.Duration(float64(time.Second) / l.rate)
}

// startLocked counts a request as started now and takes its place in the
// pace.
func (l *Limiter) startLocked(w *waiter, now time.Time) {
	if l.started.IsZero() {
		l.started = now
	}
	if !w.list() {
		l.inFlight++
		l.peak = max(l.peak, l.inFlight)
	}
	if l.rate <= 0 {
		return
	}
	// Keep to the schedule rather than restart it from now: the timer
	// that releases waiters fires a little late every time, and lateness
	// added up would pace below the rate. Unused pace is saved up for
	// one request at most: after a lull, two may start back to back.
	interval := l.intervalLocked()
	l.slot = latest(l.slot.Add(interval), now.Add(-interval))
}

// wakeLocked starts waiting requests, in order, while slots and the pace
// allow, and arms a timer for the next start if one is still waiting for
// it.
func (l *Limiter) wakeLocked() {
	now := l.now()
	l.climbLocked(now)
	for len(l.waiters) > 0 {
		w := l.waiters[0]
		if !w.list() && l.inFlight >= int(l.limit) {
			return
		}
		if at := l.nextStartLocked(); at.After(now) {
			// A pace that rose since the timer was armed may be due
			// sooner.
			if l.timer != nil && l.timerAt.After(at) && l.timer.Stop() {
				l.timer = nil
			}
			if l.timer == nil {
				l.timerAt = at
				l.timer = time.AfterFunc(at.Sub(now), func() {
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

// trimWindow drops times older than a second.
func trimWindow(ts []time.Time, now time.Time) []time.Time {
	cut := now.Add(-time.Second)
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	return ts[i:]
}

// successRateSinceLocked is the rate of successes since from, at most a
// second ago and not before the first request; the span counts as at
// least 100 ms, so that a handful of quick successes does not look like a
// high rate. n is how many.
func (l *Limiter) successRateSinceLocked(now, from time.Time) (rate float64, n int) {
	l.successes = trimWindow(l.successes, now)
	from = latest(from, now.Add(-time.Second), l.started)
	for _, s := range l.successes {
		if s.After(from) {
			n++
		}
	}
	span := max(now.Sub(from), 100*time.Millisecond)
	return float64(n) / span.Seconds(), n
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// release ends a request of turn t started at sent: a get frees its slot,
// and both adapt the limiter to the outcome.
func (l *Limiter) release(t turn, sent time.Time, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t != listPage {
		l.inFlight--
	}
	l.adaptLocked(sent, throttled)
	l.wakeLocked()
}

func (l *Limiter) adaptLocked(sent time.Time, throttled bool) {
	now := l.now()
	if throttled {
		l.throttledLocked(now, sent)
	} else {
		l.succeededLocked(now)
	}
}

// throttledLocked drops the pace under the rate the vault accepted over
// the last quarter second, the rate at which it pushed back: once per
// round, since 429s to requests sent before the last decrease answer for
// what was sent then.
func (l *Limiter) throttledLocked(now, sent time.Time) {
	l.lastThrottle = now
	if !sent.After(l.lastDecrease) || (l.rate > 0 && !l.cold && sent.Before(l.lastDecrease.Add(settle))) {
		return
	}
	from := now.Add(-measureSpan)
	accepted, n := l.successRateSinceLocked(now, from)
	if l.escaping {
		// A doubling climb that ends in a 429 without having found much
		// room: the next goes at half the speed, so that a job alone at
		// the vault's limit does not keep overshooting it.
		l.escaping = false
		if l.rate < 2*l.pushedBack {
			l.doubling = min(2*l.doubling, maxDoubling)
		}
	}
	switch {
	case n == 0:
		// No success lately: the vault is busy with others, which says
		// nothing of this job's share. A trickle until it answers again.
		l.rate = minPace
		l.pushedBack = 0
		l.cold = true
	case l.rate == 0:
		// The first 429: the accepted rate includes the vault's burst.
		l.pushedBack = accepted
		l.rate = max(minPace, firstBeta*accepted)
	default:
		l.pushedBack = min(l.rate, accepted)
		l.rate = max(minPace, beta*l.pushedBack)
	}
	if l.slowStart || l.cold {
		l.limit = max(1, l.limit/2)
	}
	l.slowStart = false
	l.holdLocked(now, sent)
	l.lastRaise = now
}

func (l *Limiter) succeededLocked(now time.Time) {
	l.successes = append(trimWindow(l.successes, now), now)
	if l.cold {
		// The first success after the vault was busy with others: it has
		// room again, how much is not known. Climb fast from the trickle,
		// paced rather than in a burst that would meet a vault only
		// starting to refill, with the bound growing out of the way.
		l.cold = false
		l.doubling = coldDoubling
		l.lastThrottle = now.Add(-quietTime)
		l.slowStart = true
	}
	if l.slowStart {
		l.limit = min(l.max, l.limit+1)
	} else {
		l.limit = min(l.max, l.limit+1/l.limit)
	}
	l.climbLocked(now)
}

// climbLocked raises the pace for the time since it last could, if it is
// holding requests back. It runs on every success and whenever waiting
// requests are looked at, so that the pace climbs with time.
func (l *Limiter) climbLocked(now time.Time) {
	if l.rate <= 0 {
		return
	}
	dt := now.Sub(l.lastRaise)
	if l.lastRaise.IsZero() {
		dt = 0
	}
	l.lastRaise = now
	if len(l.waiters) == 0 || (!l.waiters[0].list() && l.inFlight >= int(l.limit)) {
		// Only a pace that is holding requests back is tested by their
		// success. Raising one the gets do not use up (the list has not
		// delivered enough work yet, or the bound holds them) would only
		// set up a burst for when they pick up again.
		return
	}
	// Probing adds the same requests per second, every second, for every
	// job whatever its share: with drops that come more often to the jobs
	// that send more, shares move towards equal. A climb in proportion to
	// the rate kept a starved job starved.
	probe := max(addRate, probeShare*l.pushedBack) * dt.Seconds()
	switch {
	case now.Sub(l.lastThrottle) >= quietTime:
		// No 429 for a while: room the probing has not found (others
		// left, a burst passed).
		l.escaping = true
		l.rate *= math.Exp2(float64(dt) / float64(l.doubling))
		if l.rate >= 2*l.pushedBack {
			// Room found: climb at full speed.
			l.doubling = min(l.doubling, minDoubling)
		}
	case l.rate < returnTo*l.pushedBack:
		// Back to just under the rate the vault did accept, fast.
		l.rate += (l.pushedBack-l.rate)*-math.Expm1(-float64(dt)/float64(returnTime)) + probe
	default:
		l.rate += probe
	}
	if l.rate > unpacedAbove {
		l.rate = 0
	}
}

// holdLocked records a decrease and holds every start for one round trip
// (the 429's, settle at most, in case that reply was slow): the requests
// already under way meet a vault with nothing left to give, and what they
// do not take refills for the list page that goes first once the hold ends.
func (l *Limiter) holdLocked(now, sent time.Time) {
	l.lastDecrease = now
	l.holdUntil = latest(l.holdUntil, now.Add(min(now.Sub(sent), settle)))
}

// Peak is the most gets that were ever in flight at once.
func (l *Limiter) Peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// policy returns the pipeline policy that applies the limiter to each try.
func (l *Limiter) policy() policy.Policy { return limitPolicy{l} }

type limitPolicy struct{ l *Limiter }

func (p limitPolicy) Do(req *policy.Request) (*http.Response, error) {
	t := firstTry
	switch {
	case IsList(req.Raw()):
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

// IsList reports whether r asks for a page of the secret list: the limiter
// lets it go first, and its reply may be larger.
func IsList(r *http.Request) bool {
	return strings.TrimSuffix(r.URL.Path, "/") == "/secrets"
}
