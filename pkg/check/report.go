package check

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// printer writes the report: plain lines, tables aligned. Every line is
// neutralised as the task's log lines are (no "##vso", no line break in
// what a vault or a tool said), so that a check run in a pipeline's script
// step writes no logging command.
type printer struct {
	tw *tabwriter.Writer
}

func newPrinter(w io.Writer) *printer {
	return &printer{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (p *printer) flush() { _ = p.tw.Flush() }

// line writes one line; tabs separate the columns of a table. What a
// terminal would act on (C0 and C1 controls, bidirectional overrides)
// shows as an escape, whoever wrote it.
func (p *printer) line(format string, args ...any) {
	cols := strings.Split(fmt.Sprintf(format, args...), "\t")
	for i, c := range cols {
		cols[i] = vso.Printable(vso.Neutralize(c))
	}
	fmt.Fprintln(p.tw, strings.Join(cols, "\t"))
}

// verdict ends the report, after a blank line.
func (p *printer) verdict(s string) {
	p.flush()
	p.line("")
	p.line("%s", s)
}

// header says what is checked, where, and with whose access.
func (p *printer) header(o Options, req task.Request, cl cloud.Cloud) {
	p.line("Vault %s (%s), cloud %s", req.Vault, cl.VaultURL(req.Vault), cl.Name)
	p.line("SecretsFilter: %s", orNone(o.Filter))
	if len(req.Plan.Files) > 0 {
		p.line("SecretsToFiles: %s", entryList(req.Plan.Files))
	}
}

// report prints what a pipeline would get, then the verdict: a rendering
// of the run's outcome, as the step's log is another.
func (p *printer) report(d task.Downloaded, out task.Outcome, used string) {
	if out.Halt != nil {
		// Told to stop, it says so as its supervisor would have.
		p.stopped(out)
		return
	}
	if used != "" {
		p.line("Signed in with %s: a pipeline gets what its service connection may read, which this check cannot see.", used)
	}
	p.line("")
	if signInFailed(d) {
		p.issues("Errors", out.Errors)
		p.verdict("The check could not sign in, so it cannot tell what a pipeline would get.")
		return
	}
	if out.Listing != nil {
		p.listing(*out.Listing)
	}
	p.variables(out.Set)
	p.files(out.Files)
	p.issues("Warnings", out.Warnings)
	p.issues("Errors", out.Errors)
	switch {
	case out.Result == vso.Succeeded:
		p.verdict("A pipeline with these inputs would succeed: " + out.Message + ".")
	case out.Fatal() != "" && out.Fatal() == out.Message:
		p.verdict("A pipeline with these inputs would fail, as the error above says.")
	default:
		p.verdict("A pipeline with these inputs would fail: " + out.Message + ".")
	}
}

// stopped ends the report of a check that was told to stop (Ctrl-C, its
// budget), whether it ended on its own or its supervisor ended it: out is
// how the task's run would have ended.
func (p *printer) stopped(out task.Outcome) {
	p.line("")
	if out.Halt != nil && len(out.Halt.CutShort) > 0 {
		p.line("Stopped while converting SecretsToFiles entries %s.", strings.Join(out.Halt.CutShort, ", "))
	}
	if out.Canceled {
		p.verdict("Canceled: the check did not finish.")
		return
	}
	p.issues("Errors", out.Errors)
	p.verdict("A pipeline with these inputs would fail, as the error above says.")
}

// signInFailed reports whether the check's own sign-in failed, for the
// listing or any secret: then nothing is known about the vault.
func signInFailed(d task.Downloaded) bool {
	errs := []error{d.ListErr, d.Report.Shared}
	for _, f := range d.Selection.Failures {
		errs = append(errs, f.Err)
	}
	for _, err := range errs {
		var s *SignInError
		var t *TenantError
		if errors.As(err, &s) || errors.As(err, &t) {
			return true
		}
	}
	return false
}

// listing says what the listing found, what each pattern or tag selected,
// and what was skipped, and why.
func (p *printer) listing(li task.Listing) {
	p.line("Listed %d secret(s); %d selected, %d of them skipped.", li.Found, li.Selected, li.Skipped)
	for _, c := range li.Selectors {
		p.line("  %s selects %d", c.Entry, c.N)
	}
	skipped := append(append([]selection.Skipped(nil), li.Skips...), li.Excluded...)
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].Secret < skipped[j].Secret })
	if len(skipped) > 0 {
		p.line("Skipped (%d):", len(skipped))
	}
	for _, s := range skipped {
		p.line("  %s\t%s", s.Secret, s.Why)
	}
}

// variables lists each variable with the secret and version behind it.
func (p *printer) variables(set []selection.Assigned) {
	type row struct{ v, from string }
	var rows []row
	for _, a := range set {
		from := describe(a.Secret.Name, a.Version, a.ContentType)
		if a.Member != "" {
			// The member's path, never its value.
			from += ", member " + a.Member
		}
		for _, v := range a.Vars {
			rows = append(rows, row{v, from})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return strings.ToLower(rows[i].v) < strings.ToLower(rows[j].v) })
	p.line("Secret variables (%d):", len(rows))
	for _, r := range rows {
		p.line("  %s\t<- %s", r.v, r.from)
	}
}

// files lists each file a SecretsToFiles entry would write.
func (p *printer) files(files []task.File) {
	if len(files) == 0 {
		return
	}
	p.line("Files (%d), each path in a plain variable:", len(files))
	for _, f := range files {
		p.line("  %s\t<- %s, written as %s, %d bytes", f.Entry.Var, describe(f.Entry.Ref.Name, f.Version, f.ContentType), f.Entry.FileName(f.Format), f.Size)
	}
}

// issues lists warnings or errors, as the pipeline's log would show them.
func (p *printer) issues(title string, issues []task.Issue) {
	if len(issues) == 0 {
		return
	}
	p.line("%s (%d):", title, len(issues))
	for _, is := range issues {
		p.line("  %s", is.Text)
	}
}

// describe names a secret's version and content type.
func describe(name, version, contentType string) string {
	s := name
	if version != "" {
		s += " version " + version
	}
	if contentType != "" {
		// The vault's text: on a terminal, an escape sequence would act.
		s += " (" + vso.Clip(contentType, 80) + ")"
	}
	return s
}

func entryList(files []selection.File) string {
	texts := make([]string, len(files))
	for i, f := range files {
		texts[i] = f.Text
	}
	return strings.Join(texts, ", ")
}

func orNone(s string) string {
	if strings.Trim(s, " \t\r\n,") == "" {
		return "(none)"
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", ", ")), " ")
}
