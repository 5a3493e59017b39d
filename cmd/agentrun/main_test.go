package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeTask(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"task.json": `{"inputs":[{"name":"Name"}],"execution":{"Node20_1":{"target":"main.js"}}}`,
		"main.js": `const o = s => process.stdout.write(s + "\n");
o("input " + process.env.INPUT_NAME);
o("url " + process.env["ENDPOINT_URL_ep-1"]);
o("proxy " + process.env.SECRET_AGENT_PROXYPASSWORD);
o("extra " + process.env.EXTRA);
o("##vso[task.setvariable variable=out;issecret=true]s3cret-out");
o("##vso[task.setvariable variable=plain]p");`,
		"endpoints.json": `[{"id":"ep-1","url":"https://management.azure.com/","scheme":"ServicePrincipal","params":{"serviceprincipalkey":"k3y"}}]`,
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	dir := writeTask(t)
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"PATH": os.Getenv("PATH"), "EXTRA": "from-here"}[k]
		return v, ok
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{
			name: "runs and hides secrets",
			args: []string{"-task", dir, "-input", "Name=kv", "-secret-variable", "agent.proxypassword=pr0xy", "-variable", "a.b=c",
				"-endpoint-file", filepath.Join(dir, "endpoints.json"), "-env", "EXTRA"},
			wantCode: 0,
			wantOut: []string{
				"input kv", "url https://management.azure.com/", "proxy ***", "extra from-here",
				"---- variables after the step",
				`a.b = "c"`, "agent.proxypassword = *** (secret)", "out = *** (secret)", `plain = "p"`,
				"---- result: Succeeded (exit code 0, 0 issue(s))",
			},
		},
		{
			name:     "show values",
			args:     []string{"-task", dir, "-show-values", "-env", "EXTRA=given"},
			wantCode: 0,
			wantOut: []string{
				"input ", "url undefined", "proxy undefined", "extra given",
				"---- variables after the step",
				`out = "s3cret-out" (secret)`, `plain = "p"`,
				"---- result: Succeeded (exit code 0, 0 issue(s))",
			},
		},
		{name: "missing task", args: []string{}, wantCode: 2},
		{name: "bad stage", args: []string{"-task", dir, "-stage", "post"}, wantCode: 2},
		{name: "bad input", args: []string{"-task", dir, "-input", "novalue"}, wantCode: 2},
		{name: "runner error", args: []string{"-task", t.TempDir()}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut, lookup)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			if tt.wantOut == nil {
				return
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.wantOut, got); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
