//go:build !windows

package secretfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWrite: a run's files land in one new directory under the root, the
// directory 0700 and each file 0600 whatever the umask, with the bytes
// given; nothing is made before the first write.
func TestWrite(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(t, root); len(got) != 0 {
		t.Fatalf("NewDir made %v", got)
	}
	// A umask that would leave the owner without write or search access,
	// and everyone else with read access were the modes not set exactly.
	old := syscall.Umask(0o277)
	defer syscall.Umask(old)

	a, err := d.Write("cert.pfx", []byte("pfx bytes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Write("ssh-key", []byte("key\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(a)
	if filepath.Dir(dir) != root || filepath.Dir(b) != dir || !strings.HasPrefix(filepath.Base(dir), "gokeyvault-files-") {
		t.Errorf("files at %s and %s, want both in one gokeyvault-files-* directory under %s", a, b, root)
	}
	want := map[string]fs.FileMode{
		filepath.Base(dir): fs.ModeDir | 0o700,
		filepath.Join(filepath.Base(dir), "cert.pfx"): 0o600,
		filepath.Join(filepath.Base(dir), "ssh-key"):  0o600,
	}
	if diff := cmp.Diff(want, modes(t, root)); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
	for p, content := range map[string]string{a: "pfx bytes", b: "key\n"} {
		if got, err := os.ReadFile(p); err != nil || string(got) != content {
			t.Errorf("%s holds %q (%v), want %q", p, got, err, content)
		}
	}
}

// TestWriteRefuses: nothing is overwritten, no link is followed, no name
// leaves the directory.
func TestWriteRefuses(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a b", "a%0Ab"} {
		if p, err := d.Write(name, []byte("x"), nil); err == nil || !strings.Contains(err.Error(), "refused to write a file named") {
			t.Errorf("Write(%q) = %q, %v; want a refusal", name, p, err)
		}
	}
	if got := entries(t, root); len(got) != 0 {
		t.Fatalf("refused writes made %v", got)
	}

	first, err := d.Write("cert.pem", []byte("first"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write("cert.pem", []byte("second"), nil); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second write of cert.pem: %v, want it to exist already", err)
	}
	if got, _ := os.ReadFile(first); string(got) != "first" {
		t.Errorf("cert.pem holds %q after a refused write", got)
	}

	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(first), "key.pem")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write("key.pem", []byte("secret"), nil); err == nil {
		t.Error("wrote through a symbolic link")
	}
	if got, _ := os.ReadFile(outside); string(got) != "untouched" {
		t.Errorf("the link's target holds %q", got)
	}
}

func TestNewDirRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ root, want string }{
		{"", "input SecretsToFiles needs the agent's temp directory (AGENT_TEMPDIRECTORY), which is not set"},
		{"relative/temp", `the agent's temp directory (AGENT_TEMPDIRECTORY) is "relative/temp", not an absolute path`},
		{file, "the agent's temp directory (AGENT_TEMPDIRECTORY) " + file + " is not a directory"},
		{filepath.Join(file, "below"), "the agent's temp directory (AGENT_TEMPDIRECTORY) " + filepath.Join(file, "below") + " cannot be read (SecretsToFiles writes nowhere else): stat " + filepath.Join(file, "below") + ": not a directory"},
		{filepath.Join(filepath.Dir(file), "missing"), "the agent's temp directory (AGENT_TEMPDIRECTORY) " + filepath.Join(filepath.Dir(file), "missing") + " does not exist"},
	}
	for _, tt := range tests {
		if _, err := NewDir(tt.root); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewDir(%q) = %v, want an error containing %q", tt.root, err, tt.want)
		}
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// modes maps what is under root, by relative path, to its type and
// permission bits.
func modes(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = info.Mode() & (fs.ModeType | fs.ModePerm)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestClose: a file is announced before Close can return, and no file is
// written after it, so a run stopped in its place leaves no file that its
// variable does not name.
func TestClose(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	var announced []string
	p, err := d.Write("first", []byte("1"), func(path string) {
		go func() { d.Close(); close(closed) }()
		select {
		case <-closed:
			t.Error("Close returned before the file written was announced")
		case <-time.After(50 * time.Millisecond):
		}
		announced = append(announced, path)
	})
	if err != nil {
		t.Fatal(err)
	}
	<-closed
	if _, err := d.Write("second", []byte("2"), func(path string) { announced = append(announced, path) }); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if diff := cmp.Diff([]string{p}, announced); diff != "" {
		t.Errorf("announced (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]fs.FileMode{filepath.Base(filepath.Dir(p)): fs.ModeDir | 0o700, filepath.Join(filepath.Base(filepath.Dir(p)), "first"): 0o600}, modes(t, root)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
