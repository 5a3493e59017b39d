package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/check"
	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

// gokeyvault check end to end: the binary as a developer runs it, signed
// in through a stand-in az (cmd/fakeaz) that gets its token from the local
// cloud's Entra ID, reaching the local cloud through HTTPS_PROXY and
// SSL_CERT_FILE like the task.

// ver is a stable secret version, so that the report compares exactly.
func ver(n int) string { return fmt.Sprintf("%032x", n) }

// checkWorld is a world whose vault the checks read, and the directory of
// the stand-in az's sign-in (signedIn false: no one is signed in).
func checkWorld(t *testing.T, signedIn bool) (*world, string) {
	t.Helper()
	w := newWorld(t)
	c := newCerts(t)
	for _, s := range []localcloud.Secret{
		{Name: "app-a", Value: "v-app-a", Version: ver(1), ContentType: "text/plain"},
		{Name: "app-b", Value: "v-app-b", Version: ver(2)},
		{Name: "app-test", Value: "v-app-test", Version: ver(3)},
		{Name: "app-old", Value: "v-app-old", Version: ver(4), Disabled: true},
		{Name: "legacy-key", Value: "v-legacy-key", Version: ver(5)},
		{Name: "db-password", Value: "v-db-password", Version: ver(6)},
		{Name: "signing-cert", Value: base64.StdEncoding.EncodeToString(c.pfx(t, false)), Version: ver(7), ContentType: pkcs12Type},
		{Name: "unrelated", Value: "v-unrelated", Version: ver(8)},
	} {
		w.Vault.Put(s)
	}
	w.Vault.SetFaults(localcloud.Faults{SecretDenied: map[string]string{"db-password": "ForbiddenByRbac"}})
	dir := t.TempDir()
	if signedIn {
		b, _ := json.Marshal(map[string]string{"tenant": tenantID, "clientId": clientID, "clientSecret": clientSecret})
		if err := os.WriteFile(filepath.Join(dir, "fakeaz.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return w, dir
}

type checked struct {
	stdout, stderr string
	code           int
	azCalls        []string // the command lines az was run with
}

// runCheckBinary runs gokeyvault check with args, az on PATH signed in
// from azConfig, and checks that nothing secret and no logging command
// is in its output.
func runCheckBinary(t *testing.T, w *world, azConfig string, args ...string) checked {
	t.Helper()
	cmd := exec.Command(checkBin, append([]string{"check"}, args...)...)
	cmd.Env = append(w.Cloud.Env(), "PATH="+azDir+string(os.PathListSeparator)+"/usr/bin:/bin", "HOME="+t.TempDir(), "AZURE_CONFIG_DIR="+azConfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	c := checked{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	if log, err := os.ReadFile(filepath.Join(azConfig, "fakeaz.log")); err == nil {
		c.azCalls = strings.Split(strings.TrimSpace(string(log)), "\n")
	}
	all := c.stdout + c.stderr
	for i, s := range append(append(w.Cloud.SecretValues(), w.Cloud.AccessTokens()...), clientSecret) {
		if strings.Contains(all, s) {
			t.Errorf("secret or token #%d in the check's output", i)
		}
	}
	if strings.Contains(all, "##vso") || strings.Contains(all, "goroutine ") {
		t.Errorf("a logging command or a panic trace in the check's output:\n%s", all)
	}
	return c
}

// normal replaces what changes from run to run: request ids and the sizes
// of files made from fresh keys.
func normal(s string) []string {
	s = regexp.MustCompile(`x-ms-request-id: [0-9a-f-]+`).ReplaceAllString(s, "x-ms-request-id: ID")
	s = regexp.MustCompile(`\d+ bytes`).ReplaceAllString(s, "N bytes")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

const azCall = "account get-access-token -o json --resource https://vault.azure.net --tenant " + tenantID

// TestCheckWouldFail: the report of a filter and a file entry a pipeline
// would fail with: each variable and the version behind it, the file, each
// skipped secret and why, the optional one missing, the denial with the
// task's fix; exit status 1. az is asked once, for the vault's tenant.
func TestCheckWouldFail(t *testing.T) {
	w, az := checkWorld(t, true)

	c := runCheckBinary(t, w, az, "--vault", vaultName, "--filter", "app-*, !app-test, legacy-key as LEGACY_KEY, db-password, maybe?", "--files", "signing-cert as pem")

	t.Logf("gokeyvault check output (exit status %d):\n%s", c.code, c.stdout)
	want := []string{
		"Vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
		"SecretsFilter: app-*, !app-test, legacy-key as LEGACY_KEY, db-password, maybe?",
		"SecretsToFiles: signing-cert as pem",
		"Signed in with the Azure CLI (az): a pipeline gets what its service connection may read, which this check cannot see.",
		"",
		"Listed 8 secret(s); 3 selected, 1 of them skipped.",
		"  app-* selects 3",
		"Skipped (2):",
		"  app-old   disabled",
		"  app-test  excluded by !app-test",
		"Secret variables (3):",
		"  app-a       <- app-a version " + ver(1) + " (text/plain)",
		"  app-b       <- app-b version " + ver(2),
		"  LEGACY_KEY  <- legacy-key version " + ver(5),
		"Files (1), each path in a plain variable:",
		"  signing-cert.file  <- signing-cert version " + ver(7) + " (application/x-pkcs12), written as signing-cert.pem, N bytes",
		"Warnings (1):",
		"  Optional secret 'maybe' is not set: not found in vault kv-e2e",
		"Errors (1):",
		`  Secret 'db-password': access denied by Azure RBAC: the vault uses role-based access control and the service connection's identity has no role that allows secret get. Assign it the role "Key Vault Secrets User": az role assignment create --role "Key Vault Secrets User" --assignee <application (client) ID of the service connection> --scope $(az keyvault show --name kv-e2e --query id -o tsv) (role assignments can take a few minutes to apply) (x-ms-request-id: ID)`,
		"",
		"A pipeline with these inputs would fail: 1 of 5 secret(s) could not be downloaded from kv-e2e.",
	}
	if diff := cmp.Diff(want, normal(c.stdout)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if c.code != check.ExitWouldFail || c.stderr != "" {
		t.Errorf("exit status %d, stderr %q; want 1 and nothing", c.code, c.stderr)
	}
	if diff := cmp.Diff([]string{azCall}, c.azCalls); diff != "" {
		t.Errorf("az calls (-want +got):\n%s", diff)
	}
}

// TestCheckOutcomes: a pipeline that would succeed exits 0; one that
// could not even start (bad input), or a check that cannot sign in, exits
// 1 and says why.
func TestCheckOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		signedIn bool
		args     []string
		code     int
		want     []string // the last lines of the report
		azCalls  []string
	}{
		{"would succeed", true, []string{"--filter", "app-a, legacy-key as LEGACY_KEY", "--files", "signing-cert"}, 0, []string{
			"Secret variables (2):",
			"  app-a       <- app-a version " + ver(1) + " (text/plain)",
			"  LEGACY_KEY  <- legacy-key version " + ver(5),
			"Files (1), each path in a plain variable:",
			"  signing-cert.file  <- signing-cert version " + ver(7) + " (application/x-pkcs12), written as signing-cert.pfx, N bytes",
			"",
			"A pipeline with these inputs would succeed: Downloaded 3 secret(s) from kv-e2e, wrote 1 file(s).",
		}, []string{azCall}},
		{"refused before any request", true, []string{"--filter", "app-a as system.debug"}, 1, []string{
			"",
			`A pipeline with these inputs would fail before any request: input SecretsFilter entry "app-a as system.debug": variable name "system.debug" is in the system. namespace, which the agent and the pipeline own; choose another name`,
		}, nil},
		{"not signed in", false, []string{"--filter", "*"}, 1, []string{
			"SecretsFilter: *",
			"",
			"Errors (1):",
			"  Could not list the secrets of vault kv-e2e: could not get a token with your sign-in: ChainedTokenCredential: failed to acquire a token. Attempted credentials: az: ERROR: Please run 'az login' to setup account.",
			"",
			"The check could not sign in, so it cannot tell what a pipeline would get.",
		}, []string{azCall}},
		{"another tenant", true, []string{"--filter", "app-a", "--tenant", "contoso.onmicrosoft.com"}, 1, []string{
			"SecretsFilter: app-a",
			"",
			"Errors (1):",
			"  Secret 'app-a': the vault belongs to tenant " + tenantID + ", not to --tenant contoso.onmicrosoft.com: leave --tenant out, or give the vault's tenant",
			"",
			"The check could not sign in, so it cannot tell what a pipeline would get.",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, az := checkWorld(t, tt.signedIn)
			c := runCheckBinary(t, w, az, append([]string{"--vault", vaultName}, tt.args...)...)
			got := normal(c.stdout)
			if len(got) > len(tt.want) {
				got = got[len(got)-len(tt.want):]
			}
			if diff := cmp.Diff(tt.want, got, cmpTrimSignIn()); diff != "" {
				t.Errorf("report (-want +got):\n%s\nwhole report:\n%s", diff, c.stdout)
			}
			if c.code != tt.code || c.stderr != "" {
				t.Errorf("exit status %d, stderr %q; want %d and nothing", c.code, c.stderr, tt.code)
			}
			if diff := cmp.Diff(tt.azCalls, c.azCalls); diff != "" {
				t.Errorf("az calls (-want +got):\n%s", diff)
			}
			if tt.azCalls == nil && tt.name == "refused before any request" && len(w.Cloud.ProxyLog()) != 0 {
				t.Errorf("requests before the input was refused: %v", w.Cloud.ProxyLog())
			}
		})
	}
}

// cmpTrimSignIn compares a sign-in failure up to az's own words and the
// period after them.
func cmpTrimSignIn() cmp.Option {
	return cmp.Transformer("signIn", func(s string) string {
		if i := strings.Index(s, "Please run 'az login' to setup account."); i >= 0 {
			return s[:i+len("Please run 'az login' to setup account.")]
		}
		return s
	})
}

// TestCheckCommandLine: -h in the usual form, usage errors (exit 2, on
// stderr), and no way to mistake the task's flags for check's or the
// other way round.
func TestCheckCommandLine(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"help", []string{"check", "-h"}, 0, checkUsage, ""},
		{"help, long", []string{"check", "--help"}, 0, checkUsage, ""},
		{"no vault", []string{"check"}, 2, "", "gokeyvault check: --vault is required: the name of the vault the pipeline reads\nRun 'gokeyvault check -h' for usage.\n"},
		{"a task flag", []string{"check", "--vault", "kv-e2e", "--stage", "main"}, 2, "", "gokeyvault check: flag provided but not defined: -stage\nRun 'gokeyvault check -h' for usage.\n"},
		{"an argument", []string{"check", "--vault", "kv-e2e", "now"}, 2, "", "gokeyvault check: unexpected argument \"now\": check takes flags only\nRun 'gokeyvault check -h' for usage.\n"},
		{"an unknown cloud", []string{"check", "--vault", "kv-e2e", "--cloud", "AzureStack"}, 2, "", "gokeyvault check: --cloud \"AzureStack\" is not a cloud the check knows: use AzureCloud, AzureChinaCloud or AzureUSGovernment\nRun 'gokeyvault check -h' for usage.\n"},
		{"a bad tenant", []string{"check", "--vault", "kv-e2e", "--tenant", "a;b"}, 2, "", "gokeyvault check: --tenant \"a;b\" is not a tenant ID or domain (letters, digits, '.' and '-')\nRun 'gokeyvault check -h' for usage.\n"},
		{"check after the task's flags", []string{"--stage", "main", "check"}, 2, "unexpected argument \"check\": the task takes flags only; gokeyvault check, first on the command line, checks a vault from your machine\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(checkBin, tt.args...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			if diff := cmp.Diff(tt.stdout, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stderr, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseCheck: what check's flags become; runCheck runs nothing on
// -h or a usage error.
func TestParseCheck(t *testing.T) {
	tests := []struct {
		args []string
		want check.Options
	}{
		{[]string{"--vault", "kv1"}, check.Options{Vault: "kv1", Filter: "*", Cloud: "AzureCloud", Expiry: task.Expiry{Days: 30}}},
		{[]string{"-vault=kv1", "-filter", "a, b", "--files", "c as pem", "--cloud", "azurechinacloud", "--tenant", tenantID},
			check.Options{Vault: "kv1", Filter: "a, b", Files: "c as pem", Cloud: "AzureChinaCloud", Tenant: tenantID, Expiry: task.Expiry{Days: 30}}},
		{[]string{"--vault", "kv1", "--expiry-days", "7", "--expiry-fails"},
			check.Options{Vault: "kv1", Filter: "*", Cloud: "AzureCloud", Expiry: task.Expiry{Days: 7, Fails: true}}},
	}
	for _, tt := range tests {
		var got *check.Options
		code := runCheck(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{}, func(_ context.Context, o check.Options) int {
			o.Out = nil
			got = &o
			return 7
		})
		if code != 7 || got == nil {
			t.Fatalf("runCheck(%q) = %d without running the check", tt.args, code)
		}
		if diff := cmp.Diff(tt.want, *got, cmp.AllowUnexported(check.Options{})); diff != "" {
			t.Errorf("options of %q (-want +got):\n%s", tt.args, diff)
		}
	}
	for _, args := range [][]string{{"-h"}, {}, {"--vault"}} {
		runCheck(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}, func(context.Context, check.Options) int {
			t.Errorf("runCheck(%q) ran the check", args)
			return 0
		})
	}
}
