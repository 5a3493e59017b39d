package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlatformLists: platforms() is the one list of the platforms the task
// ships for; the Makefile's PLATFORMS (what build-all builds) and the
// launcher's TARGETS (where it looks for a binary) must name the same.
func TestPlatformLists(t *testing.T) {
	var want []string
	for _, p := range platforms() {
		want = append(want, p.binPath())
	}
	sort.Strings(want)

	m := regexp.MustCompile(`(?m)^PLATFORMS\s*:=(.*)$`).FindStringSubmatch(readFile(t, repoRoot, "Makefile"))
	if m == nil {
		t.Fatal("the Makefile has no PLATFORMS := line")
	}
	var made []string
	for _, f := range strings.Fields(m[1]) {
		goos, goarch, _ := strings.Cut(f, "/")
		made = append(made, platform{goos, goarch}.binPath())
	}
	sort.Strings(made)
	if diff := cmp.Diff(want, made); diff != "" {
		t.Errorf("the Makefile's PLATFORMS builds other binaries than platforms() ships (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(want, launcherBinaries(t)); diff != "" {
		t.Errorf("task/launcher.js looks for other binaries than platforms() ships (-want +got):\n%s", diff)
	}
}

// launcherBinaries asks the launcher's binaryPath where it looks on every
// platform and processor Node can name, and returns the paths it accepts,
// relative to the task folder.
func launcherBinaries(t *testing.T) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node runs the launcher (make test needs it too): %v", err)
	}
	nodePlatforms := []string{"aix", "android", "cygwin", "darwin", "freebsd", "haiku", "linux", "netbsd", "openbsd", "sunos", "win32"}
	nodeArchs := []string{"arm", "arm64", "ia32", "loong64", "mips", "mipsel", "ppc", "ppc64", "riscv64", "s390", "s390x", "x64"}
	const ask = `var l = require(process.argv[1]), out = [];
JSON.parse(process.argv[2]).forEach(function (p) {
  JSON.parse(process.argv[3]).forEach(function (a) {
    try { out.push(l.binaryPath(p, a, '', {})); } catch (e) {}
  });
});
console.log(JSON.stringify(out));`
	ps, _ := json.Marshal(nodePlatforms)
	as, _ := json.Marshal(nodeArchs)
	launcher, err := filepath.Abs(filepath.Join(repoRoot, "task", "launcher.js"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "-e", ask, launcher, string(ps), string(as)).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var paths []string
	if err := json.Unmarshal(out, &paths); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	for i, p := range paths {
		paths[i] = filepath.ToSlash(p)
	}
	sort.Strings(paths)
	return paths
}
