package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// sharedCase is K task runs at once, as a matrix build's parallel jobs,
// against one vault whose throttle they share, perhaps with another client
// of the vault beside them.
type sharedCase struct {
	name   string
	k, n   int
	faults localcloud.Faults // Latency is set from latency
	// rate is the vault's rate for the floor K(N + ceil(N/25)) / rate: the
	// bucket's, or the window's average.
	rate float64
	// neighbour is a steady other client's rate (requests/s) while the
	// jobs run; its 429 share during the job is reported.
	neighbour float64
	// exhaust: another client keeps the vault exhausted from before the
	// job starts until this long after (a cold 429), reading at
	// exhaustRate, then stops.
	exhaust     time.Duration
	exhaustRate float64
}

// sharedCases are the rows for many jobs on one vault. Key Vault allows
// 4,000 reads per 10 s per vault: the token buckets hold a second of their
// rate, as the measurements in issue 12 did.
func sharedCases() []sharedCase {
	bucket := func(rate float64) localcloud.Faults { return localcloud.Faults{Rate: rate, Burst: rate} }
	return []sharedCase{
		{name: "K=10 N=300 400/s", k: 10, n: 300, rate: 400, faults: bucket(400)},
		{name: "K=10 N=300 200/s", k: 10, n: 300, rate: 200, faults: bucket(200)},
		{name: "K=10 N=1000 400/s", k: 10, n: 1000, rate: 400, faults: bucket(400)},
		{name: "K=10 N=1000 window", k: 10, n: 1000, rate: float64(localcloud.KeyVaultWindowLimit) / localcloud.KeyVaultWindow.Seconds(),
			faults: localcloud.Faults{Window: localcloud.KeyVaultWindow, WindowLimit: localcloud.KeyVaultWindowLimit}},
		{name: "K=1 N=1000 cold 429", k: 1, n: 1000, rate: 400, faults: bucket(400), exhaust: 2 * time.Second, exhaustRate: 600},
		{name: "K=1 N=1000 neighbour", k: 1, n: 1000, rate: 100, faults: bucket(400), neighbour: 300},
	}
}

// sharedRun is one run of a sharedCase.
type sharedRun struct {
	walls       []time.Duration // per job, sorted
	requests    int             // the jobs' requests to the vault (challenges included)
	throttled   int             // the jobs' 429s
	lost        int
	succeeded   int
	otherSent   int // the neighbour's requests sent while a job ran
	other429    int
	fullSpeedIn time.Duration // exhaust: from the vault's recovery to the job at full speed; -1: never
}

const (
	neighbourClient = "5d0e7c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
	neighbourSecret = "neighbour-client-secret"
)

func runShared(ctx context.Context, taskDir string, c sharedCase, latency time.Duration, verbose bool) (sharedRun, error) {
	dir, err := os.MkdirTemp("", "gokeyvault-bench-")
	if err != nil {
		return sharedRun{}, err
	}
	defer os.RemoveAll(dir)
	world, err := startWorld(ctx, dir)
	if err != nil {
		return sharedRun{}, err
	}
	defer world.Close()
	cloud, vault := world.Cloud, world.Vault
	cloud.AddApp(testworld.TenantID, neighbourClient, neighbourSecret)
	want := map[string]string{}
	for i := 0; i < c.n; i++ {
		name := fmt.Sprintf("secret-%04d", i)
		v := fmt.Sprintf("value-%04d-%s", i, strings.Repeat("x", 64))
		vault.Put(localcloud.Secret{Name: name, Value: v, Version: fmt.Sprintf("%032x", i)})
		want[name] = v
	}
	// The other client reads the first secret by its version, which the
	// task never does: its requests are told apart by their path.
	otherPath := "/secrets/secret-0000/" + fmt.Sprintf("%032x", 0)
	f := c.faults
	f.Latency = latency
	vault.SetFaults(f)

	var other *localcloud.Neighbour
	otherRate := c.neighbour
	if c.exhaust > 0 {
		otherRate = c.exhaustRate
	}
	if otherRate > 0 {
		other, err = cloud.StartNeighbour(ctx, localcloud.NeighbourOptions{Vault: vault, TenantID: testworld.TenantID, ClientID: neighbourClient,
			ClientSecret: neighbourSecret, Path: otherPath, Rate: otherRate})
		if err != nil {
			return sharedRun{}, err
		}
		defer other.Stop()
		if c.exhaust > 0 {
			// Long enough for the other client to drain the bucket.
			time.Sleep(time.Duration(float64(time.Second) * (c.faults.Burst + 1) / (c.exhaustRate - c.faults.Rate)))
		}
	}

	start := time.Now()
	var stopOther sync.Once
	if c.exhaust > 0 {
		t := time.AfterFunc(c.exhaust, func() { stopOther.Do(other.Stop) })
		defer t.Stop()
	}
	type jobResult struct {
		wall time.Duration
		res  *agentrunner.Result
		err  error
	}
	results := make([]jobResult, c.k)
	var wg sync.WaitGroup
	for i := range c.k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			home, err := os.MkdirTemp(dir, "home-")
			if err != nil {
				results[i].err = err
				return
			}
			t0 := time.Now()
			res, err := agentrunner.Run(ctx, world.Options(taskDir, "*", home))
			results[i] = jobResult{wall: time.Since(t0), res: res, err: err}
		}()
	}
	wg.Wait()
	end := time.Now()
	if other != nil {
		stopOther.Do(other.Stop)
	}

	var r sharedRun
	for i, jr := range results {
		if jr.err != nil {
			return sharedRun{}, fmt.Errorf("job %d: %w", i, jr.err)
		}
		r.walls = append(r.walls, jr.wall)
		if jr.res.Result == "Succeeded" {
			r.succeeded++
		}
		for name, v := range want {
			if got, ok := jr.res.Variables[name]; !ok || got.Value != v {
				r.lost++
			}
		}
	}
	sort.Slice(r.walls, func(i, j int) bool { return r.walls[i] < r.walls[j] })
	reqs := vault.Requests()
	if verbose {
		var mine []localcloud.Request
		for _, q := range reqs {
			if q.Path != otherPath {
				mine = append(mine, q)
			}
		}
		fmt.Printf("%s: the jobs' requests by status (list pages +1000) per 100 ms\n", c.name)
		timeline(start, markLists(mine))
	}
	for _, q := range reqs {
		if q.Path == otherPath {
			continue
		}
		r.requests++
		if q.Status == 429 {
			r.throttled++
		}
	}
	if other != nil && c.neighbour > 0 {
		for _, a := range other.Answers() {
			if a.Sent.Before(start) || a.Sent.After(end) {
				continue
			}
			r.otherSent++
			if a.Status == 429 {
				r.other429++
			}
		}
	}
	if c.exhaust > 0 {
		r.fullSpeedIn = fullSpeed(reqs, otherPath, start.Add(c.exhaust), 0.9*c.rate)
	}
	return r, nil
}

// fullSpeed is how long after recovered the job's successes first reach
// want per second over half a second; -1 if they never do.
func fullSpeed(reqs []localcloud.Request, otherPath string, recovered time.Time, want float64) time.Duration {
	var oks []time.Time
	for _, q := range reqs {
		if q.Path != otherPath && q.Status == 200 && !q.At.Before(recovered) {
			oks = append(oks, q.At)
		}
	}
	sort.Slice(oks, func(i, j int) bool { return oks[i].Before(oks[j]) })
	const span = 500 * time.Millisecond
	need := int(math.Ceil(want * span.Seconds()))
	for i := 0; i+need-1 < len(oks); i++ {
		if oks[i+need-1].Sub(oks[i]) < span {
			return oks[i].Sub(recovered)
		}
	}
	return -1
}

func benchShared(ctx context.Context, taskDir string, cases []sharedCase, runs int, latency time.Duration, verbose bool) error {
	fmt.Printf("\nJobs at once on one vault (%v latency): the slowest job's wall, median of %d runs (min-max)\n", latency, runs)
	fmt.Printf("%-26s %8s %17s %8s %8s %6s %6s %8s %6s %5s %5s %6s %s\n", "case", "slowest", "(min-max)", "fastest", "floor", "ratio", "worst", "requests", "429s", "amp", "lost", "ok", "other")
	for _, c := range cases {
		var rs []sharedRun
		for i := 0; i < runs; i++ {
			r, err := runShared(ctx, taskDir, c, latency, verbose)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			rs = append(rs, r)
		}
		slowest := func(r sharedRun) time.Duration { return r.walls[len(r.walls)-1] }
		sort.Slice(rs, func(i, j int) bool { return slowest(rs[i]) < slowest(rs[j]) })
		m := rs[len(rs)/2]
		floor := time.Duration(float64(c.k*(c.n+(c.n+24)/25)) / c.rate * float64(time.Second))
		var fastest []time.Duration
		lost, ok, total := 0, 0, 0
		var other, other429 int
		var speeds []time.Duration
		for _, r := range rs {
			fastest = append(fastest, r.walls[0])
			lost += r.lost
			ok += r.succeeded
			total += c.k
			other += r.otherSent
			other429 += r.other429
			speeds = append(speeds, r.fullSpeedIn)
		}
		extra := ""
		switch {
		case c.neighbour > 0:
			extra = fmt.Sprintf("neighbour %.0f/s: %.1f%% of its %d requests refused", c.neighbour, 100*float64(other429)/float64(max(other, 1)), other)
		case c.exhaust > 0:
			extra = fmt.Sprintf("full speed %s after the vault recovered", speedSummary(speeds))
		}
		fmt.Printf("%-26s %8v %17s %8v %8v %6.2f %6.2f %8d %6d %5.2f %5d %6s %s\n", c.name,
			slowest(m).Round(10*time.Millisecond),
			fmt.Sprintf("(%v-%v)", slowest(rs[0]).Round(10*time.Millisecond), slowest(rs[len(rs)-1]).Round(10*time.Millisecond)),
			median(fastest).Round(10*time.Millisecond), floor.Round(10*time.Millisecond),
			float64(slowest(m))/float64(floor), float64(slowest(rs[len(rs)-1]))/float64(floor),
			m.requests, m.throttled, float64(m.requests)/float64(c.k*c.n), lost, fmt.Sprintf("%d/%d", ok, total), extra)
	}
	fmt.Println("\nfloor: K(N + ceil(N/25)) / rate, every request of every job at the vault's rate (the window's is 4,000 / 10 s;")
	fmt.Println("the neighbour row's is what the other client leaves); a bucket's burst lets a run beat it.")
	fmt.Println("ratio: the median run's slowest job over the floor; worst: the slowest run's. fastest: the fastest job, median of runs.")
	fmt.Println("requests, 429s: the jobs' requests to the vault in the median run (challenges included); amp = requests / (K N).")
	fmt.Println("lost: secrets not set, all runs. ok: jobs that Succeeded.")
	fmt.Println("cold 429: another client reads 600/s from before the job starts until 2 s after (the vault allows 400/s);")
	fmt.Println("full speed: from then until the job's successes reach 90% of the vault's rate over half a second.")
	fmt.Println("neighbour: another client reads 300/s throughout; its 429s are counted while the job runs.")
	return nil
}

// speedSummary is the median and worst time to full speed; "never" when a
// run did not get there.
func speedSummary(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if s[0] < 0 {
		return "never (some runs)"
	}
	return fmt.Sprintf("%v (worst %v)", s[len(s)/2].Round(10*time.Millisecond), s[len(s)-1].Round(10*time.Millisecond))
}
