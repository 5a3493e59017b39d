package task

import (
	"strings"
	"testing"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
	"github.com/google/go-cmp/cmp"
)

// SecretsFilter's forms, each a decision of pkg/selection run in-process:
// each filter against one vault, the exact variables the job ends up with,
// the warnings, and what the vault was asked.

func TestFilterForms(t *testing.T) {
	tests := []struct {
		name     string
		filter   string // {old} is cert's old version
		want     map[string]string
		warnings []string
		gets     []string // the secrets whose values were asked for (sorted); nil: not checked
		noList   bool
	}{
		{name: "pattern", filter: "app-*", want: map[string]string{"app-a": "v-app-a", "app-b-db": "v-app-b-db", "app-legacy": "v-app-legacy"},
			gets: []string{"app-a", "app-b-db", "app-legacy"}},
		{name: "pattern with an inner star", filter: "app-*-db", want: map[string]string{"app-b-db": "v-app-b-db"}},
		{name: "suffix pattern", filter: "*-PROD", want: map[string]string{"db-prod": "v-db-prod", "web-prod": "v-web-prod"}},
		{name: "exclusions", filter: "*, !app-*, !test-a, !cert", want: map[string]string{"db-prod": "v-db-prod", "web-prod": "v-web-prod", "db-dev": "v-db-dev", "legacy-key": "v-legacy-key"}},
		{name: "tag, key in any case", filter: "tag:ENV=prod", want: map[string]string{"db-prod": "v-db-prod", "web-prod": "v-web-prod"}},
		{name: "pattern and tag that select nothing", filter: "nothing-*, tag:env=staging, legacy-key",
			want:     map[string]string{"legacy-key": "v-legacy-key"},
			warnings: []string{"nothing-* selected no secret of vault kv-e2e", "tag:env=staging selected no secret of vault kv-e2e"}},
		{name: "rename", filter: "legacy-key as LEGACY_KEY, app-a as app.a", want: map[string]string{"LEGACY_KEY": "v-legacy-key", "app.a": "v-app-a"}, noList: true},
		{name: "the plain entry wins, in either order", filter: "cert/{old}, cert", want: map[string]string{"cert/{old}": "v-cert-old", "cert": "v-cert-new"}, noList: true},
		{name: "the plain entry wins, plain first", filter: "cert, cert/{old}", want: map[string]string{"cert/{old}": "v-cert-old", "cert": "v-cert-new"}, noList: true},
		{name: "a version alone sets its name too", filter: "cert/{old}", want: map[string]string{"cert/{old}": "v-cert-old", "cert": "v-cert-old"}, noList: true},
		{name: "a pattern's current value wins over a version's name", filter: "c*, cert/{old}", want: map[string]string{"cert/{old}": "v-cert-old", "cert": "v-cert-new"}},
		{name: "a version renamed", filter: "cert/{old} as CERT_OLD", want: map[string]string{"CERT_OLD": "v-cert-old"}, noList: true},
		{name: "optional secrets: missing, disabled, expired, not yet valid", filter: "maybe?, gone-off?, last-year?, next-year?, legacy-key? as LK",
			want: map[string]string{"LK": "v-legacy-key"}, noList: true,
			warnings: []string{
				"Optional secret 'gone-off' is not set: disabled in vault kv-e2e",
				"Optional secret 'last-year' is not set: expired " + "{exp}" + " in vault kv-e2e",
				"Optional secret 'maybe' is not set: not found in vault kv-e2e",
				"Optional secret 'next-year' is not set: not valid before " + "{nbf}" + " in vault kv-e2e",
			}},
		{name: "a secret named and selected is fetched once", filter: "app-*, app-a, app-a as APP_A", want: map[string]string{"app-a": "v-app-a", "APP_A": "v-app-a", "app-b-db": "v-app-b-db", "app-legacy": "v-app-legacy"},
			gets: []string{"app-a", "app-b-db", "app-legacy"}},
		{name: "a rename wins over a pattern for its variable", filter: "legacy-*, app-a as legacy-key",
			want:     map[string]string{"legacy-key": "v-app-a"},
			warnings: []string{"Secret 'legacy-key' is selected but not set from the list: its variable is set by the entry app-a as legacy-key"}},
		{name: "line breaks separate entries too", filter: "app-a\ntest-a\r\n  legacy-key  ", want: map[string]string{"app-a": "v-app-a", "test-a": "v-test-a", "legacy-key": "v-legacy-key"}, noList: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			old := testworld.FilterVault(w.Vault)
			fill := strings.NewReplacer("{old}", old)
			res := w.Run(step{Filter: fill.Replace(tt.filter)})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			want := map[string]agentrunner.Variable{}
			for k, v := range tt.want {
				want[fill.Replace(k)] = testworld.SecretVar(v)
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			warnings := testworld.Issues(res, "warning")
			for i, wl := range warnings {
				// The dates are the vault's; only their place is checked.
				if strings.Contains(wl, "'last-year'") {
					warnings[i] = strings.Split(wl, "expired ")[0] + "expired {exp} in vault kv-e2e"
				}
				if strings.Contains(wl, "'next-year'") {
					warnings[i] = strings.Split(wl, "before ")[0] + "before {nbf} in vault kv-e2e"
				}
			}
			if diff := cmp.Diff(tt.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\nlog:\n%s", diff, strings.Join(res.Log, "\n"))
			}
			if tt.noList && testworld.ListCalls(w.Vault) != 0 {
				t.Errorf("named entries alone listed the vault")
			}
			if tt.gets != nil {
				gets := testworld.SecretGets(w.Vault)
				for _, n := range tt.gets {
					if gets[n] != 1 {
						t.Errorf("secret %s fetched %d times, want once", n, gets[n])
					}
					delete(gets, n)
				}
				if len(gets) != 0 {
					t.Errorf("other secrets fetched: %v", gets)
				}
			}
		})
	}
}
