package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// TestSharedThrottle: three task runs at once, as a matrix build's jobs,
// read one vault whose limit they share with a client that had it
// exhausted when they started. Every job Succeeds with every value, and
// the vault answered each secret exactly once per job: no value was lost
// or fetched twice, whatever the 429s.
func TestSharedThrottle(t *testing.T) {
	const jobs, n = 3, 60
	w := newWorld(t)
	want := map[string]agentrunner.Variable{}
	for i := range n {
		name, v := fmt.Sprintf("s-%03d", i), fmt.Sprintf("value-%03d", i)
		w.Vault.Put(localcloud.Secret{Name: name, Value: v})
		want[name] = testworld.SecretVar(v)
	}
	const other = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
	w.Cloud.AddApp(tenantID, other, "other-client-secret")
	// 100/s with a burst of 20 for 3 x 63 requests: a second or two.
	w.Vault.SetFaults(localcloud.Faults{Latency: 5 * time.Millisecond, Rate: 100, Burst: 20})
	version := w.Vault.Put(localcloud.Secret{Name: "app-config", Value: "in use elsewhere", Disabled: true})
	hog, err := w.Cloud.StartNeighbour(t.Context(), localcloud.NeighbourOptions{Vault: w.Vault, TenantID: tenantID, ClientID: other,
		ClientSecret: "other-client-secret", Path: "/secrets/app-config/" + version, Rate: 300})
	if err != nil {
		t.Fatal(err)
	}
	// Until the jobs have started and met the exhausted vault.
	stop := time.AfterFunc(500*time.Millisecond, hog.Stop)
	defer stop.Stop()

	results := make([]*agentrunner.Result, jobs)
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.Run(step{Timeout: 50 * time.Second})
		}()
	}
	wg.Wait()
	hog.Stop()

	for i, res := range results {
		if res.Result != "Succeeded" {
			t.Errorf("job %d: result %s; log:\n%s", i, res.Result, strings.Join(res.Log, "\n"))
			continue
		}
		if diff := cmp.Diff(want, res.Variables); diff != "" {
			t.Errorf("job %d: variables (-want +got):\n%s", i, diff)
		}
	}
	answered := map[string]int{}
	throttled := 0
	for _, r := range w.Vault.Requests() {
		switch {
		case r.Secret == "app-config":
		case r.Secret != "" && r.Status == 200:
			answered[r.Secret]++
		case r.Status == 429:
			throttled++
		}
	}
	for name := range want {
		if answered[name] != jobs {
			t.Errorf("secret %s answered %d times, want once per job (%d)", name, answered[name], jobs)
		}
	}
	if throttled == 0 {
		t.Errorf("the vault never throttled the jobs: the test does not test a shared throttle")
	}
}
