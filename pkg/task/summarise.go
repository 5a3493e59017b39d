package task

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Outcome is how a run ends: what it logs, in order, then its result.
type Outcome struct {
	Log []Line
	// Result is task.complete's; "" writes none (a canceled run: the agent
	// records the cancellation itself).
	Result  vso.Result
	Message string // task.complete's message
	Exit    int    // the process exit code
}

// Line is one line of an outcome's log.
type Line struct {
	Kind LineKind
	Text string
}

// LineKind is how a line is written.
type LineKind int

// The kinds of lines.
const (
	Plain LineKind = iota
	Warning
	Error
)

// Write writes the outcome and returns the exit code.
func (o Outcome) Write(w *vso.Writer) int {
	for _, l := range o.Log {
		switch l.Kind {
		case Warning:
			w.Warning(l.Text)
		case Error:
			w.Error(l.Text)
		default:
			w.Println(l.Text)
		}
	}
	if o.Result != "" {
		w.Complete(o.Result, o.Message)
	}
	return o.Exit
}

func (o *Outcome) add(kind LineKind, format string, args ...any) {
	o.Log = append(o.Log, Line{Kind: kind, Text: fmt.Sprintf(format, args...)})
}

// failed is a run that stopped on msg, with nothing else to say.
func failed(msg string) Outcome {
	return Outcome{Log: []Line{{Error, msg}}, Result: vso.Failed, Message: msg}
}

func skipped(why string) Outcome { return Outcome{Result: vso.Skipped, Message: why} }

// Summarise says what a download did: what it found and skipped, what is
// empty, how long it took, and either success or each failure with its
// cause and fix.
func Summarise(job Job, s *Session, d Downloaded) Outcome {
	var o Outcome
	rep := d.Report
	if d.Canceled {
		o.add(Plain, "Canceled after %d secret(s) were set", rep.Downloaded)
		o.Exit = ExitCanceled
		return o
	}
	if job.Filter.All {
		o.add(Plain, "Found %d secret(s): %d enabled and valid, %d skipped", rep.Listed, rep.Listed-len(rep.Skipped), len(rep.Skipped))
		skips := append([]keyvault.Skip(nil), rep.Skipped...)
		sort.Slice(skips, func(i, j int) bool { return skips[i].Name < skips[j].Name })
		for _, sk := range skips {
			o.add(Plain, "  skipped %s: %s", sk.Name, sk.Reason)
		}
	}
	for _, id := range rep.Invalid {
		// id is already rendered safely (control characters escaped).
		o.add(Warning, "Skipped a list entry that is not a valid Key Vault secret id: '%s'", id)
	}
	if more := rep.InvalidCount - len(rep.Invalid); more > 0 {
		o.add(Warning, "Skipped %d more list entries that are not valid Key Vault secret ids (not shown)", more)
	}
	for _, n := range d.Empty {
		o.add(Warning, "Secret '%s' is empty: variable %s is defined with an empty value", n, n)
	}
	o.add(Plain, "Downloaded %d secret(s) in %.2f s", rep.Downloaded, d.Elapsed.Seconds())
	return o.end(job, s, d)
}

// end gives the outcome its result.
func (o Outcome) end(job Job, s *Session, d Downloaded) Outcome {
	rep := d.Report
	dc := job.diagnoseContext(&s.Cloud)
	fail := func(msg string) Outcome {
		f := failed(msg)
		f.Log = append(o.Log, f.Log...)
		return f
	}
	switch {
	case d.OutOfTime:
		return fail(budgetMessage(job.Vault, job.Budget, rep, d.ListErr != nil))
	case d.ListErr != nil:
		return fail(fmt.Sprintf("Could not list the secrets of vault %s: %s", job.Vault, diagnose.Explain(dc, d.ListErr, "list")))
	case len(rep.Failures) == 0:
		o.Result, o.Message = vso.Succeeded, fmt.Sprintf("Downloaded %d secret(s) from %s", rep.Downloaded, job.Vault)
		return o
	case rep.Shared != nil:
		// An authentication or network failure fails every request the
		// same way: say it once, not once per secret.
		return fail(fmt.Sprintf("Could not download secrets from vault %s: %s", job.Vault, diagnose.Explain(dc, rep.Shared, "get")))
	}
	fs := append([]keyvault.Failure(nil), rep.Failures...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	for _, f := range fs {
		o.add(Error, "%s", diagnose.Secret(dc, vaultref.Secret{Name: f.Name, Version: f.Version}.String(), f.Err))
	}
	o.Result = vso.Failed
	o.Message = fmt.Sprintf("%d of %d secret(s) could not be downloaded from %s", len(rep.Failures), len(rep.Failures)+rep.Downloaded, job.Vault)
	return o
}

// budgetMessage names what is missing when the run's time budget ran out,
// so that nothing is dropped silently.
func budgetMessage(vault string, budget time.Duration, rep keyvault.Report, listUnfinished bool) string {
	names := make([]string, 0, len(rep.Failures))
	for _, f := range rep.Failures {
		names = append(names, vaultref.Secret{Name: f.Name, Version: f.Version}.String())
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
