package selection

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gokeyvault/gokeyvault/pkg/jsonmember"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

const (
	v1 = "0123456789abcdef0123456789abcdef"
	v2 = "fedcba9876543210fedcba9876543210"
)

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in        string
		want      []Target
		needsList bool
	}{
		{in: "*", needsList: true},
		{in: " db-password , api-key ", want: []Target{
			{Ref: vaultref.Secret{Name: "db-password"}, Vars: []string{"db-password"}, Entries: []string{"db-password"}},
			{Ref: vaultref.Secret{Name: "api-key"}, Vars: []string{"api-key"}, Entries: []string{"api-key"}},
		}},
		{in: "a\nb\r\n,c", want: []Target{
			{Ref: vaultref.Secret{Name: "a"}, Vars: []string{"a"}, Entries: []string{"a"}},
			{Ref: vaultref.Secret{Name: "b"}, Vars: []string{"b"}, Entries: []string{"b"}},
			{Ref: vaultref.Secret{Name: "c"}, Vars: []string{"c"}, Entries: []string{"c"}},
		}},
		{in: "a,A", want: []Target{{Ref: vaultref.Secret{Name: "a"}, Vars: []string{"a"}, Entries: []string{"a", "A"}}}},
		{in: "cert/" + strings.ToUpper(v1), want: []Target{{Ref: vaultref.Secret{Name: "cert", Version: v1}, Vars: []string{"cert/" + v1}, Implied: "cert", Entries: []string{"cert/" + strings.ToUpper(v1)}}}},
		// The plain entry wins variable cert, in either order.
		{in: "cert/" + v1 + ", cert", want: []Target{
			{Ref: vaultref.Secret{Name: "cert", Version: v1}, Vars: []string{"cert/" + v1}, Entries: []string{"cert/" + v1}},
			{Ref: vaultref.Secret{Name: "cert"}, Vars: []string{"cert"}, Entries: []string{"cert"}},
		}},
		{in: "cert, cert/" + v1, want: []Target{
			{Ref: vaultref.Secret{Name: "cert"}, Vars: []string{"cert"}, Entries: []string{"cert"}},
			{Ref: vaultref.Secret{Name: "cert", Version: v1}, Vars: []string{"cert/" + v1}, Entries: []string{"cert/" + v1}},
		}},
		{in: "legacy-key as LEGACY_KEY", want: []Target{{Ref: vaultref.Secret{Name: "legacy-key"}, Vars: []string{"LEGACY_KEY"}, Entries: []string{"legacy-key as LEGACY_KEY"}}}},
		{in: "old/" + v1 + " AS old.value, old", want: []Target{
			{Ref: vaultref.Secret{Name: "old", Version: v1}, Vars: []string{"old.value"}, Entries: []string{"old/" + v1 + " AS old.value"}},
			{Ref: vaultref.Secret{Name: "old"}, Vars: []string{"old"}, Entries: []string{"old"}},
		}},
		{in: "db, db as DB_PASSWORD", want: []Target{{Ref: vaultref.Secret{Name: "db"}, Vars: []string{"db", "DB_PASSWORD"}, Entries: []string{"db", "db as DB_PASSWORD"}}}},
		{in: "maybe?, maybe-not? as M, sure", want: []Target{
			{Ref: vaultref.Secret{Name: "maybe"}, Vars: []string{"maybe"}, Optional: true, Entries: []string{"maybe?"}},
			{Ref: vaultref.Secret{Name: "maybe-not"}, Vars: []string{"M"}, Optional: true, Entries: []string{"maybe-not? as M"}},
			{Ref: vaultref.Secret{Name: "sure"}, Vars: []string{"sure"}, Entries: []string{"sure"}},
		}},
		// Optional only when every entry for it says so.
		{in: "x?, x", want: []Target{{Ref: vaultref.Secret{Name: "x"}, Vars: []string{"x"}, Entries: []string{"x?", "x"}}}},
		{in: "app-*, !app-legacy, tag:env=prod, db", needsList: true, want: []Target{{Ref: vaultref.Secret{Name: "db"}, Vars: []string{"db"}, Entries: []string{"db"}}}},
		{in: "*, !test-*", needsList: true},
		{in: "*, cert/" + v1, needsList: true, want: []Target{{Ref: vaultref.Secret{Name: "cert", Version: v1}, Vars: []string{"cert/" + v1}, Implied: "cert", Entries: []string{"cert/" + v1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Targets, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if p.NeedsList() != tt.needsList {
				t.Errorf("NeedsList = %v", p.NeedsList())
			}
		})
	}
}

// TestParseRefuses: each refusal names the entry (or entries) and what to
// do, before any request.
func TestParseRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "input SecretsFilter is empty"},
		{" , \n ", "input SecretsFilter is empty"},
		{"!test-*", `input SecretsFilter has only exclusions (!test-*): an exclusion removes secrets that other entries select; add '*' or a pattern, e.g. '*, !test-*'`},
		{"a, b as A", `input SecretsFilter entries "a" and "b as A" would both set variable A: rename one with 'as'`},
		{"a/" + v1 + ", a/" + v2, `input SecretsFilter entries "a/` + v1 + `" and "a/` + v2 + `" would both set variable a: add the entry a for the current value, or give one of them a name with 'as'`},
		{"x as y, z as Y", `entries "x as y" and "z as Y" would both set variable Y`},
		{"app-* as APP", `input SecretsFilter entry "app-* as APP": 'as' renames one secret; a pattern or tag selects secrets by their own names`},
		{"tag:env=prod as P", `entry "tag:env=prod as P": 'as' renames one secret`},
		{"a as bad!name", `character '!' is not allowed (letters, digits, '_', '-' and '.' only)`},
		{"a as system.debug", `variable name "system.debug" is in the system. namespace, which the agent and the pipeline own`},
		{"a as Agent_TempDirectory", `variable name "Agent_TempDirectory" is in the agent. namespace`},
		{"a as RESOURCES.x", `is in the resources. namespace`},
		{"a as system_unsafeAllowMultilineSecret", `is the agent's setting SYSTEM_UNSAFEALLOWMULTILINESECRET`},
		{"a as decode.percents", `is the agent's setting DECODE_PERCENTS`},
		{"app-*?", `'?' marks a named secret optional`},
		{"!tag:env=test", `an exclusion takes a name or a pattern (!name, !app-*), not a tag`},
		{"*, !a/" + v1, `an exclusion takes a name or a pattern, not a version`},
		{"db, !d*", `input SecretsFilter entry "db" names a secret that the exclusion "!d*" leaves out: remove one of them`},
		{"tag:=x", `a tag entry is tag:KEY=VALUE (e.g. tag:env=prod)`},
		{"tag:env", `a tag entry is tag:KEY=VALUE`},
		{"app_*", `character '_' is not allowed in a pattern (letters, digits, '-' and '*' only)`},
		{"db_password", `entry "db_password": character '_' is not allowed in a secret name`},
		{"cert/123", "32 hexadecimal characters"},
		{"/" + v1, "the secret name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "input SecretsFilter") {
				t.Errorf("error %q does not name the input", err)
			}
		})
	}
}

// TestChoose: what a listed secret gets from the plan.
func TestChoose(t *testing.T) {
	tests := []struct {
		filter string
		listed Listed
		want   Choice
	}{
		{"*", Listed{Name: "any"}, Choice{Fetch: true, By: []string{"*"}}},
		{"app-*", Listed{Name: "APP-one"}, Choice{Fetch: true, By: []string{"app-*"}}},
		{"app-*", Listed{Name: "xapp-one"}, Choice{}},
		{"*-prod", Listed{Name: "db-prod"}, Choice{Fetch: true, By: []string{"*-prod"}}},
		{"app-*-db", Listed{Name: "app-x-y-db"}, Choice{Fetch: true, By: []string{"app-*-db"}}},
		{"app-*-db", Listed{Name: "app-db"}, Choice{}},
		{"a*a", Listed{Name: "a"}, Choice{}},
		{"tag:env=prod", Listed{Name: "s", Tags: map[string]string{"ENV": "prod"}}, Choice{Fetch: true, By: []string{"tag:env=prod"}}},
		{"tag:env=prod", Listed{Name: "s", Tags: map[string]string{"env": "Prod"}}, Choice{}},
		{"tag:env=", Listed{Name: "s", Tags: map[string]string{"env": ""}}, Choice{Fetch: true, By: []string{"tag:env="}}},
		{"*, tag:env=prod", Listed{Name: "s", Tags: map[string]string{"env": "prod"}}, Choice{Fetch: true, By: []string{"*", "tag:env=prod"}}},
		{"*, !test-*", Listed{Name: "Test-a"}, Choice{By: []string{"*"}, Excluded: "!test-*"}},
		{"app-*, !app-legacy", Listed{Name: "app-legacy"}, Choice{By: []string{"app-*"}, Excluded: "!app-legacy"}},
		// Fetched by name already: not again from the list.
		{"*, db", Listed{Name: "DB"}, Choice{By: []string{"*"}}},
		// A rename to this secret's name wins over the pattern.
		{"*, other as db", Listed{Name: "db"}, Choice{By: []string{"*"}, Shadowed: "other as db"}},
		// A version's own name yields to the current value the list brings.
		{"*, db/" + v1, Listed{Name: "db"}, Choice{Fetch: true, By: []string{"*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"/"+tt.listed.Name, func(t *testing.T) {
			p, err := Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Choose(tt.listed), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Choose (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true}, {"*", "x", true}, {"a*", "a", true}, {"a*", "ab", true}, {"a*", "ba", false},
		{"*a", "ba", true}, {"*a", "ab", false}, {"a*b", "ab", true}, {"a*b", "axxb", true}, {"a*b", "axxbc", false},
		{"a*b*c", "abbc", true}, {"a*b*c", "acb", false}, {"**", "x", true}, {"ab", "ab", true}, {"ab", "abc", false},
		{"a*ab", "ab", false}, {"a*ab", "aab", true},
	} {
		if got := glob(tt.pattern, tt.name); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"*", "a,b", "cert/" + v1, " , ", "a;b]c", "*,x", "app-*, !app-old, tag:k=v, x? as Y", "a as b as c", "!!a",
		"db.password, db.hosts[0] as H, db/" + v1 + ".a.b?", "db.", "db.[0]", "db[0]", "a.b.c[1].d as X, a", "app-*.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		// Whatever is accepted is safe inside a logging command: names,
		// versions and variables.
		for _, tg := range p.Targets {
			if vaultref.CheckName(tg.Ref.Name) != nil || tg.Ref.Version != "" && !vaultref.IsVersion(tg.Ref.Version) {
				t.Fatalf("Parse(%q) accepted %q", s, tg.Ref)
			}
			vars := append([]string(nil), tg.Vars...)
			for _, m := range tg.Members {
				vars = append(vars, m.Vars...)
			}
			for _, v := range vars {
				if strings.ContainsAny(v, ";]%\r\n ") || v == "" {
					t.Fatalf("Parse(%q) sets variable %q", s, v)
				}
			}
		}
	})
}

// TestSetBy: the variables named entries set, implied ones included, are
// found without case; what a pattern sets is not claimed by any entry.
func TestSetBy(t *testing.T) {
	p, err := Parse("db, legacy-key as LEGACY.file, cert/" + v1 + ", app-*")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		variable, entry string
		ok              bool
	}{
		{"db", "db", true},
		{"DB", "db", true},
		{"legacy.FILE", "legacy-key as LEGACY.file", true},
		{"legacy-key", "", false},
		{"cert", "cert/" + v1, true},
		{"cert/" + v1, "cert/" + v1, true},
		{"app-a", "", false},
		{"db.file", "", false},
	}
	for _, tt := range tests {
		entry, ok := p.SetBy(tt.variable)
		if entry != tt.entry || ok != tt.ok {
			t.Errorf("SetBy(%q) = %q, %v; want %q, %v", tt.variable, entry, ok, tt.entry, tt.ok)
		}
	}
}

// TestNothing: the empty plan fetches nothing, lists nothing and claims
// no variable.
func TestNothing(t *testing.T) {
	p := Nothing()
	if len(p.Refs()) != 0 || p.NeedsList() || p.All() {
		t.Errorf("Nothing() = refs %v, needs list %v, all %v", p.Refs(), p.NeedsList(), p.All())
	}
	if _, ok := p.SetBy("x"); ok {
		t.Error("Nothing() claims variable x")
	}
}

// TestParseMembers: name.member takes a member of the secret's JSON value,
// under the variable name.member unless 'as' names another; the secret is
// one target, whatever number of members entries take from it.
func TestParseMembers(t *testing.T) {
	path := func(s string) jsonmember.Path {
		p, err := jsonmember.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		in   string
		want []Target
	}{
		{"db-config.password, db-config.host as DB_HOST, db-config.replica? as REPLICA", []Target{{
			Ref: vaultref.Secret{Name: "db-config"},
			Members: []Member{
				{Path: path("password"), Vars: []string{"db-config.password"}, Entries: []string{"db-config.password"}},
				{Path: path("host"), Vars: []string{"DB_HOST"}, Entries: []string{"db-config.host as DB_HOST"}},
				{Path: path("replica"), Vars: []string{"REPLICA"}, Optional: true, Entries: []string{"db-config.replica? as REPLICA"}},
			},
			Entries: []string{"db-config.password", "db-config.host as DB_HOST", "db-config.replica? as REPLICA"},
		}}},
		{"cfg, cfg.a.b, cfg.hosts[0] as H0", []Target{{
			Ref: vaultref.Secret{Name: "cfg"}, Vars: []string{"cfg"},
			Members: []Member{
				{Path: path("a.b"), Vars: []string{"cfg.a.b"}, Entries: []string{"cfg.a.b"}},
				{Path: path("hosts[0]"), Vars: []string{"H0"}, Entries: []string{"cfg.hosts[0] as H0"}},
			},
			Entries: []string{"cfg", "cfg.a.b", "cfg.hosts[0] as H0"},
		}}},
		// A pinned version's member is name.member; the version sets no name.
		{"cfg/" + v1 + ".user", []Target{{
			Ref:     vaultref.Secret{Name: "cfg", Version: v1},
			Members: []Member{{Path: path("user"), Vars: []string{"cfg.user"}, Entries: []string{"cfg/" + v1 + ".user"}}},
			Entries: []string{"cfg/" + v1 + ".user"},
		}}},
		// The member first, then the whole version: the version sets its name too.
		{"cfg/" + v1 + ".user as U, cfg/" + v1, []Target{{
			Ref: vaultref.Secret{Name: "cfg", Version: v1}, Vars: []string{"cfg/" + v1}, Implied: "cfg",
			Members: []Member{{Path: path("user"), Vars: []string{"U"}, Entries: []string{"cfg/" + v1 + ".user as U"}}},
			Entries: []string{"cfg/" + v1 + ".user as U", "cfg/" + v1},
		}}},
		// One member, two entries: read once, both variables.
		{"cfg.pw?, cfg.pw as PW", []Target{{
			Ref:     vaultref.Secret{Name: "cfg"},
			Members: []Member{{Path: path("pw"), Vars: []string{"cfg.pw", "PW"}, Entries: []string{"cfg.pw?", "cfg.pw as PW"}}},
			Entries: []string{"cfg.pw?", "cfg.pw as PW"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Targets, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b jsonmember.Path) bool { return a.String() == b.String() })); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseMembersRefuses: what a member entry cannot mean is refused
// before any request, naming the entry and the fix.
func TestParseMembersRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app-*.password", `input SecretsFilter entry "app-*.password": a JSON member path goes with one secret's name (name.member), not with a pattern`},
		{"db.", `entry "db.": member path "": a member name is empty (names are letters, digits, '_' and '-')`},
		{"db..x", `member path ".x": a member name is empty`},
		{"db.[0]", `member path "[0]": a member name is empty`},
		{"db[0]", `entry "db[0]": an array index follows a member: a member entry reads a secret whose value is a JSON object (e.g. db.hosts[0])`},
		{"db.hosts[x] as H", `[x] is not an array index (a whole number, as in [0])`},
		{"db.hosts[0]", `entry "db.hosts[0]": a variable name cannot hold '[': name the variable of member hosts[0] with 'as' (e.g. db.hosts[0] as HOST)`},
		{"*, !db.password", `an exclusion takes a name or a pattern, not a member of a secret`},
		{"db.password, other as db.password", `entries "db.password" and "other as db.password" would both set variable db.password: rename one with 'as'`},
		{"db.a as X, db.b as X", `entries "db.a as X" and "db.b as X" would both set variable X`},
		{"db.Password, db.password", `entries "db.Password" and "db.password" would both set variable db.password`},
		{"db/" + v1 + ".pw, db.pw", `would both set variable db.pw`},
		{"system.debug", `variable name "system.debug" is in the system. namespace, which the agent and the pipeline own; choose another name; name the member's variable with 'as'`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "input SecretsFilter") {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}
