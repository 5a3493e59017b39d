// Package publish turns downloaded secrets into secret pipeline variables
// the way the agent needs them: every line of a multi-line value registered
// with the masker before the value itself, and the agent's multi-line
// permission raised only around the one command that needs it.
package publish

import (
	"strings"
	"sync"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// MultilineVariable is the runtime variable the agent consults before it
// accepts a secret value containing a line break.
const MultilineVariable = "SYSTEM_UNSAFEALLOWMULTILINESECRET"

// MultilineAllowed reports whether a job variable value turns the agent's
// multi-line permission on; the agent accepts true, 1 or $true in any case.
func MultilineAllowed(value string) bool {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true", "1", "$true":
		return true
	}
	return false
}

// Publisher sets secret variables on a vso.Writer. It is safe for concurrent
// use: publishing one value is atomic with respect to the others, so the
// multi-line permission is never left raised for someone else's command.
type Publisher struct {
	mu sync.Mutex
	w  *vso.Writer
	// multiline is the job's value of MultilineVariable before the task ran;
	// it is what the variable is put back to.
	multiline  string
	hadAllowed bool
}

// New returns a Publisher. multiline is the job's current value of
// SYSTEM_UNSAFEALLOWMULTILINESECRET ("" when unset).
func New(w *vso.Writer, multiline string) *Publisher {
	return &Publisher{w: w, multiline: multiline, hadAllowed: MultilineAllowed(multiline)}
}

// Publish sets name to value as a secret variable, byte for byte.
func (p *Publisher) Publish(name, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.ContainsAny(value, "\r\n") {
		p.w.SetVariable(name, value, true)
		return
	}
	// The agent masks line by line, so the whole value registered by
	// setvariable would never match anything it prints; each line must be
	// registered on its own, and before the value can be echoed by anyone.
	for _, line := range Lines(value) {
		if strings.TrimSpace(line) != "" {
			p.w.SetSecret(line)
		}
	}
	if !p.hadAllowed {
		p.w.SetVariable(MultilineVariable, "true", false)
	}
	p.w.SetVariable(name, value, true)
	if !p.hadAllowed {
		p.w.SetVariable(MultilineVariable, p.multiline, false)
	}
}

// Lines splits s at CRLF, CR and LF, the line ends the agent's log reader
// and masker recognise.
func Lines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}
