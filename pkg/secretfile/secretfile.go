// Package secretfile reads the SecretsToFiles input and writes the files it
// asks for.
//
// Grammar: entries separated by commas or line breaks, surrounding spaces
// ignored, each one secret:
//
//	name, name/version   that secret, in the format its content type implies
//	                     (application/x-pkcs12: pfx; application/x-pem-file:
//	                     pem; anything else: raw)
//	name as pem|pfx|raw  in that format (certformat converts)
//
// Each entry sets the variable <name>.file to the file's full path. Entries
// that cannot work are refused before any request: a bad name or version,
// an unknown format, two entries for one variable, a variable name the
// agent or the pipeline owns.
//
// Files are written only under the agent's temp directory, which the agent
// empties after every job, in a directory of the run's own that only the
// agent's user can open, under names made of the secret's name alone; a
// file is created, never opened if it exists, and never through a link.
package secretfile

import (
	"fmt"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Entry is one file to write.
type Entry struct {
	Text string // as written, trimmed: for messages and the log
	Ref  vaultref.Secret
	// Format is the one the entry asks for; "" means the one the secret's
	// content type implies (certformat.Default).
	Format certformat.Format
	Var    string // the variable that holds the file's path: <name>.file
}

// FileName is the file's name in format f: the secret's name, and .pfx or
// .pem for those formats (a raw file, such as an SSH key, has none).
func (e Entry) FileName(f certformat.Format) string {
	if f == certformat.Raw {
		return e.Ref.Name
	}
	return e.Ref.Name + "." + string(f)
}

// input names the input in messages.
const input = "input SecretsToFiles"

// VarSuffix ends the name of the variable that holds a file's path.
const VarSuffix = ".file"

// Parse parses SecretsToFiles; an empty input asks for no file.
func Parse(s string) ([]Entry, error) {
	var out []Entry
	byVar := map[string]string{} // lower-case variable -> the entry that sets it
	for _, text := range vaultref.SplitEntries(s) {
		e, err := parseEntry(text)
		if err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", input, clip(text), err)
		}
		if prev, ok := byVar[strings.ToLower(e.Var)]; ok {
			return nil, fmt.Errorf("%s entries %q and %q would both set variable %s: write one file per secret (keep one entry)", input, clip(prev), clip(text), e.Var)
		}
		byVar[strings.ToLower(e.Var)] = text
		out = append(out, e)
	}
	return out, nil
}

func parseEntry(text string) (Entry, error) {
	e := Entry{Text: text}
	fields := strings.Fields(text)
	switch {
	case len(fields) == 2 && strings.EqualFold(fields[1], "as"):
		return e, fmt.Errorf("'as' needs a format: pem, pfx or raw (e.g. %s as pfx)", fields[0])
	case len(fields) == 3 && strings.EqualFold(fields[1], "as"):
		f, err := certformat.ParseFormat(fields[2])
		if err != nil {
			return e, err
		}
		e.Format = f
	case len(fields) != 1:
		return e, fmt.Errorf("an entry is name, name/version, or either followed by 'as pem', 'as pfx' or 'as raw' (e.g. signing-cert as pfx)")
	}
	ref, err := parseRef(fields[0])
	if err != nil {
		return e, err
	}
	e.Ref, e.Var = ref, ref.Name+VarSuffix
	if selection.CheckVariable(e.Var) != nil {
		// Only a name the agent owns gets here (a secret's name is letters,
		// digits and '-'), and the user cannot choose another variable.
		return e, fmt.Errorf("a secret named %s cannot be written to a file: its path would go in variable %s, which the agent and the pipeline own. Copy the secret to another name in the vault and name that one here", ref.Name, e.Var)
	}
	if windowsDevice(ref.Name) {
		// Refused on every agent, not only on Windows: a pipeline whose
		// pool mixes systems then behaves the same on each, and gokeyvault
		// check says so on any machine.
		return e, fmt.Errorf("a secret named %s cannot be written to a file: Windows reserves that name, with any extension and in any case, for a device (CON, PRN, AUX, NUL, COM0 to COM9, LPT0 to LPT9), so a Windows agent would write to the device, not a file. Copy the secret to another name in the vault and name that one here", ref.Name)
	}
	return e, nil
}

// windowsDevice reports whether Windows takes a file of this name, before
// its extension, for a device. A secret's name, letters, digits and '-',
// can spell no other reserved name.
func windowsDevice(name string) bool {
	switch n := strings.ToUpper(name); {
	case n == "CON", n == "PRN", n == "AUX", n == "NUL":
		return true
	case len(n) == 4 && (n[:3] == "COM" || n[:3] == "LPT") && '0' <= n[3] && n[3] <= '9':
		return true
	}
	return false
}

// parseRef reads name or name/version. What SecretsFilter allows beyond a
// name (patterns, tags, '!', '?') is refused by name: a file is one secret.
func parseRef(s string) (vaultref.Secret, error) {
	switch {
	case strings.ContainsAny(s, "*"), len(s) >= 4 && strings.EqualFold(s[:4], "tag:"):
		return vaultref.Secret{}, fmt.Errorf("SecretsToFiles names secrets one by one; patterns and tags select secrets only in SecretsFilter")
	case strings.HasPrefix(s, "!"), strings.HasSuffix(s, "?"):
		return vaultref.Secret{}, fmt.Errorf("'!' and '?' belong to SecretsFilter; a SecretsToFiles entry is a secret that must be there")
	}
	return vaultref.ParseRef(s)
}

func clip(s string) string { return vso.Clip(s, 80) }
