package task

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
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

// Summarise says what a download did: what it found, selected and
// skipped, which secret set which variable, what is missing or empty, how
// long it took, and either success or each failure with its cause and fix.
func Summarise(job Job, s *Session, d Downloaded) Outcome {
	return SummariseIn(job, s.Cloud, d)
}

// SummariseIn is Summarise for a download from a vault in cloud cl, with
// or without a Session (a check of what a pipeline would get).
func SummariseIn(job Job, cl cloud.Cloud, d Downloaded) Outcome {
	var o Outcome
	if d.Canceled {
		return d.halted().canceled()
	}
	if job.Plan.NeedsList() && d.ListErr == nil {
		o.listing(job, d)
	}
	o.set(job, d)
	o.files(d)
	for _, id := range d.Report.Invalid {
		// id is already rendered safely (control characters escaped).
		o.add(Warning, "Skipped a list entry that is not a valid Key Vault secret id: '%s'", id)
	}
	if more := d.Report.InvalidCount - len(d.Report.Invalid); more > 0 {
		o.add(Warning, "Skipped %d more list entries that are not valid Key Vault secret ids (not shown)", more)
	}
	for _, m := range d.Missing {
		o.add(Warning, "Optional secret '%s' is not set: %s in vault %s", m.Secret, m.Why, job.Vault)
	}
	for _, sh := range d.Shadowed {
		o.add(Warning, "Secret '%s' is selected but not set from the list: %s", sh.Secret, sh.Why)
	}
	for _, e := range d.Empty {
		o.add(Warning, "Secret '%s' is empty: %s defined with an empty value", e.Secret, variables(e.Vars))
	}
	for _, f := range d.Files {
		if f.Size == 0 {
			o.add(Warning, "Secret '%s' is empty: the file in variable %s is empty", f.Entry.Ref, f.Entry.Var)
		}
		if f.NoKey {
			// A step that expects a key learns here why it has none.
			o.add(Warning, "Secret '%s' has no private key: the certificate's key is not exportable (exportable is false in its certificate policy), so the file in variable %s holds the certificate alone", f.Entry.Ref, f.Entry.Var)
		}
	}
	o.add(Plain, "Downloaded %d secret(s) in %.2f s", d.Report.Downloaded, d.Elapsed.Seconds())
	return o.end(job, cl, d)
}

// listing says what the listing found and what each entry made of it.
func (o *Outcome) listing(job Job, d Downloaded) {
	rep := d.Report
	valid := rep.Selected - len(rep.Skipped)
	if rep.Selected == rep.Listed && len(d.Excluded) == 0 && len(d.Shadowed) == 0 {
		o.add(Plain, "Found %d secret(s): %d enabled and valid, %d skipped", rep.Listed, valid, len(rep.Skipped))
	} else {
		o.add(Plain, "Found %d secret(s), %d selected: %d enabled and valid, %d skipped", rep.Listed, rep.Selected, valid, len(rep.Skipped))
	}
	if !job.Plan.All() {
		for _, e := range job.Plan.Entries {
			if e.Kind != selection.Name && !e.Exclude {
				o.add(Plain, "  %s selected %d", e.Text, d.Selected[e.Text])
			}
		}
	}
	for _, x := range d.Excluded {
		o.add(Plain, "  %s: %s", x.Secret, x.Why)
	}
	skips := append([]keyvault.Skip(nil), rep.Skipped...)
	sort.Slice(skips, func(i, j int) bool { return skips[i].Name < skips[j].Name })
	for _, sk := range skips {
		o.add(Plain, "  skipped %s: %s", sk.Name, sk.Reason)
	}
	for _, e := range job.Plan.Entries {
		if e.Kind != selection.Name && !e.Exclude && d.Selected[e.Text] == 0 {
			o.Log = append(o.Log, Line{Warning, fmt.Sprintf("%s selected no secret of vault %s", e.Text, job.Vault)})
		}
	}
}

// set names every secret set and its variables: names are not secret,
// and users and auditors read them.
func (o *Outcome) set(job Job, d Downloaded) {
	if len(d.Set) == 0 {
		return
	}
	also := ""
	if job.Output {
		also = ", each also an output variable of this step"
	}
	o.add(Plain, "Set %d secret(s)%s:", len(d.Set), also)
	for _, a := range d.Set {
		if len(a.Vars) == 1 && a.Vars[0] == a.Secret {
			o.add(Plain, "  %s", a.Secret)
			continue
		}
		o.add(Plain, "  %s -> %s", a.Secret, strings.Join(a.Vars, ", "))
	}
}

// files names every file written, its path and its variable: none of
// them is secret.
func (o *Outcome) files(d Downloaded) {
	if len(d.Files) == 0 {
		return
	}
	o.add(Plain, "Wrote %d file(s):", len(d.Files))
	for _, f := range d.Files {
		o.add(Plain, "  %s -> %s (%s, variable %s)", f.Entry.Ref, f.Path, f.Format, f.Entry.Var)
	}
}

// end gives the outcome its result.
func (o Outcome) end(job Job, cl cloud.Cloud, d Downloaded) Outcome {
	rep := d.Report
	dc := job.diagnoseContext(&cl)
	fail := func(msg string) Outcome {
		f := failed(msg)
		f.Log = append(o.Log, f.Log...)
		return f
	}
	switch {
	case d.OutOfTime:
		return fail(d.halted().outOfTime(job, unfinished(rep, d.ListErr != nil)))
	case d.ListErr != nil:
		return fail(fmt.Sprintf("Could not list the secrets of vault %s: %s%s", job.Vault, diagnose.Explain(dc, d.ListErr, "list"), listNeeders(job.Plan)))
	case len(rep.Failures) == 0 && len(d.Uncarried) == 0 && len(d.FileFailures) == 0:
		o.Result, o.Message = vso.Succeeded, fmt.Sprintf("Downloaded %d secret(s) from %s", rep.Downloaded, job.Vault)
		if len(d.Files) > 0 {
			o.Message += fmt.Sprintf(", wrote %d file(s)", len(d.Files))
		}
		return o
	case rep.Shared != nil:
		// An authentication or network failure fails every request the
		// same way: say it once, not once per secret.
		return fail(fmt.Sprintf("Could not download secrets from vault %s: %s", job.Vault, diagnose.Explain(dc, rep.Shared, "get")))
	}
	fs := append([]keyvault.Failure(nil), rep.Failures...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	for _, f := range fs {
		ref := vaultref.Secret{Name: f.Name, Version: f.Version}
		dc.Input = inputsNaming(job, ref)
		o.add(Error, "%s", diagnose.Secret(dc, ref.String(), f.Err))
	}
	for _, u := range d.Uncarried {
		// The message itself cannot quote those sequences: the agent would
		// decode them in it too.
		o.add(Error, "Secret '%s': its value holds a '%%' followed by 0A, 0D, 3B or 5D, which this agent decodes into a line break, a semicolon or a bracket because its setting DECODE_PERCENTS is false: not set. Set DECODE_PERCENTS to true for the job, or change the value", u)
	}
	for _, f := range d.FileFailures {
		o.add(Error, "%s", fileFailure(f))
	}
	o.Result = vso.Failed
	o.Message = failureMessage(job, d)
	return o
}

// failureMessage counts what failed, for task.complete.
func failureMessage(job Job, d Downloaded) string {
	rep := d.Report
	var parts []string
	if n := len(rep.Failures) + len(d.Uncarried); n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d secret(s) could not be downloaded from %s", n, len(rep.Failures)+rep.Downloaded, job.Vault))
	}
	if n := len(d.FileFailures); n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d file(s) could not be written", n, n+len(d.Files)))
	}
	return strings.Join(parts, "; ")
}

// fileFailure says which entry failed, what it was asked to make of what,
// and what was found.
func fileFailure(f FileFailure) string {
	ct := "no content type"
	if f.ContentType != "" {
		ct = "content type " + vso.Clip(f.ContentType, 80)
	}
	return fmt.Sprintf("SecretsToFiles entry '%s': secret %s (%s) cannot be written as %s: %s. No file was written", f.Entry.Text, f.Entry.Ref, ct, f.Format, f.Err)
}

// inputsNaming names the inputs that name a secret, for the fix of a
// failure to download it. A secret a pattern or tag selected was listed:
// it failed for being disabled, which the listing would have skipped, or
// for a reason of its own that no input changes.
func inputsNaming(job Job, ref vaultref.Secret) string {
	inFilter := false
	for _, t := range job.Plan.Targets {
		inFilter = inFilter || strings.EqualFold(t.Ref.String(), ref.String())
	}
	inFiles := false
	for _, f := range job.Files {
		inFiles = inFiles || strings.EqualFold(f.Ref.String(), ref.String())
	}
	switch {
	case inFiles && inFilter:
		return "SecretsFilter and SecretsToFiles"
	case inFiles:
		return "SecretsToFiles"
	}
	return "" // SecretsFilter
}

// listNeeders names the entries that need the List permission, for a
// listing that failed.
func listNeeders(p *selection.Plan) string {
	var needers []string
	for _, e := range p.Entries {
		if e.Kind != selection.Name && !e.Exclude {
			needers = append(needers, e.Text)
		}
	}
	if p.All() || len(needers) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the entries %s need the List permission; named entries need only Get)", strings.Join(needers, ", "))
}

// unfinished names what is missing when the run's time budget ran out.
func unfinished(rep keyvault.Report, listUnfinished bool) string {
	names := make([]string, 0, len(rep.Failures))
	for _, f := range rep.Failures {
		names = append(names, vaultref.Secret{Name: f.Name, Version: f.Version}.String())
	}
	sort.Strings(names)
	const show = 50
	msg := ""
	if len(names) > 0 {
		list := strings.Join(names[:min(len(names), show)], ", ")
		if len(names) > show {
			list += fmt.Sprintf(" and %d more", len(names)-show)
		}
		msg = fmt.Sprintf("; %d not downloaded: %s", len(names), list)
	}
	if listUnfinished {
		msg += "; the secret list did not finish, so other secrets are missing too"
	}
	return msg
}

// variables names the variables a secret set, as a sentence's subject.
func variables(vars []string) string {
	if len(vars) == 1 {
		return "variable " + vars[0] + " is"
	}
	return "variables " + strings.Join(vars, ", ") + " are"
}
