package main

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeTfxEnv makes the test binary act as tfx (see TestMain), so runTfx is
// tested without Node or the npm registry.
const fakeTfxEnv = "GOKEYVAULT_FAKE_TFX"

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(fakeTfxEnv); ok {
		os.Exit(fakeTfx(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeTfx writes an empty zip to --output-path and prints what tfx prints in
// the given mode: "ok", "warn" (a real tfx warning) or "fail".
func fakeTfx(mode string, args []string) int {
	var out string
	for i, a := range args {
		if a == "--output-path" && i+1 < len(args) {
			out = args[i+1]
		}
	}
	fmt.Println("TFS Cross Platform Command Line Interface v0.23.1")
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "error: Error: Part Name 'task/x' is invalid.")
		return 255
	}
	if mode == "warn" {
		fmt.Println("warning: Could not determine content type for extension .sig. Defaulting to application/octet-stream.")
	}
	f, err := os.Create(out)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if err := zip.NewWriter(f).Close(); err != nil {
		return 1
	}
	f.Close()
	fmt.Println("=== Completed operation: create extension ===")
	fmt.Println(" - VSIX:", out)
	return 0
}

func TestRunTfx(t *testing.T) {
	tests := []struct {
		mode    string
		wantErr string
	}{
		{mode: "ok"},
		{mode: "warn", wantErr: "tfx extension create warned; fix the cause, a warning is a failure:\nwarning: Could not determine content type"},
		{mode: "fail", wantErr: "tfx extension create: exit status 255"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Setenv(fakeTfxEnv, tt.mode)
			out := filepath.Join(t.TempDir(), "x.vsix")
			output, err := runTfx(context.Background(), os.Args[0], t.TempDir(), out)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("runTfx: %v", err)
				}
				if !strings.Contains(output, "Completed operation") {
					t.Errorf("output %q lacks tfx's report", output)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("runTfx error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTfxComplaints(t *testing.T) {
	output := strings.Join([]string{
		"TFS Cross Platform Command Line Interface v0.23.1",
		"Copyright Microsoft Corporation",
		"\x1b[43m\x1b[30mwarning: \x1b[39m\x1b[49mTask GoKeyVault@1 is dependent on a task runner that is end-of-life",
		"error: Error: ENOENT: no such file or directory",
		"=== Completed operation: create extension ===",
		" - VSIX: /tmp/warnings/gokeyvault.vsix",
		"(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.",
	}, "\n")
	want := []string{
		"warning: Task GoKeyVault@1 is dependent on a task runner that is end-of-life",
		"error: Error: ENOENT: no such file or directory",
		"(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.",
	}
	if diff := cmp.Diff(want, tfxComplaints(output)); diff != "" {
		t.Errorf("complaints (-want +got):\n%s", diff)
	}
}

func TestTfxEnv(t *testing.T) {
	got := tfxEnv([]string{"PATH=/bin", "TFX_TRACE=1", "tfx_trace_validation=1", "NODE_OPTIONS=--max-old-space-size=512", "HOME=/h"})
	want := []string{"PATH=/bin", "HOME=/h", "NODE_OPTIONS=--max-old-space-size=512 --no-deprecation"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}
