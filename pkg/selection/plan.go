package selection

import (
	"fmt"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// claim is a variable a named entry sets.
type claim struct {
	ref     string // the secret (and version), lower case
	entry   string // the entry, as written
	implied bool   // a version's own name, set only if no list selects it
}

// plan gathers the named entries into targets, one per secret (and
// version), with the members taken from each, and checks that no two
// entries set the same variable.
func (p *Plan) plan() error {
	byRef := map[string]int{}      // lower-case ref -> index in Targets
	whole := map[string]bool{}     // lower-case refs some entry sets whole
	plain := map[string]bool{}     // lower-case names some entry sets under their own name
	versions := map[string][]int{} // lower-case name -> targets of its versions without 'as'
	for _, e := range p.Entries {
		if e.Kind != Name || e.Exclude {
			continue
		}
		key := strings.ToLower(e.Ref.String())
		i, seen := byRef[key]
		if !seen {
			i = len(p.Targets)
			byRef[key] = i
			p.Targets = append(p.Targets, Target{Ref: e.Ref, Optional: true})
		}
		t := &p.Targets[i]
		t.Optional = t.Optional && e.Optional
		t.Entries = append(t.Entries, e.Text)
		if !e.Member.IsZero() {
			if err := p.member(t, e, key); err != nil {
				return err
			}
			continue
		}
		v := e.Var()
		if e.As == "" {
			if e.Ref.Version == "" {
				plain[strings.ToLower(e.Ref.Name)] = true
			} else if !whole[key] {
				versions[strings.ToLower(e.Ref.Name)] = append(versions[strings.ToLower(e.Ref.Name)], i)
			}
		}
		whole[key] = true
		if err := p.claim(v, claim{ref: key, entry: e.Text}); err != nil {
			return err
		}
		if !containsFold(t.Vars, v) {
			t.Vars = append(t.Vars, v)
		}
	}
	return p.implyNames(plain, versions)
}

// member adds a member entry to its secret's target: one member of the
// secret's value, read once for every entry that takes it.
func (p *Plan) member(t *Target, e Entry, key string) error {
	v := e.Var()
	// A member is told apart by its path as written: JSON's names are
	// case-sensitive, unlike variables and secrets.
	if err := p.claim(v, claim{ref: key + "." + e.Member.String(), entry: e.Text}); err != nil {
		return err
	}
	for i := range t.Members {
		m := &t.Members[i]
		if m.Path.String() == e.Member.String() {
			m.Optional = m.Optional && e.Optional
			m.Entries = append(m.Entries, e.Text)
			if !containsFold(m.Vars, v) {
				m.Vars = append(m.Vars, v)
			}
			return nil
		}
	}
	t.Members = append(t.Members, Member{Path: e.Member, Vars: []string{v}, Optional: e.Optional, Entries: []string{e.Text}})
	return nil
}

// implyNames lets a version set its secret's own name too, when no other
// entry sets that name.
func (p *Plan) implyNames(plain map[string]bool, versions map[string][]int) error {
	for name, ts := range versions {
		if _, taken := p.claimed[name]; plain[name] || taken {
			continue // another entry sets name: it is the current value, or that entry's
		}
		if len(ts) > 1 {
			a, b := p.Targets[ts[0]], p.Targets[ts[1]]
			return fmt.Errorf("%s entries %q and %q would both set variable %s: add the entry %s for the current value, or give one of them a name with 'as'",
				input, clip(a.Entries[0]), clip(b.Entries[0]), a.Ref.Name, a.Ref.Name)
		}
		t := &p.Targets[ts[0]]
		t.Implied = t.Ref.Name
		p.claimed[name] = claim{ref: strings.ToLower(t.Ref.String()), entry: t.Entries[0], implied: true}
	}
	return nil
}

// claim records that variable v is set as c says, refusing a second
// secret for the same variable.
func (p *Plan) claim(v string, c claim) error {
	key := strings.ToLower(v)
	prev, ok := p.claimed[key]
	switch {
	case !ok:
		p.claimed[key] = c
		return nil
	case prev.ref == c.ref:
		return nil // the same secret twice: one fetch, one variable
	}
	return fmt.Errorf("%s entries %q and %q would both set variable %s: rename one with 'as'", input, clip(prev.entry), clip(c.entry), v)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// matchesName reports whether a Name or Pattern entry matches a secret
// name, ignoring case.
func (e Entry) matchesName(name string) bool {
	switch e.Kind {
	case Name:
		return strings.EqualFold(e.Ref.Name, name)
	case Pattern:
		return glob(e.Pattern, strings.ToLower(name))
	}
	return false
}

// matches reports whether the entry selects a listed secret.
func (e Entry) matches(name string, tags map[string]string) bool {
	if e.Kind != Tag {
		return e.matchesName(name)
	}
	for k, v := range tags {
		if strings.EqualFold(k, e.TagKey) && v == e.TagValue {
			return true
		}
	}
	return false
}

// glob matches name against pattern, where '*' stands for any run of
// characters, the empty one too. Both are lower case.
func glob(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, last) && len(name) >= len(last)
}

// Listed is what the vault's list says of a secret, as selection needs it.
type Listed struct {
	Name string
	Tags map[string]string
}

// Choice is what the plan makes of a listed secret.
type Choice struct {
	Fetch bool // fetch its value and set the variable named after it
	// By are the entries that selected it, as written; Excluded the
	// exclusion that left it out; Shadowed the entry whose variable it
	// would have set.
	By       []string
	Excluded string
	Shadowed string
}

// Choose decides about a listed secret: whether a pattern or tag selects
// it, and whether an exclusion or a named entry keeps it out. A secret a
// named entry fetches anyway is not fetched again from the list.
func (p *Plan) Choose(s Listed) Choice {
	var c Choice
	for _, e := range p.Entries {
		if e.selects() && e.matches(s.Name, s.Tags) {
			c.By = append(c.By, e.Text)
		}
	}
	if len(c.By) == 0 {
		return c
	}
	for _, e := range p.Entries {
		if e.Exclude && e.matchesName(s.Name) {
			c.Excluded = e.Text
			return c
		}
	}
	cl, claimed := p.claimed[strings.ToLower(s.Name)]
	switch {
	case !claimed, cl.implied:
		// A version's implied name yields to the current value.
		c.Fetch = true
	case cl.ref != strings.ToLower(s.Name):
		// A rename, or a version named as the secret, sets this name's
		// variable: the named entry wins over a pattern or tag.
		c.Shadowed = cl.entry
	}
	// Otherwise the secret's plain entry fetches it by name already.
	return c
}

// Refs lists the secrets to fetch by name: the filter's, then the files'
// that the filter does not fetch already. A secret both inputs name is
// fetched once.
func (p *Plan) Refs() []vaultref.Secret {
	out := make([]vaultref.Secret, 0, len(p.Targets)+len(p.Files))
	named := map[string]bool{}
	for _, t := range p.Targets {
		out = append(out, t.Ref)
		named[strings.ToLower(t.Ref.String())] = true
	}
	for _, f := range p.Files {
		if !named[strings.ToLower(f.Ref.String())] {
			out = append(out, f.Ref)
		}
	}
	return out
}

// Inputs names the inputs whose entries name the secret ref, for the fix
// of a failure to get it: "SecretsFilter", "SecretsToFiles" or both. A
// secret a pattern or tag selected is SecretsFilter's.
func (p *Plan) Inputs(ref vaultref.Secret) string {
	inFilter, inFiles := false, false
	for _, t := range p.Targets {
		inFilter = inFilter || strings.EqualFold(t.Ref.String(), ref.String())
	}
	for _, f := range p.Files {
		inFiles = inFiles || strings.EqualFold(f.Ref.String(), ref.String())
	}
	switch {
	case inFiles && inFilter:
		return "SecretsFilter and SecretsToFiles"
	case inFiles:
		return "SecretsToFiles"
	}
	return "SecretsFilter"
}

// SetBy names the entry that sets variable v (compared without case, as
// the agent compares variable names), when a named entry sets it: another
// input that sets variables (SecretsToFiles) must not set the same one.
func (p *Plan) SetBy(v string) (entry string, ok bool) {
	c, ok := p.claimed[strings.ToLower(v)]
	return c.entry, ok
}

// Nothing is the plan of an empty filter, for a run that downloads
// secrets only for other inputs (SecretsToFiles): it sets no variable.
// Parse refuses an empty filter, which on its own would do nothing.
func Nothing() *Plan { return &Plan{claimed: map[string]claim{}} }
