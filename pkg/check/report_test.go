package check

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// TestReport: the check's report is the other rendering of a run's
// outcome: what a pipeline would get, with names, versions and sizes, the
// same warnings and errors, and a verdict.
func TestReport(t *testing.T) {
	const v = "0123456789abcdef0123456789abcdef"
	ref := func(name string) vaultref.Secret { return vaultref.Secret{Name: name} }
	set := []selection.Assigned{
		{Secret: ref("b"), Vars: []string{"b"}, Version: v, ContentType: "text/plain"},
		{Secret: vaultref.Secret{Name: "a", Version: v}, Vars: []string{"OLD_A", "a"}, Version: v},
	}
	files := []task.File{{Entry: selection.File{Text: "c as pem", Ref: ref("c"), Format: certformat.PEM, Var: "c.file"}, Format: certformat.PEM, Version: v, ContentType: "application/x-pkcs12", Size: 42}}
	tests := []struct {
		name string
		d    task.Downloaded
		out  task.Outcome
		used string
		want string
	}{
		{
			name: "would succeed", used: "the Azure CLI (az)",
			out: task.Outcome{
				Listing: &task.Listing{Found: 4, Selected: 3, Skipped: 1, Narrowed: true, Selectors: []task.Count{{Entry: "b*", N: 3}},
					Excluded: []selection.Skipped{{Secret: "b-old", Why: "excluded by !b-old"}}, Skips: []selection.Skipped{{Secret: "b-off", Why: "disabled"}}},
				Set: set, Files: files,
				Warnings: []task.Issue{{Kind: task.NoKey, Text: "Secret 'c' has no private key"}},
				Result:   vso.Succeeded, Message: "Downloaded 3 secret(s) from kv1, wrote 1 file(s)",
			},
			want: `Signed in with the Azure CLI (az): a pipeline gets what its service connection may read, which this check cannot see.

Listed 4 secret(s); 3 selected, 1 of them skipped.
  b* selects 3
Skipped (2):
  b-off  disabled
  b-old  excluded by !b-old
Secret variables (3):
  a      <- a version ` + v + `
  b      <- b version ` + v + ` (text/plain)
  OLD_A  <- a version ` + v + `
Files (1), each path in a plain variable:
  c.file  <- c version ` + v + ` (application/x-pkcs12), written as c.pem, 42 bytes
Warnings (1):
  Secret 'c' has no private key

A pipeline with these inputs would succeed: Downloaded 3 secret(s) from kv1, wrote 1 file(s).
`,
		},
		{
			name: "would fail for some secrets",
			out: task.Outcome{
				Errors: []task.Issue{{Kind: task.SecretFailed, Text: "Secret 'x': gone"}},
				Result: vso.Failed, Message: "1 of 1 secret(s) could not be downloaded from kv1",
			},
			want: `
Secret variables (0):
Errors (1):
  Secret 'x': gone

A pipeline with these inputs would fail: 1 of 1 secret(s) could not be downloaded from kv1.
`,
		},
		{
			name: "would fail for one cause",
			out: task.Outcome{
				Errors: []task.Issue{{Kind: task.RunFailed, Text: "Could not list the secrets of vault kv1: denied"}},
				Result: vso.Failed, Message: "Could not list the secrets of vault kv1: denied",
			},
			want: `
Secret variables (0):
Errors (1):
  Could not list the secrets of vault kv1: denied

A pipeline with these inputs would fail, as the error above says.
`,
		},
		{
			name: "the sign-in failed", used: "Azure PowerShell",
			d: task.Downloaded{ListErr: &SignInError{Err: errors.New("no")}},
			out: task.Outcome{
				Errors: []task.Issue{{Kind: task.RunFailed, Text: "Could not list the secrets of vault kv1: sign in"}},
				Result: vso.Failed, Message: "Could not list the secrets of vault kv1: sign in",
			},
			want: `Signed in with Azure PowerShell: a pipeline gets what its service connection may read, which this check cannot see.

Errors (1):
  Could not list the secrets of vault kv1: sign in

The check could not sign in, so it cannot tell what a pipeline would get.
`,
		},
		{
			name: "canceled while converting",
			out:  task.Outcome{Canceled: true, Halt: &task.Halted{CutShort: []string{"c as pem", "d"}}, Exit: task.ExitCanceled},
			want: `
Stopped while converting SecretsToFiles entries c as pem, d.

Canceled: the check did not finish.
`,
		},
		{
			name: "out of time",
			out: task.Outcome{Halt: &task.Halted{}, Errors: []task.Issue{{Kind: task.RunFailed, Text: "The time budget of 5m0s ran out"}},
				Result: vso.Failed, Message: "The time budget of 5m0s ran out"},
			want: `
Errors (1):
  The time budget of 5m0s ran out

A pipeline with these inputs would fail, as the error above says.
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := newPrinter(&b)
			p.report(tt.d, tt.out, tt.used)
			p.flush()
			if diff := cmp.Diff(strings.Split(tt.want, "\n"), strings.Split(b.String(), "\n")); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}
