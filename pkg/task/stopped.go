package task

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gokeyvault/gokeyvault/pkg/publish"
)

// Progress is what a run has done so far. A run that does not stop in time
// when told to (its budget spent, a signal, the launcher gone) is ended by
// its supervisor, which reports from this what the run would have.
type Progress struct {
	// Publisher sets the run's variables; nil in a preview.
	Publisher *publish.Publisher

	set   atomic.Int64 // secrets set as variables
	files atomic.Int64 // files written

	mu         sync.Mutex
	converting map[string]bool // SecretsToFiles entries under way
}

// busy records that the SecretsToFiles entry is being converted and
// written; the func it returns records that this is over, and whether a
// file was written.
func (p *Progress) busy(entry string) func(written bool) {
	if p == nil {
		return func(bool) {}
	}
	p.mu.Lock()
	if p.converting == nil {
		p.converting = map[string]bool{}
	}
	p.converting[entry] = true
	p.mu.Unlock()
	return func(written bool) {
		if written {
			p.files.Add(1)
		}
		p.mu.Lock()
		delete(p.converting, entry)
		p.mu.Unlock()
	}
}

// counted records a secret set as variables.
func (p *Progress) counted() {
	if p != nil {
		p.set.Add(1)
	}
}

// UnderWay names the SecretsToFiles entries still being converted or
// written, sorted.
func (p *Progress) UnderWay() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.converting))
	for e := range p.converting {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// Stopped is the end of a run that did not stop in time when told to, as
// the run itself would have ended: canceled (err is context.Canceled: a
// signal, or the launcher gone), it logs what it did and writes no
// task.complete (the agent records the cancellation); out of its time
// budget, it fails saying so.
func Stopped(job Job, err error, p *Progress) Outcome {
	files := ""
	if n := p.files.Load(); n > 0 {
		files = fmt.Sprintf(" and %d file(s) written", n)
	}
	busy := p.UnderWay()
	if !errors.Is(err, context.DeadlineExceeded) {
		var o Outcome
		o.add(Plain, "Canceled after %d secret(s) were set%s", p.set.Load(), files)
		if len(busy) > 0 {
			o.add(Plain, "Stopped without waiting for SecretsToFiles entries %s, which were still being converted", strings.Join(busy, ", "))
		}
		o.Exit = ExitCanceled
		return o
	}
	msg := fmt.Sprintf("The time budget of %s ran out before vault %s was fully downloaded: %d secret(s) set%s", job.Budget, job.Vault, p.set.Load(), files)
	if len(busy) > 0 {
		return failed(msg + fmt.Sprintf("; SecretsToFiles entries %s were still being converted and were stopped. A certificate Key Vault made converts in milliseconds: check how these were made, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)", strings.Join(busy, ", ")))
	}
	return failed(msg + "; GoKeyVault stopped without waiting for what was still under way. Check the debug log for throttling (429) or slow replies, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)")
}
