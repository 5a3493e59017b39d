// Package inputs validates the task's inputs before anything touches the
// network: a bad vault name or filter fails in milliseconds with a message
// that names the input and the rule, instead of as a DNS error or a 400.
package inputs

import (
	"fmt"
	"strings"
)

// ValidateVaultName checks Key Vault's naming rules.
func ValidateVaultName(name string) error {
	const rule = "a vault name is 3-24 characters of letters, digits and '-', starts with a letter, ends with a letter or digit and has no '--'"
	fail := func(why string) error {
		return fmt.Errorf("input KeyVaultName %q is not a valid Key Vault name: %s (%s); use the name of the vault, not its URL", clip(name), why, rule)
	}
	switch {
	case name == "":
		return fmt.Errorf("input KeyVaultName is empty: set it to the name of the vault (%s)", rule)
	case strings.Contains(name, "://") || strings.Contains(name, "."):
		return fail("it looks like a URL or host name")
	case len(name) < 3 || len(name) > 24:
		return fail(fmt.Sprintf("it is %d characters long", len(name)))
	}
	for i := 0; i < len(name); i++ {
		if !isAlnum(name[i]) && name[i] != '-' {
			return fail(fmt.Sprintf("character %q is not allowed", rune(name[i])))
		}
	}
	switch {
	case !isLetter(name[0]):
		return fail("it does not start with a letter")
	case name[len(name)-1] == '-':
		return fail("it ends with '-'")
	case strings.Contains(name, "--"):
		return fail("it contains '--'")
	}
	return nil
}

// Secret is one entry of SecretsFilter: a name, optionally pinned to a
// version.
type Secret struct {
	Name    string
	Version string // "" means the latest version
}

// String renders the entry the way the user wrote it, which is also the
// name of the variable it sets.
func (s Secret) String() string {
	if s.Version == "" {
		return s.Name
	}
	return s.Name + "/" + s.Version
}

// Filter is the parsed SecretsFilter input.
type Filter struct {
	All     bool     // '*': every enabled, currently valid secret of the vault
	Secrets []Secret // otherwise the named entries, in input order, without duplicates
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

func parseEntry(item string) (Secret, error) {
	name, version, pinned := strings.Cut(item, "/")
	if err := ValidateSecretName(name); err != nil {
		return Secret{}, fmt.Errorf("input SecretsFilter entry %q: %w", clip(item), err)
	}
	if !pinned {
		return Secret{Name: name}, nil
	}
	if !isVersion(version) {
		return Secret{}, fmt.Errorf("input SecretsFilter entry %q: the version after '/' must be 32 hexadecimal characters, as shown in the portal's secret version list (write name/version, e.g. db-password/0123456789abcdef0123456789abcdef)", clip(item))
	}
	return Secret{Name: name, Version: strings.ToLower(version)}, nil
}

// ValidateSecretName checks Key Vault's secret naming rules: 1-127 letters,
// digits and '-'. Names from list replies are checked too, because a name
// becomes a variable name inside a logging command.
func ValidateSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("the secret name is empty")
	}
	if len(name) > 127 {
		return fmt.Errorf("the secret name is %d characters long; Key Vault allows at most 127", len(name))
	}
	for i := 0; i < len(name); i++ {
		if !isAlnum(name[i]) && name[i] != '-' {
			return fmt.Errorf("character %q is not allowed in a secret name (only letters, digits and '-')", rune(name[i]))
		}
	}
	return nil
}

func isVersion(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool  { return isLetter(c) || '0' <= c && c <= '9' }

// clip keeps user text in messages short and on one line.
func clip(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	if len([]rune(s)) > 80 {
		return string([]rune(s)[:77]) + "..."
	}
	return s
}

// Bool parses a boolean input the way the agent's task library does: only
// "true", in any case, is true.
func Bool(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }
