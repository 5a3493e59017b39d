package localcloud_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

// TestThrottleLimits: the bucket lets its burst through back to back, the
// window its limit, and each refusal says when the vault will have room.
// The refill rates are slow enough (1/s, 1/h) that the requests of a test
// take none of them.
func TestThrottleLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "x", Value: "v"})
	type answer struct {
		Status     int
		RetryAfter string // Retry-After, or x-ms-retry-after-ms rounded up to seconds
	}
	ok := answer{Status: 200}
	tests := []struct {
		name   string
		faults localcloud.Faults
		want   []answer
	}{{
		name:   "bucket, default burst of one",
		faults: localcloud.Faults{Rate: 1},
		want:   []answer{ok, {429, "1"}},
	}, {
		name:   "bucket with a burst of 3",
		faults: localcloud.Faults{Rate: 1, Burst: 3},
		want:   []answer{ok, ok, ok, {429, "1"}, {429, "1"}},
	}, {
		name:   "window: 3 an hour, until the first leaves it",
		faults: localcloud.Faults{Window: time.Hour, WindowLimit: 3},
		want:   []answer{ok, ok, ok, {429, "3600"}, {429, "3600"}},
	}, {
		name:   "window in milliseconds",
		faults: localcloud.Faults{Window: time.Hour, WindowLimit: 1, RetryAfter: "ms"},
		want:   []answer{ok, {429, "3600"}},
	}, {
		name:   "bucket and window: the window is the tighter",
		faults: localcloud.Faults{Rate: 1, Burst: 10, Window: time.Hour, WindowLimit: 2},
		want:   []answer{ok, ok, {429, "3600"}},
	}, {
		name:   "bucket and window: the bucket is the tighter",
		faults: localcloud.Faults{Rate: 1, Burst: 2, Window: time.Hour, WindowLimit: 10},
		want:   []answer{ok, ok, {429, "1"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.v.SetFaults(tc.faults)
			var got []answer
			for range tc.want {
				r := do(t, f.c, http.MethodGet, f.base+"/secrets/x?api-version=7.4", f.token, nil)
				a := answer{Status: r.status, RetryAfter: r.header.Get("Retry-After")}
				if ms := r.header.Get("x-ms-retry-after-ms"); ms != "" {
					n, err := strconv.Atoi(ms)
					if err != nil {
						t.Fatalf("x-ms-retry-after-ms %q", ms)
					}
					a.RetryAfter = strconv.Itoa((n + 999) / 1000)
				}
				got = append(got, a)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestThrottleShared: the limit is the vault's, not a client's: what one
// app uses up, another is refused; and a refused request takes nothing, so
// the bucket refills as if it had not been sent.
func TestThrottleShared(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "x", Value: "v"})
	f.c.AddApp(tenantA, "2f6b1c3d-7e8f-4a5b-9c0d-1e2f3a4b5c6d", "other-secret")
	other := tokenFor(t, f.c, tenantA, "2f6b1c3d-7e8f-4a5b-9c0d-1e2f3a4b5c6d", "other-secret", "https://vault.azure.net/.default")
	get := func(token string) int {
		return do(t, f.c, http.MethodGet, f.base+"/secrets/x?api-version=7.4", token, nil).status
	}
	// 2/s with a burst of 2: a token every 500 ms, time enough for the
	// third request to come before the next token on a loaded machine.
	f.v.SetFaults(localcloud.Faults{Rate: 2, Burst: 2})
	got := []int{get(f.token), get(f.token), get(other)}
	for range 10 {
		get(other)
	}
	// Refusals took nothing: 600 ms refill at least one token, whatever
	// was refused before.
	time.Sleep(600 * time.Millisecond)
	got = append(got, get(other))
	if diff := cmp.Diff([]int{200, 200, 429, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestNeighbour: another client reads at its rate with its own token,
// through the proxy, and its answers are the vault's record of its
// requests.
func TestNeighbour(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	version := f.v.Put(localcloud.Secret{Name: "x", Value: "v"})
	f.c.AddApp(tenantA, "2f6b1c3d-7e8f-4a5b-9c0d-1e2f3a4b5c6d", "other-secret")
	// A burst of 3 and no refill to speak of: 3 answered, the rest 429.
	f.v.SetFaults(localcloud.Faults{Rate: 0.001, Burst: 3})
	path := "/secrets/x/" + version
	n, err := f.c.StartNeighbour(t.Context(), localcloud.NeighbourOptions{Vault: f.v, TenantID: tenantA,
		ClientID: "2f6b1c3d-7e8f-4a5b-9c0d-1e2f3a4b5c6d", ClientSecret: "other-secret", Path: path, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	for len(n.Answers()) < 10 {
		time.Sleep(10 * time.Millisecond)
	}
	n.Stop()
	answers := n.Answers()
	count := map[int]int{}
	for _, a := range answers {
		count[a.Status]++
	}
	served := map[int]int{}
	for _, r := range f.v.Requests() {
		if r.Path == path {
			served[r.Status]++
		}
	}
	if diff := cmp.Diff(served, count); diff != "" {
		t.Errorf("the neighbour's answers against the vault's record (-vault +neighbour):\n%s", diff)
	}
	if count[200] != 3 || count[429] != len(answers)-3 {
		t.Errorf("answers %v, want 3 × 200 and the rest 429", count)
	}
	if _, err := f.c.StartNeighbour(t.Context(), localcloud.NeighbourOptions{Vault: f.v, TenantID: tenantA,
		ClientID: "2f6b1c3d-7e8f-4a5b-9c0d-1e2f3a4b5c6d", ClientSecret: "wrong", Path: path, Rate: 1}); err == nil {
		t.Error("a neighbour with a wrong secret started")
	}
}
