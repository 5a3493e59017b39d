package inputs

import (
	"strings"
	"testing"
)

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
