package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/buildstamp"
)

// binaryPkg is the main package every shipped binary must be built from.
const binaryPkg = "github.com/gokeyvault/gokeyvault/cmd/gokeyvault"

// platform is one GOOS/GOARCH the task ships a binary for.
type platform struct{ GOOS, GOARCH string }

// platforms are the agents' (win-x86 agents on 64-bit Windows run the
// amd64 binary; linux/arm is the agent's 32-bit linux-arm, ARMv7). This is
// the one list: TestPlatformLists checks the launcher's TARGETS
// (task/launcher.js) and the Makefile's PLATFORMS against it.
func platforms() []platform {
	return []platform{
		{"linux", "amd64"}, {"linux", "arm64"}, {"linux", "arm"},
		{"darwin", "amd64"}, {"darwin", "arm64"},
		{"windows", "amd64"}, {"windows", "arm64"},
	}
}

// binPath is the binary's slash-separated path inside the task folder,
// where the launcher looks for it.
func (p platform) binPath() string {
	name := "gokeyvault"
	if p.GOOS == "windows" {
		name += ".exe"
	}
	return path.Join("bin", p.GOOS+"_"+p.GOARCH, name)
}

// checkBinaries checks that the task folder holds the seven binaries, each
// built from cmd/gokeyvault for its platform, static and with -trimpath,
// all from one commit, and returns that commit as the task's first log line
// names it. Cross-built binaries cannot be run here, and -trimpath keeps
// -ldflags out of the build info, so the version stamp is checked on this
// machine's binary only (checkHostVersion); build-all stamps all seven in
// one command.
func checkBinaries(taskDir string) (commit string, problems []string) {
	commits := map[string][]string{}
	for _, p := range platforms() {
		file := filepath.Join(taskDir, filepath.FromSlash(p.binPath()))
		info, err := buildinfo.ReadFile(file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("binary for %s/%s: %v (run make build-all)", p.GOOS, p.GOARCH, err))
			continue
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		want := map[string]string{"GOOS": p.GOOS, "GOARCH": p.GOARCH, "CGO_ENABLED": "0", "-trimpath": "true"}
		keys := []string{"GOOS", "GOARCH", "CGO_ENABLED", "-trimpath"}
		if p.GOARCH == "arm" {
			want["GOARM"] = "7" // the agent's linux-arm needs ARMv7 anyway
			keys = append(keys, "GOARM")
		}
		for _, k := range keys {
			if settings[k] != want[k] {
				problems = append(problems, fmt.Sprintf("binary %s: built with %s=%q, want %q", p.binPath(), k, settings[k], want[k]))
			}
		}
		if info.Path != binaryPkg {
			problems = append(problems, fmt.Sprintf("binary %s: built from %s, want %s", p.binPath(), info.Path, binaryPkg))
		}
		// Go records no commit outside a git checkout, nor in a linked
		// worktree (git worktree add: .git is a file, not the folder it
		// looks for); the first log line then says "commit unknown".
		c := buildstamp.FromBuildInfo("", info).Commit()
		commits[c] = append(commits[c], p.binPath())
	}
	if len(commits) > 1 {
		problems = append(problems, fmt.Sprintf("the binaries were built from different trees: %v (run make build-all)", commits))
	}
	for c := range commits {
		commit = c
	}
	return commit, problems
}

// checkHostVersion runs this machine's binary with --version and compares
// what it prints with v.
func checkHostVersion(ctx context.Context, taskDir string, v version) error {
	host := platform{runtime.GOOS, runtime.GOARCH}
	file := filepath.Join(taskDir, filepath.FromSlash(host.binPath()))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, file, "--version").Output()
	if err != nil {
		return fmt.Errorf("run %s --version: %w", host.binPath(), err)
	}
	if got := string(bytes.TrimSpace(out)); got != v.String() {
		return fmt.Errorf("%s --version prints %q, want %q (VERSION): rebuild with make build-all", host.binPath(), got, v)
	}
	return nil
}

// isShippedBinary reports whether rel (slash-separated, inside the task
// folder) is one of the seven binaries.
func isShippedBinary(rel string) bool {
	for _, p := range platforms() {
		if rel == p.binPath() {
			return true
		}
	}
	return false
}
