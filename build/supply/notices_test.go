package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoticesRefuse: a linked module without a license file, or with one
// go-licenses does not recognise, fails the notices, naming the module.
func TestNoticesRefuse(t *testing.T) {
	tests := []struct {
		name       string
		libLicense string
		want       string
	}{
		{"no license file", "", "module example.com/lib (replaced by ./lib) (package example.com/lib): no license file that go-licenses recognises"},
		{"a license go-licenses does not know", "Copyright 2026 Example Authors. All rights reserved.\nAsk us before you use this.\n",
			"module example.com/lib (replaced by ./lib) (package example.com/lib): no license file that go-licenses recognises"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.libLicense)
			bins := f.enter(t)
			_, err := collectNotices(context.Background(), bins)
			if err == nil {
				t.Fatal("the notices were collected")
			}
			want := "the third-party notices are incomplete: 1 problem(s):\n  " + tt.want
			if err.Error() != want {
				t.Errorf("error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

// TestNotices: with every module licensed, the notices hold each linked
// module's license text and version, the Go standard library's, and not
// the main module's.
func TestNotices(t *testing.T) {
	f := newFixture(t, mitLicense)
	bins := f.enter(t)
	s, err := collectNotices(context.Background(), bins)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), noticesFile)
	if err := s.write(file, bins); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	syncLicense, err := os.ReadFile(filepath.Join(f.Sync.Dir, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	goLicense, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	mustContain(t, text,
		"2 modules and the Go standard library:\n",
		"\n"+rule+"\nexample.com/lib \nLicense: MIT\nLinked into: every binary\n\n---- LICENSE ----\n\n"+mitLicense,
		"\n"+rule+"\ngolang.org/x/sync "+f.Sync.Version+"\nLicense: BSD-3-Clause\nLinked into: every binary\n\n---- LICENSE ----\n\n"+string(syncLicense),
		"\n"+rule+"\nGo standard library "+runtime.Version()+"\nLicense: BSD-3-Clause\nLinked into: every binary\n\n---- LICENSE ----\n\n"+string(goLicense),
	)
	if strings.Contains(text, "example.com/app") {
		t.Errorf("the notices name the main module:\n%s", text)
	}
	if got := s.licensesOf("example.com/app", "example.com/app"); len(got) != 1 || got[0] != "MIT" {
		t.Errorf("own license %q, want [MIT]", got)
	}
}

// TestNoticesMissAModule: a module the binary records that go-licenses found
// no package of (a binary of another tree) is a problem, not a silent gap.
func TestNoticesMissAModule(t *testing.T) {
	f := newFixture(t, mitLicense)
	bins := f.enter(t)
	s := &noticeSet{modules: map[string]*notice{}, incomplete: map[string]bool{}}
	s.checkComplete(bins)
	want := []string{
		"module example.com/lib (replaced by ./lib) is linked into " + runtime.GOOS + "_" + runtime.GOARCH + ", but has no notice",
		"module golang.org/x/sync " + f.Sync.Version + " is linked into " + runtime.GOOS + "_" + runtime.GOARCH + ", but has no notice",
	}
	if strings.Join(s.problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(s.problems, "\n"), strings.Join(want, "\n"))
	}
}
