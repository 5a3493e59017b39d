package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goodVSIX is what a correct package of validManifest holds.
func goodVSIX() *vsix {
	v := &vsix{
		Size: 18 << 20, ID: "gokeyvault", Version: "1.0.7", Publisher: "contoso",
		TaskFolders: []string{"task"},
		Files: []string{
			"LICENSE", "[Content_Types].xml", "extension.vsixmanifest", "extension.vsomanifest",
			"images/logo.png", "overview.md", "task/icon.png", "task/launcher.js", "task/task.json",
		},
	}
	for _, p := range platforms() {
		v.Files = append(v.Files, "task/"+p.binPath())
	}
	for _, f := range supplyFiles() {
		v.Files = append(v.Files, "task/"+f)
	}
	slices.Sort(v.Files)
	return v
}

func TestCheckVSIX(t *testing.T) {
	tests := []struct {
		name   string
		change func(v *vsix)
		want   []string
	}{
		{name: "good", change: func(*vsix) {}},
		{name: "25 MiB exactly", change: func(v *vsix) { v.Size = 25 << 20 }},
		{name: "over 25 MiB", change: func(v *vsix) { v.Size = 25<<20 + 1 }, want: []string{
			"vsix: 26214401 bytes (25.0 MiB) is over Azure DevOps Server's limit of 25 MiB"}},
		{name: "other version", change: func(v *vsix) { v.Version = "1.0.6" }, want: []string{
			"vsix: identity is contoso.gokeyvault 1.0.6, want contoso.gokeyvault 1.0.7"}},
		{name: "other publisher", change: func(v *vsix) { v.Publisher = "gokeyvault" }, want: []string{
			"vsix: identity is gokeyvault.gokeyvault 1.0.7, want contoso.gokeyvault 1.0.7"}},
		{name: "no task contribution", change: func(v *vsix) { v.TaskFolders = nil }, want: []string{
			`vsix: task contributions point to [], want ["task"]`}},
		{name: "a binary missing", change: func(v *vsix) { v.Files = without(v.Files, "task/bin/darwin_arm64/gokeyvault") }, want: []string{
			"vsix: task/bin/darwin_arm64/gokeyvault is missing"}},
		{name: "task.json missing", change: func(v *vsix) { v.Files = without(v.Files, "task/task.json") }, want: []string{
			"vsix: task/task.json is missing"}},
		{name: "the notices missing", change: func(v *vsix) { v.Files = without(v.Files, "task/ThirdPartyNotices.txt") }, want: []string{
			"vsix: task/ThirdPartyNotices.txt is missing"}},
		{name: "an SBOM missing", change: func(v *vsix) { v.Files = without(v.Files, "task/sbom/linux_arm.cdx.json") }, want: []string{
			"vsix: task/sbom/linux_arm.cdx.json is missing"}},
		{name: "the checksums missing", change: func(v *vsix) { v.Files = without(v.Files, "task/SHA256SUMS") }, want: []string{
			"vsix: task/SHA256SUMS is missing"}},
		{name: "tfx's manifest missing", change: func(v *vsix) { v.Files = without(v.Files, "extension.vsomanifest") }, want: []string{
			"vsix: extension.vsomanifest is missing"}},
		{name: "an extra binary", change: func(v *vsix) { v.Files = append(v.Files, "task/bin/linux_amd64/gokeyvault.old") }, want: []string{
			"vsix: task/bin/linux_amd64/gokeyvault.old is not one of the six binaries"}},
		{name: "a test file", change: func(v *vsix) { v.Files = append(v.Files, "task/launcher.test.js") }, want: []string{
			"vsix: task/launcher.test.js must not be shipped"}},
		{name: "node_modules", change: func(v *vsix) { v.Files = append(v.Files, "task/node_modules/x/index.js") }, want: []string{
			"vsix: task/node_modules/x/index.js must not be shipped"}},
		{name: "a file the manifest does not name", change: func(v *vsix) { v.Files = append(v.Files, "README.md") }, want: []string{
			"vsix: README.md is not in the manifest's files, icons or content"}},
	}
	m := manifestFrom(t, validManifest())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := goodVSIX()
			tt.change(v)
			if diff := cmp.Diff(tt.want, checkVSIX(v, m, version{1, 0, 7}, "contoso")); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadVSIX(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.vsix")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, content := range map[string]string{
		"extension.vsixmanifest": `<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
  <Metadata><Identity Language="en-US" Id="gokeyvault" Version="1.0.7" Publisher="contoso"/></Metadata>
</PackageManifest>`,
		"extension.vsomanifest": `{"contributions": [{"type": "ms.vss-web.hub"}, {"type": "ms.vss-distributed-task.task", "properties": {"name": "task"}}]}`,
		"task/":                 "",
		"task/task.json":        "{}",
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}

	got, err := readVSIX(file)
	if err != nil {
		t.Fatal(err)
	}
	want := &vsix{
		Size: fi.Size(), ID: "gokeyvault", Version: "1.0.7", Publisher: "contoso",
		TaskFolders: []string{"task"},
		Files:       []string{"extension.vsixmanifest", "extension.vsomanifest", "task/task.json"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readVSIX (-want +got):\n%s", diff)
	}
}

func manifestFrom(t *testing.T, doc map[string]any) *manifest {
	t.Helper()
	m, _, err := readManifest(manifestFixture(t, doc, nil))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func without(list []string, item string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == item })
}
