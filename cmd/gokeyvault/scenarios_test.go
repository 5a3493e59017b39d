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
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

func TestSelectedNames(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "db-password", Value: "pw-123456"})
	w.Vault.Put(localcloud.Secret{Name: "api-key", Value: "key-abcdef"})
	w.Vault.Put(localcloud.Secret{Name: "old-key", Value: "old-value-1", Disabled: true})
	w.Vault.Put(localcloud.Secret{Name: "unrelated", Value: "never-asked"})

	res := w.Run(step{Filter: "db-password, missing-one ,old-key,api-key"})

	if res.Result != "Failed" {
		t.Fatalf("result %s, want Failed; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := map[string]agentrunner.Variable{"db-password": testworld.SecretVar("pw-123456"), "api-key": testworld.SecretVar("key-abcdef")}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if n := testworld.ListCalls(w.Vault); n != 0 {
		t.Errorf("%d list calls; named secrets must be fetched directly", n)
	}
	if diff := cmp.Diff(map[string]int{"db-password": 1, "api-key": 1, "missing-one": 1, "old-key": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 2 {
		t.Fatalf("want one error per failed secret, got %q", errs)
	}
	testworld.MustContain(t, errs[0], "Secret 'missing-one': not found in vault kv-e2e", "SecretsFilter", "x-ms-request-id: ")
	testworld.MustContain(t, errs[1], "Secret 'old-key': the secret is disabled", "az keyvault secret set-attributes --vault-name kv-e2e", "x-ms-request-id: ")
	testworld.MustContain(t, res.Log[len(res.Log)-1], "2 of 4 secret(s) could not be downloaded from kv-e2e")
}

func TestVersionedName(t *testing.T) {
	w := newWorld(t)
	old := w.Vault.Put(localcloud.Secret{Name: "rotated", Value: "old-value-xyz"})
	w.Vault.Put(localcloud.Secret{Name: "rotated", Value: "new-value-xyz"})

	res := w.Run(step{Filter: "rotated/" + strings.ToUpper(old)})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := map[string]agentrunner.Variable{"rotated/" + old: testworld.SecretVar("old-value-xyz"), "rotated": testworld.SecretVar("old-value-xyz")}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

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

func TestBadInputs(t *testing.T) {
	tests := []struct {
		name string
		s    step
		want []string
	}{
		{"vault name too short", step{Vault: "kv"}, []string{"input KeyVaultName", "2 characters long"}},
		{"vault URL", step{Vault: "https://kv-e2e.vault.azure.net"}, []string{"input KeyVaultName", "not its URL"}},
		{"vault double dash", step{Vault: "kv--e2e"}, []string{"input KeyVaultName", "'--'"}},
		{"filter with bad character", step{Filter: "db_password"}, []string{"input SecretsFilter", `'_' is not allowed`}},
		{"filter mixing star", step{Filter: "*, a"}, []string{"input SecretsFilter", "'*' alone"}},
		{"filter empty", step{Filter: " , "}, []string{"input SecretsFilter is empty"}},
		{"bad version", step{Filter: "a/123"}, []string{"input SecretsFilter", "32 hexadecimal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			res := w.Run(tt.s)
			if res.Result != "Failed" {
				t.Fatalf("result %s, want Failed", res.Result)
			}
			if got := w.Cloud.ProxyLog(); len(got) != 0 {
				t.Errorf("requests were made before validation failed: %v", got)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 1 {
				t.Fatalf("want one error, got %q", errs)
			}
			testworld.MustContain(t, errs[0], tt.want...)
		})
	}
}

func TestMissingConnection(t *testing.T) {
	w := newWorld(t)
	res, err := agentrunner.Run(context.Background(), agentrunner.Options{
		TaskDir: taskDir,
		Inputs:  map[string]string{"azureSubscription": "00000000-0000-0000-0000-000000000000", "KeyVaultName": vaultName},
		Env:     append(w.Cloud.Env(), "PATH="+os.Getenv("PATH")),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "Failed" || len(w.Cloud.ProxyLog()) != 0 {
		t.Fatalf("result %s, proxy %v", res.Result, w.Cloud.ProxyLog())
	}
	testworld.MustContain(t, strings.Join(testworld.Issues(res, "error"), "\n"), "input azureSubscription", "is not available to this job")
}

func TestForbidden(t *testing.T) {
	tests := []struct {
		code string
		list bool // deny the list call rather than the gets
		want []string
	}{
		{"AccessDenied", true, []string{"Could not list the secrets of vault kv-e2e", "access policy", "secret List permission", "az keyvault set-policy --name kv-e2e", "--secret-permissions get list", "name the secrets in SecretsFilter"}},
		{"ForbiddenByRbac", true, []string{"Azure RBAC", `--role "Key Vault Secrets User"`, "az keyvault show --name kv-e2e"}},
		{"ForbiddenByFirewall", true, []string{"firewall", "az keyvault network-rule add --name kv-e2e"}},
		{"ForbiddenByConnection", true, []string{"public network access to vault kv-e2e is disabled", "private endpoint"}},
		{"ForbiddenByPolicy", true, []string{"Azure Policy"}},
		{"AccessDenied", false, []string{"Secret 'a': access denied by the vault's access policy", "secret Get permission", "az keyvault set-policy --name kv-e2e"}},
		{"ForbiddenByRbac", false, []string{"Secret 'a': access denied by Azure RBAC", "Key Vault Secrets User"}},
	}
	for _, tt := range tests {
		name := tt.code + "/get"
		if tt.list {
			name = tt.code + "/list"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			if tt.list {
				w.Vault.SetFaults(localcloud.Faults{ListDenied: tt.code})
			} else {
				w.Vault.SetFaults(localcloud.Faults{GetDenied: tt.code})
			}
			res := w.Run(step{})
			if res.Result != "Failed" {
				t.Fatalf("result %s", res.Result)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 1 {
				t.Fatalf("want one error, got %q", errs)
			}
			testworld.MustContain(t, errs[0], append(tt.want, "x-ms-request-id: ")...)
			if strings.Contains(strings.ToLower(errs[0]), "powershell") {
				t.Errorf("error suggests PowerShell: %s", errs[0])
			}
		})
	}
}

// TestAuthAndNetworkFailures: without the job's project variables there
// is no link to the connection's page, and the message says where to look
// instead. The Entra errors themselves are in TestEntraErrorsLinkTheConnection.
func TestAuthAndNetworkFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		s     step
		want  []string
	}{
		{"wrong client secret", nil, step{Secret: "wrong-secret-value-123"}, []string{"AADSTS7000215", "service principal key", "Service connections"}},
		{"unreachable vault", nil, step{Vault: "kv-does-not-exist"}, []string{"kv-does-not-exist.vault.azure.net", "could not reach"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			if tt.setup != nil {
				tt.setup(w)
			}
			start := time.Now()
			res := w.Run(tt.s)
			if res.Result != "Failed" {
				t.Fatalf("result %s", res.Result)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 1 {
				t.Fatalf("want one error, got %q", errs)
			}
			testworld.MustContain(t, errs[0], tt.want...)
			t.Logf("failed in %v: %s", time.Since(start).Round(time.Millisecond), errs[0])
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
			testworld.MustContain(t, strings.Join(res.Log, "\n"), "Canceled after 0 secret(s) were set")
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

// TestNamedSecretsWrongCredentialAskOnce: with named secrets and a wrong
// client secret, the first get's failure stands for all: one message, and
// Entra is not asked again for every secret.
func TestNamedSecretsWrongCredentialAskOnce(t *testing.T) {
	w := newWorld(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		w.Vault.Put(localcloud.Secret{Name: n, Value: "value-" + n})
	}
	res := w.Run(step{Filter: "a,b,c,d", Secret: "wrong-secret-value-123"})
	if res.Result != "Failed" {
		t.Fatalf("result %s", res.Result)
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 1 {
		t.Fatalf("want one error, got %q", errs)
	}
	testworld.MustContain(t, errs[0], "AADSTS7000215")
	// The pre-fetch and the first get's own attempt; none for b, c, d.
	if n := w.Cloud.TokenRequests(); n > 2 {
		t.Errorf("%d token requests for one wrong secret", n)
	}
	if gets := testworld.SecretGets(w.Vault); len(gets) != 0 {
		t.Errorf("gets reached the vault with no token: %v", gets)
	}
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
