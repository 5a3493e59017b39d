package check

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
)

// The check end to end (the binary, a stand-in az, the local cloud) is in
// cmd/gokeyvault; these are its parts.

func TestCloudName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"", "AzureCloud", ""},
		{" azurecloud ", "AzureCloud", ""},
		{"AZURECHINACLOUD", "AzureChinaCloud", ""},
		{"AzureUSGovernment", "AzureUSGovernment", ""},
		{"AzureStack", "", `--cloud "AzureStack" is not a cloud the check knows: use AzureCloud, AzureChinaCloud or AzureUSGovernment`},
	}
	for _, tt := range tests {
		got, err := CloudName(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("CloudName(%q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.err)
		}
	}
}

// source is a credential that answers as told and counts its calls.
type source struct {
	tok   string
	err   error
	calls int
}

func (s *source) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.calls++
	return azcore.AccessToken{Token: s.tok, ExpiresOn: time.Now().Add(time.Hour)}, s.err
}

// TestSignIn: the first source that is installed decides; the report names
// it; its failure says how to sign in, for the tenant asked; a vault of
// another tenant than --tenant is refused before any tool is run.
func TestSignIn(t *testing.T) {
	notInstalled := func() *source {
		return &source{err: azidentity.NewCredentialUnavailableError("executable not found on path")}
	}
	tests := []struct {
		name       string
		tenant     string // --tenant
		vault      string // the tenant the vault's challenge names
		sources    []*source
		wantTok    string
		wantUsed   string
		wantErr    string
		wantCalled []int
	}{
		{"first installed wins", "", "t1", []*source{notInstalled(), {tok: "tok-b"}, {tok: "tok-c"}}, "tok-b", "b", "", []int{1, 1, 0}},
		{"an installed tool's refusal decides", "", "t1", []*source{{err: errors.New("ERROR: Please run 'az login'")}, {tok: "tok-b"}},
			"", "", "could not get a token with your sign-in: ChainedTokenCredential: failed to acquire a token. Attempted credentials: ERROR: Please run 'az login'. Sign in with az login --tenant t1 (or azd auth login, or Connect-AzAccount in Azure PowerShell) and check again", []int{1, 0}},
		{"nothing installed", "", "", []*source{notInstalled()}, "", "", "could not get a token with your sign-in: ChainedTokenCredential: failed to acquire a token. Attempted credentials: executable not found on path. Sign in with az login (or azd", []int{1}},
		{"another tenant", "mine", "t1", []*source{{tok: "tok-a"}}, "", "", "the vault belongs to tenant t1, not to --tenant mine: leave --tenant out, or give the vault's tenant", []int{0}},
		{"the tenant given", "T1", "t1", []*source{{tok: "tok-a"}}, "tok-a", "a", "", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srcs []Source
			for i, s := range tt.sources {
				srcs = append(srcs, Source{Name: string(rune('a' + i)), Credential: s})
			}
			s, err := NewSignIn(tt.tenant, srcs...)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, TenantID: tt.vault})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if tok.Token != tt.wantTok || s.Used() != tt.wantUsed || !strings.HasPrefix(gotErr, tt.wantErr) || (tt.wantErr == "") != (err == nil) {
				t.Errorf("GetToken = %q, used %q, error %q; want %q, %q, %q", tok.Token, s.Used(), gotErr, tt.wantTok, tt.wantUsed, tt.wantErr)
			}
			var calls []int
			for _, src := range tt.sources {
				calls = append(calls, src.calls)
			}
			if diff := cmp.Diff(tt.wantCalled, calls); diff != "" {
				t.Errorf("calls per source (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrinterWritesNoCommand: what a vault or a tool said cannot become a
// logging command when a check runs in a pipeline's script step.
func TestPrinterWritesNoCommand(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter(&b)
	p.line("  %s\t%s", "##vso[task.setvariable variable=x]y", "two\nlines ##VSO[task.complete result=Failed]")
	p.flush()
	want := "  **vso[task.setvariable variable=x]y  two lines **vso[task.complete result=Failed]\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestPrinterShowsControls: what a vault or a tool said cannot drive the
// developer's terminal: C0 and C1 controls (U+009B is CSI on many
// terminals) and bidirectional overrides show as escapes.
func TestPrinterShowsControls(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter(&b)
	p.line("  %s\t%s", "name\u009b2J", "\x1b[31mred\x07 cert.\u202egnp.exe \u2066\u2069")
	p.line("%s", describe("cert", "", "application/\u009b31mpem\u202e"))
	p.flush()
	want := "  name\\u009b2J  \\x1b[31mred\\x07 cert.\\u202egnp.exe \\u2066\\u2069\n" +
		"cert (application/\\u009b31mpem\\u202e)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
