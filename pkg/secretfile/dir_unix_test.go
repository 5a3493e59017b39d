//go:build !windows

package secretfile

import (
	"errors"
	"fmt"
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

// TestNewDirRefusesShared: a temp directory in which another user could
// replace the run's directory between its making and its use (others may
// write to it without the sticky bit, or another user owns it) is refused
// before anything is written, saying what was found and what to do; a
// shared one with the sticky bit is not.
func TestNewDirRefusesShared(t *testing.T) {
	uid := os.Getuid()
	fix := fmt.Sprintf("nothing was written. Make it the agent user's own (chown it to uid %d and chmod 0700 it) or, if others must share it, give it the sticky bit (chmod +t)", uid)
	tests := []struct {
		name  string
		mode  fs.FileMode
		owner int // -1: the test's user
		want  string
	}{
		{"others may write", 0o777, -1, "has mode 0777: other users may write to it, and without the sticky bit they may rename what is in it, so another user could replace the directory SecretsToFiles writes the secrets to; " + fix},
		{"the group may write", 0o770, -1, "has mode 0770: other users may write to it"},
		{"shared with the sticky bit", 0o777 | fs.ModeSticky, -1, ""},
		{"the agent user's own", 0o755, -1, ""},
		{"another user's", 0o700, 65534, fmt.Sprintf("is owned by uid 65534, not by the agent's user (uid %d), so another user could replace", uid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "temp")
			if err := os.Mkdir(root, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(root, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.owner >= 0 {
				if uid != 0 {
					t.Skip("only root can give a directory away")
				}
				if err := os.Chown(root, tt.owner, tt.owner); err != nil {
					t.Fatal(err)
				}
			}
			_, err := NewDir(root)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("NewDir: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), "the agent's temp directory (AGENT_TEMPDIRECTORY) "+root+" "+tt.want)):
				t.Errorf("NewDir: %v, want an error holding %q", err, tt.want)
			}
			if got := entries(t, root); len(got) != 0 {
				t.Errorf("NewDir made %v", got)
			}
		})
	}
}

// TestWriteIntoTheDirectoryMade: files go into the run's directory as it
// was made, even if something takes its name afterwards: they are created
// in the directory opened when it was made, not at its path.
func TestWriteIntoTheDirectoryMade(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.Write("first", []byte("1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(first)
	if err := os.Rename(dir, dir+".made"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write("second", []byte("2"), nil); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("the directory put in its place got %v", got)
	}
	if got := entries(t, dir+".made"); !cmp.Equal(got, []string{"first", "second"}) {
		t.Errorf("the directory made holds %v, want first and second", got)
	}
}
