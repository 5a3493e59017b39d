package keyvault

import "sync"

// tally collects a Report from the list goroutine and the workers.
type tally struct {
	mu  sync.Mutex
	rep Report
}

func (t *tally) addListed() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rep.Listed++
}

func (t *tally) addSelected(name, skip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rep.Selected++
	if skip != "" {
		t.rep.Skipped = append(t.rep.Skipped, Skip{Name: name, Reason: skip})
	}
}

func (t *tally) addInvalid(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rep.InvalidCount++
	if len(t.rep.Invalid) < maxInvalidShown {
		t.rep.Invalid = append(t.rep.Invalid, id)
	}
}

func (t *tally) addFailure(f Failure) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rep.Failures = append(t.rep.Failures, f)
}

func (t *tally) addDownloaded() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rep.Downloaded++
}

// report is the report so far, with the failures' shared cause decided.
func (t *tally) report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rep
	if r.Downloaded == 0 {
		// Once one secret came through, each failure is told on its own.
		r.Shared = sharedCause(r.Failures)
	}
	return r
}
