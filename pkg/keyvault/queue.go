package keyvault

import (
	"context"
	"sync"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// queue is an unbounded FIFO between the lister and the workers. A bounded
// channel would make the list — the sequential critical path — wait for
// gets to finish before it may ask for the next page. While the list runs,
// it releases each page's gets as reqpolicy.Spread says.
type queue struct {
	mu     sync.Mutex
	items  []vaultref.Secret
	closed bool
	wake   chan struct{} // signalled (non-blocking) when items or closed change
	spread reqpolicy.Spread

	now   func() time.Time
	sleep func(context.Context, time.Duration)
}

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
	q.spread.Page(q.now(), len(items))
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
			wait := q.spread.Release(q.now(), len(q.items), q.closed)
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
