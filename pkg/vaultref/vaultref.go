// Package vaultref is Key Vault's vocabulary for naming things: a vault's
// name, a reference to a secret (its name, and a version or the latest),
// and the ids a vault lists. Its rules are Key Vault's own, checked before
// anything is sent: a bad name fails in milliseconds with a message that
// says the rule, instead of as a DNS error or a 400.
package vaultref

import (
	"fmt"
	"net/url"
	"strings"
)

// VaultRule is Key Vault's rule for vault names, for messages.
const VaultRule = "a vault name is 3-24 characters of letters, digits and '-', starts with a letter, ends with a letter or digit and has no '--'"

// CheckVault checks a vault name; the error says which part of the rule it
// breaks.
func CheckVault(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("it is empty")
	case strings.Contains(name, "://") || strings.Contains(name, "."):
		return fmt.Errorf("it looks like a URL or host name")
	case len(name) < 3 || len(name) > 24:
		return fmt.Errorf("it is %d characters long", len(name))
	}
	for i := 0; i < len(name); i++ {
		if !isAlnum(name[i]) && name[i] != '-' {
			return fmt.Errorf("character %q is not allowed", rune(name[i]))
		}
	}
	switch {
	case !isLetter(name[0]):
		return fmt.Errorf("it does not start with a letter")
	case name[len(name)-1] == '-':
		return fmt.Errorf("it ends with '-'")
	case strings.Contains(name, "--"):
		return fmt.Errorf("it contains '--'")
	}
	return nil
}

// ParseRef reads name or name/version, as the task's inputs write a
// secret: the name checked, the version 32 hexadecimal digits (kept in
// lower case).
func ParseRef(s string) (Secret, error) {
	name, version, pinned := strings.Cut(s, "/")
	if err := CheckName(name); err != nil {
		return Secret{}, err
	}
	if !pinned {
		return Secret{Name: name}, nil
	}
	if !IsVersion(version) {
		return Secret{}, fmt.Errorf("the version after '/' must be 32 hexadecimal characters, as shown in the portal's secret version list (write name/version, e.g. %s/0123456789abcdef0123456789abcdef)", name)
	}
	return Secret{Name: name, Version: strings.ToLower(version)}, nil
}

// SplitEntries splits an input that lists entries, separated by commas or
// line breaks, into its non-empty entries, trimmed.
func SplitEntries(s string) []string {
	var out []string
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// CheckName checks Key Vault's secret naming rule: 1-127 letters, digits
// and '-'. Names from list replies are checked too, because a name becomes
// a variable name inside a logging command.
func CheckName(name string) error {
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

// IsVersion reports whether s is a secret version: 32 hexadecimal digits.
func IsVersion(s string) bool {
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

// Secret refers to a secret: its name, and a version or the latest.
type Secret struct {
	Name    string
	Version string // 32 lower-case hex digits; "" means the latest version
}

// String renders the reference as a user writes it, name or name/version.
func (s Secret) String() string {
	if s.Version == "" {
		return s.Name
	}
	return s.Name + "/" + s.Version
}

// NameFromID extracts the name from a secret id such as
// https://v.vault.azure.net/secrets/name[/version], refusing anything that
// is not a valid secret name (the Azure SDK's own parser panics on some).
func NameFromID(id string) (string, bool) {
	u, err := url.Parse(id)
	if err != nil {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" {
		return "", false
	}
	if CheckName(parts[1]) != nil {
		return "", false
	}
	return parts[1], true
}

// VersionFromID extracts the version from a secret version's id such as
// https://v.vault.azure.net/secrets/name/version, in lower case; false
// when the id names no valid version.
func VersionFromID(id string) (string, bool) {
	u, err := url.Parse(id)
	if err != nil {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "secrets" || CheckName(parts[1]) != nil || !IsVersion(parts[2]) {
		return "", false
	}
	return strings.ToLower(parts[2]), true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool  { return isLetter(c) || '0' <= c && c <= '9' }
