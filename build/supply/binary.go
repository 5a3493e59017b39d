package main

import (
	"debug/buildinfo"
	"fmt"
	"path/filepath"
	"runtime/debug"
)

// binary is one shipped binary and what the toolchain recorded in it.
type binary struct {
	File     string
	Info     *debug.BuildInfo
	Settings map[string]string
}

func readBinary(file string) (*binary, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	info, err := buildinfo.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read the build information of %s: %w", file, err)
	}
	b := &binary{File: abs, Info: info, Settings: map[string]string{}}
	for _, s := range info.Settings {
		b.Settings[s.Key] = s.Value
	}
	if b.Settings["GOOS"] == "" || b.Settings["GOARCH"] == "" {
		return nil, fmt.Errorf("%s records no GOOS/GOARCH", file)
	}
	return b, nil
}

// platform is the binary's folder name under the task's bin/.
func (b *binary) platform() string { return b.Settings["GOOS"] + "_" + b.Settings["GOARCH"] }

// buildEnv is the environment that selects the binary's packages: the
// platform and cgo decide which files, and so which imports, are built.
func (b *binary) buildEnv() map[string]string {
	env := map[string]string{"GOOS": b.Settings["GOOS"], "GOARCH": b.Settings["GOARCH"], "CGO_ENABLED": b.Settings["CGO_ENABLED"]}
	if v := b.Settings["GOARM"]; v != "" {
		env["GOARM"] = v
	}
	return env
}

// linked is a module as the binary links it: imported by its path, built
// from its replacement when it has one (Local: a folder of the source tree,
// which has no version).
type linked struct{ Path, Version, Sum, Local string }

func (m linked) String() string {
	if m.Local != "" {
		return m.Path + " (replaced by " + m.Local + ")"
	}
	return m.Path + " " + m.Version
}

func (b *binary) linked() []linked {
	var mods []linked
	for _, d := range b.Info.Deps {
		m := linked{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if r := d.Replace; r != nil {
			m.Version, m.Sum = r.Version, r.Sum
			if r.Version == "" || r.Version == "(devel)" {
				m.Version, m.Local = "", r.Path
			}
		}
		mods = append(mods, m)
	}
	return mods
}
