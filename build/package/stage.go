package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// staging is what stage put into the folder tfx packs.
type staging struct {
	Files   []string // slash-separated paths of every staged file, sorted
	Skipped []string // files under shipped folders left out (tests, dependencies, dotfiles)
}

// stage copies exactly what ships into dst, an empty folder: the manifest
// with VERSION and the publisher stamped in; its icons, content documents and
// files; in the task folder, task.json stamped with VERSION and, under bin/,
// the six binaries and nothing else. tfx then packs dst and nothing can
// slip in from the working tree (old builds, node_modules, tests).
func stage(root, dst string, m *manifest, rawManifest []byte, v version, publisher string) (*staging, error) {
	s := &stager{root: root, dst: dst, files: map[string]bool{}}
	stamped, err := stampManifest(rawManifest, v, publisher)
	if err != nil {
		return nil, err
	}
	if err := s.write(manifestFile, stamped, 0o644); err != nil {
		return nil, err
	}
	task := path.Clean(m.taskFolder())
	for _, p := range m.shipped() {
		if p == task {
			err = s.task(task, v)
		} else {
			err = s.tree(p)
		}
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", p, err)
		}
	}
	st := &staging{Skipped: s.skipped}
	for f := range s.files {
		st.Files = append(st.Files, f)
	}
	slices.Sort(st.Files)
	slices.Sort(st.Skipped)
	return st, nil
}

type stager struct {
	root, dst string
	files     map[string]bool
	skipped   []string
}

// tree copies a file, or a folder without what notShipped leaves out.
func (s *stager) tree(rel string) error {
	return s.walk(rel, func(string) bool { return false })
}

// task copies the task folder without bin/, stamps its task.json, then adds
// the six binaries.
func (s *stager) task(dir string, v version) error {
	err := s.walk(dir, func(rel string) bool { return rel == path.Join(dir, "bin") })
	if err != nil {
		return err
	}
	taskJSON := path.Join(dir, "task.json")
	data, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(taskJSON)))
	if err != nil {
		return err
	}
	stamped, err := stampTask(data, v)
	if err != nil {
		return err
	}
	if err := s.write(taskJSON, stamped, 0o644); err != nil {
		return err
	}
	for _, p := range platforms() {
		if err := s.copy(path.Join(dir, p.binPath()), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// walk copies rel (a file or a folder) except the folders skip names and the
// files notShipped names. Links are refused: tfx would follow them out of the
// staging folder.
func (s *stager) walk(rel string, skip func(rel string) bool) error {
	return filepath.WalkDir(filepath.Join(s.root, filepath.FromSlash(rel)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		switch {
		case d.IsDir() && skip(r):
			return filepath.SkipDir
		case r != rel && notShipped(strings.TrimPrefix(r, rel+"/")):
			s.skipped = append(s.skipped, r)
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file (links are not packaged)", r)
		}
		return s.copy(r, 0o644)
	})
}

func (s *stager) copy(rel string, mode os.FileMode) error {
	src, err := os.Open(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer src.Close()
	dst := filepath.Join(s.dst, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	s.files[rel] = true
	return out.Close()
}

func (s *stager) write(rel string, data []byte, mode os.FileMode) error {
	dst := filepath.Join(s.dst, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	s.files[rel] = true
	return nil
}

// notShipped reports whether a file found in a shipped folder is left out of
// the package: tests, dependencies and editor or OS litter never run on an agent.
func notShipped(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") || part == "node_modules" || part == "testdata" || part == "__tests__" {
			return true
		}
	}
	base := path.Base(rel)
	for _, suffix := range []string{"_test.go", ".test.js", ".spec.js", ".test.ts", ".spec.ts", ".map", "~"} {
		if strings.HasSuffix(base, suffix) {
			return true
		}
	}
	return false
}
