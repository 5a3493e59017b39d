package main

import (
	"archive/zip"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// maxVSIXSize is Azure DevOps Server's upload limit for an extension; the
// Marketplace allows more, so it is the one that binds.
const maxVSIXSize = 25 << 20

// tfxGenerated are the files tfx writes into every .vsix besides the staged ones.
func tfxGenerated() []string {
	return []string{"[Content_Types].xml", "extension.vsixmanifest", "extension.vsomanifest"}
}

// vsix is what a packed extension declares and holds.
type vsix struct {
	Size                   int64
	ID, Version, Publisher string   // extension.vsixmanifest's Identity
	TaskFolders            []string // properties.name of its task contributions
	Files                  []string // file entries (directories left out), sorted
}

func readVSIX(file string) (*vsix, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(file)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	defer zr.Close()
	v := &vsix{Size: fi.Size()}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			v.Files = append(v.Files, f.Name)
		}
	}
	slices.Sort(v.Files)

	var pm struct {
		Identity struct {
			ID        string `xml:"Id,attr"`
			Version   string `xml:"Version,attr"`
			Publisher string `xml:"Publisher,attr"`
		} `xml:"Metadata>Identity"`
	}
	if err := readZipEntry(&zr.Reader, "extension.vsixmanifest", func(r io.Reader) error {
		return xml.NewDecoder(r).Decode(&pm)
	}); err != nil {
		return nil, err
	}
	v.ID, v.Version, v.Publisher = pm.Identity.ID, pm.Identity.Version, pm.Identity.Publisher

	var vso struct {
		Contributions []struct {
			Type       string `json:"type"`
			Properties struct {
				Name string `json:"name"`
			} `json:"properties"`
		} `json:"contributions"`
	}
	if err := readZipEntry(&zr.Reader, "extension.vsomanifest", func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&vso)
	}); err != nil {
		return nil, err
	}
	for _, c := range vso.Contributions {
		if c.Type == taskContribTy {
			v.TaskFolders = append(v.TaskFolders, c.Properties.Name)
		}
	}
	return v, nil
}

func readZipEntry(zr *zip.Reader, name string, decode func(io.Reader) error) error {
	f, err := zr.Open(name)
	if err != nil {
		return fmt.Errorf("the package has no %s: %w", name, err)
	}
	defer f.Close()
	if err := decode(f); err != nil {
		return fmt.Errorf("read %s from the package: %w", name, err)
	}
	return nil
}

// checkVSIX checks a packed extension against the manifest it was packed
// from: identity, one task folder holding the seven binaries and nothing
// else under bin/, the notices, an SBOM per binary and the checksums, only
// the manifest's files plus what tfx generates, nothing notShipped would
// leave out, and the size limit.
func checkVSIX(v *vsix, m *manifest, ver version, publisher string) []string {
	var problems []string
	addf := func(format string, args ...any) { problems = append(problems, "vsix: "+fmt.Sprintf(format, args...)) }
	if v.ID != m.ID || v.Version != ver.String() || v.Publisher != publisher {
		addf("identity is %s.%s %s, want %s.%s %s", v.Publisher, v.ID, v.Version, publisher, m.ID, ver)
	}
	if v.Size > maxVSIXSize {
		addf("%d bytes (%.1f MiB) is over Azure DevOps Server's limit of 25 MiB", v.Size, float64(v.Size)/(1<<20))
	}
	task := path.Clean(m.taskFolder())
	if !slices.Equal(v.TaskFolders, []string{task}) {
		addf("task contributions point to %q, want [%q]", v.TaskFolders, task)
	}
	shipped := m.shipped()
	has := map[string]bool{}
	for _, f := range v.Files {
		has[f] = true
		switch {
		case slices.Contains(tfxGenerated(), f):
		case strings.HasPrefix(f, task+"/bin/"):
			if !isShippedBinary(strings.TrimPrefix(f, task+"/")) {
				addf("%s is not one of the six binaries", f)
			}
		case notShipped(f):
			addf("%s must not be shipped", f)
		case !underAny(f, shipped):
			addf("%s is not in the manifest's files, icons or content", f)
		}
	}
	for _, f := range tfxGenerated() {
		if !has[f] {
			addf("%s is missing", f)
		}
	}
	if f := path.Join(task, "task.json"); !has[f] {
		addf("%s is missing", f)
	}
	for _, p := range platforms() {
		if f := path.Join(task, p.binPath()); !has[f] {
			addf("%s is missing", f)
		}
	}
	for _, f := range supplyFiles() {
		if f := path.Join(task, f); !has[f] {
			addf("%s is missing", f)
		}
	}
	return problems
}

func underAny(f string, dirs []string) bool {
	for _, d := range dirs {
		if f == d || strings.HasPrefix(f, d+"/") {
			return true
		}
	}
	return false
}
