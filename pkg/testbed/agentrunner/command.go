package agentrunner

import "strings"

// commandPrefix is matched case-sensitively, like the agent's Ordinal IndexOf.
const commandPrefix = "##vso["

// Command is one parsed logging command.
type Command struct {
	Area, Event string            // as written; the agent compares them case-insensitively
	Properties  map[string]string // keys lower-cased (the agent's dictionary ignores case), values unescaped
	Data        string            // unescaped
}

// ParseCommand parses a logging command the way the agent's Command.TryParse
// does: the prefix may appear anywhere in the line, the header ends at the
// first ']' after it, area.event is what precedes the first space.
//
// Properties are split on ';' and then on '=' with .NET's
// Split(count: 2, RemoveEmptyEntries) semantics: empty pieces are dropped, so
// "key=" and "=value" yield nothing and "k==v" yields k -> "v". Keys are not
// trimmed; a repeated key keeps the last value.
func ParseCommand(line string) (Command, bool) { return ParseCommandFor(line, true) }

// ParseCommandFor is ParseCommand on an agent whose DECODE_PERCENTS setting
// is decodePercents: off, %AZP25 stays as it is.
func ParseCommandFor(line string, decodePercents bool) (Command, bool) {
	start := strings.Index(line, commandPrefix)
	if start < 0 {
		return Command{}, false
	}
	rb := strings.IndexByte(line[start:], ']')
	if rb < 0 {
		return Command{}, false
	}
	rb += start
	info := line[start+len(commandPrefix) : rb]

	name, props, hasProps := strings.Cut(info, " ")
	areaEvent := splitNonEmpty(name, ".")
	if len(areaEvent) != 2 {
		return Command{}, false
	}
	cmd := Command{Area: areaEvent[0], Event: areaEvent[1], Properties: map[string]string{}}
	// The agent only reads properties when the space is not the first
	// character (spaceIndex > 0); with an empty name the parse fails above.
	if hasProps {
		for _, p := range splitNonEmpty(props, ";") {
			k, v, ok := splitPair(p)
			if !ok {
				continue
			}
			cmd.Properties[strings.ToLower(k)] = unescape(v, decodePercents)
		}
	}
	cmd.Data = unescape(line[rb+1:], decodePercents)
	return cmd, true
}

// splitNonEmpty is .NET's Split(sep, RemoveEmptyEntries).
func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitPair is .NET's s.Split('=', 2, RemoveEmptyEntries) when exactly two
// pieces come out: the first non-empty piece is the key; separators directly
// after it are skipped; the remainder, if not empty, is the value.
func splitPair(s string) (key, value string, ok bool) {
	rest := strings.TrimLeft(s, "=")
	key, value, found := strings.Cut(rest, "=")
	if !found {
		return "", "", false
	}
	value = strings.TrimLeft(value, "=")
	if value == "" {
		return "", "", false
	}
	return key, value, true
}

// Unescape reverses the agent's escaping of property values and data. The
// order matters: %AZP25 is decoded last, so "%AZP253B" becomes "%3B", not ";".
func Unescape(s string) string { return unescape(s, true) }

// unescape is CommandStringConvertor.Unescape: with DECODE_PERCENTS off,
// %AZP25 stays as it is.
func unescape(s string, decodePercents bool) string {
	s = strings.ReplaceAll(s, "%3B", ";")
	s = strings.ReplaceAll(s, "%0D", "\r")
	s = strings.ReplaceAll(s, "%0A", "\n")
	s = strings.ReplaceAll(s, "%5D", "]")
	if !decodePercents {
		return s
	}
	return strings.ReplaceAll(s, "%AZP25", "%")
}

// escapeFor is CommandStringConvertor.Escape: the form of a secret the
// agent registers for a setvariable command, '%' encoded only when
// DECODE_PERCENTS is on.
func escapeFor(s string, decodePercents bool) string {
	if decodePercents {
		s = strings.ReplaceAll(s, "%", "%AZP25")
	}
	s = strings.ReplaceAll(s, ";", "%3B")
	s = strings.ReplaceAll(s, "\r", "%0D")
	s = strings.ReplaceAll(s, "\n", "%0A")
	return strings.ReplaceAll(s, "]", "%5D")
}
