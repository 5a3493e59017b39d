package main

import (
	"debug/buildinfo"
	"errors"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVersionCommand: gokeyvault version, first on the command line,
// prints what the toolchain recorded in the binary. The e2e binary is built
// without version control information (harness_test.go), so the commit is
// unknown; build/package's test of the packed binary checks a real commit.
func TestVersionCommand(t *testing.T) {
	out, err := exec.Command(checkBin, "version").Output()
	if err != nil {
		t.Fatalf("gokeyvault version: %v", err)
	}
	bi, err := buildinfo.ReadFile(checkBin)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{
		"GoKeyVault   dev",
		"commit       unknown (built without version control information)",
		"commit time  unknown",
		"modified     unknown",
		"go           " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"main         github.com/gokeyvault/gokeyvault/cmd/gokeyvault",
		"modules (" + strconv.Itoa(len(bi.Deps)) + "):",
	}
	if len(lines) < len(want) {
		t.Fatalf("gokeyvault version printed:\n%s", out)
	}
	if diff := cmp.Diff(want, lines[:len(want)]); diff != "" {
		t.Errorf("gokeyvault version (-want +got):\n%s", diff)
	}
	// One line per linked module: path, version, go.sum hash.
	var gotMods, wantMods [][]string
	for _, l := range lines[len(want):] {
		gotMods = append(gotMods, strings.Fields(l))
	}
	for _, d := range bi.Deps {
		wantMods = append(wantMods, []string{d.Path, d.Version, d.Sum})
	}
	if len(wantMods) < 5 {
		t.Fatalf("the binary links %d modules; the Azure SDK alone is more", len(wantMods))
	}
	if diff := cmp.Diff(wantMods, gotMods); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
}

// TestVersionSubcommandOnlyFirst: "version" is a subcommand only as the
// first argument and takes none; --version still prints the bare version,
// which packaging compares with VERSION.
func TestVersionSubcommandOnlyFirst(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"version", "extra"}, 2, "gokeyvault version takes no argument, got [\"extra\"]\n"},
		{[]string{"--stage", "main", "version"}, 2, "unexpected argument \"version\": the task takes flags only; gokeyvault check, first on the command line, checks a vault from your machine\n"},
		{[]string{"--version"}, 0, "dev\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := exec.Command(checkBin, tt.args...).Output()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || string(out) != tt.wantOut {
				t.Errorf("exit %d, output %q; want exit %d, output %q", code, out, tt.wantCode, tt.wantOut)
			}
		})
	}
}
