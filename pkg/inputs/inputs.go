// Package inputs validates the task's inputs before anything touches the
// network: a bad vault name or filter fails in milliseconds with a message
// that names the input and the rule, instead of as a DNS error or a 400.
package inputs

import (
	"fmt"
	"strings"

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
		return fmt.Errorf("input KeyVaultName %q is not a valid Key Vault name: %v (%s); use the name of the vault, not its URL", clip(name), err, vaultref.VaultRule)
	}
	return nil
}

// Filter is the parsed SecretsFilter input.
type Filter struct {
	All     bool              // '*': every enabled, currently valid secret of the vault
	Secrets []vaultref.Secret // otherwise the named entries, in input order, without duplicates
}

// ParseFilter parses SecretsFilter: entries separated by ',', trimmed, empty
// ones dropped; '*' alone means all; otherwise each entry is a secret name
// or name/version.
func ParseFilter(s string) (Filter, error) {
	var f Filter
	seen := map[string]bool{}
	star := false
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if item == "*" {
			star = true
			continue
		}
		sec, err := parseEntry(item)
		if err != nil {
			return Filter{}, err
		}
		// Key Vault names are case-insensitive: asking twice would only cost
		// a request and set the same variable twice.
		key := strings.ToLower(sec.String())
		if seen[key] {
			continue
		}
		seen[key] = true
		f.Secrets = append(f.Secrets, sec)
	}
	switch {
	case star && len(f.Secrets) > 0:
		return Filter{}, fmt.Errorf("input SecretsFilter mixes '*' with secret names: use '*' alone to download every secret, or list only names")
	case star:
		return Filter{All: true}, nil
	case len(f.Secrets) == 0:
		return Filter{}, fmt.Errorf("input SecretsFilter is empty: use '*' for every secret, or a comma-separated list of secret names")
	}
	return f, nil
}

func parseEntry(item string) (vaultref.Secret, error) {
	name, version, pinned := strings.Cut(item, "/")
	if err := vaultref.CheckName(name); err != nil {
		return vaultref.Secret{}, fmt.Errorf("input SecretsFilter entry %q: %w", clip(item), err)
	}
	if !pinned {
		return vaultref.Secret{Name: name}, nil
	}
	if !vaultref.IsVersion(version) {
		return vaultref.Secret{}, fmt.Errorf("input SecretsFilter entry %q: the version after '/' must be 32 hexadecimal characters, as shown in the portal's secret version list (write name/version, e.g. db-password/0123456789abcdef0123456789abcdef)", clip(item))
	}
	return vaultref.Secret{Name: name, Version: strings.ToLower(version)}, nil
}

// clip keeps user text in messages short and on one line.
func clip(s string) string { return vso.Clip(s, 80) }

// Bool parses a boolean input the way the agent's task library does: only
// "true", in any case, is true.
func Bool(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }
