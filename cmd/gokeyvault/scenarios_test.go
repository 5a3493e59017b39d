package main

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

func TestStages(t *testing.T) {
	tests := []struct {
		stage    agentrunner.Stage
		preJob   string
		wantRuns bool
	}{
		{agentrunner.StageMain, "", true},
		{agentrunner.StageMain, "false", true},
		{agentrunner.StagePreJob, "false", false},
		{agentrunner.StageMain, "true", false},
		{agentrunner.StagePreJob, "true", true},
		{agentrunner.StagePreJob, "TRUE", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.stage)+"/"+tt.preJob, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			res := w.Run(step{Stage: tt.stage, PreJob: tt.preJob})
			if !tt.wantRuns {
				if res.Result != "Skipped" || len(w.Cloud.ProxyLog()) != 0 || len(res.Variables) != 0 {
					t.Fatalf("want Skipped with no request and no variable; got %s, proxy %v, variables %v", res.Result, w.Cloud.ProxyLog(), res.Variables)
				}
				return
			}
			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(map[string]agentrunner.Variable{"a": testworld.SecretVar("value-a")}, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCancellation(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	// Every Key Vault reply hangs far longer than the agent waits.
	w.Vault.SetFaults(localcloud.Faults{Latency: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	var nodePID int
	reached := make(chan bool, 1)
	go func() {
		// Cancel once the task is waiting on the vault.
		reached <- waitFor(func() bool { return len(w.Vault.Requests()) > 0 || proxied(w, "kv-e2e") })
		cancel()
	}()
	start := time.Now()
	res := w.Run(step{Ctx: ctx, Started: func(pid int) { nodePID = pid }})
	took := time.Since(start)
	if !<-reached {
		t.Fatal("the task never reached the vault: nothing was canceled while waiting on it")
	}
	if res.Result != "Canceled" {
		t.Errorf("result %s, want Canceled", res.Result)
	}
	// The agent sends SIGINT, then SIGTERM after 7.5 s: the tree must be
	// gone before that.
	if took > 8*time.Second {
		t.Errorf("cancellation took %v", took)
	}
	if nodePID == 0 {
		t.Fatal("node never started")
	}
	if err := syscall.Kill(nodePID, 0); err == nil {
		t.Errorf("node %d still running", nodePID)
	}
	if pids := binaryProcesses(t); len(pids) != 0 {
		t.Errorf("gokeyvault processes left behind: %v", pids)
	}
}

func TestLauncherKilledBinaryExits(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	w.Vault.SetFaults(localcloud.Faults{Latency: time.Minute})
	reached := make(chan bool, 1)
	go func() {
		reached <- waitFor(func() bool { return proxied(w, "kv-e2e") })
		// SIGKILL: node cannot forward anything; only the lifeline pipe
		// tells the binary to go.
		for _, pid := range nodeProcesses(t) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	start := time.Now()
	res := w.Run(step{})
	if !<-reached {
		t.Fatal("the task never reached the vault: node was killed before it got there")
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the binary outlived node by %v", took)
	}
	if res.ExitCode == 0 {
		t.Errorf("exit code 0 after SIGKILL")
	}
	if pids := binaryProcesses(t); len(pids) != 0 {
		t.Errorf("gokeyvault processes left behind: %v", pids)
	}
}

// TestSignalEndsTree: SIGTERM straight to node (the agent's second step
// when SIGINT was not enough, or a service manager stopping the agent) or
// SIGHUP (the agent's terminal or session going away) ends node and the
// binary well before the SIGKILL the agent sends 2.5 s later, and the
// binary ends the run itself: dying at once could leave the multi-line
// permission raised.
func TestSignalEndsTree(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			w.Vault.SetFaults(localcloud.Faults{Latency: time.Minute})
			var nodePID atomic.Int64
			sent := make(chan time.Time, 1)
			reached := make(chan bool, 1)
			go func() {
				reached <- waitFor(func() bool { return nodePID.Load() != 0 && proxied(w, "kv-e2e") })
				sent <- time.Now()
				// Never kill(0, ...): that signals the test's own process group.
				if pid := int(nodePID.Load()); pid > 0 {
					_ = syscall.Kill(pid, sig)
				}
			}()
			res := w.Run(step{Started: func(pid int) { nodePID.Store(int64(pid)) }})
			took := time.Since(<-sent)
			if !<-reached {
				t.Fatal("the task never reached the vault: nothing was signalled while waiting on it")
			}
			if took > 2500*time.Millisecond {
				t.Errorf("the process tree took %v to end after %v", took, sig)
			}
			// The binary saw the signal, stopped and said so; node passed
			// its exit code on.
			if res.ExitCode != 130 {
				t.Errorf("exit code %d, want 130", res.ExitCode)
			}
			harness.MustContain(t, strings.Join(res.Log, "\n"), "Canceled after 0 secret(s) were set")
			if err := syscall.Kill(int(nodePID.Load()), 0); err == nil {
				t.Errorf("node %d still running", nodePID.Load())
			}
			if pids := binaryProcesses(t); len(pids) != 0 {
				t.Errorf("gokeyvault processes left behind: %v", pids)
			}
		})
	}
}

func proxied(w *world, vault string) bool {
	for _, target := range w.Cloud.ProxyLog() {
		if strings.HasPrefix(target, vault+".") {
			return true
		}
	}
	return false
}

// binaryProcesses lists running processes started from this test's binary.
func binaryProcesses(t *testing.T) []int {
	t.Helper()
	return processesMatching(t, func(cmdline string) bool { return strings.HasPrefix(cmdline, taskDir+"/bin/") })
}

func nodeProcesses(t *testing.T) []int {
	t.Helper()
	return processesMatching(t, func(cmdline string) bool { return strings.Contains(cmdline, taskDir+"/launcher.js") })
}

func processesMatching(t *testing.T, match func(string) bool) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range entries {
		pid := 0
		for _, c := range e.Name() {
			if c < '0' || c > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid <= 0 {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if strings.Contains(string(stat), ") Z ") {
			continue // a zombie has already exited
		}
		if match(strings.ReplaceAll(string(b), "\x00", " ")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor polls cond for up to 20 s and reports whether it came true.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestCredentialsLeaveTheEnvironment: what holds a credential (the
// connection's auth parameters, secret variables, the job's access token
// when a pipeline maps it as SYSTEM_ACCESSTOKEN) is removed from the
// binary's environment once read, and the debug log names what was
// removed (names only). The in-process test in pkg/task checks the
// removal itself.
func TestCredentialsLeaveTheEnvironment(t *testing.T) {
	const mapped = "mapped-job-token-9Kq"
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	vars := map[string]agentrunner.Variable{"agent.proxypassword": {Value: "proxy-pw-unused", Secret: true}}

	res := w.Run(step{Debug: true, Variables: vars, Env: []string{"SYSTEM_ACCESSTOKEN=" + mapped}, Creds: []string{mapped}})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	var removed string
	for _, l := range res.Log {
		if r, ok := strings.CutPrefix(l, "##[debug]removed from the environment once read: "); ok {
			removed = r
		}
	}
	want := strings.Join([]string{
		"ENDPOINT_AUTH_" + connID,
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_AUTHENTICATIONTYPE",
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_SERVICEPRINCIPALID",
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_SERVICEPRINCIPALKEY",
		"ENDPOINT_AUTH_PARAMETER_" + connID + "_TENANTID",
		"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN",
		"ENDPOINT_AUTH_SYSTEMVSSCONNECTION",
		"SECRET_AGENT_PROXYPASSWORD",
		"SYSTEM_ACCESSTOKEN",
	}, ", ")
	if removed != want {
		t.Errorf("removed from the environment:\n got %s\nwant %s", removed, want)
	}
}

// TestTrustFromTheEnvironment: SSL_CERT_FILE replaces the system's CA
// bundle for Go; the log says so in one line, and says nothing when it
// is not set.
func TestTrustFromTheEnvironment(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	for _, tt := range []struct {
		name string
		s    step
		want []string
	}{
		{"SSL_CERT_FILE", step{}, []string{"TLS: trusting the certificates of SSL_CERT_FILE=" + w.Cloud.CAFile() + " (instead of the system's CA bundle)"}},
		{"AGENT_CAINFO only", step{Env: []string{"SSL_CERT_FILE="}, Variables: map[string]agentrunner.Variable{"agent.cainfo": {Value: w.Cloud.CAFile()}}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := w.Run(tt.s)
			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			var got []string
			for _, l := range res.Log {
				if strings.HasPrefix(l, "TLS: ") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TLS lines (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConnectionInputNames: AzureKeyVault@2's input is ConnectedServiceName
// with the alias azureSubscription; GoKeyVault's is azureSubscription with
// the alias ConnectedServiceName. A pipeline written either way binds.
func TestConnectionInputNames(t *testing.T) {
	for _, name := range []string{"azureSubscription", "ConnectedServiceName", "connectedservicename"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			want := w.Put(map[string]string{"a": "value-a"})
			o := w.Options(taskDir, "*", t.TempDir())
			delete(o.Inputs, "azureSubscription")
			o.Inputs[name] = connID
			res, err := agentrunner.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
		})
	}
}
