package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestChecksums: one sha256sum line per file under the folder but the
// checksums file itself, sorted by slash-separated path, read back whole.
func TestChecksums(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"task.json":                      "{}",
		"bin/linux_amd64/gokeyvault":     "",
		"sbom/linux_amd64.cdx.json":      "{\"bomFormat\": \"CycloneDX\"}\n",
		"ThirdPartyNotices.txt":          "notices\n",
		checksumsFile:                    "old checksums, not listed\n",
		"bin/windows_arm64/gokeyvault.x": "x",
	})
	got, err := checksums(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"cb58c31adbefea47f8c55d053b5e77302f4e8cd838db5715cea24e6a93f34c12  ThirdPartyNotices.txt",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  bin/linux_amd64/gokeyvault",
		"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  bin/windows_arm64/gokeyvault.x",
		"f3d9128bd55fb83158f22f333b3a6470384d0e4b02a9dcc3e8df90b5afb7b6c0  sbom/linux_amd64.cdx.json",
		"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a  task.json",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("checksums (-want +got):\n%s", diff)
	}
	sums, err := parseChecksums(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 5 || sums["task.json"] != "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
		t.Errorf("parseChecksums = %v", sums)
	}
	if _, err := parseChecksums([]byte("abc  task.json\n")); err == nil || err.Error() != `SHA256SUMS: not a checksum line: "abc  task.json"` {
		t.Errorf("parseChecksums of a bad line: %v", err)
	}
}

// TestCopyBeside: what is beside the .vsix is exactly the packed notices,
// SBOMs and checksums; an SBOM left from an older package is removed.
func TestCopyBeside(t *testing.T) {
	task, dist := t.TempDir(), t.TempDir()
	files := map[string]string{}
	for _, f := range supplyFiles() {
		files[f] = "content of " + f
	}
	writeFiles(t, task, files)
	writeFiles(t, dist, map[string]string{"sbom/plan9_386.cdx.json": "stale", "x.vsix": "vsix"})
	if err := copyBeside(task, dist); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"x.vsix"}, supplyFiles()...)
	slices.Sort(want)
	if diff := cmp.Diff(want, filesUnder(t, dist)); diff != "" {
		t.Errorf("beside the .vsix (-want +got):\n%s", diff)
	}
	for _, f := range supplyFiles() {
		if got, _ := os.ReadFile(filepath.Join(dist, filepath.FromSlash(f))); string(got) != files[f] {
			t.Errorf("%s = %q", f, got)
		}
	}
}
