package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// SecretsFilter's forms, end to end: each filter against one vault, the
// exact variables the job ends up with, the warnings, and what the vault
// was asked.

// filterVault fills the world's vault for the filter tests and returns the
// old version of cert.
func filterVault(w *world) (oldCert string) {
	now := time.Now()
	for _, s := range []localcloud.Secret{
		{Name: "app-a", Value: "v-app-a"},
		{Name: "app-b-db", Value: "v-app-b-db"},
		{Name: "app-legacy", Value: "v-app-legacy"},
		{Name: "app-old", Value: "v-app-old", Disabled: true},
		{Name: "test-a", Value: "v-test-a"},
		{Name: "db-prod", Value: "v-db-prod", Tags: map[string]string{"Env": "prod"}},
		{Name: "web-prod", Value: "v-web-prod", Tags: map[string]string{"env": "prod", "team": "web"}},
		{Name: "db-dev", Value: "v-db-dev", Tags: map[string]string{"env": "dev"}},
		{Name: "legacy-key", Value: "v-legacy-key"},
		{Name: "gone-off", Value: "v-gone-off", Disabled: true},
		{Name: "last-year", Value: "v-last-year", Expires: now.Add(-time.Hour)},
		{Name: "next-year", Value: "v-next-year", NotBefore: now.Add(time.Hour)},
	} {
		w.Vault.Put(s)
	}
	oldCert = w.Vault.Put(localcloud.Secret{Name: "cert", Value: "v-cert-old"})
	w.Vault.Put(localcloud.Secret{Name: "cert", Value: "v-cert-new"})
	return oldCert
}

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
			old := filterVault(w)
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

// TestFilterRefusals: a filter that cannot work, or would be ambiguous,
// fails before any request, naming the entry.
func TestFilterRefusals(t *testing.T) {
	tests := []struct{ filter, want string }{
		{"a, b as A", `input SecretsFilter entries "a" and "b as A" would both set variable A: rename one with 'as'`},
		{"cert/0123456789abcdef0123456789abcdef, cert/fedcba9876543210fedcba9876543210", "would both set variable cert: add the entry cert for the current value"},
		{"x as bad;name", `input SecretsFilter entry "x as bad;name": variable name "bad;name": character ';' is not allowed`},
		{"x as system.debug", `variable name "system.debug" is in the system. namespace, which the agent and the pipeline own`},
		{"x as SYSTEM_UNSAFEALLOWMULTILINESECRET", `is the agent's setting SYSTEM_UNSAFEALLOWMULTILINESECRET`},
		{"x as DECODE_PERCENTS", `is the agent's setting DECODE_PERCENTS`},
		{"app-* as APP", `input SecretsFilter entry "app-* as APP": 'as' renames one secret`},
		{"tag:env=prod as P", `input SecretsFilter entry "tag:env=prod as P": 'as' renames one secret`},
		{"!test-*", `input SecretsFilter has only exclusions (!test-*)`},
		{"app-a, !app-*", `input SecretsFilter entry "app-a" names a secret that the exclusion "!app-*" leaves out`},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			w := newWorld(t)
			w.Put(map[string]string{"a": "v-a"})
			res := w.Run(step{Filter: tt.filter})
			harness.FailedWith(t, res, tt.want)
			if got := w.Cloud.ProxyLog(); len(got) != 0 {
				t.Errorf("requests were made before the filter was refused: %v", got)
			}
		})
	}
}

// TestListRefusedNamesStill: an identity without the List permission gets
// its named secrets; the failure says which entries need List.
func TestListRefusedNamesStill(t *testing.T) {
	w := newWorld(t)
	w.Put(map[string]string{"app-a": "v-app-a", "db-password": "v-db"})
	w.Vault.SetFaults(localcloud.Faults{ListDenied: "AccessDenied"})

	res := w.Run(step{Filter: "app-*, db-password, tag:env=prod"})

	harness.FailedWith(t, res, "Could not list the secrets of vault kv-e2e: access denied by the vault's access policy",
		"(the entries app-*, tag:env=prod need the List permission; named entries need only Get)")
	if diff := cmp.Diff(map[string]agentrunner.Variable{"db-password": testworld.SecretVar("v-db")}, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

// TestOutputVariables: OutputVariables sets each variable as a secret
// output variable of the step too, for later jobs.
func TestOutputVariables(t *testing.T) {
	w := newWorld(t)
	w.Put(map[string]string{"db-password": "v-db", "legacy-key": "v-lk"})

	res := w.Run(step{Filter: "db-password, legacy-key as LK", StepName: "kv", Inputs: map[string]string{"OutputVariables": "true"}})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	wantVars := map[string]agentrunner.Variable{
		"db-password": testworld.SecretVar("v-db"), "LK": testworld.SecretVar("v-lk"),
		"kv.db-password": {Value: "v-db", Secret: true, ReadOnly: true}, "kv.LK": {Value: "v-lk", Secret: true, ReadOnly: true},
	}
	if diff := cmp.Diff(wantVars, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	wantOut := map[string]agentrunner.Variable{"db-password": testworld.SecretVar("v-db"), "LK": testworld.SecretVar("v-lk")}
	if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	harness.MustContain(t, strings.Join(res.Log, "\n"), "Set 2 secret(s), each also an output variable of this step:\n  db-password\n  legacy-key -> LK\n")
}

// TestFilterLog: a run with a pattern, an exclusion, a tag, a rename and a
// missing optional secret says what each did.
func TestFilterLog(t *testing.T) {
	w := newWorld(t)
	filterVault(w)

	res := w.Run(step{Filter: "app-*, !app-legacy, tag:env=prod, legacy-key as LEGACY_KEY, feature-flag?"})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := []string{
		"GoKeyVault dev (commit unknown): vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
		"TLS: trusting the certificates of SSL_CERT_FILE=" + w.Cloud.CAFile() + " (instead of the system's CA bundle)",
		"Downloading the secrets these entries select: app-*, !app-legacy, tag:env=prod, legacy-key as LEGACY_KEY, feature-flag?",
		"Found 13 secret(s), 5 selected: 4 enabled and valid, 1 skipped",
		"  app-* selected 3",
		"  tag:env=prod selected 2",
		"  app-legacy: excluded by !app-legacy",
		"  skipped app-old: disabled",
		"Set 5 secret(s):",
		"  app-a",
		"  app-b-db",
		"  db-prod",
		"  legacy-key -> LEGACY_KEY",
		"  web-prod",
		"##[warning]Optional secret 'feature-flag' is not set: not found in vault kv-e2e",
		"Downloaded 5 secret(s) in X s",
		"Downloaded 5 secret(s) from kv-e2e",
	}
	if !harness.ForceDebug() {
		if diff := cmp.Diff(want, testworld.NormalLog(res)); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
	}
	t.Logf("log:\n%s", strings.Join(res.Log, "\n"))
}
