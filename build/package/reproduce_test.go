package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// reproduceEnv turns TestRebuildIsByteIdentical on: make test sets it. It
// takes minutes (two clones, two platforms compiled from an empty build
// cache, two make package runs), too long for every go test.
const reproduceEnv = "GOKEYVAULT_REPRODUCE"

// TestRebuildIsByteIdentical is the check the README asks a user to make:
// a build of a commit in another folder, with nothing shared but the module
// cache, gives the same bytes.
//
// The reference is the package make test just wrote when it is a build of
// HEAD from a clean tree (as in CI); otherwise (uncommitted changes, or a
// linked worktree, where Go records no commit) make package in a clone of
// HEAD. Then, in a second clone at another path: this machine's binary and
// one for another OS and architecture are built with an empty build cache
// (GOCACHE of their own: no compiled package is reused, so the bytes owe
// nothing to earlier builds) and compared byte for byte with the
// reference's; then make package there, whose SHA256SUMS (every file of the
// task folder: seven binaries, notices, SBOMs, launcher, task.json) must
// equal the reference's. Compiling all seven platforms from an empty cache
// would take about 6 of CI's minutes more on two cores for no more proof:
// the compiler and linker are the same for each, and the other five are
// still rebuilt from the sources in the second folder, through the cache.
func TestRebuildIsByteIdentical(t *testing.T) {
	if os.Getenv(reproduceEnv) == "" {
		t.Skipf("%s=1 runs it (make test does): it takes minutes", reproduceEnv)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(runIn(t, root, nil, "git", "rev-parse", "HEAD"))
	ref := root
	if why := notABuildOf(root, head); why != "" {
		t.Logf("reference: make package in a clone of %s (%s)", head[:12], why)
		ref = cloneAt(t, root, head)
		makePackage(t, ref, nil)
	} else {
		t.Logf("reference: this tree's package, a build of %s", head[:12])
	}

	second := cloneAt(t, root, head)
	cold := coldPlatforms()
	var list []string
	for _, p := range cold {
		list = append(list, p.GOOS+"/"+p.GOARCH)
	}
	start := time.Now()
	makeIn(t, second, []string{"GOCACHE=" + t.TempDir()}, "build-all", "PLATFORMS="+strings.Join(list, " "))
	t.Logf("built %s from an empty build cache in %s", strings.Join(list, ", "), time.Since(start).Round(time.Second))
	for _, p := range cold {
		a := readFile(t, ref, "task/"+p.binPath())
		b := readFile(t, second, "task/"+p.binPath())
		if a != b {
			t.Errorf("%s differs between %s and %s", p.binPath(), ref, second)
		}
	}

	makePackage(t, second, nil)
	want, got := readFile(t, ref, "dist/"+checksumsFile), readFile(t, second, "dist/"+checksumsFile)
	if want != got {
		t.Errorf("SHA256SUMS of the task folder built in %s:\n%s\nbuilt in %s:\n%s", ref, want, second, got)
	}
	if !strings.Contains(got, "  bin/windows_arm64/gokeyvault.exe\n") || !strings.Contains(got, "  "+noticesFile+"\n") {
		t.Errorf("SHA256SUMS does not list the binaries and notices:\n%s", got)
	}
}

// notABuildOf says why the package in root is not a build of commit head
// from a clean tree, or "" when it is.
func notABuildOf(root, head string) string {
	host := platform{runtime.GOOS, runtime.GOARCH}
	info, err := buildinfo.ReadFile(filepath.Join(root, "task", filepath.FromSlash(host.binPath())))
	if err != nil {
		return err.Error()
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	switch {
	case settings["vcs.revision"] == "":
		return "its binaries record no commit"
	case settings["vcs.revision"] != head:
		return "its binaries are of commit " + settings["vcs.revision"]
	case settings["vcs.modified"] != "false":
		return "it was built with uncommitted changes"
	}
	if _, err := os.Stat(filepath.Join(root, "dist", checksumsFile)); err != nil {
		return err.Error()
	}
	return ""
}

// coldPlatforms are this machine's platform, when it is one of the seven,
// and the last of the seven that differs from it in both OS and
// architecture.
func coldPlatforms() []platform {
	host := platform{runtime.GOOS, runtime.GOARCH}
	var out []platform
	if slices.Contains(platforms(), host) {
		out = append(out, host)
	}
	all := platforms()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].GOOS != host.GOOS && all[i].GOARCH != host.GOARCH {
			return append(out, all[i])
		}
	}
	return out
}

// cloneAt clones repo into a new folder and checks out commit.
func cloneAt(t *testing.T, repo, commit string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gokeyvault")
	runIn(t, "", nil, "git", "clone", "--quiet", repo, dir)
	runIn(t, dir, nil, "git", "checkout", "--quiet", "--detach", commit)
	return dir
}

func makePackage(t *testing.T, dir string, env []string) {
	t.Helper()
	start := time.Now()
	makeIn(t, dir, env, "package")
	t.Logf("make package in %s: %s", dir, time.Since(start).Round(time.Second))
}

// makeIn runs make in dir as a user would: without what the make test
// running this test passes to its children.
func makeIn(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	runIn(t, dir, env, "make", append([]string{"--no-print-directory"}, args...)...)
}

func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && !strings.HasPrefix(k, "GOKEYVAULT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, tail(out.String(), 40))
	}
	return out.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
