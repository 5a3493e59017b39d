package main

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// publisherEnv names the publisher of the .vsix make package just wrote
// (build/package's test reads it too). make test sets it, which makes a
// missing .vsix a failure; a plain go test skips without one.
const publisherEnv = "GOKEYVAULT_VSIX_PUBLISHER"

// TestShippedSBOMs: in the .vsix make package wrote, each binary's SBOM is
// valid CycloneDX 1.6 and describes that binary exactly (checkBOM), and the
// notices name every module each binary links.
func TestShippedSBOMs(t *testing.T) {
	files := shippedTask(t)
	sch := cycloneDXSchema(t)
	notices := string(files[noticesFile])
	dir := t.TempDir()
	checked := 0
	for name, data := range files {
		if !strings.HasPrefix(name, "bin/") {
			continue
		}
		platform := path.Base(path.Dir(name))
		file := filepath.Join(dir, platform)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := readBinary(file)
		if err != nil {
			t.Fatal(err)
		}
		sbom, ok := files["sbom/"+platform+".cdx.json"]
		if !ok {
			t.Errorf("no SBOM for %s", name)
			continue
		}
		validate(t, sch, sbom)
		var bom cdx.BOM
		if err := json.Unmarshal(sbom, &bom); err != nil {
			t.Fatal(err)
		}
		for _, p := range checkBOM(&bom, b, sha256Hex(data)) {
			t.Errorf("sbom/%s.cdx.json: %s", platform, p)
		}
		for _, m := range b.linked() {
			if !strings.Contains(notices, "\n"+rule+"\n"+m.Path+" "+m.Version+"\n") {
				t.Errorf("%s does not name %s, which %s links", noticesFile, m, platform)
			}
		}
		checked++
	}
	if checked != 7 {
		t.Errorf("checked %d binaries, want the seven", checked)
	}
}

// shippedTask returns the files of the task folder in the .vsix of this
// VERSION, by their path in the task folder.
func shippedTask(t *testing.T) map[string][]byte {
	t.Helper()
	version, err := os.ReadFile(filepath.Join(supplyDir, "..", "..", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	publisher, strict := os.LookupEnv(publisherEnv)
	if !strict {
		publisher = "*"
	}
	pattern := filepath.Join(supplyDir, "..", "..", "dist", publisher+".gokeyvault-"+strings.TrimSpace(string(version))+".vsix")
	matches, _ := filepath.Glob(pattern)
	switch {
	case len(matches) == 0 && strict:
		t.Fatalf("%s=%s but there is no %s", publisherEnv, publisher, pattern)
	case len(matches) == 0:
		t.Skipf("no %s: run make package first (make test does)", pattern)
	}
	zr, err := zip.OpenReader(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, "task/")
		if !ok || strings.HasSuffix(name, "/") {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[name], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}
