package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRepositorySources is what keeps the committed files from drifting:
// VERSION, task.json and vss-extension.json agree, and both manifests pass
// every check, with or without a .vsix around.
func TestRepositorySources(t *testing.T) {
	src, err := checkSources(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if src.manifest.taskFolder() != "task" {
		t.Errorf("task folder %q, want task (the shipped task folder is task/)", src.manifest.taskFolder())
	}
}

func validManifest() map[string]any {
	return map[string]any{
		"manifestVersion": 1,
		"id":              "gokeyvault",
		"name":            "GoKeyVault",
		"version":         "1.0.0",
		"publisher":       "gokeyvault",
		"description":     "Key Vault secrets as variables",
		"categories":      []any{"Azure Pipelines"},
		"targets": []any{
			map[string]any{"id": "Microsoft.VisualStudio.Services.Cloud"},
			map[string]any{"id": "Microsoft.TeamFoundation.Server", "version": "[19.0,)"},
		},
		"icons":      map[string]any{"default": "images/logo.png"},
		"tags":       []any{"Key Vault"},
		"links":      map[string]any{"support": map[string]any{"uri": "https://example.com/issues"}},
		"repository": map[string]any{"type": "git", "uri": "https://example.com/repo"},
		"content":    map[string]any{"details": map[string]any{"path": "overview.md"}, "license": map[string]any{"path": "LICENSE"}},
		"files":      []any{map[string]any{"path": "task"}},
		"contributions": []any{map[string]any{
			"id": "t", "type": "ms.vss-distributed-task.task", "targets": []any{"ms.vss-distributed-task.tasks"},
			"properties": map[string]any{"name": "task"},
		}},
	}
}

func TestValidateManifest(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string]any)
		files  map[string][]byte // extra files written after the fixture's
		want   []string
	}{
		{name: "valid", change: func(map[string]any) {}},
		{name: "manifestVersion", change: func(m map[string]any) { m["manifestVersion"] = 2 }, want: []string{
			"vss-extension.json: manifestVersion must be 1"}},
		{name: "publisher with a space", change: func(m map[string]any) { m["publisher"] = "Contoso Ltd" }, want: []string{
			`vss-extension.json: publisher "Contoso Ltd" must be letters, digits, '-' or '_'`}},
		{name: "version with four parts", change: func(m map[string]any) { m["version"] = "1.0.0.1" }, want: []string{
			`vss-extension.json: version "1.0.0.1" is not MAJOR.MINOR.PATCH (e.g. 1.2.3)`}},
		{name: "category", change: func(m map[string]any) { m["categories"] = []any{"Azure Repos"} }, want: []string{
			`vss-extension.json: categories must be ["Azure Pipelines"]`}},
		{name: "every server since TFS 2015", change: func(m map[string]any) { m["targets"] = []any{map[string]any{"id": "Microsoft.VisualStudio.Services"}} }, want: []string{
			`vss-extension.json: targets must be [{"id":"Microsoft.VisualStudio.Services.Cloud"},{"id":"Microsoft.TeamFoundation.Server","version":"[19.0,)"}]`}},
		{name: "servers older than 2022", change: func(m map[string]any) {
			m["targets"] = []any{map[string]any{"id": "Microsoft.VisualStudio.Services.Cloud"}, map[string]any{"id": "Microsoft.TeamFoundation.Server", "version": "[17.0,)"}}
		}, want: []string{
			`vss-extension.json: targets must be [{"id":"Microsoft.VisualStudio.Services.Cloud"},{"id":"Microsoft.TeamFoundation.Server","version":"[19.0,)"}]`}},
		{name: "no tags", change: func(m map[string]any) { delete(m, "tags") }, want: []string{
			"vss-extension.json: tags are required: they are how the Marketplace search finds the extension"}},
		{name: "http link", change: func(m map[string]any) {
			m["links"] = map[string]any{"home": map[string]any{"uri": "http://example.com"}}
		}, want: []string{
			`vss-extension.json: links.home.uri "http://example.com" is not an https URL`}},
		{name: "no repository", change: func(m map[string]any) { delete(m, "repository") }, want: []string{
			`vss-extension.json: repository must be {"type": "git", "uri": ...}`}},
		{name: "logo of the wrong size", change: func(map[string]any) {}, files: map[string][]byte{"images/logo.png": pngOf(t, 64)}, want: []string{
			"vss-extension.json: icons.default: logo.png is 64x64; it must be 128x128"}},
		{name: "logo not a PNG", change: func(map[string]any) {}, files: map[string][]byte{"images/logo.png": []byte("GIF89a\x01\x00\x01\x00\x00\x00")}, want: []string{
			"vss-extension.json: icons.default: logo.png is not a PNG image: png: invalid format: not a PNG file"}},
		{name: "task icon of the wrong size", change: func(map[string]any) {}, files: map[string][]byte{"task/icon.png": pngOf(t, 128)}, want: []string{
			`vss-extension.json: contribution "t": task icon: icon.png is 128x128; it must be 32x32`}},
		{name: "no overview", change: func(m map[string]any) { m["content"] = map[string]any{} }, want: []string{
			"vss-extension.json: content.details.path is required (the Marketplace overview)"}},
		{name: "overview missing", change: func(m map[string]any) {
			m["content"] = map[string]any{"details": map[string]any{"path": "README-missing.md"}}
		}, want: []string{
			`vss-extension.json: content.details: path "README-missing.md" does not exist`}},
		{name: "files outside the repository", change: func(m map[string]any) {
			m["files"] = []any{map[string]any{"path": "task"}, map[string]any{"path": "../etc"}}
		}, want: []string{
			`vss-extension.json: files: path "../etc" must be relative and inside the repository`}},
		{name: "task folder not in files", change: func(m map[string]any) { m["files"] = []any{map[string]any{"path": "images"}} }, want: []string{
			`vss-extension.json: contribution "t": its task folder "task" is not listed in files`}},
		{name: "contribution targets", change: func(m map[string]any) { contribution(m)["targets"] = []any{"ms.vss-web.hub-groups"} }, want: []string{
			`vss-extension.json: contribution "t": targets must be ["ms.vss-distributed-task.tasks"]`}},
		{name: "no task contribution", change: func(m map[string]any) { contribution(m)["type"] = "ms.vss-web.hub" }, want: []string{
			"vss-extension.json: want exactly one contribution of type ms.vss-distributed-task.task, found 0"}},
		{name: "task folder without task.json", change: func(m map[string]any) {
			contribution(m)["properties"] = map[string]any{"name": "images"}
			m["files"] = []any{map[string]any{"path": "images"}}
		}, want: []string{
			`vss-extension.json: contribution "t": path "images/task.json" does not exist`,
			`vss-extension.json: contribution "t": task icon: icon.png does not exist`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := validManifest()
			tt.change(doc)
			root := manifestFixture(t, doc, tt.files)
			m, _, err := readManifest(root)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, validateManifest(root, m)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func contribution(m map[string]any) map[string]any {
	return m["contributions"].([]any)[0].(map[string]any)
}

// manifestFixture writes a repository holding the manifest doc and the
// files it names, then extra on top.
func manifestFixture(t *testing.T, doc map[string]any, extra map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		manifestFile:      data,
		"overview.md":     []byte("# Overview\n"),
		"LICENSE":         []byte("MIT\n"),
		"images/logo.png": pngOf(t, 128),
		"task/task.json":  []byte(`{"version": {"Major": 1, "Minor": 0, "Patch": 0}}`),
		"task/icon.png":   pngOf(t, 32),
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func pngOf(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, size, size))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
