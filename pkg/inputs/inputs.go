// Package inputs reads the task's plain inputs before anything touches the
// network: a bad vault name fails in milliseconds with a message that names
// the input and the rule, instead of as a DNS error. SecretsFilter has a
// grammar of its own, in pkg/selection.
package inputs

import (
	"fmt"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// ValidateVaultName checks Key Vault's naming rules for the KeyVaultName
// input.
func ValidateVaultName(name string) error {
	if name == "" {
		return fmt.Errorf("input KeyVaultName is empty: set it to the name of the vault (%s)", vaultref.VaultRule)
	}
	if err := vaultref.CheckVault(name); err != nil {
		return fmt.Errorf("input KeyVaultName %q is not a valid Key Vault name: %w (%s); use the name of the vault, not its URL", clip(name), err, vaultref.VaultRule)
	}
	return nil
}

// clip keeps user text in messages short and on one line.
func clip(s string) string { return vso.Clip(s, 80) }
