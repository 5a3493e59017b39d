package task

import (
	"fmt"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Outcome is how a run ends: what it found, set, wrote, skipped, warned
// of and failed at, and why, and its result. The step's log (Log) and
// gokeyvault check's report are two renderings of it.
type Outcome struct {
	Vault string
	// Listing is what the listing found and made of it; nil when the run
	// did not list, or the listing failed.
	Listing *Listing
	// Set is every secret set, with its variables, sorted; Outputs says
	// that each variable is also an output variable of the step.
	Set     []selection.Assigned
	Outputs bool
	// Files are the files written, sorted by entry.
	Files []File
	// Warnings and Errors in the order the log gives them.
	Warnings []Issue
	Errors   []Issue
	// Totals are the download's, nil when the run ended before it.
	Totals *Totals
	// Canceled: the run was canceled, and its log says only what it had
	// done (Halt). Halt is also set when the time budget ran out.
	Canceled bool
	Halt     *Halted
	// Result is task.complete's; "" writes none (a canceled run: the
	// agent records the cancellation itself).
	Result  vso.Result
	Message string // task.complete's message
	Exit    int    // the process exit code
}

// Listing is what a listing found and what the selection made of it.
type Listing struct {
	Found    int // valid secrets listed
	Selected int // of them, those an entry selected
	Skipped  int // of those, disabled, expired or not yet valid
	// Narrowed: not every secret listed was selected and set under its
	// own name (a selector, an exclusion or a named entry narrowed it).
	Narrowed bool
	// Selectors are each pattern and tag entry and how many secrets it
	// selected, when the filter is not '*' alone.
	Selectors []Count
	// Excluded and Skips are the secrets left out, with the reason,
	// sorted by name.
	Excluded []selection.Skipped
	Skips    []selection.Skipped
}

// Count is how many secrets an entry selected.
type Count struct {
	Entry string
	N     int
}

// Totals are what the download fetched, and how long the run took.
type Totals struct {
	Downloaded int
	Elapsed    time.Duration
}

// Issue is a warning or an error: what it is about, and the line that
// says it, with the cause and the fix.
type Issue struct {
	Kind IssueKind
	Text string
}

// IssueKind is what an issue is about.
type IssueKind int

// The kinds of issues.
const (
	// Warnings.
	Unselected      IssueKind = iota + 1 // a selector selected nothing
	InvalidID                            // a list entry that is not a secret id
	OptionalMissing                      // an optional secret, or member, is not set
	Shadowed                             // a listed secret whose variable an entry sets
	EmptyValue                           // a variable set to an empty value
	EmptyFile                            // a file written empty
	NoKey                                // a certificate file without its key
	Expiring                             // a secret set or written expires soon, or has (an error when ExpiryFails)

	// Errors.
	SecretFailed // a secret could not be downloaded
	MemberFailed // a member of a secret's JSON value could not be set
	NotCarried   // a value the agent would alter, not set
	FileFailed   // a file could not be converted or written
	RunFailed    // the one failure that ended the run
)

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

// failed is a run that stopped on msg, with nothing else to say.
func failed(msg string) Outcome {
	return Outcome{Errors: []Issue{{RunFailed, msg}}, Result: vso.Failed, Message: msg}
}

func skipped(why string) Outcome { return Outcome{Result: vso.Skipped, Message: why} }

// Fatal is the failure that ended the run, if one did: "" when the run
// ended on its own terms (succeeded, or failed for the issues it lists).
func (o Outcome) Fatal() string {
	for _, e := range o.Errors {
		if e.Kind == RunFailed {
			return e.Text
		}
	}
	return ""
}

// Log renders the outcome as the step's log lines.
func (o Outcome) Log() []Line {
	var l lines
	if o.Canceled {
		l.plain("Canceled after %d secret(s) were set%s", o.Halt.Set, o.Halt.done())
		if len(o.Halt.CutShort) > 0 {
			l.plain("Stopped converting SecretsToFiles entries %s", strings.Join(o.Halt.CutShort, ", "))
		}
		return l
	}
	if o.Listing != nil {
		l.listing(*o.Listing)
	}
	for _, w := range o.Warnings {
		if w.Kind == Unselected {
			l.add(Warning, w.Text)
		}
	}
	l.set(o.Set, o.Outputs)
	l.files(o.Files)
	for _, w := range o.Warnings {
		if w.Kind != Unselected {
			l.add(Warning, w.Text)
		}
	}
	if o.Totals != nil {
		l.plain("Downloaded %d secret(s) in %.2f s", o.Totals.Downloaded, o.Totals.Elapsed.Seconds())
	}
	for _, e := range o.Errors {
		l.add(Error, e.Text)
	}
	return l
}

// Write writes the outcome and returns the exit code.
func (o Outcome) Write(w *vso.Writer) int {
	for _, l := range o.Log() {
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

type lines []Line

func (l *lines) add(kind LineKind, text string) { *l = append(*l, Line{kind, text}) }

func (l *lines) plain(format string, args ...any) { l.add(Plain, fmt.Sprintf(format, args...)) }

// listing says what the listing found and what each entry made of it.
func (l *lines) listing(li Listing) {
	valid := li.Selected - li.Skipped
	if li.Narrowed {
		l.plain("Found %d secret(s), %d selected: %d enabled and valid, %d skipped", li.Found, li.Selected, valid, li.Skipped)
	} else {
		l.plain("Found %d secret(s): %d enabled and valid, %d skipped", li.Found, valid, li.Skipped)
	}
	for _, c := range li.Selectors {
		l.plain("  %s selected %d", c.Entry, c.N)
	}
	for _, x := range li.Excluded {
		l.plain("  %s: %s", x.Secret, x.Why)
	}
	for _, sk := range li.Skips {
		l.plain("  skipped %s: %s", sk.Secret, sk.Why)
	}
}

// set names every secret set and its variables: names are not secret,
// and users and auditors read them.
func (l *lines) set(set []selection.Assigned, outputs bool) {
	if len(set) == 0 {
		return
	}
	also := ""
	if outputs {
		also = ", each also an output variable of this step"
	}
	members := 0
	for _, a := range set {
		if a.Member != "" {
			members++
		}
	}
	switch {
	case members == len(set):
		l.plain("Set %d JSON member(s)%s:", members, also)
	case members > 0:
		l.plain("Set %d secret(s) and %d JSON member(s)%s:", len(set)-members, members, also)
	default:
		l.plain("Set %d secret(s)%s:", len(set), also)
	}
	for _, a := range set {
		label := a.Secret.String()
		if a.Member != "" {
			label += "." + a.Member
		}
		if len(a.Vars) == 1 && a.Vars[0] == label {
			l.plain("  %s", label)
			continue
		}
		l.plain("  %s -> %s", label, strings.Join(a.Vars, ", "))
	}
}

// files names every file written, its path and its variable: none of
// them is secret.
func (l *lines) files(files []File) {
	if len(files) == 0 {
		return
	}
	l.plain("Wrote %d file(s):", len(files))
	for _, f := range files {
		l.plain("  %s -> %s (%s, variable %s)", f.Entry.Ref, f.Path, f.Format, f.Entry.Var)
	}
}
