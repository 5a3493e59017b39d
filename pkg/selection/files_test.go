package selection

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

func TestParseFiles(t *testing.T) {
	tests := []struct {
		in   string
		want []File
	}{
		{"", nil},
		{" , \n ", nil},
		{"signing-cert", []File{{Text: "signing-cert", Ref: vaultref.Secret{Name: "signing-cert"}, Var: "signing-cert.file"}}},
		{"tls as PEM, deploy-key  AS  raw\nold/" + strings.ToUpper(v1) + " as pfx", []File{
			{Text: "tls as PEM", Ref: vaultref.Secret{Name: "tls"}, Format: certformat.PEM, Var: "tls.file"},
			{Text: "deploy-key  AS  raw", Ref: vaultref.Secret{Name: "deploy-key"}, Format: certformat.Raw, Var: "deploy-key.file"},
			{Text: "old/" + strings.ToUpper(v1) + " as pfx", Ref: vaultref.Secret{Name: "old", Version: v1}, Format: certformat.PFX, Var: "old.file"},
		}},
		// Only the device names themselves are Windows'.
		{"con-x, console, com10, lpt, nul2", []File{
			{Text: "con-x", Ref: vaultref.Secret{Name: "con-x"}, Var: "con-x.file"},
			{Text: "console", Ref: vaultref.Secret{Name: "console"}, Var: "console.file"},
			{Text: "com10", Ref: vaultref.Secret{Name: "com10"}, Var: "com10.file"},
			{Text: "lpt", Ref: vaultref.Secret{Name: "lpt"}, Var: "lpt.file"},
			{Text: "nul2", Ref: vaultref.Secret{Name: "nul2"}, Var: "nul2.file"},
		}},
		{"a\r\nb", []File{
			{Text: "a", Ref: vaultref.Secret{Name: "a"}, Var: "a.file"},
			{Text: "b", Ref: vaultref.Secret{Name: "b"}, Var: "b.file"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFiles(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseFilesRefuses: each refusal names the input, the entry and what to do.
func TestParseFilesRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cert as", `input SecretsToFiles entry "cert as": 'as' needs a format: pem, pfx or raw (e.g. cert as pfx)`},
		{"cert as der", `input SecretsToFiles entry "cert as der": unknown file format "der": use raw, pem or pfx`},
		{"cert pfx", `input SecretsToFiles entry "cert pfx": an entry is name, name/version, or either followed by 'as pem', 'as pfx' or 'as raw' (e.g. signing-cert as pfx)`},
		{"cert as pfx now", `entry "cert as pfx now": an entry is name, name/version`},
		{"cert_1", `input SecretsToFiles entry "cert_1": character '_' is not allowed in a secret name (only letters, digits and '-')`},
		{"cert/123", `input SecretsToFiles entry "cert/123": the version after '/' must be 32 hexadecimal characters`},
		{"/" + v1, `the secret name is empty`},
		{"app-*", `SecretsToFiles names secrets one by one; patterns and tags select secrets only in SecretsFilter`},
		{"TAG:env=prod", `patterns and tags select secrets only in SecretsFilter`},
		{"!cert", `'!' and '?' belong to SecretsFilter`},
		{"cert?", `'!' and '?' belong to SecretsFilter`},
		{"cert, CERT as pem", `input SecretsToFiles entries "cert" and "CERT as pem" would both set variable CERT.file: write one file per secret (keep one entry)`},
		{"cert, cert/" + v1, `entries "cert" and "cert/` + v1 + `" would both set variable cert.file`},
		{"system", `input SecretsToFiles entry "system": a secret named system cannot be written to a file: its path would go in variable system.file, which the agent and the pipeline own. Copy the secret to another name in the vault and name that one here`},
		{"Agent as pem", `a secret named Agent cannot be written to a file: its path would go in variable Agent.file`},
		{"con", `input SecretsToFiles entry "con": a secret named con cannot be written to a file: Windows reserves that name, with any extension and in any case, for a device (CON, PRN, AUX, NUL, COM0 to COM9, LPT0 to LPT9), so a Windows agent would write to the device, not a file. Copy the secret to another name in the vault and name that one here`},
		{"NUL as pem", `a secret named NUL cannot be written to a file: Windows reserves that name`},
		{"Prn/" + v1 + " as pfx", `a secret named Prn cannot be written to a file: Windows reserves that name`},
		{"aux as raw", `a secret named aux cannot be written to a file: Windows reserves that name`},
		{"com1", `a secret named com1 cannot be written to a file: Windows reserves that name`},
		{"COM0", `a secret named COM0 cannot be written to a file: Windows reserves that name`},
		{"lpt9 as pem", `a secret named lpt9 cannot be written to a file: Windows reserves that name`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFiles(tt.in)
			if err == nil {
				t.Fatalf("parseFiles(%q) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "input SecretsToFiles entr") {
				t.Errorf("parseFiles(%q) error:\n%s\nwant it to contain:\n%s", tt.in, err, tt.want)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	e := File{Ref: vaultref.Secret{Name: "Signing-Cert", Version: v1}}
	got := []string{e.FileName(certformat.PFX), e.FileName(certformat.PEM), e.FileName(certformat.Raw)}
	if diff := cmp.Diff([]string{"Signing-Cert.pfx", "Signing-Cert.pem", "Signing-Cert"}, got); diff != "" {
		t.Errorf("file names (-want +got):\n%s", diff)
	}
}
