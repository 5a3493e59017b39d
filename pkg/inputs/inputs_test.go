package inputs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

func TestParseFilter(t *testing.T) {
	const v1 = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		in      string
		want    Filter
		wantErr string // substring; "" means no error
	}{
		{in: "*", want: Filter{All: true}},
		{in: " * ", want: Filter{All: true}},
		{in: "*,", want: Filter{All: true}},
		{in: "a", want: Filter{Secrets: []vaultref.Secret{{Name: "a"}}}},
		{in: " db-password , api-key ", want: Filter{Secrets: []vaultref.Secret{{Name: "db-password"}, {Name: "api-key"}}}},
		{in: "a,,b,", want: Filter{Secrets: []vaultref.Secret{{Name: "a"}, {Name: "b"}}}},
		{in: "a,A,a", want: Filter{Secrets: []vaultref.Secret{{Name: "a"}}}},
		{in: "cert/" + v1, want: Filter{Secrets: []vaultref.Secret{{Name: "cert", Version: v1}}}},
		{in: "cert/" + strings.ToUpper(v1), want: Filter{Secrets: []vaultref.Secret{{Name: "cert", Version: v1}}}},
		{in: "cert/" + v1 + ",cert", want: Filter{Secrets: []vaultref.Secret{{Name: "cert", Version: v1}, {Name: "cert"}}}},
		{in: strings.Repeat("x", 127), want: Filter{Secrets: []vaultref.Secret{{Name: strings.Repeat("x", 127)}}}},
		{in: "", wantErr: "input SecretsFilter is empty"},
		{in: " , ", wantErr: "input SecretsFilter is empty"},
		{in: "*,a", wantErr: "mixes '*'"},
		{in: "a b", wantErr: `entry "a b": character ' ' is not allowed`},
		{in: "a_b", wantErr: `character '_' is not allowed`},
		{in: "a;b", wantErr: `character ';' is not allowed`},
		{in: "a]b", wantErr: `character ']' is not allowed`},
		{in: "a*", wantErr: `character '*' is not allowed`},
		{in: strings.Repeat("x", 128), wantErr: "128 characters long"},
		{in: "cert/123", wantErr: "32 hexadecimal characters"},
		{in: "cert/" + v1 + "/x", wantErr: "32 hexadecimal characters"},
		{in: "cert/", wantErr: "32 hexadecimal characters"},
		{in: "/" + v1, wantErr: "the secret name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFilter(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "SecretsFilter") {
					t.Errorf("error %q does not name the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFilter(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestValidateVaultName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{"abc", ""},
		{"my-vault-01", ""},
		{"A" + strings.Repeat("b", 23), ""},
		{"", "is empty"},
		{"ab", "2 characters long"},
		{strings.Repeat("a", 25), "25 characters long"},
		{"1vault", "does not start with a letter"},
		{"-vault", "does not start with a letter"},
		{"vault-", "ends with '-'"},
		{"my--vault", "contains '--'"},
		{"my_vault", "character '_' is not allowed"},
		{"my vault", "character ' ' is not allowed"},
		{"https://x.vault.azure.net", "looks like a URL"},
		{"x.vault.azure.net", "looks like a URL"},
		{"vault\n##vso[task.setvariable variable=x]y", "is not a valid Key Vault name"},
		{"vault\nx", "character '\\n' is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateVaultName(tt.name)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateVaultName(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "KeyVaultName") {
				t.Fatalf("ValidateVaultName(%q) = %v, want an error naming KeyVaultName and containing %q", tt.name, err, tt.wantErr)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "True": true, " TRUE ": true, "false": false, "": false, "1": false, "yes": false} {
		if got := Bool(in); got != want {
			t.Errorf("Bool(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"*", "a,b", "cert/0123456789abcdef0123456789abcdef", " , ", "a;b]c", "*,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFilter(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if got.All == (len(got.Secrets) > 0) {
			t.Fatalf("ParseFilter(%q) = %+v: exactly one of All and Secrets must be set", s, got)
		}
		for _, sec := range got.Secrets {
			if vaultref.CheckName(sec.Name) != nil {
				t.Fatalf("ParseFilter(%q) accepted invalid name %q", s, sec.Name)
			}
			if sec.Version != "" && !vaultref.IsVersion(sec.Version) {
				t.Fatalf("ParseFilter(%q) accepted invalid version %q", s, sec.Version)
			}
		}
	})
}

func FuzzValidateVaultName(f *testing.F) {
	for _, s := range []string{"abc", "my--vault", "a-", "vault.azure.net", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateVaultName(s) != nil {
			return
		}
		// Anything accepted must be safe inside a host name and a
		// logging command.
		if len(s) < 3 || len(s) > 24 || strings.ContainsAny(s, ".;]%/\r\n ") || strings.Contains(s, "--") {
			t.Fatalf("accepted %q", s)
		}
	})
}
