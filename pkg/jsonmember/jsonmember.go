// Package jsonmember reads one member of a JSON object by a path, as a
// SecretsFilter entry name.member asks for it: password, db.host,
// hosts[0], replicas[1].host. A string member is its string; any other
// member is its JSON text, compacted (keys, numbers and escapes as the
// value has them). Errors name the path and what was found there, never a
// byte of the value.
package jsonmember

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Path is a parsed member path.
type Path struct {
	text  string
	steps []step
}

// step is one member name or one array index.
type step struct {
	key   string
	index int // when key is ""
}

// maxIndex bounds an index: no secret of 25 KB holds a longer array.
const maxIndex = 99_999

// Parse reads a member path: member names of letters, digits, '_' and
// '-', each after a '.' but the first, and array indexes in brackets
// ("hosts[0].name").
func Parse(s string) (Path, error) {
	p := Path{text: s}
	rest := s
	for first := true; rest != "" || first; first = false {
		switch {
		case !first && strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return Path{}, fmt.Errorf("member path %q: '[' without its ']'", s)
			}
			n, err := parseIndex(rest[1:end])
			if err != nil {
				return Path{}, fmt.Errorf("member path %q: %w", s, err)
			}
			p.steps = append(p.steps, step{index: n})
			rest = rest[end+1:]
			continue
		case !first && strings.HasPrefix(rest, "."):
			rest = rest[1:]
		case !first:
			r, _ := utf8.DecodeRuneInString(rest)
			return Path{}, fmt.Errorf("member path %q: %q follows a member, not '.' or '['", s, string(r))
		}
		n := nameLen(rest)
		if n == 0 && rest != "" && rest[0] != '.' && rest[0] != '[' {
			r, _ := utf8.DecodeRuneInString(rest)
			return Path{}, fmt.Errorf("member path %q: character %q is not allowed in a member name (letters, digits, '_' and '-')", s, r)
		}
		if n == 0 {
			return Path{}, fmt.Errorf("member path %q: a member name is empty (names are letters, digits, '_' and '-')", s)
		}
		p.steps = append(p.steps, step{key: rest[:n]})
		rest = rest[n:]
	}
	return p, nil
}

func nameLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return i
		}
	}
	return len(s)
}

func parseIndex(s string) (int, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("[%s] is not an array index (a whole number, as in [0])", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxIndex {
		return 0, fmt.Errorf("[%s] is beyond any array a secret can hold", s)
	}
	return n, nil
}

// String is the path as written.
func (p Path) String() string { return p.text }

// IsZero reports whether p is no path at all (the whole secret).
func (p Path) IsZero() bool { return len(p.steps) == 0 }

// Indexed reports whether the path indexes an array: its text is then no
// variable name.
func (p Path) Indexed() bool {
	for _, s := range p.steps {
		if s.key == "" {
			return true
		}
	}
	return false
}

// Find reads the member at p in value, a JSON object.
func (p Path) Find(value string) (string, error) {
	cur := json.RawMessage(value)
	if !json.Valid(cur) {
		return "", errors.New("the value is not JSON: a member entry reads a secret whose value is a JSON object")
	}
	if k := kind(cur); k != "an object" {
		return "", fmt.Errorf("the value is JSON, but %s, not an object", k)
	}
	walked := ""
	for i, s := range p.steps {
		next, err := s.in(cur, walked)
		if err != nil {
			return "", err
		}
		walked = p.upTo(i)
		cur = next
	}
	if kind(cur) == "a string" {
		var str string
		if err := json.Unmarshal(cur, &str); err != nil {
			return "", fmt.Errorf("the member %s could not be read", p.text)
		}
		return str, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, cur); err != nil {
		return "", fmt.Errorf("the member %s could not be read", p.text)
	}
	return b.String(), nil
}

// in reads the step's member of cur, the value at walked ("" for the
// whole value).
func (s step) in(cur json.RawMessage, walked string) (json.RawMessage, error) {
	where := "the value"
	if walked != "" {
		where = walked
	}
	if s.key != "" {
		var obj map[string]json.RawMessage
		if kind(cur) != "an object" || json.Unmarshal(cur, &obj) != nil {
			return nil, fmt.Errorf("%s is %s, not an object with member %s", where, kind(cur), s.key)
		}
		m, ok := obj[s.key]
		if !ok {
			return nil, fmt.Errorf("%s has no member %s", where, s.key)
		}
		return m, nil
	}
	var arr []json.RawMessage
	if kind(cur) != "an array" || json.Unmarshal(cur, &arr) != nil {
		return nil, fmt.Errorf("%s is %s, not an array", where, kind(cur))
	}
	if s.index >= len(arr) {
		return nil, fmt.Errorf("%s has no element [%d] (it has %d)", where, s.index, len(arr))
	}
	return arr[s.index], nil
}

// upTo is the path's text up to and including step i.
func (p Path) upTo(i int) string {
	var b strings.Builder
	for j, s := range p.steps[:i+1] {
		switch {
		case s.key == "":
			fmt.Fprintf(&b, "[%d]", s.index)
		case j > 0:
			b.WriteString("." + s.key)
		default:
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// kind names the kind of a JSON value, from its first byte.
func kind(v json.RawMessage) string {
	t := bytes.TrimLeft(v, " \t\r\n")
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}
