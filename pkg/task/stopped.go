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

// Halted is what a run had done when it was told to stop: the secrets it
// set as variables, the files it wrote, and the SecretsToFiles entries
// whose conversion the stop cut short (sorted). A run that ends on its own
// and its supervisor say the same from it.
type Halted struct {
	Set, Files int
	CutShort   []string
}

func (p *Progress) halted() Halted {
	return Halted{Set: int(p.set.Load()), Files: int(p.files.Load()), CutShort: p.UnderWay()}
}

func (d Downloaded) halted() Halted {
	set := 0
	for _, a := range d.Selection.Set {
		if a.Member == "" { // a member is not a secret set
			set++
		}
	}
	return Halted{Set: set, Files: len(d.Files), CutShort: d.CutShort}
}

// done says what was set and written, after "N secret(s) set".
func (h Halted) done() string {
	if h.Files == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d file(s) written", h.Files)
}

// outOfTime says what a run whose budget ran out did and did not do, so
// that nothing is dropped silently: unfinished names what is known to be
// missing ("; 3 not downloaded: a, b, c"), or is "" when nothing is known.
func (h Halted) outOfTime(req Request, unfinished string) string {
	msg := fmt.Sprintf("The time budget of %s ran out before vault %s was fully downloaded: %d secret(s) set%s%s", req.Budget, req.Vault, h.Set, h.done(), unfinished)
	if len(h.CutShort) > 0 {
		return msg + fmt.Sprintf("; SecretsToFiles entries %s were still being converted and were stopped. A certificate Key Vault made converts in milliseconds: check how these were made, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)", strings.Join(h.CutShort, ", "))
	}
	return msg + ". Check the debug log for throttling (429) or slow replies, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)"
}

// Stopped is the end of a run that did not stop in time when told to, as
// the run itself would have ended: canceled (err is context.Canceled: a
// signal, or the launcher gone), it logs what it did and writes no
// task.complete; out of its time budget, it fails saying so.
func Stopped(req Request, err error, p *Progress) Outcome {
	h := p.halted()
	if !errors.Is(err, context.DeadlineExceeded) {
		return Outcome{Vault: req.Vault, Canceled: true, Halt: &h, Exit: ExitCanceled}
	}
	unfinished := ""
	if len(h.CutShort) == 0 {
		unfinished = "; GoKeyVault stopped without waiting for what was still under way"
	}
	o := failed(h.outOfTime(req, unfinished))
	o.Vault, o.Halt = req.Vault, &h
	return o
}
