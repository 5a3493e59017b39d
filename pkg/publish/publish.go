// Package publish turns downloaded secrets into secret pipeline variables
// the way the agent needs them: every form of a value that the agent could
// echo registered with the masker before any command carries it, and the
// agent's multi-line permission raised only around the one command that
// needs it.
package publish

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Multiline is the agent's multi-line permission as the task found it.
type Multiline struct {
	// On: the agent accepts a multi-line secret without the task raising
	// the permission.
	On bool
	// Restore is the value of the job variable named exactly
	// SYSTEM_UNSAFEALLOWMULTILINESECRET before the task ran, "" when the
	// job had none: what the task puts back after raising it.
	Restore string
}

// ReadMultiline works out the permission from the task's environment, as
// the agent resolves its setting (agentenv.Env.Setting): the job variable
// named exactly SYSTEM_UNSAFEALLOWMULTILINESECRET (in any case), then its
// own environment. When a job variable of another spelling
// (system.unsafeAllowMultilineSecret) hides what the agent reads, the
// permission is taken as off and raised when needed, with nothing of the
// task's own to put back.
func ReadMultiline(env *agentenv.Env) Multiline {
	s := env.Setting(agentenv.UnsafeAllowMultilineSecret)
	switch {
	case !s.Known:
		return Multiline{}
	case s.Variable:
		return Multiline{On: agentenv.AgentTrue(s.Value), Restore: s.Value}
	default:
		// Not a job variable: the agent's own environment, read as is.
		return Multiline{On: agentenv.AgentTrue(s.Value)}
	}
}

// Publisher sets secret variables on a vso.Writer. It is safe for concurrent
// use: publishing one value is atomic with respect to the others, so the
// multi-line permission is never left raised for someone else's command.
type Publisher struct {
	mu sync.Mutex
	w  *vso.Writer
	o  Options
	// raised is set from just before the permission is raised until it
	// has been put back: read without mu by Lower, for a run whose
	// Publish never finished.
	raised atomic.Bool
}

// Options say how a job takes its variables.
type Options struct {
	// Multiline is the agent's multi-line permission before the task ran.
	Multiline Multiline
	// NoLineMasking is the job's SYSTEM_DONOTMASKMULTILINESECRETS=true: the
	// lines of a multi-line value are not registered one by one.
	NoLineMasking bool
	// Output also sets each variable as an output variable of the step.
	Output bool
}

// New returns a Publisher writing to w.
func New(w *vso.Writer, o Options) *Publisher { return &Publisher{w: w, o: o} }

// Publish sets each of names to value as a secret variable, byte for byte.
//
// The agent registers a setvariable's value with its masker only after its
// own checks, and a command it refuses (a read-only variable, a multi-line
// secret it does not allow) is printed back as it was written, masked only
// by what was registered before. So the value, and each line of a
// multi-line value that carries something secret, is registered with
// setsecret first, in the form it has and in the form the command line
// carries it.
func (p *Publisher) Publish(names []string, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.ContainsAny(value, "\r\n") {
		p.register(value)
		p.set(names, value)
		return
	}
	// The agent masks line by line, so the whole value registered by
	// setvariable would never match anything it prints; each line must be
	// registered on its own.
	p.registerLines(value)
	if !p.o.Multiline.On {
		p.raised.Store(true)
		p.w.SetVariable(agentenv.UnsafeAllowMultilineSecret, "true", false)
	}
	p.set(names, value)
	if !p.o.Multiline.On {
		p.w.SetVariable(agentenv.UnsafeAllowMultilineSecret, p.o.Multiline.Restore, false)
		p.raised.Store(false)
	}
}

// Lower puts the agent's multi-line permission back through w when a
// Publish raised it and has not put it back: for a run that is ended
// while a Publish is under way, once its own writer writes nothing more.
// Putting it back twice does no harm.
func (p *Publisher) Lower(w *vso.Writer) {
	if p.raised.Load() {
		w.SetVariable(agentenv.UnsafeAllowMultilineSecret, p.o.Multiline.Restore, false)
	}
}

// Register registers value with the masker and sets no variable: for a
// secret the task writes to a file, which a later step could print. A
// multi-line value is registered line by line, as Publish registers it.
func (p *Publisher) Register(value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.ContainsAny(value, "\r\n") {
		p.register(value)
		return
	}
	p.registerLines(value)
}

// registerLines registers each line of a multi-line value that carries
// something secret, unless the job asked for no line masking.
func (p *Publisher) registerLines(value string) {
	if p.o.NoLineMasking {
		return
	}
	for _, line := range Lines(value) {
		if CarriesSecret(line) {
			p.register(line)
		}
	}
}

func (p *Publisher) set(names []string, value string) {
	for _, n := range names {
		p.w.SetVariable(n, value, true)
		if p.o.Output {
			p.w.SetOutput(n, value)
		}
	}
}

// CarriesSecret says whether a line of a multi-line value is registered
// with the masker. The agent masks a registered text everywhere in the
// rest of the job's log, however short: a JSON secret's "{" or "}," would
// turn every brace of the log into "***". So a line is registered when it
// holds a letter or a digit and, without its surrounding white space, at
// least three characters.
func CarriesSecret(line string) bool {
	line = strings.TrimSpace(line)
	if utf8.RuneCountInString(line) < 3 {
		return false
	}
	for _, r := range line {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// register makes the masker know s as it is and as a command's data
// carries it.
func (p *Publisher) register(s string) {
	if s == "" {
		return
	}
	p.w.SetSecret(s)
	if e := p.w.EscapeData(s); e != s {
		p.w.SetSecret(e)
	}
}

// Lines splits s at CRLF, CR and LF, the line ends the agent's log reader
// and masker recognise.
func Lines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}
