// Package supervise bounds a run by its context, whatever the run is doing.
//
// A run that is told to stop (its time budget spent, a signal, the launcher
// gone) usually stops within milliseconds: every request watches the
// context. Work that does not (a conversion burning CPU on a hostile
// certificate, a library call that blocks) would keep the process alive
// long after the agent stopped waiting for it, holding its log pipe. So the
// run goes on in a goroutine of its own; once the context is done it has a
// short grace to end and report as usual, and otherwise the supervisor
// reports the end in its place and returns, and the caller exits.
//
// Both write to the same output through a Gate, which keeps them apart:
// each write is whole, and whoever ends first writes the last words alone
// and shuts the gate, so that nothing the run writes afterwards is seen.
package supervise

import (
	"context"
	"io"
	"sync"
	"time"
)

// Gate is the output a run and its supervisor share.
type Gate struct {
	mu     sync.Mutex
	out    io.Writer
	closed bool
	code   int // the exit code of whoever ended
}

// NewGate is an open gate on out.
func NewGate(out io.Writer) *Gate { return &Gate{out: out} }

// Write writes p whole, or nothing once the gate is shut (it then reports
// success: the run has nothing left to do about it).
func (g *Gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.out.Write(p)
}

// Last lets last write the end of the run alone on the gate's output, then
// shuts the gate. It returns last's exit code and true, or, when the gate
// was shut already, the exit code of whoever shut it and false; last is
// then not called.
func (g *Gate) Last(last func(out io.Writer) int) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return g.code, false
	}
	g.closed = true
	g.code = last(g.out)
	return g.code, true
}

// Stop is how a supervisor ends a run in its place.
type Stop struct {
	// Halt, if set, keeps the run from starting anything more that must be
	// written about (a file whose variable would never be set), and waits
	// for what is under way; the run may still write meanwhile.
	Halt func()
	// Last writes the end, alone on the output, and returns the exit code.
	Last func(out io.Writer) int
}

// Run runs body, which writes through g (the run's last words through
// g.Last), and returns its exit code. Once ctx is done body has grace to
// return; if it has not, stop ends it: Halt, then Last (unless body wrote
// its own end already), each given at most another grace, and Run returns
// without waiting for body any longer. A panic in body is raised again in
// the caller's goroutine.
func Run(ctx context.Context, g *Gate, grace time.Duration, body func() int, stop Stop) int {
	type ended struct {
		code     int
		panicked bool
		value    any
	}
	done := make(chan ended, 1)
	go func() {
		e := ended{panicked: true}
		defer func() {
			if e.panicked {
				e.value = recover()
			}
			done <- e
		}()
		e.code = body()
		e.panicked = false
	}()
	wait := func(e ended) int {
		if e.panicked {
			panic(e.value)
		}
		return e.code
	}
	select {
	case e := <-done:
		return wait(e)
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case e := <-done:
		return wait(e)
	case <-t.C:
	}
	// Both may wait for a write under way; one that never ends (an output
	// nobody reads) must not hold the process either.
	if stop.Halt != nil {
		within(grace, func() int { stop.Halt(); return 0 })
	}
	code, ok := within(grace, func() int {
		code, _ := g.Last(stop.Last)
		return code
	})
	if !ok {
		return Unreported
	}
	return code
}

// within runs f and returns its result, or false once d has passed.
func within(d time.Duration, f func() int) (int, bool) {
	done := make(chan int, 1)
	go func() { done <- f() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case code := <-done:
		return code, true
	case <-t.C:
		return 0, false
	}
}

// Unreported is Run's exit code when neither the run nor its supervisor
// could write the end: the output took no more.
const Unreported = 1
