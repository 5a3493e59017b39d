// Package vso writes Azure Pipelines logging commands ("##vso[area.event k=v;]data")
// escaped so that the agent's parser gives back exactly the bytes that went in.
//
// The agent unescapes property values and data with the same sequence of
// replacements: %3B -> ';', %0D -> CR, %0A -> LF, %5D -> ']', and last
// %AZP25 -> '%' (unless its DECODE_PERCENTS setting is false). Escaping '%'
// first, as %AZP25, is what makes the round trip exact: no byte of the
// input can form one of the earlier sequences.
package vso

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
)

// Encoding is how commands carry text to the agent. The agent decodes
// %3B, %0D, %0A and %5D, then %AZP25 unless its setting DECODE_PERCENTS is
// false. With decoding on (the zero Encoding), '%' travels as %AZP25 and
// any text arrives intact. With NoPercents, '%' travels as itself, and a
// text holding %3B, %0D, %0A or %5D cannot travel at all: the agent would
// turn those into other characters.
type Encoding struct{ NoPercents bool }

// EncodingFor is the encoding for the agent's DECODE_PERCENTS setting: on
// unless set to something other than true, 1 or $true.
func EncodingFor(decodePercents string) Encoding {
	if strings.TrimSpace(decodePercents) == "" || agentenv.AgentTrue(decodePercents) {
		return Encoding{}
	}
	return Encoding{NoPercents: true}
}

// Property escapes a property value.
func (e Encoding) Property(s string) string {
	if !e.NoPercents {
		s = strings.ReplaceAll(s, "%", "%AZP25")
	}
	return strings.NewReplacer("\r", "%0D", "\n", "%0A", "]", "%5D", ";", "%3B").Replace(s)
}

// Data escapes the data (message) part of a command. Data follows the
// closing ']' of the header, so ']' and ';' are literal there; only what
// could end the line or be taken for an escape matters.
func (e Encoding) Data(s string) string {
	if !e.NoPercents {
		s = strings.ReplaceAll(s, "%", "%AZP25")
	}
	return strings.NewReplacer("\r", "%0D", "\n", "%0A").Replace(s)
}

// Carries reports whether s arrives intact.
func (e Encoding) Carries(s string) bool {
	if !e.NoPercents {
		return true
	}
	for _, seq := range []string{"%3B", "%0D", "%0A", "%5D"} {
		if strings.Contains(s, seq) {
			return false
		}
	}
	return true
}

// Uncarried says why a value Carries refuses cannot be set or shown
// intact, and what the agent makes of it (what: "into a line break, a
// semicolon or a bracket", "before masking"). It cannot quote those
// sequences: the agent would decode them in the message too.
func Uncarried(what string) string {
	return "its value holds a '%' followed by 0A, 0D, 3B or 5D, which this agent decodes " + what + " because its setting DECODE_PERCENTS is false"
}

// UncarriedVariable is Uncarried for a value set as a variable.
func UncarriedVariable() string {
	return Uncarried("into a line break, a semicolon or a bracket")
}

// UncarriedFix is what a user can do about such a value.
const UncarriedFix = "Set DECODE_PERCENTS to true for the job, or change the value"

// Neutralize makes untrusted text (an Azure error body, a secret's name from a
// list reply) safe to print: the agent would run any "##vso[" it finds
// anywhere in a line, so it is rewritten the way the agent rewrites its own
// output. Line breaks are escaped so one message stays one line.
func Neutralize(s string) string {
	return neutralizeCommands(lineBreaks.Replace(s))
}

var lineBreaks = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

// neutralizeCommands rewrites every "##vso" to "**vso", matching "vso" the
// way the agent does: case-insensitively, so also with letters that fold to
// v, s or o (U+017F, long s, folds to s). The match walks s itself; a
// lower-cased copy can differ from s in length and misplace it.
func neutralizeCommands(s string) string {
	if !strings.Contains(s, "##") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "##") {
			if n := foldPrefix(s[i+2:], "vso"); n > 0 {
				b.WriteString("**vso")
				i += 2 + n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// foldPrefix returns the length in bytes of the prefix of s that equals
// word under Unicode case folding, or 0 if s does not start with word.
func foldPrefix(s, word string) int {
	n := 0
	for _, w := range word {
		r, size := utf8.DecodeRuneInString(s[n:])
		if size == 0 || !strings.EqualFold(string(r), string(w)) {
			return 0
		}
		n += size
	}
	return n
}

// Clip renders untrusted text (Azure's messages, a user's input, an id a
// vault listed) for a one-line message: each run of white space becomes a
// single space, what a terminal or a viewer would act on instead of
// showing shows as an escape (Printable), and the text is cut to max runes
// (the last three "...").
func Clip(s string, max int) string {
	p := Printable(strings.Join(strings.Fields(s), " "))
	if r := []rune(p); len(r) > max {
		return string(r[:max-3]) + "..."
	}
	return p
}

// Printable shows, as \xNN or \uNNNN, every character of untrusted text
// that a terminal or a log viewer would act on instead of showing: C0
// controls (tab included) and DEL, C1 controls (U+0080 to U+009F: U+009B
// starts an escape sequence on many terminals) and the bidirectional
// overrides and isolates (U+202A to U+202E, U+2066 to U+2069), which make
// text read in another order than it is.
func Printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case 0x80 <= r && r <= 0x9f, 0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Property is one key=value pair of a command's header.
type Property struct{ Key, Value string }

// Format renders one logging command line in this encoding.
func (e Encoding) Format(command string, props []Property, data string) string {
	var b strings.Builder
	b.WriteString("##vso[")
	b.WriteString(command)
	if len(props) > 0 {
		b.WriteByte(' ')
		for _, p := range props {
			b.WriteString(p.Key)
			b.WriteByte('=')
			b.WriteString(e.Property(p.Value))
			b.WriteByte(';')
		}
	}
	b.WriteByte(']')
	b.WriteString(e.Data(data))
	return b.String()
}

// Writer serialises logging commands and plain log lines onto the task's
// stdout. Every line goes out in a single Write so that lines from concurrent
// downloads never interleave.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	enc Encoding
	err error
}

// NewWriter returns a Writer on out for an agent with the encoding enc.
func NewWriter(out io.Writer, enc Encoding) *Writer { return &Writer{out: out, enc: enc} }

// Encoding is the writer's.
func (w *Writer) Encoding() Encoding { return w.enc }

// EscapeData is data as this writer's commands carry it.
func (w *Writer) EscapeData(s string) string { return w.enc.Data(s) }

func (w *Writer) line(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	_, w.err = io.WriteString(w.out, s+"\n")
}

// Command writes one logging command.
func (w *Writer) Command(command string, props []Property, data string) {
	w.line(w.enc.Format(command, props, data))
}

// Println writes a plain, neutralised log line.
func (w *Writer) Println(text string) { w.line(Neutralize(text)) }

// Printf formats and writes a plain, neutralised log line.
func (w *Writer) Printf(format string, args ...any) { w.Println(fmt.Sprintf(format, args...)) }

// Debug writes a task.debug command; the agent shows it only when
// system.debug is true.
func (w *Writer) Debug(text string) { w.Command("task.debug", nil, Neutralize(text)) }

// Warning logs a warning issue.
func (w *Writer) Warning(text string) {
	w.Command("task.logissue", []Property{{"type", "warning"}}, Neutralize(text))
}

// Error logs an error issue.
func (w *Writer) Error(text string) {
	w.Command("task.logissue", []Property{{"type", "error"}}, Neutralize(text))
}

// SetSecret registers value with the agent's masker.
func (w *Writer) SetSecret(value string) { w.Command("task.setsecret", nil, value) }

// SetVariable sets a job variable; secret ones are masked and not exported
// to the environment of later steps.
func (w *Writer) SetVariable(name, value string, secret bool) {
	props := []Property{{"variable", name}}
	if secret {
		props = append(props, Property{"issecret", "true"})
	}
	w.Command("task.setvariable", props, value)
}

// SetOutput sets a secret output variable of the step: later jobs read it
// as dependencies.<job>.outputs['<step>.<name>'].
func (w *Writer) SetOutput(name, value string) {
	w.Command("task.setvariable", []Property{{"variable", name}, {"issecret", "true"}, {"isoutput", "true"}}, value)
}

// Result is a task result the agent accepts in task.complete.
type Result string

// The results task.complete accepts; the agent compares them case-sensitively.
const (
	Succeeded Result = "Succeeded"
	Failed    Result = "Failed"
	Skipped   Result = "Skipped"
)

// Complete ends the task with a result and a one-line message.
func (w *Writer) Complete(r Result, message string) {
	w.Command("task.complete", []Property{{"result", string(r)}}, Neutralize(message))
}
