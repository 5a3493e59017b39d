package task

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/publish"
	"github.com/gokeyvault/gokeyvault/pkg/usage"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Downloaded is what a download did.
type Downloaded struct {
	Report keyvault.Report
	// ListErr is the failure of the listing itself, for '*'.
	ListErr error
	// Empty lists, sorted, the variables set to an empty value.
	Empty     []string
	Canceled  bool          // the run was canceled (the agent or a signal)
	OutOfTime bool          // the run's time budget ran out
	Elapsed   time.Duration // since the run started; Run sets it
	// PeakInFlight is the most gets that were in flight at once.
	PeakInFlight int
}

// Download fetches the job's secrets and sets each as a secret variable on
// w, as it arrives.
func Download(ctx context.Context, job Job, s *Session, w *vso.Writer) Downloaded {
	pub := publish.New(w, job.Multiline)
	var (
		d       Downloaded
		emptyMu sync.Mutex
	)
	sink := func(v keyvault.Value) {
		names := []string{v.Name}
		if v.Version != "" {
			// name/version sets both variables, as AzureKeyVault@2 does.
			names = []string{vaultref.Secret{Name: v.Name, Version: v.Version}.String(), v.Name}
		}
		for _, n := range names {
			pub.Publish(n, v.Value)
		}
		if v.Value == "" {
			emptyMu.Lock()
			d.Empty = append(d.Empty, names[0])
			emptyMu.Unlock()
		}
	}
	if job.Filter.All {
		w.Println("Downloading every enabled secret")
		d.Report, d.ListErr = s.Vault.All(ctx, sink)
	} else {
		names := make([]string, len(job.Filter.Secrets))
		for i, sec := range job.Filter.Secrets {
			names[i] = sec.String()
		}
		w.Printf("Downloading %d secret(s): %s", len(names), strings.Join(names, ", "))
		d.Report, d.ListErr = s.Vault.Named(ctx, job.Filter.Secrets, sink)
	}
	sort.Strings(d.Empty)
	d.Canceled = errors.Is(ctx.Err(), context.Canceled)
	d.OutOfTime = errors.Is(ctx.Err(), context.DeadlineExceeded)
	d.PeakInFlight = s.Vault.PeakInFlight()
	return d
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
