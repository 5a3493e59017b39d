package supervise

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const grace = 100 * time.Millisecond

// syncBuffer is an output that tests read while others write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func lastWith(line string, code int) func(io.Writer) int {
	return func(out io.Writer) int {
		fmt.Fprintln(out, line)
		return code
	}
}

func stopWith(line string, code int) Stop { return Stop{Last: lastWith(line, code)} }

// TestRunEndsOnItsOwn: a body that ends is waited for, whether or not the
// context ends meanwhile, and its last words are its own.
func TestRunEndsOnItsOwn(t *testing.T) {
	for _, canceled := range []bool{false, true} {
		t.Run(fmt.Sprint("canceled ", canceled), func(t *testing.T) {
			var out syncBuffer
			g := NewGate(&out)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			body := func() int {
				fmt.Fprintln(g, "working")
				if canceled {
					cancel()
					time.Sleep(grace / 4) // within the grace
				}
				code, _ := g.Last(lastWith("done", 3))
				return code
			}
			code := Run(ctx, g, grace, body, stopWith("stopped", 9))
			if code != 3 || out.String() != "working\ndone\n" {
				t.Errorf("Run = %d, output %q; want 3, the body's lines", code, out.String())
			}
		})
	}
}

// TestRunStopsAStuckBody: a body that ignores its context and never ends
// (it spins, then writes when it is let go) is given the grace, then the
// supervisor writes the end and Run returns; nothing the body writes
// afterwards reaches the output.
func TestRunStopsAStuckBody(t *testing.T) {
	var out syncBuffer
	g := NewGate(&out)
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	wrote := make(chan struct{})
	body := func() int {
		fmt.Fprintln(g, "working")
		<-release // ignores ctx
		fmt.Fprintln(g, "late line")
		code, ok := g.Last(lastWith("late end", 3))
		if ok {
			t.Error("the body wrote its end after the supervisor")
		}
		close(wrote)
		return code
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	code := Run(ctx, g, grace, body, stopWith("stopped", 9))
	took := time.Since(start)
	if code != 9 {
		t.Errorf("Run = %d, want the supervisor's 9", code)
	}
	if took < 20*time.Millisecond+grace || took > 20*time.Millisecond+grace+time.Second {
		t.Errorf("Run returned after %v, want the cancel (20ms) and the grace (%v)", took, grace)
	}
	close(release)
	<-wrote
	if diff := cmp.Diff("working\nstopped\n", out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestRunKeepsLinesWhole: a body writing lines from several goroutines
// while the supervisor ends it: every line is whole,
// the supervisor's two lines are together, and they are the last.
func TestRunKeepsLinesWhole(t *testing.T) {
	var out syncBuffer
	g := NewGate(&out)
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	var writers sync.WaitGroup
	body := func() int {
		for i := range 4 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				line := []byte(strings.Repeat(fmt.Sprint(i), 1000) + "\n")
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = g.Write(line)
					time.Sleep(50 * time.Microsecond)
				}
			}()
		}
		select {} // never ends
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	code := Run(ctx, g, grace, body, Stop{Last: func(out io.Writer) int {
		fmt.Fprintln(out, "first of the end")
		fmt.Fprintln(out, "second of the end")
		return 9
	}})
	time.Sleep(20 * time.Millisecond) // the writers go on meanwhile
	close(stop)
	writers.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if code != 9 || len(lines) < 3 {
		t.Fatalf("Run = %d after %d lines", code, len(lines))
	}
	n := len(lines)
	if lines[n-2] != "first of the end" || lines[n-1] != "second of the end" {
		t.Errorf("the last two lines are %q, want the supervisor's", lines[n-2:])
	}
	for i, l := range lines[:n-2] {
		if len(l) != 1000 || strings.Count(l, l[:1]) != 1000 {
			t.Fatalf("line %d is not one writer's whole line: %.40q... (%d bytes)", i, l, len(l))
		}
	}
}

// TestRunOutputTakesNothing: when the output itself blocks (nobody reads
// it), Run still returns after the grace and another for the end.
func TestRunOutputTakesNothing(t *testing.T) {
	blocked := make(chan struct{})
	defer close(blocked)
	g := NewGate(writerFunc(func(p []byte) (int, error) {
		<-blocked
		return len(p), nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	code := Run(ctx, g, grace, func() int {
		fmt.Fprintln(g, "never taken")
		return 0
	}, stopWith("stopped", 9))
	if took := time.Since(start); code != Unreported || took > 2*grace+time.Second {
		t.Errorf("Run = %d after %v; want %d within two graces", code, took, Unreported)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestRunPanics: a panic in the body reaches the caller's goroutine, where
// the binary's own recovery is.
func TestRunPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	Run(context.Background(), NewGate(io.Discard), grace, func() int { panic("boom") }, stopWith("stopped", 9))
	t.Error("Run returned")
}

// TestRunHalts: Halt comes before the end, while the run may still write
// (a file it finishes is announced), and one that never returns holds
// the end back for a grace only.
func TestRunHalts(t *testing.T) {
	for _, stuck := range []bool{false, true} {
		t.Run(fmt.Sprint("halt stuck ", stuck), func(t *testing.T) {
			var out syncBuffer
			g := NewGate(&out)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			never := make(chan struct{})
			defer close(never)
			halt := func() {
				fmt.Fprintln(g, "announced during the halt")
				if stuck {
					<-never
				}
			}
			start := time.Now()
			code := Run(ctx, g, grace, func() int { <-never; return 0 }, Stop{Halt: halt, Last: lastWith("stopped", 9)})
			if took := time.Since(start); code != 9 || took > 3*grace+time.Second {
				t.Errorf("Run = %d after %v; want 9 within three graces", code, took)
			}
			if diff := cmp.Diff("announced during the halt\nstopped\n", out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}
