package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// manifest is the part of vss-extension.json that packaging reads.
type manifest struct {
	ManifestVersion int               `json:"manifestVersion"`
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Publisher       string            `json:"publisher"`
	Description     string            `json:"description"`
	Categories      []string          `json:"categories"`
	Targets         []target          `json:"targets"`
	Icons           map[string]string `json:"icons"`
	Tags            []string          `json:"tags"`
	Links           map[string]struct {
		URI string `json:"uri"`
	} `json:"links"`
	Repository *struct {
		Type string `json:"type"`
		URI  string `json:"uri"`
	} `json:"repository"`
	Content map[string]struct {
		Path string `json:"path"`
	} `json:"content"`
	Files []struct {
		Path        string `json:"path"`
		Addressable bool   `json:"addressable"`
	} `json:"files"`
	Contributions []struct {
		ID         string   `json:"id"`
		Type       string   `json:"type"`
		Targets    []string `json:"targets"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	} `json:"contributions"`
}

// target is an installation target: a product and a version range.
type target struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

const (
	manifestFile  = "vss-extension.json"
	taskContribTy = "ms.vss-distributed-task.task"
	taskContribTo = "ms.vss-distributed-task.tasks"
)

// installTargets are where the extension may be installed: Azure DevOps
// Services, and Azure DevOps Server 2022 (19.0) and later, whose agents
// (2.206.1 and later) have the Node16 handler and run pre-job steps.
// Microsoft.VisualStudio.Services would offer it to servers back to TFS
// 2015, whose agents cannot run it.
func installTargets() []target {
	return []target{{ID: "Microsoft.VisualStudio.Services.Cloud"}, {ID: "Microsoft.TeamFoundation.Server", Version: "[19.0,)"}}
}

// Marketplace IDs: publisher and extension IDs are letters, digits, '-' and '_'.
var marketplaceIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)

func readManifest(root string) (*manifest, []byte, error) {
	data, err := os.ReadFile(filepath.Join(root, manifestFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read the extension manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", manifestFile, err)
	}
	return &m, data, nil
}

// taskFolder is the folder the task contribution ships, relative to the root.
func (m *manifest) taskFolder() string {
	for _, c := range m.Contributions {
		if c.Type == taskContribTy {
			return c.Properties.Name
		}
	}
	return ""
}

// shipped lists the manifest's own paths that go into the .vsix: its files,
// its icons and its content documents, slash-separated, sorted, deduplicated.
func (m *manifest) shipped() []string {
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, path.Clean(f.Path))
	}
	for _, p := range m.Icons {
		paths = append(paths, path.Clean(p))
	}
	for _, c := range m.Content {
		paths = append(paths, path.Clean(c.Path))
	}
	sort.Strings(paths)
	return slices.Compact(paths)
}

// validateManifest checks vss-extension.json for what the Marketplace and
// Azure DevOps Server need to list the extension and find the task in it.
func validateManifest(root string, m *manifest) []string {
	var problems []string
	addf := func(format string, args ...any) {
		problems = append(problems, manifestFile+": "+fmt.Sprintf(format, args...))
	}
	if m.ManifestVersion != 1 {
		addf("manifestVersion must be 1")
	}
	if !marketplaceIDRE.MatchString(m.ID) {
		addf("id %q must be letters, digits, '-' or '_'", m.ID)
	}
	if !marketplaceIDRE.MatchString(m.Publisher) {
		addf("publisher %q must be letters, digits, '-' or '_'", m.Publisher)
	}
	if strings.TrimSpace(m.Name) == "" {
		addf("name is required")
	}
	if strings.TrimSpace(m.Description) == "" {
		addf("description is required")
	}
	if _, err := parseVersion(m.Version); err != nil {
		addf("%v", err)
	}
	if len(m.Categories) != 1 || m.Categories[0] != "Azure Pipelines" {
		addf("categories must be [\"Azure Pipelines\"]")
	}
	if !slices.Equal(m.Targets, installTargets()) {
		want, _ := json.Marshal(installTargets())
		addf("targets must be %s", want)
	}
	if len(m.Tags) == 0 {
		addf("tags are required: they are how the Marketplace search finds the extension")
	}
	for _, name := range slices.Sorted(maps.Keys(m.Links)) {
		if u, err := url.Parse(m.Links[name].URI); err != nil || u.Scheme != "https" || u.Host == "" {
			addf("links.%s.uri %q is not an https URL", name, m.Links[name].URI)
		}
	}
	if m.Repository == nil || m.Repository.Type != "git" || m.Repository.URI == "" {
		addf("repository must be {\"type\": \"git\", \"uri\": ...}")
	}

	icon, ok := m.Icons["default"]
	if !ok {
		addf("icons.default is required (a 128x128 PNG)")
	} else if err := checkPNG(filepath.Join(root, filepath.FromSlash(icon)), 128); err != nil {
		addf("icons.default: %v", err)
	}
	if d, ok := m.Content["details"]; !ok || d.Path == "" {
		addf("content.details.path is required (the Marketplace overview)")
	}
	for _, name := range slices.Sorted(maps.Keys(m.Content)) {
		if err := checkLocalFile(root, m.Content[name].Path); err != nil {
			addf("content.%s: %v", name, err)
		}
	}
	for _, f := range m.Files {
		if err := checkLocalPath(root, f.Path); err != nil {
			addf("files: %v", err)
		}
	}

	var tasks int
	for _, c := range m.Contributions {
		if c.Type != taskContribTy {
			continue
		}
		tasks++
		if len(c.Targets) != 1 || c.Targets[0] != taskContribTo {
			addf("contribution %q: targets must be [%q]", c.ID, taskContribTo)
		}
		if c.ID == "" {
			addf("contribution of type %s needs an id", taskContribTy)
		}
		folder := c.Properties.Name
		if !slices.Contains(m.fileDirs(), path.Clean(folder)) {
			addf("contribution %q: its task folder %q is not listed in files", c.ID, folder)
		}
		if err := checkLocalFile(root, path.Join(folder, "task.json")); err != nil {
			addf("contribution %q: %v", c.ID, err)
		}
		if err := checkPNG(filepath.Join(root, filepath.FromSlash(folder), "icon.png"), 32); err != nil {
			addf("contribution %q: task icon: %v", c.ID, err)
		}
	}
	if tasks != 1 {
		addf("want exactly one contribution of type %s, found %d", taskContribTy, tasks)
	}
	return problems
}

func (m *manifest) fileDirs() []string {
	var dirs []string
	for _, f := range m.Files {
		dirs = append(dirs, path.Clean(f.Path))
	}
	return dirs
}

// checkLocalPath checks that a manifest path stays inside the root and exists.
func checkLocalPath(root, p string) error {
	if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) {
		return fmt.Errorf("path %q must be relative and inside the repository", p)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("path %q does not exist", p)
	} else if err != nil {
		return fmt.Errorf("path %q: %w", p, err)
	}
	return nil
}

func checkLocalFile(root, p string) error {
	if err := checkLocalPath(root, p); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("path %q is not a file", p)
	}
	return nil
}

// checkPNG checks that file is a PNG image of size x size pixels.
func checkPNG(file string, size int) error {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist", filepath.Base(file))
	} else if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s is not a PNG image: %w", filepath.Base(file), err)
	}
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		return fmt.Errorf("%s is %dx%d; it must be %dx%d", filepath.Base(file), b.Dx(), b.Dy(), size, size)
	}
	return nil
}
