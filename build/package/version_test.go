package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    version
		wantErr bool
	}{
		{in: "1.0.0", want: version{1, 0, 0}},
		{in: "0.0.0", want: version{0, 0, 0}},
		{in: "12.34.567", want: version{12, 34, 567}},
		{in: "999999999.0.1", want: version{999999999, 0, 1}},
		{in: "1.0", wantErr: true},
		{in: "1.0.0.0", wantErr: true},
		{in: "1.0.0-beta", wantErr: true},
		{in: "v1.0.0", wantErr: true},
		{in: "01.0.0", wantErr: true},
		{in: "1234567890.0.0", wantErr: true},
		{in: " 1.0.0", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseVersion(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestReadVersionFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "VERSION")
	if err := os.WriteFile(file, []byte("2.5.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := readVersionFile(file); err != nil || v != (version{2, 5, 1}) {
		t.Errorf("readVersionFile = %v, %v; want 2.5.1", v, err)
	}
	if err := os.WriteFile(file, []byte("2.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readVersionFile(file); err == nil || !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
		t.Errorf("readVersionFile(2.5) error = %v, want one naming MAJOR.MINOR.PATCH", err)
	}
}

const taskJSONSample = `{
  "id": "757afe90-1df7-4bec-b49c-3e17b3786e12",
  "version":{ "Major" :1,
    "Minor": 0,   "Patch": 7 },
  "inputs": [{"name": "a", "defaultValue": "Major"}]
}
`

func TestStampTask(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		v       version
		want    string
		wantErr string
	}{
		{
			name: "only the numbers change",
			in:   taskJSONSample,
			v:    version{3, 12, 0},
			want: strings.Replace(taskJSONSample, `"Major" :1,
    "Minor": 0,   "Patch": 7`, `"Major" :3,
    "Minor": 12,   "Patch": 0`, 1),
		},
		{name: "same version, same bytes", in: taskJSONSample, v: version{1, 0, 7}, want: taskJSONSample},
		{
			name:    "a second version object is ambiguous",
			in:      `{"version": {"Major": 1, "Minor": 0, "Patch": 0}, "x": {"version": {"Major": 2}}}`,
			v:       version{1, 0, 1},
			wantErr: `want one "version": {...} object, found 2`,
		},
		{
			name:    "no Patch",
			in:      `{"version": {"Major": 1, "Minor": 0}}`,
			v:       version{1, 0, 1},
			wantErr: `want one "Patch" in the version object, found 0`,
		},
		{name: "no version", in: `{"id": "x"}`, v: version{1, 0, 0}, wantErr: "found 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stampTask([]byte(tt.in), tt.v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("stamped task.json (-want +got):\n%s", diff)
			}
		})
	}
}

const manifestSample = `{
  "manifestVersion": 1,
  "id": "gokeyvault",
  "version" : "1.0.0",
  "publisher": "gokeyvault",
  "files": [{"path": "task"}]
}
`

func TestStampManifest(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		v         version
		publisher string
		want      string
		wantErr   string
	}{
		{
			name: "version and publisher",
			in:   manifestSample, v: version{1, 2, 3}, publisher: "contoso-devops_1",
			want: strings.NewReplacer(`"version" : "1.0.0"`, `"version" : "1.2.3"`, `"publisher": "gokeyvault"`, `"publisher": "contoso-devops_1"`).Replace(manifestSample),
		},
		{name: "empty publisher keeps the manifest's", in: manifestSample, v: version{1, 0, 0}, want: manifestSample},
		{
			name: "no publisher to override", in: `{"version": "1.0.0"}`, v: version{1, 0, 0}, publisher: "contoso",
			wantErr: `want one "publisher" string, found 0`,
		},
		{
			name: "nested version makes it ambiguous", in: `{"version": "1.0.0", "contributions": [{"properties": {"version": "2.0.0"}}]}`, v: version{1, 0, 1},
			wantErr: `want one "version" string, found 2`,
		},
		{
			name: "a target's version range is not the extension's", in: `{"version": "1.0.0", "targets": [{"id": "Microsoft.TeamFoundation.Server", "version": "[19.0,)"}]}`, v: version{1, 0, 1},
			want: `{"version": "1.0.1", "targets": [{"id": "Microsoft.TeamFoundation.Server", "version": "[19.0,)"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stampManifest([]byte(tt.in), tt.v, tt.publisher)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("stamped manifest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteVersion(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"VERSION":            "1.0.7\n",
		"vss-extension.json": `{"version": "1.0.7", "publisher": "p", "contributions": [{"id": "t", "type": "ms.vss-distributed-task.task", "properties": {"name": "task"}}]}`,
		"task/task.json":     taskJSONSample,
	}
	writeFiles(t, root, files)

	if err := writeVersion(root, "1.0", new(strings.Builder)); err == nil {
		t.Fatal("writeVersion(1.0) succeeded; want an error")
	}
	if diff := cmp.Diff(files, readFiles(t, root, files)); diff != "" {
		t.Fatalf("a refused version changed files (-want +got):\n%s", diff)
	}

	var out strings.Builder
	if err := writeVersion(root, "2.0.0", &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"VERSION":            "2.0.0\n",
		"vss-extension.json": strings.Replace(files["vss-extension.json"], `"version": "1.0.7"`, `"version": "2.0.0"`, 1),
		"task/task.json": strings.Replace(taskJSONSample, `"Major" :1,
    "Minor": 0,   "Patch": 7`, `"Major" :2,
    "Minor": 0,   "Patch": 0`, 1),
	}
	if diff := cmp.Diff(want, readFiles(t, root, files)); diff != "" {
		t.Errorf("files after set-version (-want +got):\n%s", diff)
	}
	if got, wantOut := out.String(), "version 2.0.0 written to VERSION, task/task.json and vss-extension.json\n"; got != wantOut {
		t.Errorf("output %q, want %q", got, wantOut)
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFiles(t *testing.T, root string, names map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for name := range names {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		got[name] = string(b)
	}
	return got
}
