package main

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// Container jobs may mount the tasks folder read-only (mountReadOnly:
// tasks: true), where chmod fails with EROFS, or noexec, where the exec
// fails with EACCES. The launcher then runs a private copy of the binary
// from Agent.TempDirectory, and says so under system.debug.

// privateTaskFolder copies the e2e task folder, binary included, as the
// agent unpacks it: without the executable bit.
func privateTaskFolder(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "task")
	err := filepath.WalkDir(taskDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(taskDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestReadOnlyTaskFolder(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, binDir string) []string // the step's environment
		why   string
	}{
		{"read-only (EROFS)", func(t *testing.T, dir, _ string) []string {
			preload, err := filepath.Abs("../../build/launcher_test/readonly-fs.js")
			if err != nil {
				t.Fatal(err)
			}
			return []string{"NODE_OPTIONS=--require " + preload, "GKV_READONLY=" + dir}
		}, "its executable bit cannot be set: EROFS"},
		{"noexec mount", func(t *testing.T, _, binDir string) []string {
			bin, err := os.ReadFile(filepath.Join(binDir, "gokeyvault"))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "noexec", "tmpfs", binDir).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a noexec tmpfs here: %s", strings.TrimSpace(string(out)))
			}
			t.Cleanup(func() { _ = exec.Command("umount", binDir).Run() })
			if err := os.WriteFile(filepath.Join(binDir, "gokeyvault"), bin, 0o755); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "its file system does not let it run (mounted noexec?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateTaskFolder(t)
			binDir := filepath.Join(dir, "bin", runtime.GOOS+"_"+runtime.GOARCH)
			env := tt.setup(t, dir, binDir)
			w := testworld.New(t, func(ctx context.Context, _ *testworld.World, o agentrunner.Options) (*agentrunner.Result, error) {
				o.TaskDir = dir
				return agentrunner.Run(ctx, o)
			}, localcloud.Options{})
			want := w.Put(map[string]string{"db-password": "v-db-1"})

			res := w.Run(step{Env: env, Debug: true})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			re := regexp.MustCompile(`^##\[debug\]GoKeyVault: ` + regexp.QuoteMeta(filepath.Join(binDir, "gokeyvault")) +
				` cannot be run where it is \(` + regexp.QuoteMeta(tt.why) + `\); running a private copy: /.+/gokeyvault-[^/]+/gokeyvault$`)
			if !slicesContainMatch(res.Log, re) {
				t.Errorf("no debug line matching %s in the log:\n%s", re, strings.Join(res.Log, "\n"))
			}
			// w.Run checked that the copy is gone from the agent's temp
			// directory.
		})
	}
}

func slicesContainMatch(lines []string, re *regexp.Regexp) bool {
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
