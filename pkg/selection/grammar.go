package selection

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/jsonmember"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// The one entry grammar of both inputs: [!]body[?] [as X], where body is
// tag:KEY=VALUE, a pattern with '*', or name[/version][.member]. SecretsFilter
// reads X as a variable name; SecretsToFiles reads it as a file format
// and allows only a plain name or version.

// token is an entry taken apart, before either input says what it means.
type token struct {
	body              string
	as                string // what follows ' as ', "" for none
	exclude, optional bool
}

var asRE = regexp.MustCompile(`(?i)^(.*?)\s+as\s+(\S+)$`)

// lex takes an entry apart: ' as X' at its end, then '!' before and '?'
// after what is left.
func lex(text string) token {
	tk := token{body: text}
	if m := asRE.FindStringSubmatch(tk.body); m != nil {
		tk.body, tk.as = strings.TrimSpace(m[1]), m[2]
	}
	if rest, ok := strings.CutPrefix(tk.body, "!"); ok {
		tk.exclude, tk.body = true, strings.TrimSpace(rest)
	}
	if rest, ok := strings.CutSuffix(tk.body, "?"); ok {
		tk.optional, tk.body = true, strings.TrimSpace(rest)
	}
	return tk
}

// selector is what a body selects by.
type selector struct {
	kind     Kind
	ref      vaultref.Secret // Name
	member   jsonmember.Path // Name: a member of its JSON value, or none
	pattern  string          // Pattern, lower case
	tagKey   string          // Tag
	tagValue string
}

// parseBody reads what an entry selects: a tag, a pattern or a name.
func parseBody(body string) (selector, error) {
	if isTag(body) {
		key, value, ok := strings.Cut(body[4:], "=")
		if !ok || strings.TrimSpace(key) == "" {
			return selector{}, fmt.Errorf("a tag entry is tag:KEY=VALUE (e.g. tag:env=prod)")
		}
		return selector{kind: Tag, tagKey: strings.TrimSpace(key), tagValue: strings.TrimSpace(value)}, nil
	}
	if isPattern(body) {
		if strings.ContainsAny(body, ".[") {
			return selector{}, fmt.Errorf("a JSON member path goes with one secret's name (name.member), not with a pattern")
		}
		return selector{kind: Pattern, pattern: strings.ToLower(body)}, checkPattern(body)
	}
	// Key Vault names hold no '.': what follows the first one is a member
	// path of the secret's JSON value.
	name, path, member := strings.Cut(body, ".")
	if i := strings.IndexByte(name, '['); i >= 0 {
		return selector{}, fmt.Errorf("an array index follows a member: a member entry reads a secret whose value is a JSON object (e.g. %s.hosts[0])", name[:i])
	}
	ref, err := vaultref.ParseRef(name)
	if err != nil {
		return selector{}, err
	}
	sel := selector{kind: Name, ref: ref}
	if member {
		if sel.member, err = jsonmember.Parse(path); err != nil {
			return selector{}, err
		}
	}
	return sel, nil
}

func isTag(body string) bool     { return len(body) >= 4 && strings.EqualFold(body[:4], "tag:") }
func isPattern(body string) bool { return strings.Contains(body, "*") }

// parseEntry reads a SecretsFilter entry.
func parseEntry(text string) (Entry, error) {
	tk := lex(text)
	e := Entry{Text: text, As: tk.as, Exclude: tk.exclude, Optional: tk.optional}
	sel, err := parseBody(tk.body)
	if err != nil {
		return Entry{}, fmt.Errorf("%s entry %q: %w", input, clip(text), err)
	}
	e.Kind, e.Ref, e.Member, e.Pattern, e.TagKey, e.TagValue = sel.kind, sel.ref, sel.member, sel.pattern, sel.tagKey, sel.tagValue
	if err := e.checkShape(); err != nil {
		return Entry{}, fmt.Errorf("%s entry %q: %w", input, clip(text), err)
	}
	return e, nil
}
