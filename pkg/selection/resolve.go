package selection

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Value is a secret value that arrived, as the resolver needs it.
type Value struct {
	Ref vaultref.Secret // as asked: the name, and the version or "" for the latest
	// Resolved is the version the vault answered with ("" if it named
	// none); ContentType is that version's.
	Resolved    string
	ContentType string
	Value       string
	// Unusable says why the version is not valid now (expired, not yet
	// valid), by the vault client's clock; "" when it is.
	Unusable string
	// Expires is the version's expiry date, zero when it has none.
	Expires time.Time
}

// Action is what to do with a value: write it to the file of an entry,
// set it as these secret variables, and set members of it as others.
type Action struct {
	File    *File
	Vars    []string
	Members []Publish
}

// Publish is a value to set as secret variables once the listing is done.
type Publish struct {
	Vars  []string
	Value string
	// Again: the secret was set already, and this is one more variable
	// of it (a version's implied name).
	Again bool
}

// Assigned is a secret, or a member of its JSON value, and the variables
// it set.
type Assigned struct {
	Secret vaultref.Secret
	Member string // the member's path, "" for the whole secret
	Vars   []string
	// Version is the version whose value was set, as the vault answered
	// ("" if it named none); ContentType and Expires (zero: none) are
	// that version's.
	Version     string
	ContentType string
	Expires     time.Time
}

// Skipped is a secret, as the listing named it or as entries name it,
// and why it was not set.
type Skipped struct{ Secret, Why string }

// MemberSkipped is a member of a secret's JSON value that was not set:
// the entry that takes it, and why (never a byte of the value).
type MemberSkipped struct {
	Entry  string
	Secret vaultref.Secret
	Why    string
	// Uncarried: the member's value is one the agent would alter (its
	// DECODE_PERCENTS setting).
	Uncarried bool
}

// FailureKind is what a failure to get a secret says about the secret.
type FailureKind int

// The kinds of failures the resolver tells apart.
const (
	Failed   FailureKind = iota // any other
	NotFound                    // the vault has no such secret (404)
	Disabled                    // the secret is disabled (403 SecretDisabled)
)

// Failure is a secret that could not be downloaded.
type Failure struct {
	Ref  vaultref.Secret
	Kind FailureKind
	Err  error
}

// Result is what the resolver decided, once the download is over.
type Result struct {
	// Set is every secret set, with the variables it set, sorted; Empty
	// those set to an empty value.
	Set   []Assigned
	Empty []Assigned
	// Missing are optional secrets that were not set, and why;
	// MissingMembers the optional members.
	Missing        []Skipped
	MissingMembers []MemberSkipped
	// Uncarried are secrets whose value the agent would alter: not set.
	Uncarried []vaultref.Secret
	// Selected counts what each selector entry selected; Excluded and
	// Shadowed are listed secrets an exclusion or a named entry kept out.
	Selected map[string]int
	Excluded []Skipped
	Shadowed []Skipped
	// AlsoSelected counts the listed secrets a selector selected whose
	// value a named or file entry fetched (the listing did not), and
	// AlsoSkipped those of them skipped: disabled, expired, not yet valid.
	AlsoSelected int
	AlsoSkipped  []Skipped
	// Failures are the failures that fail the run: an optional secret's
	// absence is in Missing instead. MemberFailures are the members that
	// could not be set.
	Failures       []Failure
	MemberFailures []MemberSkipped
}

// Resolver makes a download's decisions as it runs. The vault client's
// listing and its workers call it concurrently.
type Resolver struct {
	plan    *Plan
	carries func(string) bool
	targets map[string]Target // lower-case ref -> target
	files   map[string]File   // lower-case ref -> file entry

	mu      sync.Mutex
	res     Result
	listed  map[string]bool   // lower-case names the listing set
	implied map[string]string // lower-case target ref -> value, waiting for the listing
	// byName maps the lower-case names of listed secrets a selector
	// selected, and whose latest value a named or file entry fetches
	// anyway, to the name as listed: fetched once, their own variables
	// are set in Finish.
	byName map[string]string
	// latest keeps the latest values named and file entries fetched, by
	// lower-case name, for byName; the listing's own values pass through.
	latest map[string]Value
}

// Resolve starts a download's decisions. carries reports whether a value
// reaches the agent intact (its DECODE_PERCENTS setting): one that would
// not is not set.
func (p *Plan) Resolve(carries func(string) bool) *Resolver {
	r := &Resolver{
		plan:    p,
		carries: carries,
		targets: map[string]Target{},
		files:   map[string]File{},
		listed:  map[string]bool{},
		implied: map[string]string{},
		byName:  map[string]string{},
		latest:  map[string]Value{},
	}
	r.res.Selected = map[string]int{}
	for _, t := range p.Targets {
		r.targets[strings.ToLower(t.Ref.String())] = t
	}
	for _, f := range p.Files {
		r.files[strings.ToLower(f.Ref.String())] = f
	}
	return r
}

// Select is the listing's decision about a listed secret: true fetches
// its latest value from the listing.
func (r *Resolver) Select(name string, tags map[string]string) bool {
	c := r.plan.Choose(Listed{Name: name, Tags: tags})
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Excluded != "" {
		r.res.Excluded = append(r.res.Excluded, Skipped{name, "excluded by " + c.Excluded})
		return false
	}
	for _, e := range c.By {
		r.res.Selected[e]++
	}
	if c.Shadowed != "" {
		r.res.Shadowed = append(r.res.Shadowed, Skipped{name, "its variable is set by the entry " + c.Shadowed})
	}
	key := strings.ToLower(name)
	_, file := r.files[key]
	_, named := r.targets[key]
	if (file || named) && c.Fetch {
		// A renamed or file entry fetches its latest value by name
		// already: one get serves both, and both see the same version.
		r.byName[key] = name
		return false
	}
	return c.Fetch
}

// Arrive decides what a value that arrived does: the file it is written
// to, the variables it sets now.
func (r *Resolver) Arrive(v Value) Action {
	key := strings.ToLower(v.Ref.String())
	t, named := r.targets[key]
	f, file := r.files[key]
	var a Action
	if v.Ref.Version == "" && (named || file) {
		// The listing may have selected it too: Finish decides.
		r.mu.Lock()
		r.latest[key] = v
		r.mu.Unlock()
	}
	if file {
		a.File = &f
		if !named {
			return a
		}
	}
	if named && t.Optional && v.Unusable != "" {
		r.mu.Lock()
		r.res.Missing = append(r.res.Missing, Skipped{v.Ref.String(), v.Unusable})
		r.mu.Unlock()
		return a
	}
	if !named || len(t.Vars) > 0 {
		a.Vars = r.assign(v, t, named)
	}
	if named {
		a.Members = r.members(v, t)
	}
	return a
}

// assign decides the variables a value sets: a named target's, or the name
// of a secret the listing selected; nil when it sets none.
func (r *Resolver) assign(v Value, t Target, named bool) []string {
	vars := []string{v.Ref.Name}
	if named {
		vars = t.Vars
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.carries(v.Value) {
		r.res.Uncarried = append(r.res.Uncarried, v.Ref)
		return nil
	}
	if !named {
		r.listed[strings.ToLower(v.Ref.Name)] = true
	}
	if named && t.Implied != "" {
		// The version's own name yields to the current value a listing
		// may still bring: decided once the listing is done.
		r.implied[strings.ToLower(v.Ref.String())] = v.Value
	}
	a := Assigned{Secret: v.Ref, Vars: append([]string(nil), vars...), Version: v.Resolved, ContentType: v.ContentType, Expires: v.Expires}
	r.res.Set = append(r.res.Set, a)
	if v.Value == "" {
		r.res.Empty = append(r.res.Empty, a)
	}
	return vars
}

// members reads the members entries take from a value: each one's value
// and variables, or why it is not set.
func (r *Resolver) members(v Value, t Target) []Publish {
	var out []Publish
	for _, m := range t.Members {
		val, err := m.Path.Find(v.Value)
		skip := MemberSkipped{Entry: m.Entries[0], Secret: v.Ref}
		switch {
		case err != nil:
			skip.Why = err.Error()
		case !r.carries(val):
			skip.Why, skip.Uncarried = vso.UncarriedVariable(), true
		}
		r.mu.Lock()
		switch {
		case skip.Why != "" && m.Optional && !skip.Uncarried:
			// '?' is for a member that may not be there, not for one the
			// agent would alter.
			r.res.MissingMembers = append(r.res.MissingMembers, skip)
		case skip.Why != "":
			r.res.MemberFailures = append(r.res.MemberFailures, skip)
		default:
			a := Assigned{Secret: v.Ref, Member: m.Path.String(), Vars: append([]string(nil), m.Vars...), Version: v.Resolved, ContentType: v.ContentType, Expires: v.Expires}
			r.res.Set = append(r.res.Set, a)
			if val == "" {
				r.res.Empty = append(r.res.Empty, a)
			}
			out = append(out, Publish{Vars: m.Vars, Value: val})
		}
		r.mu.Unlock()
	}
	return out
}

// Finish decides, once the download is over, what waited for it: which of
// the failures are optional secrets' absences, the variables of listed
// secrets an entry fetched by name, and the versions' own names the
// listing did not set. It returns the result and what to set now, in
// order.
func (r *Resolver) Finish(failures []Failure) (Result, []Publish) {
	r.res.Failures = r.optional(failures)
	pubs := r.fromNamed()
	for _, t := range r.plan.Targets {
		value, ok := r.implied[strings.ToLower(t.Ref.String())]
		if !ok || r.listed[strings.ToLower(t.Implied)] {
			continue
		}
		pubs = append(pubs, Publish{Vars: []string{t.Implied}, Value: value, Again: true})
		for i := range r.res.Set {
			if r.res.Set[i].Member == "" && strings.EqualFold(r.res.Set[i].Secret.String(), t.Ref.String()) {
				r.res.Set[i].Vars = append(r.res.Set[i].Vars, t.Implied)
			}
		}
	}
	r.sort()
	return r.res, pubs
}

// optional turns the failures of optional secrets that are not there or
// disabled into warnings, and returns the others.
func (r *Resolver) optional(fs []Failure) []Failure {
	var out []Failure
	for _, f := range fs {
		key := strings.ToLower(f.Ref.String())
		t, named := r.targets[key]
		_, file := r.files[key]
		switch {
		case file:
			out = append(out, f) // a file entry is never optional
		case named && t.Optional && f.Kind == NotFound:
			r.res.Missing = append(r.res.Missing, Skipped{f.Ref.String(), "not found"})
		case named && t.Optional && f.Kind == Disabled:
			r.res.Missing = append(r.res.Missing, Skipped{f.Ref.String(), "disabled"})
		default:
			out = append(out, f)
		}
	}
	return out
}

// fromNamed decides about the listed secrets whose value an entry fetched
// by name, as the listing would have: counted as selected, skipped when
// disabled, expired or not yet valid, else set under their own name.
func (r *Resolver) fromNamed() []Publish {
	names := make([]string, 0, len(r.byName))
	for key := range r.byName {
		names = append(names, key)
	}
	sort.Strings(names)
	var pubs []Publish
	for _, key := range names {
		listed := r.byName[key]
		r.res.AlsoSelected++
		v, ok := r.latest[key]
		t, named := r.targets[key]
		switch {
		case !ok && r.disabled(key):
			r.res.AlsoSkipped = append(r.res.AlsoSkipped, Skipped{listed, "disabled"})
		case !ok:
			// Its failure is the entry's, already reported.
		case v.Unusable != "":
			r.res.AlsoSkipped = append(r.res.AlsoSkipped, Skipped{listed, v.Unusable})
		case named && len(t.Vars) > 0 && !r.carries(v.Value):
			// The entry's variables reported it already.
		default:
			v.Ref = vaultref.Secret{Name: listed}
			if vars := r.assign(v, Target{}, false); vars != nil {
				pubs = append(pubs, Publish{Vars: vars, Value: v.Value})
			}
		}
	}
	return pubs
}

// disabled reports whether the latest version of the secret named key (in
// lower case) failed because it is disabled.
func (r *Resolver) disabled(key string) bool {
	for _, f := range r.res.Failures {
		if f.Ref.Version == "" && strings.EqualFold(f.Ref.Name, key) && f.Kind == Disabled {
			return true
		}
	}
	return false
}

func (r *Resolver) sort() {
	res := &r.res
	byRef := func(s []Assigned) {
		sort.Slice(s, func(i, j int) bool {
			if a, b := s[i].Secret.String(), s[j].Secret.String(); a != b {
				return a < b
			}
			return s[i].Member < s[j].Member
		})
	}
	byRef(res.Set)
	byRef(res.Empty)
	sort.Slice(res.Uncarried, func(i, j int) bool { return res.Uncarried[i].String() < res.Uncarried[j].String() })
	for _, s := range [][]Skipped{res.Missing, res.Excluded, res.Shadowed} {
		sort.Slice(s, func(i, j int) bool { return s[i].Secret < s[j].Secret })
	}
	for _, s := range [][]MemberSkipped{res.MissingMembers, res.MemberFailures} {
		sort.Slice(s, func(i, j int) bool { return s[i].Entry < s[j].Entry })
	}
}
