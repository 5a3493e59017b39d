package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// A run told to stop (its budget spent, the agent's cancel, node gone, a
// developer's Ctrl-C) ends and reports within a second whatever it is
// doing. The work here is the conversion of certificates whose key
// derivations are slow by design: PFX files with MAC and bag iteration
// counts of slowIterations, near the most work pkg/pfx accepts in one file
// (every count at most 1,000,000 and about 3,000,000 hash blocks in all:
// the MAC, tried with both forms of the empty password, and the two 3DES
// bags derive eight times), so none is refused at
// once. One takes a quarter to half a second of CPU to read; stuckFiles of them,
// converted at once on the machine's cores, keep the binary busy for
// several seconds past a 2 s budget, and the run is stuck in CPU work, not
// in a request. (The conversion watches its context, and the supervisor
// ends a run that does not: either way the run ends as these tests say,
// and pkg/supervise's own tests show the supervisor with work that never
// looks at its context.)
const (
	stuckFiles = 32
	// slowIterations: under pkg/pfx's MaxWork, 8 derivations of 350,000
	// SHA-1 blocks (go-pkcs12 writes the empty password as OpenSSL does,
	// so the reader tries Key Vault's form of it on the MAC first).
	slowIterations = 350_000
	stuckBudget    = 2 * time.Second
	// stuckEnd is how soon after its budget, or after a signal, the whole
	// process tree must be gone.
	stuckEnd = time.Second
)

var (
	slowPFXOnce  sync.Once
	slowPFXValue string
	slowPFXErr   error
)

// slowPFX is a PFX (3DES bags, SHA-1 MAC, as Key Vault makes them, no
// password) with every iteration count slowIterations, base64 as Key Vault
// stores it. Made once: making it costs what reading it does.
func slowPFX(t *testing.T) string {
	t.Helper()
	slowPFXOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			slowPFXErr = err
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slow"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			slowPFXErr = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			slowPFXErr = err
			return
		}
		pfx, err := pkcs12.LegacyDES.WithIterations(slowIterations).Encode(key, cert, nil, "")
		slowPFXValue, slowPFXErr = base64.StdEncoding.EncodeToString(pfx), err
	})
	if slowPFXErr != nil {
		t.Fatal(slowPFXErr)
	}
	return slowPFXValue
}

// stuckWorld is a world whose vault holds stuckFiles slow certificates,
// and the SecretsToFiles input that asks for them all (no variable). A
// quick secret comes first: the first get goes alone, to meet the vault's
// challenge, and the slow ones then arrive together.
func stuckWorld(t *testing.T) (*world, map[string]string, []string) {
	t.Helper()
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "quick", Value: "v-quick"})
	value := slowPFX(t)
	var names []string
	for i := range stuckFiles {
		name := fmt.Sprintf("slow-%02d", i)
		names = append(names, name)
		w.Vault.Put(localcloud.Secret{Name: name, Value: value, ContentType: pkcs12Type})
	}
	return w, map[string]string{"SecretsFilter": "", "SecretsToFiles": "quick, " + strings.Join(names, ", ")}, names
}

// converting reports whether the run has every slow certificate and is
// converting them.
func converting(w *world) bool {
	return len(testworld.SecretGets(w.Vault)) == stuckFiles+1
}

// binaryStart watches for the task binary and records when it started,
// from /proc (to the kernel's tick), for as long as ctx lasts.
func binaryStart(t *testing.T, ctx context.Context) func() time.Time {
	t.Helper()
	var at atomic.Int64
	go func() {
		for ctx.Err() == nil && at.Load() == 0 {
			for _, pid := range binaryProcesses(t) {
				if s, err := processStart(pid); err == nil {
					at.Store(s.UnixNano())
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() time.Time {
		if at.Load() == 0 {
			t.Fatal("never saw the task binary running")
		}
		return time.Unix(0, at.Load())
	}
}

// processStart is when pid started: its start in ticks since boot
// (/proc/<pid>/stat, field 22, 100 ticks a second on Linux) against the
// time since boot now (/proc/uptime).
func processStart(pid int) (time.Time, error) {
	now := time.Now()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, err
	}
	uptime, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis (field 3 is the first).
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ticks, err := strconv.ParseInt(fields[22-3], 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	up, err := strconv.ParseFloat(strings.Fields(string(uptime))[0], 64)
	if err != nil {
		return time.Time{}, err
	}
	since := time.Duration((up - float64(ticks)/100) * float64(time.Second))
	return now.Add(-since), nil
}

// cutShort reads the entries a run's end names as cut short from text,
// where they follow before and end at the first of after, and checks
// them: certificates in the order asked, none with a file, most of them
// (a run that got far was not stuck). Those whose reply the run never
// took in before it was stopped are not among them.
func cutShort(t *testing.T, res *agentrunner.Result, names []string, text, before, after string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(text, before)
	list, _, ok2 := strings.Cut(rest, after)
	if !ok || !ok2 {
		t.Fatalf("%q names no entries between %q and %q", text, before, after)
	}
	busy := strings.Split(list, ", ")
	if len(busy) < stuckFiles/2 {
		t.Fatalf("only %v were still being converted at the end: the run was not stuck long enough to test its end", busy)
	}
	i := 0
	for _, b := range busy {
		for i < len(names) && names[i] != b {
			i++
		}
		if i == len(names) {
			t.Fatalf("cut short %v: not certificates asked for, in order", busy)
		}
		if res != nil {
			if _, ok := res.Variables[b+".file"]; ok {
				t.Errorf("%s was cut short, yet has its file", b)
			}
		}
	}
	return busy
}

// written is how a run's end counts the files written.
func written(res *agentrunner.Result) string {
	return fmt.Sprintf(" and %d file(s) written", len(res.Variables))
}

// TestStuckRunEndsAtItsBudget: with GoKeyVault.Timeout 2 and the binary
// busy converting certificates that take far longer, the step fails with
// the budget's message, naming what was still being converted, within
// the budget and a second of the binary's start; no file is left behind.
func TestStuckRunEndsAtItsBudget(t *testing.T) {
	w, in, names := stuckWorld(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	started := binaryStart(t, ctx)

	res := w.Run(step{Inputs: in, Variables: map[string]agentrunner.Variable{"GoKeyVault.Timeout": {Value: "2"}}})
	end := time.Now()

	if took := end.Sub(started()); took > stuckBudget+stuckEnd {
		t.Errorf("the step ended %v after the binary started, want at most the budget (%v) and %v", took, stuckBudget, stuckEnd)
	}
	// Files written before the end have their variables (w.Run checks
	// that no file goes unnamed).
	msg := harness.FailedWith(t, res)
	busy := cutShort(t, res, names, msg, "; SecretsToFiles entries ", " were still")
	// On a loaded machine the conversions under way can hold back the
	// last gets: those are named as not downloaded, certificates that are
	// neither cut short nor written.
	missing := ""
	if _, rest, ok := strings.Cut(msg, " not downloaded: "); ok {
		list, _, _ := strings.Cut(rest, ";")
		for _, n := range strings.Split(list, ", ") {
			if !slices.Contains(names, n) || slices.Contains(busy, n) {
				t.Errorf("%s: not downloaded, but not a certificate still to come", n)
			}
		}
		missing = fmt.Sprintf("; %d not downloaded: %s", len(strings.Split(list, ", ")), list)
	}
	if want := "The time budget of 2s ran out before vault kv-e2e was fully downloaded: 0 secret(s) set" + written(res) + missing +
		"; SecretsToFiles entries " + strings.Join(busy, ", ") + " were still being converted and were stopped. A certificate Key Vault made converts in milliseconds: check how these were made, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)"; msg != want {
		t.Errorf("error\n%s\nwant\n%s", msg, want)
	}
	if pids := binaryProcesses(t); len(pids) != 0 {
		t.Errorf("gokeyvault processes left behind: %v", pids)
	}
}

// TestStuckRunCanceled: the agent's cancel (SIGINT to node, which passes it
// on) ends node and the binary within a second, the binary saying that it
// stopped without waiting for the conversions.
func TestStuckRunCanceled(t *testing.T) {
	w, in, names := stuckWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	var nodePID atomic.Int64
	sent := make(chan time.Time, 1)
	go func() {
		if waitFor(func() bool { return converting(w) }) {
			time.Sleep(200 * time.Millisecond) // into the conversions
		}
		sent <- time.Now()
		cancel()
	}()
	res := w.Run(step{Ctx: ctx, Inputs: in, Started: func(pid int) { nodePID.Store(int64(pid)) }})
	took := time.Since(<-sent)
	t.Logf("ended %v after SIGINT", took)

	if res.Result != "Canceled" || res.ExitCode != 130 {
		t.Fatalf("result %s, exit code %d; want Canceled, 130; log:\n%s", res.Result, res.ExitCode, strings.Join(res.Log, "\n"))
	}
	if took > stuckEnd {
		t.Errorf("node and the binary took %v to end after SIGINT, want at most %v", took, stuckEnd)
	}
	log := strings.Join(res.Log, "\n")
	busy := cutShort(t, res, names, log, "Stopped converting SecretsToFiles entries ", "\n")
	harness.MustContain(t, log, "Canceled after 0 secret(s) were set"+written(res)+"\nStopped converting SecretsToFiles entries "+strings.Join(busy, ", ")+"\n")
	if err := syscall.Kill(int(nodePID.Load()), 0); err == nil {
		t.Errorf("node %d still running", nodePID.Load())
	}
	if pids := binaryProcesses(t); len(pids) != 0 {
		t.Errorf("gokeyvault processes left behind: %v", pids)
	}
}

// TestStuckRunOutlivesNoNode: node SIGKILLed (it can pass nothing on) while
// the binary converts: the lifeline's end stops the binary within a
// second, orphaned or not.
func TestStuckRunOutlivesNoNode(t *testing.T) {
	w, in, _ := stuckWorld(t)
	killed := make(chan time.Time, 1)
	gone := make(chan time.Duration, 1)
	go func() {
		if waitFor(func() bool { return converting(w) }) {
			time.Sleep(200 * time.Millisecond)
		}
		pids := nodeProcesses(t)
		at := time.Now()
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		killed <- at
		waitFor(func() bool { return len(binaryProcesses(t)) == 0 })
		gone <- time.Since(at)
	}()
	res := w.Run(step{Inputs: in})
	<-killed
	if took := <-gone; took > stuckEnd {
		t.Errorf("the binary outlived node by %v, want at most %v", took, stuckEnd)
	}
	if res.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code %d, want node's death by SIGKILL", res.ExitCode)
	}
}

// TestStuckCheckInterrupted: gokeyvault check converting the same
// certificates ends within a second of Ctrl-C (SIGINT), says it was
// canceled and what it was converting, and exits 1.
func TestStuckCheckInterrupted(t *testing.T) {
	w, in, names := stuckWorld(t)
	az := t.TempDir()
	b, _ := json.Marshal(map[string]string{"tenant": tenantID, "clientId": clientID, "clientSecret": clientSecret})
	if err := os.WriteFile(filepath.Join(az, "fakeaz.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(checkBin, "check", "--vault", vaultName, "--filter", "", "--files", in["SecretsToFiles"])
	cmd.Env = append(w.Cloud.Env(), "PATH="+azDir+string(os.PathListSeparator)+"/usr/bin:/bin", "HOME="+t.TempDir(), "AZURE_CONFIG_DIR="+az)
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if !waitFor(func() bool { return converting(w) }) {
		t.Fatalf("the check never fetched the certificates; output:\n%s", stdout.String())
	}
	time.Sleep(200 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("ended %v after Ctrl-C", time.Since(sent))
	if took := time.Since(sent); took > stuckEnd {
		t.Errorf("the check took %v to end after Ctrl-C, want at most %v", took, stuckEnd)
	}
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	// The check writes no file: those it converted are just done.
	busy := cutShort(t, nil, names, stdout.String(), "Stopped while converting SecretsToFiles entries ", ".\n")
	want := []string{
		"Vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
		"SecretsFilter: (none)",
		"SecretsToFiles: quick, " + strings.Join(names, ", "),
		"",
		"Stopped while converting SecretsToFiles entries " + strings.Join(busy, ", ") + ".",
		"",
		"Canceled: the check did not finish.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}
