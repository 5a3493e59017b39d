package keyvault

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

func secrets(prefix string, n int) []vaultref.Secret {
	s := make([]vaultref.Secret, n)
	for i := range s {
		s[i] = vaultref.Secret{Name: fmt.Sprintf("%s%d", prefix, i)}
	}
	return s
}

// TestQueueSpreadsPages checks when each popped item is released. The clock
// stands still while popping, as for workers that all pop at one instant,
// so the waits show the slots the queue hands out.
func TestQueueSpreadsPages(t *testing.T) {
	type page struct {
		after time.Duration // since the previous page
		n     int
		last  bool
	}
	type popped struct {
		Name string
		Wait time.Duration
	}
	const ms = time.Millisecond
	tests := []struct {
		name  string
		pages []page
		pops  int
		want  []popped
	}{{
		name:  "first page: pace unknown, nothing held back",
		pages: []page{{n: 3}},
		pops:  3,
		want:  []popped{{"a0", 0}, {"a1", 0}, {"a2", 0}},
	}, {
		name:  "second page spread over 3/4 of the interval",
		pages: []page{{n: 1}, {after: 8 * ms, n: 4}},
		pops:  5,
		// a0 goes at once, a page behind; the second page's four share
		// 0.75 x 8 ms from now: a slot every 1.5 ms.
		want: []popped{{"a0", 0}, {"b0", 0}, {"b1", 1500 * time.Microsecond}, {"b2", 3 * ms}, {"b3", 4500 * time.Microsecond}},
	}, {
		name:  "last page: nothing held back",
		pages: []page{{n: 1}, {after: 8 * ms, n: 4, last: true}},
		pops:  5,
		want:  []popped{{"a0", 0}, {"b0", 0}, {"b1", 0}, {"b2", 0}, {"b3", 0}},
	}, {
		name:  "a page or more behind: released at once until caught up",
		pages: []page{{n: 1}, {after: 8 * ms, n: 2}, {after: 8 * ms, n: 2}},
		pops:  5,
		// Four wait after a0; while two or more (a page) remain, they
		// go at once; the last one takes a slot.
		want: []popped{{"a0", 0}, {"b0", 0}, {"b1", 0}, {"c0", 0}, {"c1", 3 * ms}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1000, 0)}
			q := newQueue()
			q.now = clk.now
			var waits []time.Duration
			q.sleep = func(_ context.Context, d time.Duration) { waits = append(waits, d) }
			for i, p := range tt.pages {
				clk.t = clk.t.Add(p.after)
				q.pushPage(secrets(string(rune('a'+i)), p.n), p.last)
			}
			var got []popped
			for range tt.pops {
				waits = nil
				s, ok := q.pop(context.Background())
				if !ok {
					t.Fatalf("pop: queue closed after %d items", len(got))
				}
				var w time.Duration
				for _, d := range waits {
					w += d
				}
				got = append(got, popped{s.Name, w})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("release times (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQueueDrainsThenCloses(t *testing.T) {
	q := newQueue()
	q.pushPage(secrets("a", 2), false)
	q.pushPage(secrets("b", 1), true)
	var got []string
	for {
		s, ok := q.pop(context.Background())
		if !ok {
			break
		}
		got = append(got, s.Name)
	}
	if diff := cmp.Diff([]string{"a0", "a1", "b0"}, got); diff != "" {
		t.Errorf("popped (-want +got):\n%s", diff)
	}
	if _, ok := q.pop(context.Background()); ok {
		t.Error("pop after drain: ok, want closed")
	}
}

// TestQueueWaitEndsWithContext: a worker holding an item for its slot is not
// kept past cancellation.
func TestQueueWaitEndsWithContext(t *testing.T) {
	q := newQueue()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q.now = clk.now
	q.pushPage(secrets("a", 1), false)
	// Pages 33h20m apart: b's 25 are spread over 3/4 of that, one an hour.
	clk.t = clk.t.Add(100 * time.Hour / 3)
	q.pushPage(secrets("b", 25), false)
	ctx, cancel := context.WithCancel(context.Background())
	// a0 goes at once (a page behind), b0 takes the first slot, now.
	for _, want := range []string{"a0", "b0"} {
		if s, ok := q.pop(ctx); !ok || s.Name != want {
			t.Fatalf("pop = %q, %v; want %q", s.Name, ok, want)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.pop(ctx) // b1: an hour away
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("pop still waiting for its slot after cancel")
	}
}
