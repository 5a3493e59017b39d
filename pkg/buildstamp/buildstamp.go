// Package buildstamp says what a binary is: its version, the commit and
// tree it was built from, the Go toolchain and the module versions linked
// in, as the Go toolchain recorded them in the binary (runtime/debug's
// build information). A reviewer compares these with a build of their own;
// the task's first log line names the version and the commit.
package buildstamp

import (
	"fmt"
	"io"
	"runtime/debug"
	"text/tabwriter"
)

// Stamp is what a binary says about itself.
type Stamp struct {
	Version   string // stamped from VERSION by the Makefile; "dev" otherwise
	Revision  string // the full commit id; "" when the build recorded none
	Time      string // the commit's time, RFC 3339; "" when unknown
	Modified  string // "true" when the tree had uncommitted changes, "false", or "" when unknown
	GoVersion string
	GOOS      string
	GOARCH    string
	Main      string // the main package's import path
	Modules   []Module
}

// Module is one module linked into the binary.
type Module struct {
	Path, Version, Sum string
	Replace            string // "path version" of its replacement, if any
}

// Read returns the running binary's stamp. The version comes from the
// linker (-X main.version), which -trimpath keeps out of the build
// information.
func Read(version string) Stamp {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(version, bi)
}

// FromBuildInfo returns the stamp that bi records; bi may be nil (a
// binary built without module support).
func FromBuildInfo(version string, bi *debug.BuildInfo) Stamp {
	s := Stamp{Version: version}
	if bi == nil {
		return s
	}
	s.GoVersion, s.Main = bi.GoVersion, bi.Path
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Revision = kv.Value
		case "vcs.time":
			s.Time = kv.Value
		case "vcs.modified":
			s.Modified = kv.Value
		case "GOOS":
			s.GOOS = kv.Value
		case "GOARCH":
			s.GOARCH = kv.Value
		}
	}
	for _, d := range bi.Deps {
		m := Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if d.Replace != nil {
			m.Replace = d.Replace.Path + " " + d.Replace.Version
		}
		s.Modules = append(s.Modules, m)
	}
	return s
}

// Commit is the commit as the task's first log line gives it: the first 12
// hex digits (as Go's pseudo-versions do), ", modified" when the tree had
// uncommitted changes, or "unknown" for a build that recorded no commit
// (outside a git checkout, or with -buildvcs=false).
func (s Stamp) Commit() string {
	if s.Revision == "" {
		return "unknown"
	}
	c := s.Revision
	if len(c) > 12 {
		c = c[:12]
	}
	if s.Modified == "true" {
		c += ", modified"
	}
	return c
}

// Write prints the stamp for a person: gokeyvault version.
func (s Stamp) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "GoKeyVault\t%s\n", s.Version)
	fmt.Fprintf(tw, "commit\t%s\n", orUnknown(s.Revision, "unknown (built without version control information)"))
	fmt.Fprintf(tw, "commit time\t%s\n", orUnknown(s.Time, "unknown"))
	fmt.Fprintf(tw, "modified\t%s\n", orUnknown(s.Modified, "unknown"))
	fmt.Fprintf(tw, "go\t%s %s/%s\n", orUnknown(s.GoVersion, "unknown"), s.GOOS, s.GOARCH)
	fmt.Fprintf(tw, "main\t%s\n", orUnknown(s.Main, "unknown"))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "modules (%d):\n", len(s.Modules))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range s.Modules {
		line := "  " + m.Path + "\t" + m.Version + "\t" + m.Sum
		if m.Replace != "" {
			line += "\t=> " + m.Replace
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func orUnknown(s, unknown string) string {
	if s == "" {
		return unknown
	}
	return s
}
