package keyvault

import (
	"context"
	"sync"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// queue is an unbounded FIFO between the lister and the workers. A bounded
// channel would make the list — the sequential critical path — wait for
// gets to finish before it may ask for the next page.
//
// While the list is still running, the queue also spreads the gets of each
// page over the time the next page takes instead of releasing them all at
// once. A burst of 25 gets sent the moment a page lands is answered just
// when the next page is, and the two then compete for the same CPU and
// connections; spread out, the next page finds a quiet client. The gets
// still run faster than the list produces them (spreadFactor), a backlog of
// more than a page is released at once, and after the last page nothing is
// held back.
type queue struct {
	mu     sync.Mutex
	items  []vaultref.Secret
	closed bool
	wake   chan struct{} // signalled (non-blocking) when items or closed change

	lastPage time.Time     // when the latest page was pushed
	pageLen  int           // items the latest page brought
	spacing  time.Duration // between releases while the list runs; 0 = none
	next     time.Time     // earliest release of the next item

	now   func() time.Time
	sleep func(context.Context, time.Duration)
}

// spreadFactor is the share of the page interval over which a page's gets
// are released: below 1, so that the gets outpace the list and no backlog
// builds up.
const spreadFactor = 0.75

func newQueue() *queue {
	return &queue{wake: make(chan struct{}, 1), now: time.Now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (q *queue) push(s vaultref.Secret) {
	q.mu.Lock()
	q.items = append(q.items, s)
	q.mu.Unlock()
	q.signal()
}

// pushPage queues one list page's items and measures the list's pace. The
// last page closes the queue in the same step, so that none of its items
// is held back as if more pages were coming.
func (q *queue) pushPage(items []vaultref.Secret, last bool) {
	q.mu.Lock()
	q.closed = q.closed || last
	now := q.now()
	if !q.lastPage.IsZero() && len(items) > 0 {
		q.spacing = time.Duration(spreadFactor * float64(now.Sub(q.lastPage)) / float64(len(items)))
	}
	q.lastPage = now
	q.pageLen = len(items)
	q.items = append(q.items, items...)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the next item, waiting for one and then for its release
// time; ok is false once the queue is closed and drained.
func (q *queue) pop(ctx context.Context) (s vaultref.Secret, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			s = q.items[0]
			q.items[0] = vaultref.Secret{}
			q.items = q.items[1:]
			more := len(q.items) > 0 || q.closed
			wait := q.releaseLocked()
			q.mu.Unlock()
			if more {
				// Pass the wake-up on: one signal may stand for many pushes.
				q.signal()
			}
			if wait > 0 {
				q.sleep(ctx, wait)
			}
			return s, true
		}
		if q.closed {
			q.mu.Unlock()
			q.signal()
			return vaultref.Secret{}, false
		}
		q.mu.Unlock()
		<-q.wake
	}
}

// releaseLocked reserves the popped item's release time and returns how
// long to wait for it.
func (q *queue) releaseLocked() time.Duration {
	now := q.now()
	if q.closed || q.spacing <= 0 || len(q.items) >= q.pageLen {
		// The list is done, its pace is not known yet, or the gets have
		// fallen a page behind: hold nothing back.
		q.next = now
		return 0
	}
	start := q.next
	if start.Before(now) {
		start = now
	}
	q.next = start.Add(q.spacing)
	return start.Sub(now)
}
