// Package harness runs the task in a test world the way a test wants it
// (the task folder through the agent runner, or the task's code
// in-process) and checks every run for what must never happen: a panic
// trace, a credential or a secret value in the output, a file left behind.
// It is the test bed's only package that links the testing package, so
// the demo and the bench, which start worlds too, do not.
package harness

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
	"github.com/google/go-cmp/cmp"
)

// Runner runs one step in w the way a test wants: agentrunner.Run for the
// task folder and the real binary, or agentrunner.RunFunc for the task's
// code in-process.
type Runner func(ctx context.Context, w *testworld.World, o agentrunner.Options) (*agentrunner.Result, error)

// T is one test's world and the way it runs the task. Every step it runs
// is checked for what must never happen: a panic trace, a credential or a
// secret value in the output, a file left behind.
type T struct {
	*testworld.World
	t   testing.TB
	run Runner
}

// New starts a world for t (vault kv-e2e) on a cloud started with o, and
// stops it when t ends.
func New(t testing.TB, run Runner, o localcloud.Options) *T {
	t.Helper()
	w, err := testworld.Start(context.Background(), testworld.Options{Dir: t.TempDir(), Cloud: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &T{World: w, t: t, run: run}
}

// Step describes one run of the task; the zero value downloads '*' with the
// world's connection.
type Step struct {
	Stage     agentrunner.Stage
	Vault     string // default the world's
	Filter    string // default "*"
	PreJob    string // RunAsPreJob input; default task.json's
	Secret    string // the connection's client secret; default the world's
	Tenant    string
	Debug     bool
	Variables map[string]agentrunner.Variable
	Started   func(pid int)
	Ctx       context.Context
	Timeout   time.Duration // default a minute

	// Conn replaces the world's service principal connection.
	Conn *agentrunner.Endpoint
	// Env is added after the world's; a later entry wins, so
	// "HTTPS_PROXY=" removes the cloud's proxy.
	Env []string
	// Token is the job's SystemVssConnection access token; random if empty.
	Token string
	// Creds are more credentials that must never appear in the output.
	Creds []string
	// Settable is the step's target.settableVariables (nil: any).
	Settable []string
	// Inputs are more inputs (OutputVariables...), by name or alias.
	Inputs map[string]string
	// StepName is the step's name: (default the runner's).
	StepName string
}

// ForceDebug reports whether every step runs with system.debug=true: make
// test runs the e2e tests a second time that way, the mode most likely to
// print what it should not.
func ForceDebug() bool { return os.Getenv("GOKEYVAULT_E2E_DEBUG") == "1" }

// Run runs one step, checks it and returns what the job sees. The job's
// own variables are left out of the result's variables when the task left
// them as they were.
func (w *T) Run(s Step) *agentrunner.Result {
	w.t.Helper()
	o := w.options(s)
	ctx := s.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if s.Timeout == 0 {
		s.Timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	res, err := w.run(ctx, w.World, o)
	if err != nil {
		w.t.Fatalf("run the task: %v", err)
	}
	for k, v := range o.Variables {
		if got, ok := res.Variables[k]; ok && got == v {
			delete(res.Variables, k)
		}
	}
	checkHygiene(w.t, res, append([]string{w.Secret, s.Secret}, s.Creds...))
	checkTempFiles(w.t, res, s.Inputs["SecretsToFiles"])
	// Every secret value any vault holds, and every token the cloud issued,
	// stays out of the log, masked or not: the task must not rely on the
	// agent's masker.
	CheckNoValueLeaks(w.t, res, append(w.Cloud.SecretValues(), w.Cloud.AccessTokens()...))
	return res
}

func (w *T) options(s Step) agentrunner.Options {
	o := agentrunner.Options{
		Stage:             s.Stage,
		Inputs:            w.Inputs("*"),
		Endpoints:         []agentrunner.Endpoint{w.endpoint(s)},
		Variables:         map[string]agentrunner.Variable{},
		Env:               append(w.Env(w.t.TempDir()), s.Env...),
		Started:           s.Started,
		AccessToken:       s.Token,
		SettableVariables: s.Settable,
		StepName:          s.StepName,
	}
	for k, v := range map[string]string{"KeyVaultName": s.Vault, "SecretsFilter": s.Filter, "RunAsPreJob": s.PreJob} {
		if v != "" {
			o.Inputs[k] = v
		}
	}
	for k, v := range s.Inputs {
		o.Inputs[k] = v
	}
	for k, v := range s.Variables {
		o.Variables[k] = v
	}
	if s.Debug || ForceDebug() {
		o.Variables["system.debug"] = agentrunner.Variable{Value: "true"}
	}
	return o
}

func (w *T) endpoint(s Step) agentrunner.Endpoint {
	if s.Conn != nil {
		return *s.Conn
	}
	ep := w.Endpoint()
	if s.Secret != "" {
		ep.Params["serviceprincipalkey"] = s.Secret
	}
	if s.Tenant != "" {
		ep.Params["tenantid"] = s.Tenant
	}
	return ep
}

// The hosts a test expects the proxy to be asked for.
// testworld.DebugVars is the job variable system.debug=true, with extra.
// ProxiedHosts is the set of CONNECT targets the proxy was asked for,
// sorted.
// CheckHosts checks the hosts the proxy was asked for, and that no
// credential (creds, and every token the cloud issued) is in the step's
// output or its log.
func (w *T) CheckHosts(res *agentrunner.Result, wantHosts []string, creds ...string) {
	w.t.Helper()
	w.CheckHostsMay(res, wantHosts, nil, creds...)
}

// CheckHostsMay is CheckHosts for a run that may also have asked for the
// hosts in may, or not: a run that fails at its first request to the vault
// ends before its early token request may have reached Entra.
func (w *T) CheckHostsMay(res *agentrunner.Result, wantHosts, may []string, creds ...string) {
	w.t.Helper()
	want := append([]string{}, wantHosts...)
	sort.Strings(want)
	got := []string{}
	for _, h := range w.ProxiedHosts() {
		if !slices.Contains(may, h) || slices.Contains(want, h) {
			got = append(got, h)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		w.t.Errorf("hosts asked of the proxy (-want +got):\n%s", diff)
	}
	creds = append(creds, w.Cloud.AccessTokens()...)
	for n, l := range res.Raw {
		for i, c := range creds {
			if c != "" && strings.Contains(l, c) {
				w.t.Errorf("credential #%d in output line %d: %.200q", i, n, strings.ReplaceAll(l, c, "<credential>"))
			}
		}
	}
	// The masked log must not hold them either (it adds the agent's own
	// debug lines).
	for i, c := range creds {
		if c != "" && !res.Masked(c) {
			w.t.Errorf("credential #%d (%d bytes) visible in the step log", i, len(c))
		}
	}
}

// Put stores each secret in the world's vault and returns the variables a
// download of them sets.
func (w *T) Put(values map[string]string) map[string]agentrunner.Variable {
	want := map[string]agentrunner.Variable{}
	for name, v := range values {
		w.Vault.Put(localcloud.Secret{Name: name, Value: v})
		want[name] = testworld.SecretVar(v)
	}
	return want
}

// checkHygiene holds for every run: no panic trace, none of creds (and not
// the job token) anywhere in the task's own output.
func checkHygiene(t testing.TB, r *agentrunner.Result, creds []string) {
	t.Helper()
	creds = append(creds, r.Token)
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
}

// checkTempFiles holds for every run: the only files the task leaves in the
// agent's temp directory are those the step's SecretsToFiles input asks
// for (the agent empties the directory after the job), each where its
// <name>.file variable says, 0600, in a directory of the task's own that
// is 0700; the variables are not secret.
func checkTempFiles(t testing.TB, r *agentrunner.Result, toFiles string) {
	t.Helper()
	var entries []selection.File
	if plan, err := selection.ParseInputs("", toFiles); err == nil {
		entries = plan.Files // a refused input writes nothing
	}
	asked := map[string]string{} // relative path -> variable
	for _, e := range entries {
		v, ok := r.Variables[e.Var]
		if !ok {
			continue // not written: the run says why
		}
		rel, err := filepath.Rel(r.TempDir, v.Value)
		if v.Secret || err != nil || !filepath.IsAbs(v.Value) || strings.HasPrefix(rel, "..") {
			t.Errorf("variable %s = %+v: want the full path of a file under the agent's temp directory %s, not secret", e.Var, v, r.TempDir)
			continue
		}
		asked[rel] = e.Var
	}
	for _, f := range r.TempFiles {
		if _, ok := asked[f]; !ok {
			t.Errorf("task left a file in the agent's temp directory that no <name>.file variable names: %s", f)
		}
	}
	for rel, name := range asked {
		got, ok := r.Temp[rel]
		dir := r.Temp[filepath.Dir(rel)]
		switch {
		case !ok:
			t.Errorf("variable %s names %s, which the task did not write", name, rel)
		case got.Mode != 0o600:
			t.Errorf("%s (variable %s) has mode %v, want -rw-------", rel, name, got.Mode)
		case filepath.Dir(rel) == "." || dir.Mode != fs.ModeDir|0o700:
			t.Errorf("%s (variable %s) is not in a directory of its own with mode drwx------ (%v)", rel, name, dir.Mode)
		}
	}
}

// CheckNoValueLeaks checks that no secret value reaches the log, masked or
// not, except inside the logging commands that carry it to the agent. A
// multi-line value is also looked for line by line: the agent reads output
// a line at a time, so a value printed across lines leaks each of them.
// Each is looked for in the forms a logging command carries it too: the
// agent echoes a command it refuses as it was written. Failures name the
// value by its index, never by its text.
func CheckNoValueLeaks(t testing.TB, r *agentrunner.Result, values []string) {
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

// leakForms lists what must not be seen of v: v, each line of a multi-line
// v that is long enough to mean something (8 bytes), and each of those as
// a command escapes it, as data (percent, CR, LF) and as a property (';'
// and ']' too). Pieces shorter than 4 bytes are not looked for.
func leakForms(v string) []string {
	escapes := []*strings.Replacer{
		strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A"),
		strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A", ";", "%3B", "]", "%5D"),
	}
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
		for _, f := range []string{p, escapes[0].Replace(p), escapes[1].Replace(p)} {
			if len(f) >= 4 && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// testworld.SecretVar is a secret variable of value v.
// testworld.Issues lists the messages of the step's issues of a type, "error" or
// "warning".
// MustContain fails t for each part s does not contain.
func MustContain(t testing.TB, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q\ndoes not contain %q", s, p)
		}
	}
}

// FailedWith checks that the step failed with exactly one error holding
// every part, and returns it.
func FailedWith(t testing.TB, res *agentrunner.Result, parts ...string) string {
	t.Helper()
	if res.Result != "Failed" {
		t.Fatalf("result %s, want Failed; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 1 {
		t.Fatalf("want one error, got %q", errs)
	}
	MustContain(t, errs[0], parts...)
	t.Logf("error: %s", errs[0])
	return errs[0]
}

// Succeeded checks that the step succeeded and set each of want as a
// secret variable.
func Succeeded(t testing.TB, res *agentrunner.Result, want map[string]string) {
	t.Helper()
	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	for name, v := range want {
		if got := res.Variables[name]; got != testworld.SecretVar(v) {
			t.Errorf("variable %s = %+v, want %q", name, got, v)
		}
	}
}

// SubsetOf checks that every variable set is one of want, with its value.
func SubsetOf(t testing.TB, got, want map[string]agentrunner.Variable) {
	t.Helper()
	for name, v := range got {
		if w, ok := want[name]; !ok || w != v {
			t.Errorf("unexpected variable %q = %+v", name, v)
		}
	}
}

// testworld.SecretGets counts the gets the vault answered past its challenge, by
// secret name.
// testworld.ListCalls counts the list requests the vault answered past its
// challenge.
// CheckTokenStaysHome checks that every request that carried credentials
// went to the vault over https, with a token for Key Vault.
func CheckTokenStaysHome(t testing.TB, c *localcloud.Cloud, v *localcloud.Vault) {
	t.Helper()
	for _, a := range c.Arrivals() {
		if a.Authorization == "" {
			continue
		}
		if a.Scheme != "https" || a.Host != v.Host() || a.Audience != "https://vault.azure.net" {
			t.Errorf("credentials (%s, audience %q) sent to %s://%s%s", a.Authorization, a.Audience, a.Scheme, a.Host, a.Path)
		}
	}
}

// testworld.NormalLog returns the masked log with timings replaced, so that it can be
// compared exactly.
// PeakRSS is the binary's own measure of its peak memory, from the debug
// line every run writes.
func PeakRSS(t testing.TB, res *agentrunner.Result) float64 {
	t.Helper()
	re := regexp.MustCompile(`resources: peak RSS ([0-9.]+) MiB`)
	for _, l := range res.Raw {
		if m := re.FindStringSubmatch(l); m != nil {
			f, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("no peak RSS line in the output")
	return 0
}
