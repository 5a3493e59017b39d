package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// SecretsFilter end to end: refusals, a listing refused, output
// variables and the log (each form's decisions are tested in-process, in
// pkg/task's TestFilterForms).

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
	testworld.FilterVault(w.Vault)

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
