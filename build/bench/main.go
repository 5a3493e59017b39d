// Command bench measures GoKeyVault end to end on the local cloud: the whole
// step as the agent runs it (node launcher included), against a vault with
// server-side latency, throttling and faults. Run it with `make bench`.
//
// For each single-job case it prints the median wall time over -runs runs,
// the number of requests (Key Vault + Entra ID), the peak RSS of the Go
// process (from its own resources debug line), secrets lost, and the ratio
// to the floor (3 + ceil(N/25)) x latency: the sequential list pages plus
// challenge, token and one get can never be faster.
//
// Then K task runs at once share one vault's throttle, as a matrix build's
// jobs do (shared.go): the slowest and fastest job, the floor K(N +
// ceil(N/25)) / rate, requests and 429s; a cold 429 (another client keeps
// the vault exhausted for the first 2 s of the job); and a good neighbour
// (another client reads steadily beside the job). -only picks cases by
// name.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

type benchCase struct {
	name    string
	n       int
	latency time.Duration
	faults  localcloud.Faults
	rate    float64 // for the throttled target: wall <= 1.2 x N / rate
	// listOnly disables every secret: the run lists all the pages and
	// fetches nothing. It measures what the sequential list alone costs
	// on this machine, the part of the floor no client can overlap.
	listOnly bool
}

type result struct {
	wall     time.Duration
	firstReq time.Duration // node start to the vault's first request
	requests int
	tokens   int
	rssMiB   float64
	lost     int
	outcome  string
}

func main() {
	runs := flag.Int("runs", 9, "runs per case; the median is reported")
	verbose := flag.Bool("v", false, "print each run's request timeline in 100 ms buckets")
	taskDir := flag.String("task", "task", "task folder with a built binary (make build)")
	only := flag.String("only", "", "run only the cases whose name matches this regular expression")
	flag.Parse()
	re, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: -only:", err)
		os.Exit(2)
	}
	if err := bench(*taskDir, *runs, *verbose, re); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func bench(taskDir string, runs int, verbose bool, only *regexp.Regexp) error {
	all := []benchCase{
		{name: "N=1 @10ms", n: 1, latency: 10 * time.Millisecond},
		{name: "N=100 @10ms", n: 100, latency: 10 * time.Millisecond},
		{name: "N=1000 @10ms", n: 1000, latency: 10 * time.Millisecond},
		{name: "N=1000 list only", n: 1000, latency: 10 * time.Millisecond, listOnly: true},
		{name: "N=300 150/s 429+503", n: 300, latency: 10 * time.Millisecond, rate: 150,
			faults: localcloud.Faults{Rate: 150, RetryAfter: "mixed", Fail503: 0.05}},
	}
	var cases []benchCase
	for _, c := range all {
		if only.MatchString(c.name) {
			cases = append(cases, c)
		}
	}
	var shared []sharedCase
	for _, c := range sharedCases() {
		if only.MatchString(c.name) {
			shared = append(shared, c)
		}
	}
	if len(cases) > 0 {
		if err := benchSingle(taskDir, cases, runs, verbose); err != nil {
			return err
		}
	}
	if len(shared) > 0 {
		return benchShared(context.Background(), taskDir, shared, runs, 10*time.Millisecond, verbose)
	}
	return nil
}

func benchSingle(taskDir string, cases []benchCase, runs int, verbose bool) error {
	dir, err := os.MkdirTemp("", "gokeyvault-bench-node-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "bare.js")
	if err := os.WriteFile(script, []byte("process.stdout.write('x')\n"), 0o644); err != nil {
		return err
	}
	var bares []time.Duration
	fmt.Printf("%-22s %9s %15s %9s %7s %8s %9s %6s %7s %s\n", "case", "wall", "(min-max)", "floor", "ratio", "requests", "peak RSS", "lost", "start+", "result")
	for _, c := range cases {
		var rs []result
		var starts, caseBares []time.Duration
		for i := 0; i < runs; i++ {
			b, err := bareNode(script)
			if err != nil {
				return err
			}
			caseBares = append(caseBares, b)
			r, err := runCase(taskDir, c, verbose)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			rs = append(rs, r)
			starts = append(starts, r.firstReq)
		}
		bares = append(bares, caseBares...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
		m := rs[len(rs)/2]
		floor := time.Duration(3+int(math.Ceil(float64(c.n)/25))) * c.latency
		lost, maxRSS := 0, 0.0
		for _, r := range rs {
			lost += r.lost
			maxRSS = math.Max(maxRSS, r.rssMiB)
		}
		spread := fmt.Sprintf("(%v-%v)", rs[0].wall.Round(time.Millisecond), rs[len(rs)-1].wall.Round(time.Millisecond))
		fmt.Printf("%-22s %9v %15s %9v %7.2f %8d %7.1fMiB %6d %7v %s\n", c.name, m.wall.Round(time.Millisecond), spread, floor,
			float64(m.wall)/float64(floor), m.requests+m.tokens, maxRSS, lost, (median(starts) - median(caseBares)).Round(time.Millisecond), m.outcome)
		if c.rate > 0 {
			target := time.Duration(1.2 * float64(c.n) / c.rate * float64(time.Second))
			fmt.Printf("%-22s throttled target: wall <= 1.2 x N / rate = %v; median %v\n", "", target, m.wall.Round(time.Millisecond))
		}
	}
	fmt.Printf("\nbare node start (spawn to the first byte a script writes): median %v of %d runs\n", median(bares).Round(time.Millisecond), len(bares))
	fmt.Printf("wall: whole step, node launcher included; the median of %d runs, then the fastest and slowest.\n", runs)
	fmt.Println("start+: node spawn to the vault's first request, minus a bare node start")
	fmt.Println("(the launcher's and the binary's own start-up cost).")
	fmt.Println("peak RSS: the Go process's own maximum resident set (getrusage), worst of the runs. lost: secrets not set, all runs.")
	fmt.Println("list only: the same 1000 secrets, all disabled: the 40 sequential list pages and no gets, the part no client can overlap.")
	return nil
}

// bareNode measures one plain node start: spawn until a script file it
// runs writes its first byte. It is what any Node handler costs before the
// task's own code starts; measured beside each run, since node's start
// time on a shared 2-core machine varies by tens of milliseconds.
func bareNode(script string) (time.Duration, error) {
	cmd := exec.Command("node", script)
	// The environment the task gets from the runner: PATH and HOME. This
	// machine's own (NODE_EXTRA_CA_CERTS, for one) makes node slower.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(script)}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("run node: %w", err)
	}
	defer func() { _ = cmd.Wait() }()
	var b [1]byte
	if _, err := out.Read(b[:]); err != nil {
		return 0, fmt.Errorf("read from node: %w", err)
	}
	return time.Since(start), nil
}

// startWorld starts the usual test world with the bench's vault.
func startWorld(ctx context.Context, dir string) (*testworld.World, error) {
	return testworld.Start(ctx, testworld.Options{Dir: dir, Vault: "kv-bench", ClientSecret: "bench-client-secret"})
}

var rssRE = regexp.MustCompile(`resources: peak RSS ([0-9.]+) MiB`)

func runCase(taskDir string, c benchCase, verbose bool) (result, error) {
	dir, err := os.MkdirTemp("", "gokeyvault-bench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	world, err := startWorld(ctx, dir)
	if err != nil {
		return result{}, err
	}
	defer world.Close()
	cloud, vault := world.Cloud, world.Vault
	want := map[string]string{}
	for i := 0; i < c.n; i++ {
		name := fmt.Sprintf("secret-%04d", i)
		v := fmt.Sprintf("value-%04d-%s", i, strings.Repeat("x", 64))
		vault.Put(localcloud.Secret{Name: name, Value: v, Disabled: c.listOnly})
		if !c.listOnly {
			want[name] = v
		}
	}
	f := c.faults
	f.Latency = c.latency
	vault.SetFaults(f)

	start := time.Now()
	res, err := agentrunner.Run(ctx, world.Options(taskDir, "*", dir))
	wall := time.Since(start)
	if err != nil {
		return result{}, err
	}
	r := result{wall: wall, tokens: cloud.TokenRequests(), outcome: res.Result}
	reqs := vault.Requests()
	r.requests = len(reqs)
	// Measured from before Run, not from the Started callback: that one
	// fires after the runner has set up the process, which would flatter
	// the start-up figure.
	if len(reqs) > 0 {
		first := reqs[0].At
		for _, q := range reqs {
			if q.At.Before(first) {
				first = q.At
			}
		}
		r.firstReq = first.Sub(start)
	}
	if verbose {
		timeline(start, markLists(reqs))
	}
	for name, v := range want {
		if got, ok := res.Variables[name]; !ok || got.Value != v {
			r.lost++
		}
	}
	for _, cmd := range res.Commands {
		if m := rssRE.FindStringSubmatch(cmd.Data); m != nil {
			r.rssMiB, _ = strconv.ParseFloat(m[1], 64)
		}
	}
	return r, nil
}

// markLists tells list pages apart in a timeline: their status plus 1000
// (1200, 1429).
func markLists(reqs []localcloud.Request) []localcloud.Request {
	out := make([]localcloud.Request, len(reqs))
	for i, q := range reqs {
		if strings.TrimSuffix(q.Path, "/") == "/secrets" {
			q.Status += 1000
		}
		out[i] = q
	}
	return out
}

// timeline prints status counts per 100 ms after the step started.
func timeline(start time.Time, reqs []localcloud.Request) {
	buckets := map[int]map[int]int{}
	last := 0
	for _, q := range reqs {
		b := int(q.At.Sub(start) / (100 * time.Millisecond))
		if buckets[b] == nil {
			buckets[b] = map[int]int{}
		}
		buckets[b][q.Status]++
		last = max(last, b)
	}
	for b := 0; b <= last; b++ {
		if len(buckets[b]) == 0 {
			continue
		}
		fmt.Printf("  %5dms %v\n", b*100, buckets[b])
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
