// Package task is GoKeyVault's run function: read the inputs and the
// service connection the agent provides, download the secrets and publish
// them as secret variables, and end with one task.complete (a canceled run
// writes none: the agent records the cancellation itself).
package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/credential"
	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/inputs"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/netconfig"
	"github.com/gokeyvault/gokeyvault/pkg/publish"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/usage"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Stage is the job stage the agent is running the task in.
type Stage string

// The two stages task.json declares.
const (
	StageMain   Stage = "main"
	StagePreJob Stage = "prejob"
)

// Options is everything a run depends on; main fills it from the process.
type Options struct {
	Stage   Stage
	Environ []string  // the process environment, os.Environ() style
	Out     io.Writer // the agent reads logging commands from stdout
	// Unsetenv removes a variable from the process environment once it
	// has been read, so that a child process could not inherit a secret.
	// The binary starts none, and the launcher keeps its own copy of the
	// environment: this is a second line, not the only one.
	Unsetenv func(name string)
	Now      func() time.Time
	Version  string
}

// Exit codes. A task failure is reported with task.complete and exit 0; a
// non-zero code tells the agent the task itself broke.
const (
	ExitOK       = 0
	ExitCanceled = 130
)

// defaultBudget bounds a whole run; the pipeline variable
// GoKeyVault.Timeout (seconds) overrides it.
const defaultBudget = 5 * time.Minute

// Run executes the task and returns the process exit code.
func Run(ctx context.Context, o Options) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Unsetenv == nil {
		o.Unsetenv = func(string) {}
	}
	w := vso.NewWriter(o.Out)
	r := &run{o: o, w: w, env: endpoint.NewEnv(o.Environ), start: o.Now()}
	return r.execute(ctx)
}

type run struct {
	o     Options
	w     *vso.Writer
	env   *endpoint.Env
	start time.Time
	debug bool
}

func (r *run) fail(msg string) int {
	r.w.Error(msg)
	r.w.Complete(vso.Failed, msg)
	return ExitOK
}

func (r *run) execute(ctx context.Context) int {
	// Whatever happens, secrets read from the environment leave it.
	defer func() {
		for _, n := range r.env.Sensitive() {
			r.o.Unsetenv(n)
		}
	}()
	r.debug = inputs.Bool(r.env.Get("SYSTEM_DEBUG"))

	preJob := inputs.Bool(r.env.Get("INPUT_RUNASPREJOB"))
	if preJob != (r.o.Stage == StagePreJob) {
		where := "as a step"
		if preJob {
			where = "before the job's steps (RunAsPreJob is true)"
		}
		r.w.Complete(vso.Skipped, "GoKeyVault runs "+where+"; nothing to do in this stage")
		return ExitOK
	}

	vaultName := strings.TrimSpace(r.env.Get("INPUT_KEYVAULTNAME"))
	if err := inputs.ValidateVaultName(vaultName); err != nil {
		return r.fail(err.Error())
	}
	filter, err := inputs.ParseFilter(r.env.Get("INPUT_SECRETSFILTER"))
	if err != nil {
		return r.fail(err.Error())
	}
	connID := r.env.Get("INPUT_AZURESUBSCRIPTION")
	if connID == "" {
		connID = r.env.Get("INPUT_CONNECTEDSERVICENAME")
	}
	conn, err := endpoint.Read(r.env, connID)
	if err != nil {
		return r.fail(err.Error())
	}
	removed := r.env.Sensitive()
	for _, n := range removed {
		r.o.Unsetenv(n)
	}
	cl, err := credential.ResolveCloud(conn)
	if err != nil {
		return r.fail(err.Error())
	}

	budget := defaultBudget
	if s := strings.TrimSpace(r.env.Get("GOKEYVAULT_TIMEOUT")); s != "" {
		if d, err := time.ParseDuration(s + "s"); err == nil && d > 0 {
			budget = d
		} else {
			r.w.Warning(fmt.Sprintf("The pipeline variable GoKeyVault.Timeout is %q, not a number of seconds; using %s", vso.Clip(s, 40), budget))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	// The agent's proxy, bypass list and CA settings apply to every request:
	// Entra, Key Vault, Azure DevOps, Azure Stack Hub, managed identity.
	nc, err := netconfig.FromEnv(r.env)
	if err != nil {
		return r.fail(err.Error())
	}
	topts := nc.Transport
	topts.MaxConnsPerHost = connsPerHost
	tr := transport.New(topts)
	defer tr.CloseIdleConnections()
	var perCall []policy.Policy
	var debugf func(string)
	if r.debug {
		perCall = append(perCall, transport.DebugPolicy(r.w.Debug))
		debugf = r.w.Debug
	}
	co := credential.Options{
		Transport: tr,
		Retry:     policy.RetryOptions{MaxRetries: 3, TryTimeout: 20 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second},
		PerCall:   perCall,
		Job:       endpoint.ReadJob(r.env),
		// A workload identity federation token is registered with the
		// agent's masker the moment it arrives, before any other output.
		OnSecret: r.w.SetSecret,
		Logf:     debugf,
	}
	warned := false
	warn := func() {
		if !warned {
			warned = true
			for _, w := range nc.Warnings {
				r.w.Warning(w)
			}
		}
	}
	dc := diagnose.Context{
		Vault:          vaultName,
		TenantID:       conn.TenantID,
		ConnectionPage: connectionPage(r.env, conn.ID),
	}
	setupFail := func(err error) int {
		warn()
		return r.fail(diagnose.Setup(dc, err))
	}
	if cl, err = credential.Discover(ctx, conn, cl, co); err != nil {
		return setupFail(err)
	}
	tenant := credential.Tenant(conn, cl)
	dc.TenantID = tenant
	cred, err := credential.New(ctx, conn, cl, co)
	if err != nil {
		return setupFail(err)
	}
	warn()
	if r.debug {
		r.w.Debug(nc.Describe())
		r.w.Debug(credential.Describe(conn, cl))
		sort.Strings(removed)
		r.w.Debug("removed from the environment once read: " + strings.Join(removed, ", "))
	}
	vaultURL := "https://" + vaultName + "." + cl.VaultSuffix + "/"
	kv, err := keyvault.New(keyvault.Options{
		VaultURL:    vaultURL,
		Credential:  cred,
		Transport:   tr,
		Retry:       kvRetry(budget),
		Concurrency: getsInFlight,
		PerRetry:    perCall,
		Now:         r.o.Now,
		APIVersion:  strings.TrimSpace(r.env.Get("GOKEYVAULT_APIVERSION")),
		TenantID:    tenant,
	})
	if err != nil {
		return r.fail(err.Error())
	}

	r.w.Printf("GoKeyVault %s: vault %s (%s), cloud %s", r.o.Version, vaultName, vaultURL, cl.Name)
	if nc.Trust != "" {
		r.w.Println(nc.Trust)
	}

	waitWarm := kv.Warm(ctx, tenant, cl.VaultResource)
	pub := publish.New(r.w, publish.ReadMultiline(r.env.Get))
	var (
		emptyMu sync.Mutex
		empty   []string
	)
	sink := func(v keyvault.Value) {
		names := []string{v.Name}
		if v.Version != "" {
			names = []string{inputs.Secret{Name: v.Name, Version: v.Version}.String(), v.Name}
		}
		for _, n := range names {
			pub.Publish(n, v.Value)
		}
		if v.Value == "" {
			emptyMu.Lock()
			empty = append(empty, names[0])
			emptyMu.Unlock()
		}
	}

	var rep keyvault.Report
	if filter.All {
		r.w.Println("Downloading every enabled secret")
		rep, err = kv.All(ctx, sink)
	} else {
		names := make([]string, len(filter.Secrets))
		for i, s := range filter.Secrets {
			names[i] = s.String()
		}
		r.w.Printf("Downloading %d secret(s): %s", len(names), strings.Join(names, ", "))
		rep, err = kv.Named(ctx, filter.Secrets, sink)
	}
	waitWarm()
	if errors.Is(ctx.Err(), context.Canceled) {
		r.w.Printf("Canceled after %d secret(s) were set", rep.Downloaded)
		return ExitCanceled
	}
	elapsed := r.o.Now().Sub(r.start)

	if filter.All {
		r.w.Printf("Found %d secret(s): %d enabled and valid, %d skipped", rep.Listed, rep.Listed-len(rep.Skipped), len(rep.Skipped))
		sort.Slice(rep.Skipped, func(i, j int) bool { return rep.Skipped[i].Name < rep.Skipped[j].Name })
		for _, s := range rep.Skipped {
			r.w.Printf("  skipped %s: %s", s.Name, s.Reason)
		}
	}
	for _, id := range rep.Invalid {
		// id is already rendered safely (control characters escaped).
		r.w.Warning(fmt.Sprintf("Skipped a list entry that is not a valid Key Vault secret id: '%s'", id))
	}
	if more := rep.InvalidCount - len(rep.Invalid); more > 0 {
		r.w.Warning(fmt.Sprintf("Skipped %d more list entries that are not valid Key Vault secret ids (not shown)", more))
	}
	sort.Strings(empty)
	for _, n := range empty {
		r.w.Warning(fmt.Sprintf("Secret '%s' is empty: variable %s is defined with an empty value", n, n))
	}
	r.w.Printf("Downloaded %d secret(s) in %.2f s", rep.Downloaded, elapsed.Seconds())

	// One debug line, always written: the agent shows it only with
	// system.debug, and it lets anyone measure a run on a real agent.
	if u := usage.Self(); u.Measured {
		r.w.Debug(fmt.Sprintf("resources: peak RSS %.1f MiB, CPU %.2f s user + %.2f s system, at most %d gets in flight", float64(u.PeakRSS)/(1<<20), u.UserCPU, u.SysCPU, kv.PeakInFlight()))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return r.fail(budgetMessage(vaultName, budget, rep, err != nil))
	}
	if err != nil {
		return r.fail(fmt.Sprintf("Could not list the secrets of vault %s: %s", vaultName, diagnose.Explain(dc, err, "list")))
	}
	if len(rep.Failures) == 0 {
		r.w.Complete(vso.Succeeded, fmt.Sprintf("Downloaded %d secret(s) from %s", rep.Downloaded, vaultName))
		return ExitOK
	}
	// An authentication or network failure fails every request the same
	// way: say it once, not once per secret.
	if common, ok := sharedCause(rep.Failures); ok {
		return r.fail(fmt.Sprintf("Could not download secrets from vault %s: %s", vaultName, diagnose.Explain(dc, common, "get")))
	}
	sort.Slice(rep.Failures, func(i, j int) bool { return rep.Failures[i].Name < rep.Failures[j].Name })
	for _, f := range rep.Failures {
		r.w.Error(diagnose.Secret(dc, inputs.Secret{Name: f.Name, Version: f.Version}.String(), f.Err))
	}
	msg := fmt.Sprintf("%d of %d secret(s) could not be downloaded from %s", len(rep.Failures), len(rep.Failures)+rep.Downloaded, vaultName)
	r.w.Complete(vso.Failed, msg)
	return ExitOK
}

// budgetMessage names what is missing when the run's time budget ran out,
// so that nothing is dropped silently.
func budgetMessage(vault string, budget time.Duration, rep keyvault.Report, listUnfinished bool) string {
	names := make([]string, 0, len(rep.Failures))
	for _, f := range rep.Failures {
		names = append(names, inputs.Secret{Name: f.Name, Version: f.Version}.String())
	}
	sort.Strings(names)
	const show = 50
	list := strings.Join(names[:min(len(names), show)], ", ")
	if len(names) > show {
		list += fmt.Sprintf(" and %d more", len(names)-show)
	}
	msg := fmt.Sprintf("The time budget of %s ran out before vault %s was fully downloaded: %d secret(s) set", budget, vault, rep.Downloaded)
	if len(names) > 0 {
		msg += fmt.Sprintf("; %d not downloaded: %s", len(names), list)
	}
	if listUnfinished {
		msg += "; the secret list did not finish, so other secrets are missing too"
	}
	return msg + ". Check the debug log for throttling (429) or slow replies, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)"
}

// sharedCause reports a failure that is not about any one secret: no
// failure got an answer from the vault, and either the token was refused
// (it would be for every secret) or there is more than one (the network,
// not the secret). If any secret got an answer of its own (a 403, a 404),
// each failure is reported on its own.
func sharedCause(fs []keyvault.Failure) (error, bool) {
	var auth error
	for _, f := range fs {
		var afe *azidentity.AuthenticationFailedError
		switch {
		case errors.As(f.Err, &afe):
			if auth == nil {
				auth = f.Err
			}
		case keyvault.VaultAnswered(f.Err):
			return nil, false
		}
	}
	switch {
	case auth != nil:
		return auth, true
	case len(fs) > 1:
		return fs[0].Err, true
	}
	return nil, false
}

// connectionPage links to the service connection's settings page, where a
// user can fix a wrong or expired secret.
func connectionPage(env *endpoint.Env, id string) string {
	coll := strings.TrimRight(env.Get("SYSTEM_COLLECTIONURI"), "/")
	project := env.Get("SYSTEM_TEAMPROJECT")
	if project == "" {
		project = env.Get("SYSTEM_TEAMPROJECTID")
	}
	if coll == "" || project == "" {
		return ""
	}
	return coll + "/" + url.PathEscape(project) + "/_settings/adminservices?resourceId=" + url.QueryEscape(id)
}

// kvRetry retries 408, 429, 5xx and transient network errors, waiting as
// the vault says (Retry-After, x-ms-retry-after-ms) or backing off
// exponentially with jitter from 100 ms: a 503 or a reset connection is
// usually over at once, and a throttled vault is protected by the pace
// pkg/keyvault keeps once it has pushed back, not by long waits of the
// requests it refused, which would only hold up the run. The count is generous
// because the run's time budget, not the count, bounds a throttled
// download; each try has its own timeout so a reply that trickles cannot
// hang the run.
func kvRetry(budget time.Duration) policy.RetryOptions {
	return policy.RetryOptions{
		MaxRetries: 12,
		// A healthy reply takes well under a second; a third of a short
		// budget leaves room for retries after a try that hangs.
		TryTimeout: min(30*time.Second, budget/3),
		RetryDelay: 100 * time.Millisecond,
		// Also the longest Retry-After the SDK honours: a longer one
		// fails the request at once. Key Vault's window is 10 s, so
		// after a burst it may name up to 10 s; 16 s is where Key
		// Vault's guidance stops doubling its waits (1, 2, 4, 8, 16 s).
		MaxRetryDelay: 16 * time.Second,
	}
}

const (
	// getsInFlight bounds concurrent gets; the limiter lowers it under
	// throttling. 32 keeps up with list pages at any latency: a page names
	// 25 secrets and takes as long to arrive as one get.
	getsInFlight = 32
	// connsPerHost leaves room beside the gets for the list call, which is
	// the critical path and must never wait for a free connection.
	connsPerHost = getsInFlight + 4
)
