package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stageFixture is a repository with a valid manifest, a task folder holding
// what ships and the litter that must not: tests, node_modules, dotfiles, an
// old binary and an unknown platform's folder under bin/.
func stageFixture(t *testing.T) string {
	t.Helper()
	root := manifestFixture(t, validManifest(), map[string][]byte{
		"task/task.json":                      []byte(taskJSONSample),
		"task/launcher.js":                    []byte("launcher\n"),
		"task/lib/util.js":                    []byte("util\n"),
		"task/launcher.test.js":               []byte("test\n"),
		"task/.DS_Store":                      []byte("x"),
		"task/node_modules/dep/index.js":      []byte("dep\n"),
		"task/bin/linux_amd64/gokeyvault.old": []byte("old\n"),
		"task/bin/plan9_386/gokeyvault":       []byte("plan9\n"),
		"images/unused.png":                   pngOf(t, 16),
		"README.md":                           []byte("not shipped: not in the manifest\n"),
	})
	for _, p := range platforms() {
		writeFiles(t, root, map[string]string{"task/" + p.binPath(): "binary " + p.GOOS + "/" + p.GOARCH})
	}
	return root
}

func TestStage(t *testing.T) {
	root := stageFixture(t)
	m, raw, err := readManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	st, err := stage(root, dst, m, raw, version{1, 0, 7}, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	want := &staging{
		Files: []string{
			"LICENSE", "images/logo.png", "overview.md",
			"task/bin/darwin_amd64/gokeyvault", "task/bin/darwin_arm64/gokeyvault",
			"task/bin/linux_amd64/gokeyvault", "task/bin/linux_arm/gokeyvault", "task/bin/linux_arm64/gokeyvault",
			"task/bin/windows_amd64/gokeyvault.exe", "task/bin/windows_arm64/gokeyvault.exe",
			"task/icon.png", "task/launcher.js", "task/lib/util.js", "task/task.json",
			"vss-extension.json",
		},
		Skipped: []string{"task/.DS_Store", "task/launcher.test.js", "task/node_modules"},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("staging (-want +got):\n%s", diff)
	}
	if got := filesUnder(t, dst); !cmp.Equal(got, want.Files) {
		t.Errorf("staged folder holds %q, want %q", got, want.Files)
	}

	// task.json keeps its bytes when the version already agrees; the
	// manifest gets the publisher; binaries arrive intact and executable.
	if got := readFile(t, dst, "task/task.json"); got != taskJSONSample {
		t.Errorf("staged task.json:\n%s\nwant the source's bytes", got)
	}
	var stamped manifestStrings
	if err := json.Unmarshal([]byte(readFile(t, dst, manifestFile)), &stamped); err != nil {
		t.Fatal(err)
	}
	if stamped != (manifestStrings{Version: "1.0.7", Publisher: "contoso"}) {
		t.Errorf("staged manifest has %+v, want version 1.0.7, publisher contoso", stamped)
	}
	if got := readFile(t, dst, "task/bin/windows_arm64/gokeyvault.exe"); got != "binary windows/arm64" {
		t.Errorf("staged windows/arm64 binary = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dst, "task/bin/linux_amd64/gokeyvault")); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o755 {
		t.Errorf("staged binary mode %v, want 0755", fi.Mode().Perm())
	}
}

func TestStageRefuses(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, root string)
		wantErr string
	}{
		{
			name:    "a missing binary",
			change:  func(t *testing.T, root string) { rm(t, root, "task/bin/darwin_arm64/gokeyvault") },
			wantErr: "darwin_arm64",
		},
		{
			name: "a link in the task folder",
			change: func(t *testing.T, root string) {
				if runtime.GOOS == "windows" {
					t.Skip("symbolic links need privileges on Windows")
				}
				if err := os.Symlink("/etc/passwd", filepath.Join(root, "task", "passwd.js")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "task/passwd.js is not a regular file (links are not packaged)",
		},
		{
			name: "a task.json without version",
			change: func(t *testing.T, root string) {
				writeFiles(t, root, map[string]string{"task/task.json": `{"id": "x"}`})
			},
			wantErr: `want one "version": {...} object, found 0`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := stageFixture(t)
			tt.change(t, root)
			m, raw, err := readManifest(root)
			if err != nil {
				t.Fatal(err)
			}
			_, err = stage(root, t.TempDir(), m, raw, version{1, 0, 7}, "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("stage error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNotShipped(t *testing.T) {
	for rel, want := range map[string]bool{
		"launcher.js":                 false,
		"lib/util.js":                 false,
		"bin/linux_amd64/gokeyvault":  false,
		"launcher.test.js":            true,
		"lib/util.spec.js":            true,
		"main_test.go":                true,
		"launcher.js.map":             true,
		".eslintrc":                   true,
		"lib/.cache/x.js":             true,
		"node_modules/dep/index.js":   true,
		"testdata/task.json":          true,
		"__tests__/launcher.js":       true,
		"launcher.js~":                true,
		"bin/linux_amd64/.gokeyvault": true,
	} {
		if got := notShipped(rel); got != want {
			t.Errorf("notShipped(%q) = %v, want %v", rel, got, want)
		}
	}
}

func rm(t *testing.T, root, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
