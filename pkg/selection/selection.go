// Package selection owns every decision about which secret sets which
// variable or file: it parses SecretsFilter and SecretsToFiles (one entry
// grammar), refuses before any request what could not work or would be
// ambiguous, and, while a download runs, decides what the listing
// selects, what each value that arrives sets or writes, which failures
// of optional secrets are only warnings, and what waits for the listing
// (a version's implied name, a listed secret a named entry fetched). Its
// Resolver returns typed results; pkg/task executes them and reports.
//
// Grammar: entries separated by commas or line breaks, surrounding spaces
// ignored, names compared without case as Key Vault compares them:
//
//	'*' (alone)           every enabled, valid secret
//	name, name/version    that secret (a version also sets name, unless
//	                      another entry sets name: then name is the current value)
//	app-*, *-prod         every enabled, valid secret whose name matches
//	tag:KEY=VALUE         every enabled, valid secret whose tag KEY (any case) is VALUE
//	!name, !pattern       leaves out what matches, whatever selected it
//	name as VAR           sets VAR instead of name (not on patterns or tags)
//	name?                 optional: missing, disabled, expired or not yet
//	                      valid is a warning, not a failure
//	name.member           a member of the JSON object the secret holds (name.a.b,
//	                      name.hosts[0] as VAR, name/version.member): variable
//	                      name.member unless 'as' names another
//
// A SecretsToFiles entry is name or name/version, optionally 'as pem',
// 'as pfx' or 'as raw', and sets the variable <name>.file to the file's
// path.
package selection

import (
	"fmt"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/jsonmember"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Kind is what an entry selects by.
type Kind int

// The kinds of entries.
const (
	Name    Kind = iota // a secret by name, maybe a version
	Pattern             // names matching a pattern with '*'
	Tag                 // secrets with a tag's value
)

// Entry is one entry of the filter.
type Entry struct {
	Text     string // as written, trimmed: for messages and the log
	Kind     Kind
	Ref      vaultref.Secret // Name
	Member   jsonmember.Path // Name: a member of the secret's JSON value; zero for the whole secret
	Pattern  string          // Pattern, lower case
	TagKey   string          // Tag
	TagValue string
	Exclude  bool
	As       string // the variable a Name entry sets instead of its name
	Optional bool
}

// Target is a secret fetched by name, the variables it sets and the
// members of its JSON value that entries take.
type Target struct {
	Ref      vaultref.Secret
	Vars     []string // set from the value, in the filter's order; none when only members are taken
	Members  []Member // in the filter's order
	Optional bool     // every entry naming it is optional
	// Implied is the name a version sets too when no other entry sets
	// it: set only if no pattern or tag selects that secret ("" for none).
	Implied string
	Entries []string // the entries that name it, as written
}

// Member is a member of a secret's JSON value that entries take, and the
// variables it sets.
type Member struct {
	Path     jsonmember.Path
	Vars     []string
	Optional bool     // every entry taking it is optional
	Entries  []string // the entries that take it, as written
}

// Plan is a parsed filter, and the files asked for with it.
type Plan struct {
	Entries []Entry
	// Targets are the secrets fetched by name, in the filter's order: an
	// identity with only the Get permission downloads them.
	Targets []Target
	// Files are the SecretsToFiles entries, in their order.
	Files []File
	// claimed maps each variable (lower case) a Name entry sets, implied
	// ones included, to what sets it.
	claimed map[string]claim
}

// input names the input in messages.
const input = "input SecretsFilter"

// Parse parses SecretsFilter and checks it whole.
func Parse(filter string) (*Plan, error) {
	p := &Plan{claimed: map[string]claim{}}
	for _, text := range vaultref.SplitEntries(filter) {
		e, err := parseEntry(text)
		if err != nil {
			return nil, err
		}
		p.Entries = append(p.Entries, e)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	if err := p.plan(); err != nil {
		return nil, err
	}
	return p, nil
}

// ParseInputs parses SecretsFilter and SecretsToFiles and checks them
// together: an empty filter is allowed when files are asked for (a step
// that only writes files), and no file's variable may be one a filter
// entry sets.
func ParseInputs(filter, toFiles string) (*Plan, error) {
	files, err := parseFiles(toFiles)
	if err != nil {
		return nil, err
	}
	p := Nothing()
	if len(files) == 0 || strings.Trim(filter, " \t\r\n,") != "" {
		if p, err = Parse(filter); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if entry, ok := p.SetBy(f.Var); ok {
			return nil, fmt.Errorf("%s entry %q sets variable %s, which the SecretsFilter entry %q sets too: rename the filter's variable with 'as'", filesInput, clip(f.Text), f.Var, clip(entry))
		}
	}
	p.Files = files
	return p, nil
}

// Selectors are the entries that select by listing the vault: patterns
// ('*' among them) and tags, exclusions left out.
func (p *Plan) Selectors() []Entry {
	var out []Entry
	for _, e := range p.Entries {
		if e.selects() {
			out = append(out, e)
		}
	}
	return out
}

// selects reports whether the entry selects by listing the vault.
func (e Entry) selects() bool { return !e.Exclude && e.Kind != Name }

// NeedsList reports whether the plan selects by listing the vault: a
// pattern ('*' among them) or a tag.
func (p *Plan) NeedsList() bool { return len(p.Selectors()) > 0 }

// All reports whether the filter is '*' alone, the filter of old.
func (p *Plan) All() bool {
	return len(p.Entries) == 1 && p.Entries[0].Kind == Pattern && p.Entries[0].Pattern == "*"
}

// checkShape refuses combinations that mean nothing.
func (e Entry) checkShape() error {
	switch {
	case e.As != "" && e.Kind != Name:
		return fmt.Errorf("'as' renames one secret; a pattern or tag selects secrets by their own names")
	case e.As != "" && e.Exclude:
		return fmt.Errorf("an exclusion sets no variable: 'as' does not apply")
	case e.Optional && e.Kind != Name:
		return fmt.Errorf("'?' marks a named secret optional; a pattern or tag that selects nothing is only a warning already")
	case e.Exclude && e.Kind == Tag:
		return fmt.Errorf("an exclusion takes a name or a pattern (!name, !app-*), not a tag")
	case e.Exclude && e.Ref.Version != "":
		return fmt.Errorf("an exclusion takes a name or a pattern, not a version")
	case e.Exclude && e.Optional:
		return fmt.Errorf("'?' does not apply to an exclusion")
	case e.Exclude && !e.Member.IsZero():
		return fmt.Errorf("an exclusion takes a name or a pattern, not a member of a secret")
	case e.As != "":
		return CheckVariable(e.As)
	case e.Member.Indexed():
		return fmt.Errorf("a variable name cannot hold '[': name the variable of member %s with 'as' (e.g. %s as HOST)", e.Member, clip(e.Text))
	case !e.Member.IsZero():
		if err := CheckVariable(e.Var()); err != nil {
			return fmt.Errorf("%w; name the member's variable with 'as'", err)
		}
	}
	return nil
}

// Var is the variable a Name entry sets: its 'as', else name.member for
// a member (whatever version it pins), else the secret's name (or
// name/version).
func (e Entry) Var() string {
	switch {
	case e.As != "":
		return e.As
	case !e.Member.IsZero():
		return e.Ref.Name + "." + e.Member.String()
	}
	return e.Ref.String()
}

func checkPattern(p string) error {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c == '*' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fmt.Errorf("character %q is not allowed in a pattern (letters, digits, '-' and '*' only)", rune(c))
		}
	}
	return nil
}

// reservedPrefixes are the namespaces of the variables the agent and the
// pipeline own; a task that set one would change how the rest of the job
// runs.
func reservedPrefixes() []string {
	return []string{"system", "agent", "build", "release", "pipeline", "task", "endpoint", "resources"}
}

// CheckVariable checks a variable name the task sets other than a secret's
// own: a rename, or the variable that holds a file's path (SecretsToFiles).
func CheckVariable(v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fmt.Errorf("variable name %q: character %q is not allowed (letters, digits, '_', '-' and '.' only)", clip(v), rune(c))
		}
	}
	env := strings.ToUpper(strings.ReplaceAll(v, ".", "_"))
	for _, s := range agentenv.Settings() {
		if env == s {
			return fmt.Errorf("variable name %q is the agent's setting %s; choose another name", v, s)
		}
	}
	for _, r := range reservedPrefixes() {
		if strings.HasPrefix(strings.ToLower(v), r+".") || strings.HasPrefix(strings.ToLower(v), r+"_") {
			return fmt.Errorf("variable name %q is in the %s. namespace, which the agent and the pipeline own; choose another name", v, r)
		}
	}
	return nil
}

// check refuses filters that select nothing or contradict themselves.
func (p *Plan) check() error {
	if len(p.Entries) == 0 {
		return fmt.Errorf("%s is empty: use '*' for every secret, or a comma-separated list of secret names", input)
	}
	included := false
	for _, e := range p.Entries {
		included = included || !e.Exclude
	}
	if !included {
		return fmt.Errorf("%s has only exclusions (%s): an exclusion removes secrets that other entries select; add '*' or a pattern, e.g. '*, %s'", input, clip(p.Entries[0].Text), clip(p.Entries[0].Text))
	}
	for _, e := range p.Entries {
		// An exclusion keeps a secret's whole value out of what a pattern
		// sets; a member taken from it is not the secret.
		if e.Kind != Name || e.Exclude || !e.Member.IsZero() {
			continue
		}
		for _, x := range p.Entries {
			if x.Exclude && x.matchesName(e.Ref.Name) {
				return fmt.Errorf("%s entry %q names a secret that the exclusion %q leaves out: remove one of them", input, clip(e.Text), clip(x.Text))
			}
		}
	}
	return nil
}

func clip(s string) string { return vso.Clip(s, 80) }
