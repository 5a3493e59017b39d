package task

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Request is what a run asks of its vault, and how its report speaks of
// it: what Download fetches and Summarise reports. gokeyvault check builds
// one with NewRequest too, so that it cannot disagree with a run.
type Request struct {
	Vault  string          // KeyVaultName
	Plan   *selection.Plan // SecretsFilter and SecretsToFiles
	Budget time.Duration   // the whole run's, GoKeyVault.Timeout
	// Outputs: each variable is also an output variable of the step
	// (OutputVariables).
	Outputs bool
	Expiry  Expiry
}

// Expiry is what a run says of secrets close to their expiry date.
type Expiry struct {
	// Days: a secret set or written that expires within this many days
	// gets a warning, as does one set though expired; 0 says nothing
	// (ExpiryWarningDays).
	Days int
	// Fails: those warnings fail the step, after everything else was set
	// (ExpiryFails).
	Fails bool
}

// DefaultExpiryDays is ExpiryWarningDays's default.
const DefaultExpiryDays = 30

// maxExpiryDays bounds ExpiryWarningDays: ten years is more than any
// rotation policy warns ahead of.
const maxExpiryDays = 3650

// ParseExpiryDays reads a number of days for the expiry warning; name
// names where it came from (the input, a flag) in the error.
func ParseExpiryDays(name, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultExpiryDays, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxExpiryDays {
		return 0, fmt.Errorf("%s %q is not a number of days from 0 to %d: use 0 to turn the expiry warning off, or e.g. %d", name, vso.Clip(s, 40), maxExpiryDays, DefaultExpiryDays)
	}
	return n, nil
}

// NewRequest checks the inputs that say what to download: the vault's
// name and both inputs' entries. A budget of 0 is DefaultBudget. An error
// is bad input: its message names the input and what to do.
func NewRequest(vault, filter, toFiles string, budget time.Duration) (Request, error) {
	r := Request{Vault: strings.TrimSpace(vault), Budget: budget, Expiry: Expiry{Days: DefaultExpiryDays}}
	if r.Budget <= 0 {
		r.Budget = DefaultBudget
	}
	if err := validateVaultName(r.Vault); err != nil {
		return r, err
	}
	var err error
	r.Plan, err = selection.ParseInputs(filter, toFiles)
	return r, err
}

// validateVaultName checks the KeyVaultName input: Key Vault's rule
// (vaultref's), in a message that names the input and the fix.
func validateVaultName(name string) error {
	if name == "" {
		return fmt.Errorf("input KeyVaultName is empty: set it to the name of the vault (%s)", vaultref.VaultRule)
	}
	if err := vaultref.CheckVault(name); err != nil {
		return fmt.Errorf("input KeyVaultName %q is not a valid Key Vault name: %w (%s); use the name of the vault, not its URL", vso.Clip(name, 80), err, vaultref.VaultRule)
	}
	return nil
}
