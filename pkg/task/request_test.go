package task

import (
	"strings"
	"testing"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// TestValidateVaultName: the rule itself is vaultref's (TestCheckVault);
// here, that the message names the input, the rule and the fix, on one
// line, whatever the user typed.
func TestValidateVaultName(t *testing.T) {
	const rule = " (" + vaultref.VaultRule + "); use the name of the vault, not its URL"
	tests := []struct{ name, want string }{
		{"my-vault-01", ""},
		{"", "input KeyVaultName is empty: set it to the name of the vault (" + vaultref.VaultRule + ")"},
		{"my--vault", `input KeyVaultName "my--vault" is not a valid Key Vault name: it contains '--'` + rule},
		{"https://x.vault.azure.net", `input KeyVaultName "https://x.vault.azure.net" is not a valid Key Vault name: it looks like a URL or host name` + rule},
		{"v\n##vso[x]", `input KeyVaultName "v ##vso[x]" is not a valid Key Vault name: character '\n' is not allowed` + rule},
	}
	for _, tt := range tests {
		got := ""
		if err := validateVaultName(tt.name); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("validateVaultName(%q) = %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func FuzzValidateVaultName(f *testing.F) {
	for _, s := range []string{"abc", "my--vault", "a-", "vault.azure.net", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateVaultName(s) != nil {
			return
		}
		// Anything accepted must be safe inside a host name and a
		// logging command.
		if len(s) < 3 || len(s) > 24 || strings.ContainsAny(s, ".;]%/\r\n ") || strings.Contains(s, "--") {
			t.Fatalf("accepted %q", s)
		}
	})
}
