package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

// The e2e tests run the real task folder — task.json, the Node launcher and
// this binary, built fresh — through the agent runner against the local
// cloud. Nothing in the binary knows it is being tested: it reaches
// login.microsoftonline.com and <vault>.vault.azure.net by name through the
// local proxy and trusts the local CA through SSL_CERT_FILE.

const (
	tenantID     = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID     = "0b7a3c2e-5f4d-4e6a-9c8b-1d2e3f4a5b6c"
	clientSecret = "Kq8~client-secret-VALUE.7Zp"
	connID       = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
	vaultName    = "kv-e2e"
)

var taskDir string // a copy of task/ with the freshly built binary

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "gokeyvault-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	taskDir = filepath.Join(dir, "task")
	if err := copyTaskFolder("../../task", taskDir); err != nil {
		return 0, err
	}
	bin := filepath.Join(taskDir, "bin", runtime.GOOS+"_"+runtime.GOARCH, "gokeyvault")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("build the task binary: %w", err)
	}
	// The agent's packaging loses the executable bit; the launcher must
	// restore it, so the tests start without it.
	if err := os.Chmod(bin, 0o644); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// copyTaskFolder copies the shipped files of task/, not a developer's build.
func copyTaskFolder(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "bin" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// world is one test's local cloud with a service principal and a vault.
type world struct {
	cloud *localcloud.Cloud
	vault *localcloud.Vault
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, localcloud.Options{})
}

// newWorldWith is newWorld on a cloud started with o (its Dir is set here).
func newWorldWith(t *testing.T, o localcloud.Options) *world {
	t.Helper()
	o.Dir = t.TempDir()
	c, err := localcloud.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.AddApp(tenantID, clientID, clientSecret)
	return &world{cloud: c, vault: c.AddVault(vaultName, tenantID)}
}

// step describes one run of the task.
type step struct {
	stage     agentrunner.Stage
	vault     string // default vaultName
	filter    string // default "*"
	preJob    string // RunAsPreJob input; default task.json's
	secret    string // the connection's client secret; default clientSecret
	tenant    string
	debug     bool
	variables map[string]agentrunner.Variable
	started   func(pid int)
	ctx       context.Context
	timeout   time.Duration

	// conn replaces the default service principal connection.
	conn *agentrunner.Endpoint
	// env is added after the local cloud's variables; a later entry wins,
	// so "HTTPS_PROXY=" removes the cloud's proxy.
	env []string
	// token is the job's SystemVssConnection access token; random if empty.
	token string
	// creds are more credentials that must never appear in the output.
	creds []string
	// settable is the step's target.settableVariables (nil: any).
	settable []string
}

func (w *world) endpoint(s step) agentrunner.Endpoint {
	if s.conn != nil {
		return *s.conn
	}
	secret, tenant := clientSecret, tenantID
	if s.secret != "" {
		secret = s.secret
	}
	if s.tenant != "" {
		tenant = s.tenant
	}
	return agentrunner.Endpoint{
		ID:     connID,
		URL:    "https://management.azure.com/",
		Scheme: "ServicePrincipal",
		Params: map[string]string{
			"tenantid":            tenant,
			"serviceprincipalid":  clientID,
			"authenticationType":  "spnKey",
			"serviceprincipalkey": secret,
		},
		Data: map[string]string{
			"subscriptionId":   "c0ffee00-1111-2222-3333-444455556666",
			"subscriptionName": "e2e",
			"environment":      "AzureCloud",
			"scopeLevel":       "Subscription",
		},
	}
}

func (w *world) run(t *testing.T, s step) *agentrunner.Result {
	t.Helper()
	inputs := map[string]string{
		"azureSubscription": connID,
		"KeyVaultName":      vaultName,
		"SecretsFilter":     "*",
	}
	if s.vault != "" {
		inputs["KeyVaultName"] = s.vault
	}
	if s.filter != "" {
		inputs["SecretsFilter"] = s.filter
	}
	if s.preJob != "" {
		inputs["RunAsPreJob"] = s.preJob
	}
	vars := map[string]agentrunner.Variable{}
	for k, v := range s.variables {
		vars[k] = v
	}
	// make test runs the e2e tests a second time with every step in debug
	// mode, the mode most likely to print what it should not.
	if s.debug || forceDebug() {
		vars["system.debug"] = agentrunner.Variable{Value: "true"}
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	timeout := s.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := agentrunner.Run(ctx, agentrunner.Options{
		TaskDir:           taskDir,
		Stage:             s.stage,
		Inputs:            inputs,
		Endpoints:         []agentrunner.Endpoint{w.endpoint(s)},
		Variables:         vars,
		Env:               append(append(w.cloud.Env(), "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir()), s.env...),
		Started:           s.started,
		AccessToken:       s.token,
		SettableVariables: s.settable,
	})
	if err != nil {
		t.Fatalf("run the task: %v", err)
	}
	// Tests compare what the task set: the job's own variables, when the
	// task left them as they were, are not part of that.
	for k, v := range vars {
		if got, ok := res.Variables[k]; ok && got == v {
			delete(res.Variables, k)
		}
	}
	checkHygiene(t, res, s)
	// Every secret value any vault holds, and every token the cloud issued,
	// stays out of the log, masked or not: the task must not rely on the
	// agent's masker.
	checkNoValueLeaks(t, res, append(w.cloud.SecretValues(), w.cloud.AccessTokens()...))
	return res
}

// forceDebug reports whether every step runs with system.debug=true.
func forceDebug() bool { return os.Getenv("GOKEYVAULT_E2E_DEBUG") == "1" }

var durationRE = regexp.MustCompile(`in \d+\.\d\d s`)

// normalLog returns the masked log with timings replaced, so it can be
// compared exactly.
func normalLog(r *agentrunner.Result) []string {
	out := make([]string, len(r.Log))
	for i, l := range r.Log {
		out[i] = durationRE.ReplaceAllString(l, "in X s")
	}
	return out
}

// checkHygiene holds for every run: no panic trace, and none of the
// connection's credentials or the job token anywhere in the task's own output.
func checkHygiene(t *testing.T, r *agentrunner.Result, s step) {
	t.Helper()
	creds := append([]string{clientSecret, r.Token}, s.creds...)
	if s.secret != "" {
		creds = append(creds, s.secret)
	}
	for _, l := range r.Raw {
		if strings.Contains(l, "goroutine ") || strings.Contains(l, "panic:") {
			t.Errorf("panic trace in output: %q", l)
		}
		for _, c := range creds {
			if c != "" && strings.Contains(l, c) {
				t.Errorf("credential printed by the task: %q", strings.ReplaceAll(l, c, "<credential>"))
			}
		}
	}
	if len(r.TempFiles) > 0 {
		t.Errorf("task left files in the agent's temp directory: %v", r.TempFiles)
	}
}

// checkNoValueLeaks checks that no secret value reaches the log, masked or
// not, except inside the logging commands that carry it to the agent. A
// multi-line value is also looked for line by line: the agent reads output
// a line at a time, so a value printed across lines leaks each of them.
// Each is looked for in the forms a logging command carries it too: the
// agent echoes a command it refuses as it was written. Failures name the
// value by its index, never by its text.
func checkNoValueLeaks(t *testing.T, r *agentrunner.Result, values []string) {
	t.Helper()
	for i, v := range values {
		for _, p := range leakForms(v) {
			for n, l := range r.Log {
				if strings.Contains(l, p) {
					t.Errorf("secret value #%d (%d bytes) visible in step log line %d: %q", i, len(v), n, strings.ReplaceAll(l, p, "<value>"))
				}
			}
			for n, l := range r.Raw {
				if strings.Contains(l, "##vso[task.setvariable") && strings.Contains(l, "issecret=true") || strings.Contains(l, "##vso[task.setsecret]") {
					continue
				}
				if strings.Contains(l, p) {
					t.Errorf("secret value #%d (%d bytes) printed by the task, output line %d: %q", i, len(v), n, strings.ReplaceAll(l, p, "<value>"))
				}
			}
		}
	}
}

// commandEscapes are the forms a logging command gives a value: its data
// (percent, CR and LF escaped) and its properties (';' and ']' too).
var commandEscapes = []*strings.Replacer{
	strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A"),
	strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A", ";", "%3B", "]", "%5D"),
}

// leakForms lists what must not be seen of v: v, each line of a multi-line
// v that is long enough to mean something (8 bytes), and each of those as
// a command escapes it. Pieces shorter than 4 bytes are not looked for.
func leakForms(v string) []string {
	pieces := []string{v}
	if strings.ContainsAny(v, "\r\n") {
		for _, p := range strings.Split(strings.ReplaceAll(v, "\r", "\n"), "\n") {
			if len(p) >= 8 {
				pieces = append(pieces, p)
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range pieces {
		for _, f := range []string{p, commandEscapes[0].Replace(p), commandEscapes[1].Replace(p)} {
			if len(f) >= 4 && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// secretGets lists the secret names the vault was asked for.
func secretGets(v *localcloud.Vault) map[string]int {
	gets := map[string]int{}
	for _, r := range v.Requests() {
		if r.Secret != "" && r.Status != 401 {
			gets[r.Secret]++
		}
	}
	return gets
}

func listCalls(v *localcloud.Vault) int {
	n := 0
	for _, r := range v.Requests() {
		if strings.TrimRight(r.Path, "/") == "/secrets" && r.Status != 401 {
			n++
		}
	}
	return n
}
