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
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/usage"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Downloaded is what a download did: what the vault client reported,
// what the selection decided, and the files written.
type Downloaded struct {
	Report keyvault.Report
	// ListErr is the failure of the listing itself.
	ListErr   error
	Selection selection.Result
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
	// At is when the download ended, by the vault client's clock.
	At time.Time
	// PeakInFlight is the most gets that were in flight at once.
	PeakInFlight int
}

// Download fetches what req asks for from vault, sets each value as secret
// variables with p's Publisher as it arrives, and writes the files
// SecretsToFiles asks for where to says; p follows what it has done.
func Download(ctx context.Context, req Request, vault *keyvault.Client, to Delivery, w *vso.Writer, p *Progress) Downloaded {
	w.Println(downloadingLine(req.Plan))
	return collect(ctx, req, vault, jobOutput{pub: p.Publisher, w: w, dir: to.Files}, w.Encoding(), p)
}

// Preview is Download without a pipeline, for a check of what a pipeline
// would get: it fetches what req asks for and makes every decision
// Download makes (variables, skips, files and their conversion), but sets
// no variable, writes no file and prints nothing. Values stay in memory,
// and only for as long as the decisions need them. p follows what it has
// done.
func Preview(ctx context.Context, req Request, vault *keyvault.Client, p *Progress) Downloaded {
	return collect(ctx, req, vault, preview{}, vso.Encoding{}, p)
}

func collect(ctx context.Context, req Request, vault *keyvault.Client, out output, enc vso.Encoding, p *Progress) Downloaded {
	dl := &download{ctx: ctx, sel: req.Plan.Resolve(enc.Carries), out: out, enc: enc, progress: p}
	kreq := keyvault.Request{Named: req.Plan.Refs()}
	if req.Plan.NeedsList() {
		kreq.Select = dl.sel.Select
	}
	rep, listErr := vault.Download(ctx, kreq, func(v keyvault.Value) { dl.sink(v, vault.Unusable(v)) })
	res, later := dl.sel.Finish(failures(rep.Failures))
	for _, pub := range later {
		if pub.Again {
			out.Publish(pub.Vars, pub.Value)
			continue
		}
		dl.publish(pub.Vars, pub.Value)
	}
	d := dl.d
	d.Report, d.ListErr, d.Selection = rep, listErr, res
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Entry.Text < d.Files[j].Entry.Text })
	sort.Slice(d.FileFailures, func(i, j int) bool { return d.FileFailures[i].Entry.Text < d.FileFailures[j].Entry.Text })
	sort.Strings(d.CutShort)
	d.Canceled = errors.Is(ctx.Err(), context.Canceled)
	d.OutOfTime = errors.Is(ctx.Err(), context.DeadlineExceeded)
	d.PeakInFlight = vault.PeakInFlight()
	d.At = vault.Now()
	return d
}

// download is one download under way: the vault client's sink calls into
// it concurrently. The selection decides; the download executes.
type download struct {
	// ctx is the download's, for the work of converting files: the vault
	// client's sink, which writes them, takes none.
	ctx      context.Context
	sel      *selection.Resolver
	out      output
	enc      vso.Encoding
	progress *Progress

	mu sync.Mutex
	d  Downloaded // the files written and failed
}

// sink writes one value's file and sets its variables, as the selection
// decides; unusable is the vault client's word on the version's dates.
func (dl *download) sink(v keyvault.Value, unusable string) {
	a := dl.sel.Arrive(selection.Value{
		Ref:      vaultref.Secret{Name: v.Name, Version: v.Version},
		Resolved: v.Resolved, ContentType: v.ContentType, Value: v.Value, Unusable: unusable, Expires: v.Expires,
	})
	if a.File != nil {
		dl.file(*a.File, v)
	}
	if a.Vars != nil {
		dl.publish(a.Vars, v.Value)
	}
	for _, m := range a.Members {
		// Members of a secret are not secrets set: Progress counts those.
		dl.out.Publish(m.Vars, m.Value)
	}
}

// publish sets a value as the secret variables names.
func (dl *download) publish(names []string, value string) {
	dl.out.Publish(names, value)
	dl.progress.counted()
}

// failures are the vault client's failures as the selection tells them
// apart: a secret that is not there, one that is disabled, or another.
func failures(fs []keyvault.Failure) []selection.Failure {
	out := make([]selection.Failure, len(fs))
	for i, f := range fs {
		out[i] = selection.Failure{Ref: vaultref.Secret{Name: f.Name, Version: f.Version}, Err: f.Err}
		switch p, answered := diagnose.FromError(f.Err); {
		case answered && p.Status == 404:
			out[i].Kind = selection.NotFound
		case answered && p.Inner == "SecretDisabled":
			out[i].Kind = selection.Disabled
		}
	}
	return out
}

// downloadingLine says what the run is about to download.
func downloadingLine(p *selection.Plan) string {
	if len(p.Files) == 0 {
		return filterLine(p)
	}
	entries := make([]string, len(p.Files))
	for i, f := range p.Files {
		entries[i] = f.Text
	}
	if len(p.Entries) == 0 {
		return fmt.Sprintf("Downloading %d secret(s) to files: %s", len(p.Files), strings.Join(entries, ", "))
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
