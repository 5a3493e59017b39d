package task

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// explained is an error that carries its own explanation, as the task's
// own errors do: diagnose quotes it as it is.
type explained string

func (e explained) Error() string { return string(e) }
func (explained) Explained()      {}

func mustRequest(t *testing.T, filter, files string) Request {
	t.Helper()
	req, err := NewRequest("kv1", filter, files, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func ref(name string) vaultref.Secret { return vaultref.Secret{Name: name} }

// TestSummarise: what a download did becomes one structured outcome,
// from a table of downloads; its rendering is TestOutcomeLog's.
func TestSummarise(t *testing.T) {
	second := time.Second
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	dc := DiagnoseContext("kv1", cloud.Cloud{Name: "AzureCloud", VaultSuffix: "vault.azure.net"})
	cert := selection.File{Text: "cert as pem", Ref: ref("cert"), Format: certformat.PEM, Var: "cert.file"}
	tests := []struct {
		name          string
		filter, files string
		expiry        Expiry // zero: none
		d             Downloaded
		want          Outcome
	}{
		{
			name: "listed, selected, excluded, skipped, shadowed, set", filter: "app-*, tag:env=prod, !app-old, x as app-b",
			d: Downloaded{
				Report: keyvault.Report{Listed: 5, Selected: 3, Skipped: []keyvault.Skip{{Name: "app-z", Reason: "disabled"}}, Downloaded: 2},
				Selection: selection.Result{
					Set:          []selection.Assigned{{Secret: ref("app-a"), Vars: []string{"app-a"}}, {Secret: ref("x"), Vars: []string{"app-b"}}},
					Selected:     map[string]int{"app-*": 3},
					Excluded:     []selection.Skipped{{Secret: "app-old", Why: "excluded by !app-old"}},
					Shadowed:     []selection.Skipped{{Secret: "app-b", Why: "its variable is set by the entry x as app-b"}},
					AlsoSelected: 1, AlsoSkipped: []selection.Skipped{{Secret: "app-c", Why: "expired 2026-01-01T00:00:00Z"}},
				},
				Elapsed: second,
			},
			want: Outcome{
				Vault: "kv1",
				Listing: &Listing{Found: 5, Selected: 4, Skipped: 2, Narrowed: true,
					Selectors: []Count{{"app-*", 3}, {"tag:env=prod", 0}},
					Excluded:  []selection.Skipped{{Secret: "app-old", Why: "excluded by !app-old"}},
					Skips:     []selection.Skipped{{Secret: "app-c", Why: "expired 2026-01-01T00:00:00Z"}, {Secret: "app-z", Why: "disabled"}}},
				Set: []selection.Assigned{{Secret: ref("app-a"), Vars: []string{"app-a"}}, {Secret: ref("x"), Vars: []string{"app-b"}}},
				Warnings: []Issue{
					{Unselected, "tag:env=prod selected no secret of vault kv1"},
					{Shadowed, "Secret 'app-b' is selected but not set from the list: its variable is set by the entry x as app-b"},
				},
				Totals: &Totals{Downloaded: 2, Elapsed: second},
				Result: vso.Succeeded, Message: "Downloaded 2 secret(s) from kv1",
			},
		},
		{
			name: "named: missing, empty, a file without its key, failures", filter: "a, maybe?, gone", files: "cert as pem",
			d: Downloaded{
				Report: keyvault.Report{Downloaded: 3},
				Selection: selection.Result{
					Set:       []selection.Assigned{{Secret: ref("a"), Vars: []string{"a"}}},
					Empty:     []selection.Assigned{{Secret: ref("a"), Vars: []string{"a"}}},
					Missing:   []selection.Skipped{{Secret: "maybe", Why: "not found"}},
					Uncarried: []vaultref.Secret{ref("pct")},
					Failures:  []selection.Failure{{Ref: ref("gone"), Err: explained("it is gone: put it back")}},
				},
				Files:        []File{{Entry: cert, Format: certformat.PEM, Path: "/t/cert.pem", Size: 10, Managed: true, NoKey: true}},
				FileFailures: []FileFailure{{Entry: selection.File{Text: "key", Ref: ref("key"), Var: "key.file"}, Format: certformat.Raw, Err: explained("no")}},
				Elapsed:      second,
			},
			want: Outcome{
				Vault: "kv1",
				Set:   []selection.Assigned{{Secret: ref("a"), Vars: []string{"a"}}},
				Files: []File{{Entry: cert, Format: certformat.PEM, Path: "/t/cert.pem", Size: 10, Managed: true, NoKey: true}},
				Warnings: []Issue{
					{OptionalMissing, "Optional secret 'maybe' is not set: not found in vault kv1"},
					{EmptyValue, "Secret 'a' is empty: variable a is defined with an empty value"},
					{NoKey, "Secret 'cert' has no private key: the certificate's key is not exportable (exportable is false in its certificate policy), so the file in variable cert.file holds the certificate alone"},
				},
				Errors: []Issue{
					{SecretFailed, "Secret 'gone': it is gone: put it back"},
					{NotCarried, "Secret 'pct': its value holds a '%' followed by 0A, 0D, 3B or 5D, which this agent decodes into a line break, a semicolon or a bracket because its setting DECODE_PERCENTS is false: not set. Set DECODE_PERCENTS to true for the job, or change the value"},
					{FileFailed, "SecretsToFiles entry 'key': secret key (no content type) cannot be written as raw: no. No file was written"},
				},
				Totals: &Totals{Downloaded: 3, Elapsed: second},
				Result: vso.Failed, Message: "2 of 4 secret(s) could not be downloaded from kv1; 1 of 2 file(s) could not be written",
			},
		},
		{
			name: "the listing failed", filter: "app-*, db",
			d: Downloaded{ListErr: explained("the list was refused"), Report: keyvault.Report{Downloaded: 1},
				Selection: selection.Result{Set: []selection.Assigned{{Secret: ref("db"), Vars: []string{"db"}}}}},
			want: Outcome{
				Vault:  "kv1",
				Set:    []selection.Assigned{{Secret: ref("db"), Vars: []string{"db"}}},
				Totals: &Totals{Downloaded: 1},
				Errors: []Issue{{RunFailed, "Could not list the secrets of vault kv1: the list was refused (the entries app-* need the List permission; named entries need only Get)"}},
				Result: vso.Failed, Message: "Could not list the secrets of vault kv1: the list was refused (the entries app-* need the List permission; named entries need only Get)",
			},
		},
		{
			name: "one cause for every failure", filter: "a, b",
			d: Downloaded{Report: keyvault.Report{Shared: explained("the token was refused")},
				Selection: selection.Result{Failures: []selection.Failure{{Ref: ref("a"), Err: explained("x")}, {Ref: ref("b"), Err: explained("x")}}}},
			want: Outcome{
				Vault: "kv1", Totals: &Totals{},
				Errors: []Issue{{RunFailed, "Could not download secrets from vault kv1: the token was refused"}},
				Result: vso.Failed, Message: "Could not download secrets from vault kv1: the token was refused",
			},
		},
		{
			name: "out of time", filter: "a, b", files: "cert as pem",
			d: Downloaded{OutOfTime: true, CutShort: []string{"cert as pem"},
				Selection: selection.Result{Set: []selection.Assigned{{Secret: ref("a"), Vars: []string{"a"}}},
					Failures: []selection.Failure{{Ref: ref("b"), Err: explained("x")}}}},
			want: Outcome{
				Vault: "kv1", Set: []selection.Assigned{{Secret: ref("a"), Vars: []string{"a"}}}, Totals: &Totals{},
				Halt:   &Halted{Set: 1, CutShort: []string{"cert as pem"}},
				Errors: []Issue{{RunFailed, "The time budget of 2s ran out before vault kv1 was fully downloaded: 1 secret(s) set; 1 not downloaded: b; SecretsToFiles entries cert as pem were still being converted and were stopped. A certificate Key Vault made converts in milliseconds: check how these were made, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)"}},
				Result: vso.Failed, Message: "The time budget of 2s ran out before vault kv1 was fully downloaded: 1 secret(s) set; 1 not downloaded: b; SecretsToFiles entries cert as pem were still being converted and were stopped. A certificate Key Vault made converts in milliseconds: check how these were made, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)",
			},
		},
		{
			name: "members: one empty, one not there", filter: "cfg.user, cfg.empty, cfg.nope as N",
			d: Downloaded{
				Report: keyvault.Report{Downloaded: 1},
				Selection: selection.Result{
					Set:            []selection.Assigned{{Secret: ref("cfg"), Member: "empty", Vars: []string{"cfg.empty"}}, {Secret: ref("cfg"), Member: "user", Vars: []string{"cfg.user"}}},
					Empty:          []selection.Assigned{{Secret: ref("cfg"), Member: "empty", Vars: []string{"cfg.empty"}}},
					MemberFailures: []selection.MemberSkipped{{Entry: "cfg.nope as N", Secret: ref("cfg"), Why: "the value has no member nope"}},
				},
			},
			want: Outcome{
				Vault:    "kv1",
				Set:      []selection.Assigned{{Secret: ref("cfg"), Member: "empty", Vars: []string{"cfg.empty"}}, {Secret: ref("cfg"), Member: "user", Vars: []string{"cfg.user"}}},
				Warnings: []Issue{{EmptyValue, "Member empty of secret 'cfg' is empty: variable cfg.empty is defined with an empty value"}},
				Errors:   []Issue{{MemberFailed, "SecretsFilter entry 'cfg.nope as N' (secret cfg): the value has no member nope: not set. Check the entry's member path against the secret's JSON, or mark the entry optional with '?'"}},
				Totals:   &Totals{Downloaded: 1},
				Result:   vso.Failed, Message: "1 JSON member(s) could not be set",
			},
		},
		{
			name: "expiring, one line a secret however spelled; ExpiryFails keeps them beside a fatal failure", filter: "app-*, Legacy-Key as LK", files: "LEGACY-KEY as raw", expiry: Expiry{Days: 7, Fails: true},
			d: Downloaded{
				At: at, ListErr: explained("the list was refused"), Report: keyvault.Report{Downloaded: 1},
				Selection: selection.Result{Set: []selection.Assigned{{Secret: ref("Legacy-Key"), Vars: []string{"LK"}, Expires: at.Add(5*24*time.Hour + time.Hour)}}},
				Files:     []File{{Entry: selection.File{Text: "LEGACY-KEY as raw", Ref: ref("LEGACY-KEY"), Format: certformat.Raw, Var: "LEGACY-KEY.file"}, Format: certformat.Raw, Path: "/t/LEGACY-KEY", Size: 1, Expires: at.Add(5*24*time.Hour + time.Hour)}},
			},
			want: Outcome{
				Vault:  "kv1",
				Set:    []selection.Assigned{{Secret: ref("Legacy-Key"), Vars: []string{"LK"}, Expires: at.Add(5*24*time.Hour + time.Hour)}},
				Files:  []File{{Entry: selection.File{Text: "LEGACY-KEY as raw", Ref: ref("LEGACY-KEY"), Format: certformat.Raw, Var: "LEGACY-KEY.file"}, Format: certformat.Raw, Path: "/t/LEGACY-KEY", Size: 1, Expires: at.Add(5*24*time.Hour + time.Hour)}},
				Totals: &Totals{Downloaded: 1},
				Errors: []Issue{
					{Expiring, "Secret 'Legacy-Key' expires on 2026-06-06T01:00:00Z, in 5 day(s): renew it in vault kv1 before then"},
					{RunFailed, "Could not list the secrets of vault kv1: the list was refused (the entries app-* need the List permission; named entries need only Get)"},
				},
				Result: vso.Failed, Message: "Could not list the secrets of vault kv1: the list was refused (the entries app-* need the List permission; named entries need only Get)",
			},
		},
		{
			name: "canceled", filter: "a",
			d:    Downloaded{Canceled: true, Selection: selection.Result{Set: []selection.Assigned{{Secret: ref("a"), Vars: []string{"a"}}}}},
			want: Outcome{Vault: "kv1", Canceled: true, Halt: &Halted{Set: 1}, Exit: ExitCanceled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mustRequest(t, tt.filter, tt.files)
			req.Expiry = tt.expiry
			if diff := cmp.Diff(tt.want, Summarise(req, dc, tt.d)); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOutcomeLog: the step's log is one rendering of an outcome, in the
// order a reader follows: the listing and what each entry selected, what
// was set and written, the warnings, the totals, the errors.
func TestOutcomeLog(t *testing.T) {
	a := selection.Assigned{Secret: ref("a"), Vars: []string{"a"}}
	renamed := selection.Assigned{Secret: vaultref.Secret{Name: "old", Version: "0123456789abcdef0123456789abcdef"}, Vars: []string{"OLD", "old"}}
	file := File{Entry: selection.File{Text: "c", Ref: ref("c"), Var: "c.file"}, Format: certformat.PFX, Path: "/t/c.pfx"}
	tests := []struct {
		name string
		o    Outcome
		want []Line
	}{
		{"everything", Outcome{
			Listing: &Listing{Found: 4, Selected: 3, Skipped: 1, Narrowed: true, Selectors: []Count{{"a*", 3}, {"tag:x=y", 0}},
				Excluded: []selection.Skipped{{Secret: "a-old", Why: "excluded by !a-old"}}, Skips: []selection.Skipped{{Secret: "a-off", Why: "disabled"}}},
			Set: []selection.Assigned{a, renamed}, Outputs: true, Files: []File{file},
			Warnings: []Issue{{Unselected, "tag:x=y selected no secret of vault kv"}, {EmptyValue, "empty"}},
			Totals:   &Totals{Downloaded: 3, Elapsed: 1500 * time.Millisecond},
			Errors:   []Issue{{SecretFailed, "Secret 'b': gone"}},
		}, []Line{
			{Plain, "Found 4 secret(s), 3 selected: 2 enabled and valid, 1 skipped"},
			{Plain, "  a* selected 3"},
			{Plain, "  tag:x=y selected 0"},
			{Plain, "  a-old: excluded by !a-old"},
			{Plain, "  skipped a-off: disabled"},
			{Warning, "tag:x=y selected no secret of vault kv"},
			{Plain, "Set 2 secret(s), each also an output variable of this step:"},
			{Plain, "  a"},
			{Plain, "  old/0123456789abcdef0123456789abcdef -> OLD, old"},
			{Plain, "Wrote 1 file(s):"},
			{Plain, "  c -> /t/c.pfx (pfx, variable c.file)"},
			{Warning, "empty"},
			{Plain, "Downloaded 3 secret(s) in 1.50 s"},
			{Error, "Secret 'b': gone"},
		}},
		{"all listed and valid", Outcome{Listing: &Listing{Found: 2, Selected: 2}, Set: []selection.Assigned{a}, Totals: &Totals{Downloaded: 1}}, []Line{
			{Plain, "Found 2 secret(s): 2 enabled and valid, 0 skipped"},
			{Plain, "Set 1 secret(s):"},
			{Plain, "  a"},
			{Plain, "Downloaded 1 secret(s) in 0.00 s"},
		}},
		{"failed before any request", failed("input KeyVaultName is empty"), []Line{{Error, "input KeyVaultName is empty"}}},
		{"members", Outcome{Set: []selection.Assigned{a, {Secret: ref("cfg"), Member: "hosts[0]", Vars: []string{"H"}}, {Secret: ref("cfg"), Member: "user", Vars: []string{"cfg.user"}}}}, []Line{
			{Plain, "Set 1 secret(s) and 2 JSON member(s):"},
			{Plain, "  a"},
			{Plain, "  cfg.hosts[0] -> H"},
			{Plain, "  cfg.user"},
		}},
		{"members only", Outcome{Set: []selection.Assigned{{Secret: ref("cfg"), Member: "user", Vars: []string{"cfg.user"}}}}, []Line{
			{Plain, "Set 1 JSON member(s):"},
			{Plain, "  cfg.user"},
		}},
		{"canceled", Outcome{Canceled: true, Halt: &Halted{Set: 1, Files: 2, CutShort: []string{"x", "y"}}, Set: []selection.Assigned{a}}, []Line{
			{Plain, "Canceled after 1 secret(s) were set and 2 file(s) written"},
			{Plain, "Stopped converting SecretsToFiles entries x, y"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.o.Log()); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}
