// Package task is GoKeyVault's run, in four phases that pass typed values,
// each given only what it uses:
//
//   - Read takes everything the agent gives the task, once, into a Job: a
//     Request (what to download: NewRequest, which gokeyvault check uses
//     too), a Link (how to reach the vault) and a Delivery (how values
//     reach the job), before any request;
//   - Connect (a Link) finds the cloud, builds the credential and the
//     vault client: a Session;
//   - Download (a Request and a Delivery) has the vault client fetch what
//     pkg/selection's Resolver decides, sets each value as secret
//     variables and writes the files: Downloaded;
//   - Summarise (the Request) turns what happened into one structured
//     Outcome, which the step's log (Outcome.Log) and the check's report
//     render.
//
// Run strings them together under a supervisor (pkg/supervise) and ends
// with one task.complete (a canceled run writes none: the agent records
// the cancellation itself).
package task

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/publish"
	"github.com/gokeyvault/gokeyvault/pkg/supervise"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
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
	// Commit is the commit the binary was built from as the first log
	// line names it (buildstamp.Stamp.Commit): "0123456789ab",
	// "0123456789ab, modified" or "unknown".
	Commit string
	// Transport, when set, carries every request instead of one built from
	// the agent's proxy and TLS settings: a test's way to a local cloud.
	Transport *transport.Client
}

// Exit codes. A task failure is reported with task.complete and exit 0; a
// non-zero code tells the agent the task itself broke.
const (
	ExitOK       = 0
	ExitCanceled = 130
)

// DefaultBudget bounds a whole run (and a check's); the pipeline variable
// GoKeyVault.Timeout (seconds) overrides it.
const DefaultBudget = 5 * time.Minute

// StopGrace is how long a run that was told to stop (its budget spent, a
// signal, the launcher gone) has to end and report on its own before its
// supervisor reports in its place: every request watches the context and
// stops within milliseconds, and the process must be gone within a second.
const StopGrace = 300 * time.Millisecond

// Run executes the task and returns the process exit code.
func Run(ctx context.Context, o Options) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Unsetenv == nil {
		o.Unsetenv = func(string) {}
	}
	start := o.Now()
	env := agentenv.NewEnv(o.Environ)
	// Whatever happens, secrets read from the environment leave it.
	defer unsetSensitive(env, o.Unsetenv)
	job, err := Read(env, o.Stage)
	gate := supervise.NewGate(o.Out)
	w := vso.NewWriter(gate, job.Encoding)
	if err != nil {
		return failed(err.Error()).Write(w)
	}
	if job.Skip != "" {
		return skipped(job.Skip).Write(w)
	}
	removed := unsetSensitive(env, o.Unsetenv)
	for _, n := range job.Link.Network.Unset {
		// A trust store a pipeline variable chose: gone before Go loads
		// the system's certificates, at the first connection.
		o.Unsetenv(n)
	}
	ctx, cancel := context.WithTimeout(ctx, job.Request.Budget)
	defer cancel()
	r := &run{o: o, job: job, w: w, gate: gate, start: start, removed: removed}
	r.progress.Publisher = publish.New(w, job.Delivery.Publish)
	return supervise.Run(ctx, gate, StopGrace, func() int { return r.body(ctx) }, supervise.Stop{
		Halt: func() {
			if job.Delivery.Files != nil {
				job.Delivery.Files.Close()
			}
		},
		Last: func(out io.Writer) int {
			ow := vso.NewWriter(out, job.Encoding)
			r.progress.Publisher.Lower(ow)
			return Stopped(job.Request, ctx.Err(), &r.progress).Write(ow)
		},
	})
}

// run is a run under way, once its job has been read.
type run struct {
	o        Options
	job      Job
	w        *vso.Writer
	gate     *supervise.Gate
	progress Progress
	start    time.Time
	removed  []string // from the environment, once read
}

// body connects, downloads and reports.
func (r *run) body(ctx context.Context) int {
	job, w := r.job, r.w
	s, err := Connect(ctx, job.Link, connectOptions{Transport: r.o.Transport, Now: r.o.Now, OnSecret: w.SetSecret, Debugf: job.debugf(w)})
	for _, warning := range job.warnings() {
		w.Warning(warning)
	}
	if err != nil {
		return r.end(failed(diagnose.Setup(job.diagnoseContext(nil), err)))
	}
	defer s.Close()
	if job.Debug {
		w.Debug(job.Link.Network.Describe())
		w.Debug(s.Describe)
		w.Debug(fmt.Sprintf("removed from the environment once read: %s", joinSorted(r.removed)))
	}
	w.Printf("GoKeyVault %s (commit %s): vault %s (%s), cloud %s", r.o.Version, r.o.Commit, job.Request.Vault, s.URL, s.Cloud.Name)
	if job.Link.Network.Trust != "" {
		w.Println(job.Link.Network.Trust)
	}
	d := Download(ctx, job.Request, s.Vault, job.Delivery, w, &r.progress)
	d.Elapsed = r.o.Now().Sub(r.start)
	w.Debug(d.resources())
	return r.end(Summarise(job.Request, job.diagnoseContext(&s.Cloud), d))
}

// end writes the run's outcome as its last words, unless its supervisor
// has ended it already.
func (r *run) end(o Outcome) int {
	code, _ := r.gate.Last(func(out io.Writer) int { return o.Write(vso.NewWriter(out, r.w.Encoding())) })
	return code
}

// unsetSensitive removes every sensitive variable env has seen from the
// process environment and returns their names.
func unsetSensitive(env *agentenv.Env, unsetenv func(string)) []string {
	names := env.Sensitive()
	for _, n := range names {
		unsetenv(n)
	}
	return names
}
