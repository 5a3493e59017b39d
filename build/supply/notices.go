package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/google/go-licenses/v2/licenses"
)

// notice is what the notices say about one module.
type notice struct {
	Module, Version string
	Licenses        []string          // names as go-licenses classified them, sorted
	Files           map[string]string // license and NOTICE files: path in the module -> text
	Platforms       []string          // the binaries that link it, sorted
}

// noticeSet gathers the notices of every binary; problems are what makes
// the notices incomplete.
type noticeSet struct {
	classifier licenses.Classifier
	modules    map[string]*notice
	std        *notice
	own        []string // the main module's licenses, from ./LICENSE
	problems   []string
	incomplete map[string]bool // modules with a license problem already reported
}

// collectNotices finds the license files of every module the binaries link,
// and of the Go standard library, with go-licenses. It fails when a module
// has no license file it recognises.
func collectNotices(ctx context.Context, bins []*binary) (*noticeSet, error) {
	c, err := licenses.NewClassifier()
	if err != nil {
		return nil, fmt.Errorf("load go-licenses' classifier: %w", err)
	}
	s := &noticeSet{classifier: c, modules: map[string]*notice{}, incomplete: map[string]bool{}}
	for _, b := range bins {
		if err := s.addBinary(ctx, b); err != nil {
			return nil, err
		}
	}
	s.checkComplete(bins)
	s.std = s.stdlib(bins)
	if own, err := c.Identify("LICENSE"); err != nil || len(own) == 0 {
		s.problemf("go-licenses does not recognise the project's own LICENSE (%v)", err)
	} else {
		for _, l := range own {
			s.own = insertSorted(s.own, l.Name)
		}
	}
	if len(s.problems) > 0 {
		return nil, fmt.Errorf("the third-party notices are incomplete: %d problem(s):\n  %s", len(s.problems), strings.Join(s.problems, "\n  "))
	}
	return s, nil
}

// write writes the notices to file.
func (s *noticeSet) write(file string, bins []*binary) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(s.render(bins)), 0o644)
}

// licensesOf returns the licenses go-licenses found for a module: "std"
// is the standard library, main the project's own module.
func (s *noticeSet) licensesOf(module, main string) []string {
	switch {
	case module == "std":
		return s.std.Licenses
	case module == main:
		return s.own
	case s.modules[module] != nil:
		return s.modules[module].Licenses
	}
	return nil
}

// addBinary adds the license files of every package b links, as
// go-licenses finds them for b's platform.
func (s *noticeSet) addBinary(ctx context.Context, b *binary) error {
	// go-licenses loads packages with the process environment; it takes
	// no other.
	restore := setenv(b.buildEnv())
	defer restore()
	libs, err := licenses.Libraries(ctx, s.classifier, false, nil, b.Info.Path)
	if err != nil {
		return fmt.Errorf("go-licenses on %s for %s: %w", b.Info.Path, b.platform(), err)
	}
	mods := b.linked()
	for _, lib := range libs {
		pkg := lib.Packages[0]
		m, ok := moduleOf(pkg, mods)
		switch {
		case !ok && within(pkg, b.Info.Main.Path):
			continue // the project's own code: LICENSE ships beside the notices
		case !ok:
			s.problemf("package %s (%s) is in no module %s records", pkg, b.platform(), filepath.Base(b.File))
		case lib.Version() != strings.TrimSuffix(m.Version, "+incompatible"):
			s.problemf("module %s: %s links %s, the source tree has %s: rebuild the binaries", m.Path, b.platform(), m.Version, lib.Version())
		case lib.LicenseFile == "" || len(lib.Licenses) == 0:
			// go-licenses drops the files it cannot classify, so an
			// unknown license and none look the same.
			s.problemf("module %s (package %s): no license file that go-licenses recognises", m, pkg)
			s.incomplete[m.Path] = true
		default:
			if err := s.add(m, lib, b.platform()); err != nil {
				return err
			}
		}
	}
	return nil
}

// noticeRE names the files beside a license that a license (Apache-2.0's
// section 4) asks to pass on, as go-licenses' save command copies them.
var noticeRE = regexp.MustCompile(`^NOTICE(\.(txt|md))?$`)

func (s *noticeSet) add(m linked, lib *licenses.Library, platform string) error {
	n := s.modules[m.Path]
	if n == nil {
		n = &notice{Module: m.Path, Version: m.Version, Files: map[string]string{}}
		s.modules[m.Path] = n
	}
	for _, l := range lib.Licenses {
		n.Licenses = insertSorted(n.Licenses, l.Name)
	}
	n.Platforms = insertSorted(n.Platforms, platform)
	files := []string{lib.LicenseFile}
	entries, err := os.ReadDir(filepath.Dir(lib.LicenseFile))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() && noticeRE.MatchString(e.Name()) {
			files = append(files, filepath.Join(filepath.Dir(lib.LicenseFile), e.Name()))
		}
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		n.Files[inModule(f, m.Version)] = string(text)
	}
	return nil
}

// checkComplete reports each module a binary records that go-licenses found
// no package of: the notices would miss it.
func (s *noticeSet) checkComplete(bins []*binary) {
	for _, b := range bins {
		for _, m := range b.linked() {
			if n := s.modules[m.Path]; !s.incomplete[m.Path] && (n == nil || !slices.Contains(n.Platforms, b.platform())) {
				s.problemf("module %s is linked into %s, but has no notice", m, b.platform())
			}
		}
	}
}

// stdlib is the Go standard library's notice: its LICENSE from the GOROOT
// of the go command, which must be the toolchain that built the binaries.
func (s *noticeSet) stdlib(bins []*binary) *notice {
	out, err := exec.Command("go", "env", "GOROOT", "GOVERSION").Output()
	if err != nil {
		s.problemf("go env GOROOT GOVERSION: %v", err)
		return nil
	}
	goroot, goversion, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	for _, b := range bins {
		if b.Info.GoVersion != goversion {
			s.problemf("%s was built with %s, but the go command is %s: rebuild the binaries", b.platform(), b.Info.GoVersion, goversion)
		}
	}
	file := filepath.Join(goroot, "LICENSE")
	text, err := os.ReadFile(file)
	if err != nil {
		s.problemf("the Go standard library's license: %v", err)
		return nil
	}
	found, err := s.classifier.Identify(file)
	if err != nil || len(found) == 0 {
		s.problemf("go-licenses does not recognise the Go standard library's license %s (%v)", file, err)
		return nil
	}
	n := &notice{Module: "Go standard library", Version: goversion, Files: map[string]string{"LICENSE": string(text)}}
	for _, l := range found {
		n.Licenses = insertSorted(n.Licenses, l.Name)
	}
	for _, b := range bins {
		n.Platforms = insertSorted(n.Platforms, b.platform())
	}
	return n
}

func (s *noticeSet) problemf(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// moduleOf returns the module of mods that provides the package pkg: the
// one with the longest path that holds it.
func moduleOf(pkg string, mods []linked) (linked, bool) {
	var best linked
	for _, m := range mods {
		if within(pkg, m.Path) && len(m.Path) > len(best.Path) {
			best = m
		}
	}
	return best, best.Path != ""
}

func within(pkg, module string) bool {
	return pkg == module || strings.HasPrefix(pkg, module+"/")
}

// inModule is a file's path inside its module: what follows "@version/" in
// the module cache, else the file's name.
func inModule(file, version string) string {
	f := filepath.ToSlash(file)
	if _, rest, ok := strings.Cut(f, "@"+version+"/"); ok {
		return rest
	}
	return filepath.Base(file)
}

func insertSorted(list []string, s string) []string {
	i, found := slices.BinarySearch(list, s)
	if found {
		return list
	}
	return slices.Insert(list, i, s)
}

// setenv sets the variables and returns what puts them back.
func setenv(vars map[string]string) (restore func()) {
	old := map[string]*string{}
	for k, v := range vars {
		if prev, ok := os.LookupEnv(k); ok {
			old[k] = &prev
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}

// toolVersion is the version of a module linked into this program.
func toolVersion(module string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == module {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}
