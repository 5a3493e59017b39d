package keyvault

import (
	"sync"

	"github.com/gokeyvault/gokeyvault/pkg/inputs"
)

// queue is an unbounded FIFO between the lister and the workers. A bounded
// channel would make the list — the sequential critical path — wait for
// gets to finish before it may ask for the next page.
type queue struct {
	mu     sync.Mutex
	items  []inputs.Secret
	closed bool
	wake   chan struct{} // signalled (non-blocking) when items or closed change
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(s inputs.Secret) {
	q.mu.Lock()
	q.items = append(q.items, s)
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

// pop returns the next item, waiting for one; ok is false once the queue is
// closed and drained.
func (q *queue) pop() (s inputs.Secret, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			s = q.items[0]
			q.items[0] = inputs.Secret{}
			q.items = q.items[1:]
			more := len(q.items) > 0 || q.closed
			q.mu.Unlock()
			if more {
				// Pass the wake-up on: one signal may stand for many pushes.
				q.signal()
			}
			return s, true
		}
		if q.closed {
			q.mu.Unlock()
			q.signal()
			return inputs.Secret{}, false
		}
		q.mu.Unlock()
		<-q.wake
	}
}
