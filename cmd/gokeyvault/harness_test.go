package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// The e2e tests run the real task folder — task.json, the Node launcher and
// this binary, built fresh — through the agent runner against the local
// cloud. Nothing in the binary knows it is being tested: it reaches
// login.microsoftonline.com and <vault>.vault.azure.net by name through the
// local proxy and trusts the local CA through SSL_CERT_FILE.

const (
	tenantID     = testworld.TenantID
	clientID     = testworld.ClientID
	clientSecret = testworld.ClientSecret
	connID       = testworld.ConnID
	vaultName    = "kv-e2e" // the world's
)

var taskDir string // a copy of task/ with the freshly built binary

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "gokeyvault-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	taskDir = filepath.Join(dir, "task")
	if err := copyTaskFolder("../../task", taskDir); err != nil {
		return 0, err
	}
	bin := filepath.Join(taskDir, "bin", runtime.GOOS+"_"+runtime.GOARCH, "gokeyvault")
	// Without version control information, whatever GOFLAGS says: the
	// first log line then names the commit "unknown", the same on every
	// machine and in every state of the tree. The packed binary's test
	// (build/package) checks the commit of a real build.
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("build the task binary: %w", err)
	}
	if err := buildCheckTools(dir, bin); err != nil {
		return 0, err
	}
	// The agent's packaging loses the executable bit; the launcher must
	// restore it, so the tests start without it.
	if err := os.Chmod(bin, 0o644); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// checkBin is the binary as a developer runs it (gokeyvault check), and
// azDir a directory with the stand-in Azure CLI, az.
var checkBin, azDir string

// buildCheckTools copies the task binary to where a developer would run it
// and builds cmd/fakeaz as az.
func buildCheckTools(dir, bin string) error {
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	checkBin = filepath.Join(dir, "dev", "gokeyvault")
	azDir = filepath.Join(dir, "az")
	if err := os.MkdirAll(filepath.Dir(checkBin), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(checkBin, b, 0o755); err != nil {
		return err
	}
	build := exec.Command("go", "build", "-o", filepath.Join(azDir, "az"), "../fakeaz")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the stand-in az: %w", err)
	}
	return nil
}

// copyTaskFolder copies the shipped files of task/, not a developer's build.
func copyTaskFolder(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "bin" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// world is one test's world; step one run of the task in it.
type (
	world = harness.T
	step  = harness.Step
)

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, localcloud.Options{})
}

// newWorldWith is newWorld on a cloud started with o.
func newWorldWith(t *testing.T, o localcloud.Options) *world {
	t.Helper()
	return harness.New(t, runTaskFolder, o)
}

// runTaskFolder runs the copy of the task folder, launcher and binary.
func runTaskFolder(ctx context.Context, _ *testworld.World, o agentrunner.Options) (*agentrunner.Result, error) {
	o.TaskDir = taskDir
	return agentrunner.Run(ctx, o)
}
