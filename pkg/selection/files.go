package selection

import (
	"fmt"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// File is a SecretsToFiles entry: one secret to write to a file.
type File struct {
	Text string // as written, trimmed: for messages and the log
	Ref  vaultref.Secret
	// Format is the one the entry asks for; "" means the one the secret's
	// content type implies (certformat.Default).
	Format certformat.Format
	Var    string // the variable that holds the file's path: <name>.file
}

// FileName is the file's name in format f: the secret's name, and .pfx or
// .pem for those formats (a raw file, such as an SSH key, has none).
func (f File) FileName(format certformat.Format) string {
	if format == certformat.Raw {
		return f.Ref.Name
	}
	return f.Ref.Name + "." + string(format)
}

// filesInput names the input in messages.
const filesInput = "input SecretsToFiles"

// FileVarSuffix ends the name of the variable that holds a file's path.
const FileVarSuffix = ".file"

// parseFiles parses SecretsToFiles; an empty input asks for no file.
func parseFiles(s string) ([]File, error) {
	var out []File
	byVar := map[string]string{} // lower-case variable -> the entry that sets it
	for _, text := range vaultref.SplitEntries(s) {
		f, err := parseFile(text)
		if err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", filesInput, clip(text), err)
		}
		if prev, ok := byVar[strings.ToLower(f.Var)]; ok {
			return nil, fmt.Errorf("%s entries %q and %q would both set variable %s: write one file per secret (keep one entry)", filesInput, clip(prev), clip(text), f.Var)
		}
		byVar[strings.ToLower(f.Var)] = text
		out = append(out, f)
	}
	return out, nil
}

// parseFile reads a SecretsToFiles entry: the filter's grammar, where
// 'as' names a format and the body is one secret.
func parseFile(text string) (File, error) {
	f := File{Text: text}
	tk := lex(text)
	if len(strings.Fields(tk.body)) > 1 {
		if fields := strings.Fields(text); len(fields) == 2 && strings.EqualFold(fields[1], "as") {
			return f, fmt.Errorf("'as' needs a format: pem, pfx or raw (e.g. %s as pfx)", fields[0])
		}
		return f, fmt.Errorf("an entry is name, name/version, or either followed by 'as pem', 'as pfx' or 'as raw' (e.g. signing-cert as pfx)")
	}
	if tk.as != "" {
		format, err := certformat.ParseFormat(tk.as)
		if err != nil {
			return f, err
		}
		f.Format = format
	}
	switch {
	case isPattern(tk.body), isTag(tk.body):
		return f, fmt.Errorf("SecretsToFiles names secrets one by one; patterns and tags select secrets only in SecretsFilter")
	case tk.exclude, tk.optional:
		return f, fmt.Errorf("'!' and '?' belong to SecretsFilter; a SecretsToFiles entry is a secret that must be there")
	}
	ref, err := vaultref.ParseRef(tk.body)
	if err != nil {
		return f, err
	}
	f.Ref, f.Var = ref, ref.Name+FileVarSuffix
	if CheckVariable(f.Var) != nil {
		// Only a name the agent owns gets here (a secret's name is letters,
		// digits and '-'), and the user cannot choose another variable.
		return f, fmt.Errorf("a secret named %s cannot be written to a file: its path would go in variable %s, which the agent and the pipeline own. Copy the secret to another name in the vault and name that one here", ref.Name, f.Var)
	}
	if windowsDevice(ref.Name) {
		// Refused on every agent, not only on Windows: a pipeline whose
		// pool mixes systems then behaves the same on each, and gokeyvault
		// check says so on any machine.
		return f, fmt.Errorf("a secret named %s cannot be written to a file: Windows reserves that name, with any extension and in any case, for a device (CON, PRN, AUX, NUL, COM0 to COM9, LPT0 to LPT9), so a Windows agent would write to the device, not a file. Copy the secret to another name in the vault and name that one here", ref.Name)
	}
	return f, nil
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
