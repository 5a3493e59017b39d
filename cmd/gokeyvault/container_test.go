package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
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
			w := harness.New(t, func(ctx context.Context, _ *testworld.World, o agentrunner.Options) (*agentrunner.Result, error) {
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

// sharedTemp is a directory to give the step as Agent.TempDirectory, with
// mode, under a parent any user may pass through (another user's
// process is to use it too).
func sharedTemp(t *testing.T, mode fs.FileMode) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "gokeyvault-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "temp")
	for _, d := range []string{parent, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readOnlyWorld is a world whose task folder is read-only (chmod fails with
// EROFS), so that the launcher must run a private copy from Agent.TempDirectory.
func readOnlyWorld(t *testing.T) (*world, []string) {
	t.Helper()
	dir := privateTaskFolder(t)
	preload, err := filepath.Abs("../../build/launcher_test/readonly-fs.js")
	if err != nil {
		t.Fatal(err)
	}
	w := harness.New(t, func(ctx context.Context, _ *testworld.World, o agentrunner.Options) (*agentrunner.Result, error) {
		o.TaskDir = dir
		return agentrunner.Run(ctx, o)
	}, localcloud.Options{})
	return w, []string{"NODE_OPTIONS=--require " + preload, "GKV_READONLY=" + dir}
}

// TestSharedTempRefused: a private copy in a temporary directory that
// others may write to without the sticky bit could be swapped by another
// user before it starts: the launcher refuses, saying what it found and
// what to do, and nothing is copied or run. SecretsToFiles refuses to
// write there too, before any request.
func TestSharedTempRefused(t *testing.T) {
	fix := fmt.Sprintf("Make it the agent user's own (chown it to uid %d and chmod 0700 it) or, if others must share it, give it the sticky bit (chmod +t)", os.Getuid())
	t.Run("the launcher's private copy", func(t *testing.T) {
		w, env := readOnlyWorld(t)
		w.Put(map[string]string{"db-password": "v-db-1"})
		temp := sharedTemp(t, 0o777)

		res := w.Run(step{Env: append(env, "AGENT_TEMPDIRECTORY="+temp)})

		msg := harness.FailedWith(t, res)
		if !strings.HasPrefix(msg, "GoKeyVault cannot run ") || !strings.HasSuffix(msg, " where it is (its executable bit cannot be set: EROFS) and running a private copy failed: Agent.TempDirectory ("+temp+") has mode 0777: other users may write to it, and without the sticky bit they may rename what is in it, so another user could replace the private copy of the binary before it starts; nothing was copied or run. "+fix) {
			t.Errorf("error %q", msg)
		}
		if got, _ := os.ReadDir(temp); len(got) != 0 {
			t.Errorf("%d entries left in the temporary directory", len(got))
		}
		if n := len(w.Vault.Requests()); n != 0 || len(w.Cloud.ProxyLog()) != 0 {
			t.Errorf("the binary ran: %d vault requests, proxy %v", n, w.Cloud.ProxyLog())
		}
	})
	t.Run("SecretsToFiles", func(t *testing.T) {
		w := newWorld(t)
		w.Put(map[string]string{"deploy-key": "v-deploy-key"})
		temp := sharedTemp(t, 0o777)

		res := w.Run(step{Env: []string{"AGENT_TEMPDIRECTORY=" + temp}, Inputs: map[string]string{"SecretsFilter": "", "SecretsToFiles": "deploy-key"}})

		harness.FailedWith(t, res, "the agent's temp directory (AGENT_TEMPDIRECTORY) "+temp+" has mode 0777: other users may write to it, and without the sticky bit they may rename what is in it, so another user could replace the directory SecretsToFiles writes the secrets to; nothing was written. "+fix)
		if got, _ := os.ReadDir(temp); len(got) != 0 {
			t.Errorf("%d entries left in the temporary directory", len(got))
		}
		if n := len(w.Vault.Requests()); n != 0 {
			t.Errorf("%d vault requests", n)
		}
	})
}

// TestPrivateCopySwapped: with the task folder read-only, Agent.TempDirectory
// shared with the sticky bit, and an attacker of another user
// (build/launcher_test/swapper.js) swapping every private folder that
// appears there, the step runs the real binary each time, and the
// attacker's file never runs. (Without the sticky bit
// the launcher makes no copy at all: TestSharedTempRefused.)
func TestPrivateCopySwapped(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the attacker as another user")
	}
	w, env := readOnlyWorld(t)
	want := w.Put(map[string]string{"db-password": "v-db-1"})
	temp := sharedTemp(t, 0o777|fs.ModeSticky)
	mark := sharedTemp(t, 0o777)
	swapper, err := filepath.Abs("../../build/launcher_test/swapper.js")
	if err != nil {
		t.Fatal(err)
	}
	attacker := exec.Command("node", swapper, temp, mark)
	attacker.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := attacker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = attacker.Process.Kill(); _ = attacker.Wait() }()
	const runs = 4
	for range runs {
		res := w.Run(step{Env: append(env, "AGENT_TEMPDIRECTORY="+temp)})
		if res.Result != "Succeeded" {
			t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
		}
		if diff := cmp.Diff(want, res.Variables); diff != "" {
			t.Errorf("variables (-want +got):\n%s", diff)
		}
	}
	if b, err := os.ReadFile(filepath.Join(mark, "ran")); err == nil {
		t.Errorf("the attacker's file ran: %q", b)
	}
	// It tried the private folders, and the sticky bit stopped it (a
	// folder the run removed before the attacker came to it is ENOENT).
	var tries []byte
	waitFor(func() bool {
		tries, _ = os.ReadFile(filepath.Join(mark, "tries"))
		return strings.Count(string(tries), "\n") >= runs
	})
	if strings.Contains(string(tries), "swapped") || !strings.Contains(string(tries), "EPERM") {
		t.Errorf("the attacker's tries: %q, want each stopped, by EPERM", tries)
	}
}
