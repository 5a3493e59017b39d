package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// cycloneDXSchema is the CycloneDX 1.6 JSON schema, with the SPDX license
// list and JSF schemas it refers to, as cyclonedx-go (a module this one
// requires, pinned by go.sum) ships them: nothing is fetched, nothing is
// copied into this repository.
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go")
	cmd.Dir = supplyDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("find cyclonedx-go in the module cache: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, id := range map[string]string{
		"bom-1.6.schema.json":   "http://cyclonedx.org/schema/bom-1.6.schema.json",
		"spdx.schema.json":      "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schemax.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, data []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the SBOM is not valid CycloneDX 1.6: %v", err)
	}
}

// TestRun: supply on a binary writes the notices and an SBOM that is valid
// CycloneDX 1.6 and names every linked module with its version, hash and
// license; a second run writes the same bytes.
func TestRun(t *testing.T) {
	f := newFixture(t, mitLicense)
	sch := cycloneDXSchema(t)
	f.enter(t)
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"-root", f.Dir, "-out", out, "-version", "1.2.3", f.Binary}, &stdout); err != nil {
		t.Fatal(err)
	}
	platform := runtime.GOOS + "_" + runtime.GOARCH
	wantOut := "ThirdPartyNotices.txt: 2 modules and the Go standard library\nsbom/" + platform + ".cdx.json: 2 modules and the Go standard library\n"
	if stdout.String() != wantOut {
		t.Errorf("output %q, want %q", stdout.String(), wantOut)
	}
	data, err := os.ReadFile(filepath.Join(out, "sbom", platform+".cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, sch, data)

	var bom cdx.BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatal(err)
	}
	type comp struct{ Name, Version, Licenses string }
	var got []comp
	for _, c := range append([]cdx.Component{*bom.Metadata.Component}, *bom.Components...) {
		got = append(got, comp{c.Name, c.Version, licenseIDs(&c)})
	}
	want := []comp{
		{"example.com/app", "v1.2.3", "MIT"},
		{"./lib", "(devel)", "MIT"}, // cyclonedx-gomod names a replaced module by its replacement
		{"golang.org/x/sync", f.Sync.Version, "BSD-3-Clause"},
		{"std", runtime.Version(), "BSD-3-Clause"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}

	again := t.TempDir()
	if err := run(t.Context(), []string{"-root", f.Dir, "-out", again, "-version", "1.2.3", f.Binary}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{noticesFile, "sbom/" + platform + ".cdx.json"} {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}
