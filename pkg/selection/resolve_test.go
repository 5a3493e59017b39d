package selection

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// listed is a secret the vault lists, and its latest value.
type listed struct {
	name, value string
	tags        map[string]string
	unusable    string
}

// TestResolve: for a plan, what the listing selects, what each value that
// arrives sets or writes, and what Finish decides once the download is
// over, as typed results.
func TestResolve(t *testing.T) {
	gone := errors.New("gone")
	tests := []struct {
		name          string
		filter, files string
		vault         []listed
		failures      []Failure // of the secrets fetched by name
		wantSelect    []string  // the listed secrets the listing fetches
		wantActions   map[string]Action
		wantPubs      []Publish
		want          Result
	}{
		{
			name: "a pattern, an exclusion and a rename", filter: "app-*, !app-old, x as app-b",
			vault:      []listed{{name: "app-a", value: "1"}, {name: "app-b", value: "2"}, {name: "app-old", value: "3"}, {name: "x", value: "4"}},
			wantSelect: []string{"app-a"},
			wantActions: map[string]Action{
				"app-a": {Vars: []string{"app-a"}},
				"x":     {Vars: []string{"app-b"}},
			},
			want: Result{
				Set: []Assigned{{Secret: vaultref.Secret{Name: "app-a"}, Vars: []string{"app-a"}}, {Secret: vaultref.Secret{Name: "x"}, Vars: []string{"app-b"}}},
				// What an exclusion leaves out is not counted.
				Selected: map[string]int{"app-*": 2},
				Excluded: []Skipped{{"app-old", "excluded by !app-old"}},
				Shadowed: []Skipped{{"app-b", "its variable is set by the entry x as app-b"}},
			},
		},
		{
			name: "a tag; a selected secret named too is fetched once", filter: "tag:env=prod, db as DB_PW", files: "db as pem",
			vault: []listed{{name: "db", value: "pw", tags: map[string]string{"ENV": "prod"}}, {name: "web", value: "w", tags: map[string]string{"env": "dev"}}},
			wantActions: map[string]Action{
				"db": {File: &File{Text: "db as pem", Ref: vaultref.Secret{Name: "db"}, Format: certformat.PEM, Var: "db.file"}, Vars: []string{"DB_PW"}},
			},
			wantPubs: []Publish{{Vars: []string{"db"}, Value: "pw"}},
			want: Result{
				Set:          []Assigned{{Secret: vaultref.Secret{Name: "db"}, Vars: []string{"DB_PW"}}, {Secret: vaultref.Secret{Name: "db"}, Vars: []string{"db"}}},
				Selected:     map[string]int{"tag:env=prod": 1},
				AlsoSelected: 1,
			},
		},
		{
			name: "optional secrets and a failure that counts", filter: "maybe?, off?, late?, must",
			vault:    []listed{{name: "late", value: "l", unusable: "not valid before 2030-01-01T00:00:00Z"}},
			failures: []Failure{{Ref: vaultref.Secret{Name: "maybe"}, Kind: NotFound}, {Ref: vaultref.Secret{Name: "off"}, Kind: Disabled}, {Ref: vaultref.Secret{Name: "must"}, Kind: NotFound, Err: gone}},
			wantActions: map[string]Action{
				"late": {},
			},
			want: Result{
				Missing:  []Skipped{{"late", "not valid before 2030-01-01T00:00:00Z"}, {"maybe", "not found"}, {"off", "disabled"}},
				Selected: map[string]int{},
				Failures: []Failure{{Ref: vaultref.Secret{Name: "must"}, Kind: NotFound, Err: gone}},
			},
		},
		{
			name: "a version's implied name, and a value the agent would alter", filter: "cert/0123456789abcdef0123456789abcdef, pct",
			vault: []listed{{name: "cert", value: "old"}, {name: "pct", value: "a%0Ab"}},
			wantActions: map[string]Action{
				"cert/0123456789abcdef0123456789abcdef": {Vars: []string{"cert/0123456789abcdef0123456789abcdef"}},
				"pct":                                   {},
			},
			wantPubs: []Publish{{Vars: []string{"cert"}, Value: "old", Again: true}},
			want: Result{
				Set:       []Assigned{{Secret: vaultref.Secret{Name: "cert", Version: "0123456789abcdef0123456789abcdef"}, Vars: []string{"cert/0123456789abcdef0123456789abcdef", "cert"}}},
				Uncarried: []vaultref.Secret{{Name: "pct"}},
				Selected:  map[string]int{},
			},
		},
		{
			name: "members of a JSON secret, read from one get", filter: "cfg.user, cfg.pw as PW, cfg.port as PORT, cfg.replica? as R, cfg.hosts[1] as H, cfg.empty",
			vault: []listed{{name: "cfg", value: `{"user": "app", "pw": "p\u00e9", "port": 5432, "hosts": ["a", {"n": 1}], "empty": ""}`}},
			wantActions: map[string]Action{
				"cfg": {Members: []Publish{
					{Vars: []string{"cfg.user"}, Value: "app"},
					{Vars: []string{"PW"}, Value: "pé"},
					{Vars: []string{"PORT"}, Value: "5432"},
					{Vars: []string{"H"}, Value: `{"n":1}`},
					{Vars: []string{"cfg.empty"}, Value: ""},
				}},
			},
			want: Result{
				Set: []Assigned{
					{Secret: vaultref.Secret{Name: "cfg"}, Member: "empty", Vars: []string{"cfg.empty"}},
					{Secret: vaultref.Secret{Name: "cfg"}, Member: "hosts[1]", Vars: []string{"H"}},
					{Secret: vaultref.Secret{Name: "cfg"}, Member: "port", Vars: []string{"PORT"}},
					{Secret: vaultref.Secret{Name: "cfg"}, Member: "pw", Vars: []string{"PW"}},
					{Secret: vaultref.Secret{Name: "cfg"}, Member: "user", Vars: []string{"cfg.user"}},
				},
				Empty:          []Assigned{{Secret: vaultref.Secret{Name: "cfg"}, Member: "empty", Vars: []string{"cfg.empty"}}},
				MissingMembers: []MemberSkipped{{Entry: "cfg.replica? as R", Secret: vaultref.Secret{Name: "cfg"}, Why: "the value has no member replica"}},
				Selected:       map[string]int{},
			},
		},
		{
			name: "an exclusion keeps the whole secret out, not its members", filter: "*, !cfg, cfg.user",
			vault:      []listed{{name: "cfg", value: `{"user": "app"}`}, {name: "other", value: "o"}},
			wantSelect: []string{"other"},
			wantActions: map[string]Action{
				"cfg":   {Members: []Publish{{Vars: []string{"cfg.user"}, Value: "app"}}},
				"other": {Vars: []string{"other"}},
			},
			want: Result{
				Set:      []Assigned{{Secret: vaultref.Secret{Name: "cfg"}, Member: "user", Vars: []string{"cfg.user"}}, {Secret: vaultref.Secret{Name: "other"}, Vars: []string{"other"}}},
				Selected: map[string]int{"*": 1},
				Excluded: []Skipped{{"cfg", "excluded by !cfg"}},
			},
		},
		{
			name: "an optional member the agent would alter fails all the same", filter: "pct.v? as V",
			vault:       []listed{{name: "pct", value: `{"v": "a%0Ab"}`}},
			wantActions: map[string]Action{"pct": {}},
			want: Result{
				Selected:       map[string]int{},
				MemberFailures: []MemberSkipped{{Entry: "pct.v? as V", Secret: vaultref.Secret{Name: "pct"}, Why: "its value holds a '%' followed by 0A, 0D, 3B or 5D, which this agent decodes into a line break, a semicolon or a bracket because its setting DECODE_PERCENTS is false", Uncarried: true}},
			},
		},
		{
			name: "a member of a value that is not a JSON object, and one missing", filter: "plain.x, cfg.nope as N, pct.v",
			vault:       []listed{{name: "plain", value: "not json"}, {name: "cfg", value: `{"a": 1}`}, {name: "pct", value: `{"v": "a%0Ab"}`}},
			wantActions: map[string]Action{"plain": {}, "cfg": {}, "pct": {}},
			want: Result{
				Selected: map[string]int{},
				MemberFailures: []MemberSkipped{
					{Entry: "cfg.nope as N", Secret: vaultref.Secret{Name: "cfg"}, Why: "the value has no member nope"},
					{Entry: "pct.v", Secret: vaultref.Secret{Name: "pct"}, Why: "its value holds a '%' followed by 0A, 0D, 3B or 5D, which this agent decodes into a line break, a semicolon or a bracket because its setting DECODE_PERCENTS is false", Uncarried: true},
					{Entry: "plain.x", Secret: vaultref.Secret{Name: "plain"}, Why: "the value is not JSON: a member entry reads a secret whose value is a JSON object"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseInputs(tt.filter, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Resolve(func(s string) bool { return !strings.Contains(s, "%0A") })
			values := map[string]listed{}
			var selected []string
			for _, l := range tt.vault {
				values[l.name] = l
				if p.NeedsList() && r.Select(l.name, l.tags) {
					selected = append(selected, l.name)
				}
			}
			if diff := cmp.Diff(tt.wantSelect, selected); diff != "" {
				t.Errorf("the listing fetches (-want +got):\n%s", diff)
			}
			actions := map[string]Action{}
			arrive := func(ref vaultref.Secret) {
				l, ok := values[ref.Name]
				if !ok {
					return
				}
				actions[ref.String()] = r.Arrive(Value{Ref: ref, Value: l.value, Unusable: l.unusable})
			}
			for _, ref := range append(p.Refs(), refs(selected)...) {
				arrive(ref)
			}
			if diff := cmp.Diff(tt.wantActions, actions, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			res, pubs := r.Finish(tt.failures)
			if diff := cmp.Diff(tt.wantPubs, pubs); diff != "" {
				t.Errorf("set once the download is over (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, res, cmpopts.EquateEmpty(), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func refs(names []string) []vaultref.Secret {
	out := make([]vaultref.Secret, len(names))
	for i, n := range names {
		out[i] = vaultref.Secret{Name: n}
	}
	return out
}
