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
	"github.com/gokeyvault/gokeyvault/pkg/publish"
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
	// Empty lists, sorted, the variables set to an empty value.
	Empty []string
	// Missing are optional secrets that were not set, and why.
	Missing []Skipped
	// Uncarried are secrets whose value the agent would alter (its
	// DECODE_PERCENTS setting is off and the value holds an escape).
	Uncarried []string
	// Selected counts what each pattern and tag entry selected; Excluded
	// and Shadowed are listed secrets an exclusion or a named entry kept
	// out.
	Selected  map[string]int
	Excluded  []Skipped
	Shadowed  []Skipped
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
}

// Skipped is a secret and why it was not set.
type Skipped struct{ Secret, Why string }

// Download fetches the job's secrets and sets each as a secret variable on
// w, as it arrives.
func Download(ctx context.Context, job Job, s *Session, w *vso.Writer) Downloaded {
	dl := newDownload(job, w)
	req := keyvault.Request{Named: job.Plan.Refs()}
	if job.Plan.NeedsList() {
		req.Select = dl.choose
	}
	w.Println(downloadingLine(job.Plan))
	rep, listErr := s.Vault.Download(ctx, req, dl.sink)
	rep.Failures = dl.optional(rep.Failures)
	dl.finish()
	d := dl.d
	d.Report, d.ListErr = rep, listErr
	d.Canceled = errors.Is(ctx.Err(), context.Canceled)
	d.OutOfTime = errors.Is(ctx.Err(), context.DeadlineExceeded)
	d.PeakInFlight = s.Vault.PeakInFlight()
	return d
}

// download is one download under way: the sink and Select of the vault
// client call into it concurrently.
type download struct {
	plan    *selection.Plan
	pub     *publish.Publisher
	enc     vso.Encoding
	targets map[string]selection.Target // lower-case ref -> target
	now     time.Time

	mu      sync.Mutex
	d       Downloaded
	listed  map[string]bool   // lower-case names the listing set
	implied map[string]string // target ref -> value, waiting for the listing
}

func newDownload(job Job, w *vso.Writer) *download {
	dl := &download{
		plan:    job.Plan,
		pub:     publish.New(w, publish.Options{Multiline: job.Multiline, NoLineMasking: job.NoLineMasking, Output: job.Output}),
		enc:     w.Encoding(),
		targets: map[string]selection.Target{},
		now:     time.Now(),
		listed:  map[string]bool{},
		implied: map[string]string{},
	}
	dl.d.Selected = map[string]int{}
	for _, t := range job.Plan.Targets {
		dl.targets[strings.ToLower(t.Ref.String())] = t
	}
	return dl
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
	return c.Fetch
}

// sink sets one value's variables.
func (dl *download) sink(v keyvault.Value) {
	ref := vaultref.Secret{Name: v.Name, Version: v.Version}
	t, named := dl.targets[strings.ToLower(ref.String())]
	vars := []string{v.Name}
	if named {
		vars = t.Vars
		if why := unusable(v, dl.now); t.Optional && why != "" {
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
	dl.pub.Publish(vars, v.Value)
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
	dl.assigned(ref.String(), vars, v.Value == "")
}

func (dl *download) assigned(secret string, vars []string, empty bool) {
	dl.d.Set = append(dl.d.Set, Assigned{Secret: secret, Vars: append([]string(nil), vars...)})
	if empty {
		dl.d.Empty = append(dl.d.Empty, vars[0])
	}
}

func (dl *download) missing(secret, why string) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.d.Missing = append(dl.d.Missing, Skipped{secret, why})
}

// finish sets the versions' own names the listing did not set, and sorts
// what the log shows.
func (dl *download) finish() {
	for _, t := range dl.plan.Targets {
		value, ok := dl.implied[strings.ToLower(t.Ref.String())]
		if !ok || dl.listed[strings.ToLower(t.Implied)] {
			continue
		}
		dl.pub.Publish([]string{t.Implied}, value)
		for i := range dl.d.Set {
			if strings.EqualFold(dl.d.Set[i].Secret, t.Ref.String()) {
				dl.d.Set[i].Vars = append(dl.d.Set[i].Vars, t.Implied)
			}
		}
	}
	d := &dl.d
	sort.Slice(d.Set, func(i, j int) bool { return d.Set[i].Secret < d.Set[j].Secret })
	sort.Strings(d.Empty)
	sort.Strings(d.Uncarried)
	for _, s := range [][]Skipped{d.Missing, d.Excluded, d.Shadowed} {
		sort.Slice(s, func(i, j int) bool { return s[i].Secret < s[j].Secret })
	}
}

// optional turns the failures of optional secrets that are not there or
// disabled into warnings, and returns the others.
func (dl *download) optional(fs []keyvault.Failure) []keyvault.Failure {
	var out []keyvault.Failure
	for _, f := range fs {
		ref := vaultref.Secret{Name: f.Name, Version: f.Version}
		t, named := dl.targets[strings.ToLower(ref.String())]
		p, answered := diagnose.FromError(f.Err)
		switch {
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

// unusable says why a secret fetched by name is not valid now: expired or
// not yet valid; "" when it is.
func unusable(v keyvault.Value, now time.Time) string {
	switch {
	case !v.Expires.IsZero() && !v.Expires.After(now):
		return "expired " + v.Expires.UTC().Format(time.RFC3339)
	case !v.NotBefore.IsZero() && v.NotBefore.After(now):
		return "not valid before " + v.NotBefore.UTC().Format(time.RFC3339)
	}
	return ""
}

// downloadingLine says what the run is about to download.
func downloadingLine(p *selection.Plan) string {
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
