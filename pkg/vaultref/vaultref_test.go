package vaultref

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNameFromID(t *testing.T) {
	tests := []struct {
		id   string
		want string
		ok   bool
	}{
		{"https://v.vault.azure.net/secrets/db-password", "db-password", true},
		{"https://v.vault.azure.net:443/secrets/db-password/0123456789abcdef0123456789abcdef", "db-password", true},
		{"https://v.vault.azure.net/keys/db-password", "", false},
		{"https://v.vault.azure.net/secrets/", "", false},
		{"https://v.vault.azure.net/secrets/a%0Ab", "", false},
		{"https://v.vault.azure.net/secrets/a;b", "", false},
		{"https://v.vault.azure.net/secrets/a/b/c/d", "", false},
		{"::not a url", "", false},
	}
	for _, tt := range tests {
		got, ok := NameFromID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NameFromID(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVersionFromID(t *testing.T) {
	tests := []struct {
		id   string
		want string
		ok   bool
	}{
		{"https://v.vault.azure.net/secrets/db/0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdef", true},
		{"https://v.vault.azure.net:443/secrets/db/0123456789abcdef0123456789abcdef/", "0123456789abcdef0123456789abcdef", true},
		{"https://v.vault.azure.net/secrets/db", "", false},
		{"https://v.vault.azure.net/secrets/db/0123", "", false},
		{"https://v.vault.azure.net/keys/db/0123456789abcdef0123456789abcdef", "", false},
		{"https://v.vault.azure.net/secrets/d_b/0123456789abcdef0123456789abcdef", "", false},
		{"https://v.vault.azure.net/secrets/db/0123456789abcdef0123456789abcdeg", "", false},
		{"::not a url", "", false},
	}
	for _, tt := range tests {
		got, ok := VersionFromID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("VersionFromID(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckVault(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{"abc", ""},
		{"my-vault-01", ""},
		{"A" + strings.Repeat("b", 23), ""},
		{"", "it is empty"},
		{"ab", "it is 2 characters long"},
		{strings.Repeat("a", 25), "it is 25 characters long"},
		{"1vault", "it does not start with a letter"},
		{"-vault", "it does not start with a letter"},
		{"vault-", "it ends with '-'"},
		{"my--vault", "it contains '--'"},
		{"my_vault", "character '_' is not allowed"},
		{"https://x.vault.azure.net", "it looks like a URL or host name"},
	}
	for _, tt := range tests {
		got := ""
		if err := CheckVault(tt.name); err != nil {
			got = err.Error()
		}
		if got != tt.wantErr {
			t.Errorf("CheckVault(%q) = %q, want %q", tt.name, got, tt.wantErr)
		}
	}
}

func TestCheckNameAndVersion(t *testing.T) {
	for name, ok := range map[string]bool{"a": true, "db-Password-1": true, strings.Repeat("x", 127): true, "": false, strings.Repeat("x", 128): false, "a_b": false, "a b": false, "é": false} {
		if got := CheckName(name) == nil; got != ok {
			t.Errorf("CheckName(%q) accepted = %v, want %v", name, got, ok)
		}
	}
	for v, ok := range map[string]bool{"0123456789abcdef0123456789ABCDEF": true, "0123456789abcdef0123456789abcde": false, "0123456789abcdef0123456789abcdeg": false} {
		if got := IsVersion(v); got != ok {
			t.Errorf("IsVersion(%q) = %v, want %v", v, got, ok)
		}
	}
	if got := (Secret{Name: "a", Version: "0123456789abcdef0123456789abcdef"}).String(); got != "a/0123456789abcdef0123456789abcdef" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseRef(t *testing.T) {
	const v = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		in      string
		want    Secret
		wantErr string
	}{
		{"db", Secret{Name: "db"}, ""},
		{"cert/" + strings.ToUpper(v), Secret{Name: "cert", Version: v}, ""},
		{"cert/123", Secret{}, "the version after '/' must be 32 hexadecimal characters, as shown in the portal's secret version list (write name/version, e.g. cert/" + v + ")"},
		{"bad_name", Secret{}, "character '_' is not allowed in a secret name (only letters, digits and '-')"},
		{"/" + v, Secret{}, "the secret name is empty"},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseRef(%q) = %+v, %q; want %+v, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestSplitEntries(t *testing.T) {
	for in, want := range map[string][]string{
		"":                     nil,
		" , \n\r\n":            nil,
		"a, b\nc\r\nd,,e ":     {"a", "b", "c", "d", "e"},
		"  legacy as LEGACY  ": {"legacy as LEGACY"},
	} {
		if diff := cmp.Diff(want, SplitEntries(in)); diff != "" {
			t.Errorf("SplitEntries(%q) (-want +got):\n%s", in, diff)
		}
	}
}
