package task

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/secretfile"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/usage"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Downloaded is what a download did.
type Downloaded struct {
	Report keyvault.Report
	// ListErr is the failure of the listing itself.
	ListErr error
	// Set is every secret set, with the variables it set, sorted.
	Set []Assigned
	// Empty lists, sorted, the secrets set to an empty value.
	Empty []Assigned
	// Missing are optional secrets that were not set, and why.
	Missing []Skipped
	// Uncarried are secrets whose value the agent would alter (its
	// DECODE_PERCENTS setting is off and the value holds an escape).
	Uncarried []string
	// Selected counts what each pattern and tag entry selected; Excluded
	// and Shadowed are listed secrets an exclusion or a named entry kept
	// out.
	Selected map[string]int
	Excluded []Skipped
	Shadowed []Skipped
	// Files are the files written (in a preview, converted only), and
	// FileFailures the SecretsToFiles entries whose value could not be
	// converted or written, both sorted by entry.
	Files        []File
	FileFailures []FileFailure
	// CutShort are the SecretsToFiles entries whose conversion the run's
	// end (a signal, the budget) stopped, sorted: no file, no failure.
	CutShort  []string
	Canceled  bool          // the run was canceled (the agent or a signal)
	OutOfTime bool          // the run's time budget ran out
	Elapsed   time.Duration // since the run started; Run sets it
	// PeakInFlight is the most gets that were in flight at once.
	PeakInFlight int
}

// Assigned is a secret and the variables it set.
type Assigned struct {
	Secret string // name or name/version
	Vars   []string
	// Version is the version whose value was set, as the vault answered
	// ("" if it named none); ContentType is that version's.
	Version     string
	ContentType string
}

// Skipped is a secret and why it was not set.
type Skipped struct{ Secret, Why string }

// Download fetches the job's secrets, sets each as a secret variable on w
// with p's Publisher as it arrives, and writes the files SecretsToFiles
// asks for; p follows what it has done.
func Download(ctx context.Context, job Job, s *Session, w *vso.Writer, p *Progress) Downloaded {
	w.Println(downloadingLine(job.Plan, job.Files))
	return collect(ctx, job, s.Vault, jobOutput{pub: p.Publisher, w: w, dir: job.FileDir}, w.Encoding(), p)
}

// Preview is Download without a pipeline, for a check of what a pipeline
// would get: it fetches what the job asks for and makes every decision
// Download makes (variables, skips, files and their conversion), but sets
// no variable, writes no file and prints nothing. Values stay in memory,
// and only for as long as the decisions need them. p follows what it has
// done.
func Preview(ctx context.Context, job Job, vault *keyvault.Client, p *Progress) Downloaded {
	return collect(ctx, job, vault, preview{}, vso.Encoding{}, p)
}

func collect(ctx context.Context, job Job, vault *keyvault.Client, out output, enc vso.Encoding, p *Progress) Downloaded {
	dl := newDownload(ctx, job, vault, out, enc)
	dl.progress = p
	req := keyvault.Request{Named: dl.refs(job)}
	if job.Plan.NeedsList() {
		req.Select = dl.choose
	}
	rep, listErr := vault.Download(ctx, req, dl.sink)
	rep.Failures = dl.optional(rep.Failures)
	dl.finish(&rep)
	d := dl.d
	d.Report, d.ListErr = rep, listErr
	d.Canceled = errors.Is(ctx.Err(), context.Canceled)
	d.OutOfTime = errors.Is(ctx.Err(), context.DeadlineExceeded)
	d.PeakInFlight = vault.PeakInFlight()
	return d
}

// download is one download under way: the sink and Select of the vault
// client call into it concurrently.
type download struct {
	// ctx is the download's, for the work of converting files: the vault
	// client's sink, which writes them, takes none.
	ctx      context.Context
	plan     *selection.Plan
	out      output
	enc      vso.Encoding
	progress *Progress
	targets  map[string]selection.Target // lower-case ref -> target
	files    map[string]secretfile.Entry // lower-case ref -> file entry
	// unusable is the vault client's rule for expired and not yet valid
	// versions, by the clock its listing uses.
	unusable func(keyvault.Value) string

	mu      sync.Mutex
	d       Downloaded
	listed  map[string]bool   // lower-case names the listing set
	implied map[string]string // target ref -> value, waiting for the listing
	// byName maps the lower-case names of listed secrets a pattern or tag
	// selected, and whose latest value a named or file entry fetches
	// anyway, to the name as listed: fetched once, their own variables are
	// set in finish.
	byName map[string]string
	// latest keeps the latest values named and file entries fetched, by
	// lower-case name, for byName; the listing's own values pass through.
	latest map[string]keyvault.Value
}

func newDownload(ctx context.Context, job Job, vault *keyvault.Client, out output, enc vso.Encoding) *download {
	dl := &download{
		ctx:      ctx,
		plan:     job.Plan,
		out:      out,
		enc:      enc,
		unusable: vault.Unusable,
		targets:  map[string]selection.Target{},
		files:    map[string]secretfile.Entry{},
		listed:   map[string]bool{},
		implied:  map[string]string{},
		byName:   map[string]string{},
		latest:   map[string]keyvault.Value{},
	}
	dl.d.Selected = map[string]int{}
	for _, t := range job.Plan.Targets {
		dl.targets[strings.ToLower(t.Ref.String())] = t
	}
	for _, f := range job.Files {
		dl.files[strings.ToLower(f.Ref.String())] = f
	}
	return dl
}

// refs are the secrets to fetch by name: the filter's, then the files'
// that the filter does not fetch already. A secret both inputs name is fetched
// once.
func (dl *download) refs(job Job) []vaultref.Secret {
	refs := job.Plan.Refs()
	for _, f := range job.Files {
		if _, named := dl.targets[strings.ToLower(f.Ref.String())]; !named {
			refs = append(refs, f.Ref)
		}
	}
	return refs
}

// choose is the listing's Select: the plan decides, the download counts.
func (dl *download) choose(name string, tags map[string]string) bool {
	c := dl.plan.Choose(selection.Listed{Name: name, Tags: tags})
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if c.Excluded != "" {
		dl.d.Excluded = append(dl.d.Excluded, Skipped{name, "excluded by " + c.Excluded})
		return false
	}
	for _, e := range c.By {
		dl.d.Selected[e]++
	}
	if c.Shadowed != "" {
		dl.d.Shadowed = append(dl.d.Shadowed, Skipped{name, "its variable is set by the entry " + c.Shadowed})
	}
	key := strings.ToLower(name)
	_, file := dl.files[key]
	_, named := dl.targets[key]
	if (file || named) && c.Fetch {
		// A renamed or file entry fetches its latest value by name
		// already: one get serves both, and both see the same version.
		dl.byName[key] = name
		return false
	}
	return c.Fetch
}

// sink writes one value's file and sets its variables.
func (dl *download) sink(v keyvault.Value) {
	key := strings.ToLower(vaultref.Secret{Name: v.Name, Version: v.Version}.String())
	t, named := dl.targets[key]
	f, file := dl.files[key]
	if v.Version == "" && (named || file) {
		// The listing may have selected it too: finish decides.
		dl.mu.Lock()
		dl.latest[key] = v
		dl.mu.Unlock()
	}
	if file {
		dl.file(f, v)
		if !named {
			return
		}
	}
	dl.setVars(v, t, named)
}

// setVars sets the variables of a value: a named target's, or the name of
// a secret the listing selected.
func (dl *download) setVars(v keyvault.Value, t selection.Target, named bool) {
	ref := vaultref.Secret{Name: v.Name, Version: v.Version}
	vars := []string{v.Name}
	if named {
		vars = t.Vars
		if why := dl.unusable(v); t.Optional && why != "" {
			dl.missing(ref.String(), why)
			return
		}
	}
	if !dl.enc.Carries(v.Value) {
		dl.mu.Lock()
		dl.d.Uncarried = append(dl.d.Uncarried, ref.String())
		dl.mu.Unlock()
		return
	}
	dl.out.Publish(vars, v.Value)
	dl.progress.counted()
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if !named {
		dl.listed[strings.ToLower(v.Name)] = true
	}
	if named && t.Implied != "" {
		// The version's own name yields to the current value a listing
		// may still bring: decided once the listing is done.
		dl.implied[strings.ToLower(ref.String())] = v.Value
	}
	dl.d.Set = append(dl.d.Set, Assigned{Secret: ref.String(), Vars: append([]string(nil), vars...), Version: v.Resolved, ContentType: v.ContentType})
	if v.Value == "" {
		dl.d.Empty = append(dl.d.Empty, dl.d.Set[len(dl.d.Set)-1])
	}
}

func (dl *download) missing(secret, why string) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.d.Missing = append(dl.d.Missing, Skipped{secret, why})
}

// finish sets what waited for the listing to end (the variables of listed
// secrets an entry fetched by name, the versions' own names the listing
// did not set), and sorts what the log shows.
func (dl *download) finish(rep *keyvault.Report) {
	dl.fromNamed(rep)
	for _, t := range dl.plan.Targets {
		value, ok := dl.implied[strings.ToLower(t.Ref.String())]
		if !ok || dl.listed[strings.ToLower(t.Implied)] {
			continue
		}
		dl.out.Publish([]string{t.Implied}, value)
		for i := range dl.d.Set {
			if strings.EqualFold(dl.d.Set[i].Secret, t.Ref.String()) {
				dl.d.Set[i].Vars = append(dl.d.Set[i].Vars, t.Implied)
			}
		}
	}
	d := &dl.d
	sort.Slice(d.Set, func(i, j int) bool { return d.Set[i].Secret < d.Set[j].Secret })
	sort.Slice(d.Empty, func(i, j int) bool { return d.Empty[i].Secret < d.Empty[j].Secret })
	sort.Strings(d.Uncarried)
	for _, s := range [][]Skipped{d.Missing, d.Excluded, d.Shadowed} {
		sort.Slice(s, func(i, j int) bool { return s[i].Secret < s[j].Secret })
	}
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Entry.Text < d.Files[j].Entry.Text })
	sort.Slice(d.FileFailures, func(i, j int) bool { return d.FileFailures[i].Entry.Text < d.FileFailures[j].Entry.Text })
	sort.Strings(d.CutShort)
}

// fromNamed sets the variables of the listed secrets whose value an entry
// fetched by name, as the listing would have: counted as selected, skipped
// when disabled, expired or not yet valid.
func (dl *download) fromNamed(rep *keyvault.Report) {
	names := make([]string, 0, len(dl.byName))
	for key := range dl.byName {
		names = append(names, key)
	}
	sort.Strings(names)
	for _, key := range names {
		listed := dl.byName[key]
		rep.Selected++
		v, ok := dl.latest[key]
		_, named := dl.targets[key]
		switch {
		case !ok && disabled(rep.Failures, key):
			rep.Skipped = append(rep.Skipped, keyvault.Skip{Name: listed, Reason: "disabled"})
		case !ok:
			// Its failure is the entry's, already reported.
		case dl.unusable(v) != "":
			rep.Skipped = append(rep.Skipped, keyvault.Skip{Name: listed, Reason: dl.unusable(v)})
		case named && !dl.enc.Carries(v.Value):
			// The entry's variables reported it already.
		default:
			v.Name = listed
			dl.setVars(v, selection.Target{}, false)
		}
	}
}

// disabled reports whether the latest version of the secret named key (in
// lower case) failed because it is disabled.
func disabled(fs []keyvault.Failure, key string) bool {
	for _, f := range fs {
		if p, ok := diagnose.FromError(f.Err); ok && f.Version == "" && strings.EqualFold(f.Name, key) && p.Inner == "SecretDisabled" {
			return true
		}
	}
	return false
}

// optional turns the failures of optional secrets that are not there or
// disabled into warnings, and returns the others.
func (dl *download) optional(fs []keyvault.Failure) []keyvault.Failure {
	var out []keyvault.Failure
	for _, f := range fs {
		ref := vaultref.Secret{Name: f.Name, Version: f.Version}
		t, named := dl.targets[strings.ToLower(ref.String())]
		_, file := dl.files[strings.ToLower(ref.String())]
		p, answered := diagnose.FromError(f.Err)
		switch {
		case file:
			out = append(out, f) // a file entry is never optional
		case named && t.Optional && answered && p.Status == 404:
			dl.missing(ref.String(), "not found")
		case named && t.Optional && answered && p.Inner == "SecretDisabled":
			dl.missing(ref.String(), "disabled")
		default:
			out = append(out, f)
		}
	}
	return out
}

// downloadingLine says what the run is about to download.
func downloadingLine(p *selection.Plan, files []secretfile.Entry) string {
	if len(files) == 0 {
		return filterLine(p)
	}
	entries := make([]string, len(files))
	for i, f := range files {
		entries[i] = f.Text
	}
	if len(p.Entries) == 0 {
		return fmt.Sprintf("Downloading %d secret(s) to files: %s", len(files), strings.Join(entries, ", "))
	}
	return filterLine(p) + "; to files: " + strings.Join(entries, ", ")
}

// filterLine says what SecretsFilter asks for.
func filterLine(p *selection.Plan) string {
	if p.All() {
		return "Downloading every enabled secret"
	}
	entries := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		entries[i] = e.Text
	}
	if !p.NeedsList() {
		return fmt.Sprintf("Downloading %d secret(s): %s", len(p.Targets), strings.Join(entries, ", "))
	}
	return "Downloading the secrets these entries select: " + strings.Join(entries, ", ")
}

// resources is one debug line, always written: the agent shows it only
// with system.debug, and it lets anyone measure a run on a real agent.
func (d Downloaded) resources() string {
	u := usage.Self()
	if !u.Measured {
		return fmt.Sprintf("resources: at most %d gets in flight", d.PeakInFlight)
	}
	return fmt.Sprintf("resources: peak RSS %.1f MiB, CPU %.2f s user + %.2f s system, at most %d gets in flight", float64(u.PeakRSS)/(1<<20), u.UserCPU, u.SysCPU, d.PeakInFlight)
}
