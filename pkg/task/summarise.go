package task

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Summarise says what a download did: what it found, selected and
// skipped, which secret set which variable, what is missing or empty, how
// long it took, and either success or each failure with its cause and
// fix. dc is what its messages may mention (DiagnoseContext).
func Summarise(req Request, dc diagnose.Context, d Downloaded) Outcome {
	if d.Canceled {
		h := d.halted()
		return Outcome{Vault: req.Vault, Canceled: true, Halt: &h, Exit: ExitCanceled}
	}
	sel := d.Selection
	o := Outcome{Vault: req.Vault, Set: sel.Set, Outputs: req.Outputs, Files: d.Files}
	if req.Plan.NeedsList() && d.ListErr == nil {
		o.listing(req, d)
	}
	for _, id := range d.Report.Invalid {
		// id is already rendered safely (control characters escaped).
		o.warn(InvalidID, "Skipped a list entry that is not a valid Key Vault secret id: '%s'", id)
	}
	if more := d.Report.InvalidCount - len(d.Report.Invalid); more > 0 {
		o.warn(InvalidID, "Skipped %d more list entries that are not valid Key Vault secret ids (not shown)", more)
	}
	for _, m := range sel.Missing {
		o.warn(OptionalMissing, "Optional secret '%s' is not set: %s in vault %s", m.Secret, m.Why, req.Vault)
	}
	for _, m := range sel.MissingMembers {
		o.warn(OptionalMissing, "Optional entry '%s' is not set (secret %s): %s", m.Entry, m.Secret, m.Why)
	}
	for _, sh := range sel.Shadowed {
		o.warn(Shadowed, "Secret '%s' is selected but not set from the list: %s", sh.Secret, sh.Why)
	}
	for _, e := range sel.Empty {
		if e.Member != "" {
			o.warn(EmptyValue, "Member %s of secret '%s' is empty: %s defined with an empty value", e.Member, e.Secret, variables(e.Vars))
			continue
		}
		o.warn(EmptyValue, "Secret '%s' is empty: %s defined with an empty value", e.Secret, variables(e.Vars))
	}
	for _, f := range d.Files {
		if f.Size == 0 {
			o.warn(EmptyFile, "Secret '%s' is empty: the file in variable %s is empty", f.Entry.Ref, f.Entry.Var)
		}
		switch {
		case f.NoKey && f.Managed:
			// A step that expects a key learns here why it has none.
			o.warn(NoKey, "Secret '%s' has no private key: the certificate's key is not exportable (exportable is false in its certificate policy), so the file in variable %s holds the certificate alone", f.Entry.Ref, f.Entry.Var)
		case f.NoKey:
			// Not a Key Vault certificate's: a bundle, say, stored by hand.
			o.warn(NoKey, "Secret '%s' holds certificates without a private key, so the file in variable %s holds certificates alone", f.Entry.Ref, f.Entry.Var)
		}
	}
	exp := expiring(req, d)
	if !req.Expiry.Fails {
		o.Warnings = append(o.Warnings, exp...)
		exp = nil
	}
	o.Totals = &Totals{Downloaded: d.Report.Downloaded, Elapsed: d.Elapsed}
	return o.end(req, dc, d, exp)
}

// DiagnoseContext is what messages about a download from vault, in cloud
// cl, may mention.
func DiagnoseContext(vault string, cl cloud.Cloud) diagnose.Context {
	return diagnose.Context{Vault: vault, TenantID: cl.Tenant, Host: vault + "." + cl.VaultSuffix}
}

func (o *Outcome) warn(kind IssueKind, format string, args ...any) {
	o.Warnings = append(o.Warnings, Issue{kind, fmt.Sprintf(format, args...)})
}

func (o *Outcome) fail(kind IssueKind, format string, args ...any) {
	o.Errors = append(o.Errors, Issue{kind, fmt.Sprintf(format, args...)})
}

// listing says what the listing found and what each entry made of it.
func (o *Outcome) listing(req Request, d Downloaded) {
	rep, sel := d.Report, d.Selection
	li := Listing{Found: rep.Listed, Selected: rep.Selected + sel.AlsoSelected, Excluded: sel.Excluded}
	for _, sk := range rep.Skipped {
		li.Skips = append(li.Skips, selection.Skipped{Secret: sk.Name, Why: sk.Reason})
	}
	li.Skips = append(li.Skips, sel.AlsoSkipped...)
	sort.Slice(li.Skips, func(i, j int) bool { return li.Skips[i].Secret < li.Skips[j].Secret })
	li.Skipped = len(li.Skips)
	li.Narrowed = li.Selected != li.Found || len(sel.Excluded) > 0 || len(sel.Shadowed) > 0
	for _, e := range req.Plan.Selectors() {
		if !req.Plan.All() {
			li.Selectors = append(li.Selectors, Count{e.Text, sel.Selected[e.Text]})
		}
		if sel.Selected[e.Text] == 0 {
			o.warn(Unselected, "%s selected no secret of vault %s", e.Text, req.Vault)
		}
	}
	o.Listing = &li
}

// end gives the outcome its result; failing are the expiry issues that
// fail the step (ExpiryFails).
func (o Outcome) end(req Request, dc diagnose.Context, d Downloaded, failing []Issue) Outcome {
	rep, sel := d.Report, d.Selection
	fail := func(msg string) Outcome {
		o.Errors = append(append(o.Errors, failing...), Issue{RunFailed, msg})
		o.Result, o.Message = vso.Failed, msg
		return o
	}
	switch {
	case d.OutOfTime:
		h := d.halted()
		o.Halt = &h
		return fail(h.outOfTime(req, unfinished(sel.Failures, d.ListErr != nil)))
	case d.ListErr != nil:
		return fail(fmt.Sprintf("Could not list the secrets of vault %s: %s%s", req.Vault, diagnose.Explain(dc, d.ListErr, "list"), listNeeders(req.Plan)))
	case len(sel.Failures) == 0 && len(sel.Uncarried) == 0 && len(sel.MemberFailures) == 0 && len(d.FileFailures) == 0 && len(failing) == 0:
		o.Result, o.Message = vso.Succeeded, fmt.Sprintf("Downloaded %d secret(s) from %s", rep.Downloaded, req.Vault)
		if len(d.Files) > 0 {
			o.Message += fmt.Sprintf(", wrote %d file(s)", len(d.Files))
		}
		return o
	case rep.Shared != nil:
		// An authentication or network failure fails every request the
		// same way: say it once, not once per secret.
		return fail(fmt.Sprintf("Could not download secrets from vault %s: %s", req.Vault, diagnose.Explain(dc, rep.Shared, "get")))
	}
	fs := append([]selection.Failure(nil), sel.Failures...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Ref.Name < fs[j].Ref.Name })
	for _, f := range fs {
		dc.Input = req.Plan.Inputs(f.Ref)
		o.fail(SecretFailed, "%s", diagnose.Secret(dc, f.Ref.String(), f.Err))
	}
	for _, u := range sel.Uncarried {
		o.fail(NotCarried, "Secret '%s': %s: not set. %s", u, vso.UncarriedVariable(), vso.UncarriedFix)
	}
	for _, m := range sel.MemberFailures {
		fix := "Check the entry's member path against the secret's JSON, or mark the entry optional with '?'"
		if m.Uncarried {
			fix = vso.UncarriedFix
		}
		o.fail(MemberFailed, "SecretsFilter entry '%s' (secret %s): %s: not set. %s", m.Entry, m.Secret, m.Why, fix)
	}
	for _, f := range d.FileFailures {
		o.fail(FileFailed, "%s", fileFailure(f))
	}
	o.Errors = append(o.Errors, failing...)
	o.Result = vso.Failed
	o.Message = failureMessage(req, d, len(failing))
	return o
}

// failureMessage counts what failed, for task.complete; expiring counts
// the secrets that fail the step for their expiry date.
func failureMessage(req Request, d Downloaded, expiring int) string {
	sel := d.Selection
	var parts []string
	if n := len(sel.Failures) + len(sel.Uncarried); n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d secret(s) could not be downloaded from %s", n, len(sel.Failures)+d.Report.Downloaded, req.Vault))
	}
	if n := len(sel.MemberFailures); n > 0 {
		parts = append(parts, fmt.Sprintf("%d JSON member(s) could not be set", n))
	}
	if n := len(d.FileFailures); n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d file(s) could not be written", n, n+len(d.Files)))
	}
	if expiring > 0 {
		parts = append(parts, fmt.Sprintf("%d secret(s) expire within %d day(s) or have expired, and ExpiryFails is true", expiring, req.Expiry.Days))
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

// listNeeders names the entries that need the List permission, for a
// listing that failed.
func listNeeders(p *selection.Plan) string {
	var needers []string
	for _, e := range p.Selectors() {
		needers = append(needers, e.Text)
	}
	if p.All() || len(needers) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the entries %s need the List permission; named entries need only Get)", strings.Join(needers, ", "))
}

// unfinished names what is missing when the run's time budget ran out.
func unfinished(fs []selection.Failure, listUnfinished bool) string {
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		names = append(names, f.Ref.String())
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
