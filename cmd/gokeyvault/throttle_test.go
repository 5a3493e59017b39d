package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// TestThrottledAndFaulty: a vault at its limit, answering 429 with and
// without hints and 503 one time in ten. Every secret arrives exactly once,
// and the requests in flight stay within the bound (32 gets + the list).
func TestThrottledAndFaulty(t *testing.T) {
	for _, mode := range []string{"seconds", "ms", "none", "mixed"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t)
			want := map[string]agentrunner.Variable{}
			for i := 0; i < 120; i++ {
				name, v := fmt.Sprintf("s-%03d", i), fmt.Sprintf("value-%03d", i)
				w.Vault.Put(localcloud.Secret{Name: name, Value: v})
				want[name] = testworld.SecretVar(v)
			}
			w.Vault.SetFaults(localcloud.Faults{Latency: 5 * time.Millisecond, Rate: 200, RetryAfter: mode, Fail503: 0.1})

			res := w.Run(step{Timeout: 50 * time.Second})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			ok := map[string]int{}
			throttled := 0
			for _, r := range w.Vault.Requests() {
				switch {
				case r.Secret != "" && r.Status == 200:
					ok[r.Secret]++
				case r.Status == 429:
					throttled++
				}
			}
			for name := range want {
				if ok[name] != 1 {
					t.Errorf("secret %s answered %d times, want exactly once", name, ok[name])
				}
			}
			if throttled == 0 {
				t.Errorf("the vault never throttled: the test does not test throttling")
			}
			if got := w.Vault.MaxInFlight(); got > 33 {
				t.Errorf("%d requests in flight, bound is 33", got)
			}
		})
	}
}

// TestGetsOverlapTheList: with 100 secrets over 4 list pages, values are
// fetched while later pages are still to come, after one challenge and one
// token request, over connections that are reused.
func TestGetsOverlapTheList(t *testing.T) {
	w := newWorld(t)
	want := map[string]agentrunner.Variable{}
	for i := 0; i < 100; i++ {
		name, v := fmt.Sprintf("s-%03d", i), fmt.Sprintf("value-%03d", i)
		w.Vault.Put(localcloud.Secret{Name: name, Value: v})
		want[name] = testworld.SecretVar(v)
	}
	w.Vault.SetFaults(localcloud.Faults{Latency: 20 * time.Millisecond})

	res := w.Run(step{})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	var lastPage time.Time
	challenges := 0
	for _, r := range w.Vault.Requests() {
		switch {
		case r.Status == 401:
			challenges++
		case strings.TrimRight(r.Path, "/") == "/secrets" && r.At.After(lastPage):
			lastPage = r.At
		}
	}
	early := 0
	for _, r := range w.Vault.Requests() {
		if r.Secret != "" && r.Status == 200 && r.At.Before(lastPage) {
			early++
		}
	}
	type counts struct{ Pages, Challenges, Tokens, GetsBeforeLastPage int }
	// The first page's gets start at once, up to the slow-start bound of
	// 8; how many more precede the last page depends on timing.
	got := counts{testworld.ListCalls(w.Vault), challenges, w.Cloud.TokenRequests(), min(early, 8)}
	if diff := cmp.Diff(counts{Pages: 4, Challenges: 1, Tokens: 1, GetsBeforeLastPage: 8}, got); diff != "" {
		t.Errorf("requests (-want +got; gets before the last page counted up to 8):\n%s", diff)
	}
	if n := w.Cloud.Handshakes(vaultName + ".vault.azure.net"); n > 36 {
		t.Errorf("%d TLS handshakes with the vault for %d requests: connections are not reused (bound 36)", n, len(w.Vault.Requests()))
	}
}
