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

// JSON members and expiry dates end to end: the variables the job ends up
// with, byte for byte, the masking a later step meets, and the log.

// dbConfig is a service's configuration kept as one JSON secret, as teams
// keep them: pretty-printed, a password with the characters logging
// commands escape, nested objects and arrays.
const dbConfig = `{
  "user": "app",
  "password": "p%AZP25w;d]\u00e9\"q",
  "port": 5432,
  "hosts": ["db1.internal", "db2.internal"],
  "tls": {"mode": "verify-full", "ca": "/etc/ssl/db.pem"}
}`

// TestJSONMembers: each member entry sets its variable from one get of the
// secret; a string member is its string, another its compact JSON; the
// whole secret is set only because an entry names it; an optional member
// that is not there is a warning, one that must be there fails its entry.
func TestJSONMembers(t *testing.T) {
	w := newWorld(t)
	old := w.Vault.Put(localcloud.Secret{Name: "db-config", Value: `{"user": "app-2025"}`, ContentType: "application/json"})
	w.Vault.Put(localcloud.Secret{Name: "db-config", Value: dbConfig, ContentType: "application/json"})
	w.Vault.Put(localcloud.Secret{Name: "not-json", Value: "plain text"})

	filter := "db-config.user, db-config.password as DB_PASSWORD, db-config.hosts[1] as DB_HOST, db-config.port as PORT, db-config.tls as TLS, db-config.replica? as REPLICA, db-config/" + old + ".user as OLD_USER"
	res := w.Run(step{Filter: filter})
	members := []string{"app", "p%AZP25w;d]é\"q", "db2.internal", "5432", `{"mode":"verify-full","ca":"/etc/ssl/db.pem"}`, "app-2025"}
	// The harness knows the vault's values; the members are the task's.
	harness.CheckNoValueLeaks(t, res, members)

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := map[string]agentrunner.Variable{
		"db-config.user": testworld.SecretVar("app"),
		"DB_PASSWORD":    testworld.SecretVar("p%AZP25w;d]é\"q"),
		"DB_HOST":        testworld.SecretVar("db2.internal"),
		"PORT":           testworld.SecretVar("5432"),
		"TLS":            testworld.SecretVar(`{"mode":"verify-full","ca":"/etc/ssl/db.pem"}`),
		"OLD_USER":       testworld.SecretVar("app-2025"),
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	// One get of the latest version for its five members, one of the
	// pinned version.
	if diff := cmp.Diff(map[string]int{"db-config": 2}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	// A later step that prints a member's value shows it masked.
	for _, v := range []string{"p%AZP25w;d]é\"q", "db2.internal", `{"mode":"verify-full","ca":"/etc/ssl/db.pem"}`} {
		if got := res.MaskLater("got " + v); strings.Contains(got, v) {
			t.Errorf("a later step printing %q shows %q", v, got)
		}
	}
	wantLog := []string{
		"GoKeyVault dev (commit unknown): vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
		"TLS: trusting the certificates of SSL_CERT_FILE=" + w.Cloud.CAFile() + " (instead of the system's CA bundle)",
		"Downloading 2 secret(s): " + filter,
		"Set 6 JSON member(s):",
		"  db-config.hosts[1] -> DB_HOST",
		"  db-config.password -> DB_PASSWORD",
		"  db-config.port -> PORT",
		"  db-config.tls -> TLS",
		"  db-config.user",
		"  db-config/" + old + ".user -> OLD_USER",
		"##[warning]Optional entry 'db-config.replica? as REPLICA' is not set (secret db-config): the value has no member replica",
		"Downloaded 2 secret(s) in X s",
		"Downloaded 2 secret(s) from kv-e2e",
	}
	if !harness.ForceDebug() {
		if diff := cmp.Diff(wantLog, testworld.NormalLog(res)); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
	}

	res = w.Run(step{Filter: "db-config, db-config.nope as N, not-json.x"})
	if res.Result != "Failed" {
		t.Fatalf("result %s, want Failed", res.Result)
	}
	// The whole secret, set because an entry names it, is of several
	// lines: the agent's multi-line permission was raised, then put back.
	if diff := cmp.Diff(map[string]agentrunner.Variable{"db-config": testworld.SecretVar(dbConfig), "SYSTEM_UNSAFEALLOWMULTILINESECRET": {}}, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"SecretsFilter entry 'db-config.nope as N' (secret db-config): the value has no member nope: not set. Check the entry's member path against the secret's JSON, or mark the entry optional with '?'",
		"SecretsFilter entry 'not-json.x' (secret not-json): the value is not JSON: a member entry reads a secret whose value is a JSON object: not set. Check the entry's member path against the secret's JSON, or mark the entry optional with '?'",
	}, testworld.Issues(res, "error")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	harness.MustContain(t, res.Log[len(res.Log)-1], "2 JSON member(s) could not be set")
}

// TestExpiry: a secret set or written that expires within
// ExpiryWarningDays gets one warning naming it, the date and the days
// left; one set though expired gets a warning too; ExpiryFails makes them
// fail the step after every other secret was set.
func TestExpiry(t *testing.T) {
	w := newWorld(t)
	now := time.Now().UTC().Truncate(time.Second)
	soon := now.Add(10*24*time.Hour + time.Hour)
	gone := now.Add(-3*24*time.Hour - time.Hour)
	w.Vault.Put(localcloud.Secret{Name: "soon", Value: "v-soon", Expires: soon})
	w.Vault.Put(localcloud.Secret{Name: "later", Value: "v-later", Expires: now.Add(90 * 24 * time.Hour)})
	w.Vault.Put(localcloud.Secret{Name: "gone", Value: "v-gone", Expires: gone})
	w.Vault.Put(localcloud.Secret{Name: "no-date", Value: "v-no-date"})

	warnings := []string{
		"Secret 'gone' expired on " + gone.Format(time.RFC3339) + ", 3 day(s) ago, and the step uses it because an entry names it: renew it in vault kv-e2e",
		"Secret 'soon' expires on " + soon.Format(time.RFC3339) + ", in 10 day(s): renew it in vault kv-e2e before then",
	}
	vars := map[string]agentrunner.Variable{
		"soon": testworld.SecretVar("v-soon"), "later": testworld.SecretVar("v-later"),
		"gone": testworld.SecretVar("v-gone"), "no-date": testworld.SecretVar("v-no-date"),
	}
	tests := []struct {
		name     string
		inputs   map[string]string
		result   string
		warnings []string
		errors   []string
	}{
		{name: "warned, by default within 30 days", result: "Succeeded", warnings: warnings},
		{name: "within 5 days: the expired one only", inputs: map[string]string{"ExpiryWarningDays": "5"}, result: "Succeeded", warnings: warnings[:1]},
		{name: "off", inputs: map[string]string{"ExpiryWarningDays": "0"}, result: "Succeeded"},
		{name: "failing", inputs: map[string]string{"ExpiryFails": "true"}, result: "Failed", errors: warnings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := w.Run(step{Filter: "*, gone", Inputs: tt.inputs})
			if res.Result != tt.result {
				t.Fatalf("result %s, want %s; log:\n%s", res.Result, tt.result, strings.Join(res.Log, "\n"))
			}
			// Every secret is set, even when the dates fail the step.
			if diff := cmp.Diff(vars, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, testworld.Issues(res, "warning")); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errors, testworld.Issues(res, "error")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.errors != nil {
				harness.MustContain(t, res.Log[len(res.Log)-1], "2 secret(s) expire within 30 day(s) or have expired, and ExpiryFails is true")
			}
		})
	}

	res := w.Run(step{Filter: "soon", Inputs: map[string]string{"ExpiryWarningDays": "soon"}})
	if res.Result != "Failed" {
		t.Fatalf("result %s, want Failed", res.Result)
	}
	if diff := cmp.Diff([]string{`input ExpiryWarningDays "soon" is not a number of days from 0 to 3650: use 0 to turn the expiry warning off, or e.g. 30`}, testworld.Issues(res, "error")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
