package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/CycloneDX/cyclonedx-gomod/pkg/generate/bin"
	"github.com/rs/zerolog"
)

// sbomDir is the SBOMs' folder in the task folder.
const sbomDir = "sbom"

// writeSBOM writes b's SBOM to outDir/sbom/<goos>_<goarch>.cdx.json after
// checking it against b, and returns its slash-separated name in outDir.
func writeSBOM(b *binary, version string, notices *noticeSet, outDir string) (string, error) {
	bom, err := sbomOf(b, version, notices)
	if err != nil {
		return "", err
	}
	sum, err := fileSHA256(b.File)
	if err != nil {
		return "", err
	}
	if problems := checkBOM(bom, b, sum); len(problems) > 0 {
		return "", fmt.Errorf("the SBOM of %s: %d problem(s):\n  %s", b.platform(), len(problems), strings.Join(problems, "\n  "))
	}
	data, err := encodeBOM(bom)
	if err != nil {
		return "", fmt.Errorf("encode the SBOM of %s: %w", b.platform(), err)
	}
	name := sbomDir + "/" + b.platform() + ".cdx.json"
	file := filepath.Join(outDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", err
	}
	return name, os.WriteFile(file, data, 0o644)
}

func encodeBOM(bom *cdx.BOM) ([]byte, error) {
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	err := enc.EncodeVersion(bom, cdx.SpecVersion1_6)
	return buf.Bytes(), err
}

// sbomOf is cyclonedx-gomod's SBOM of the binary b (its bin command with
// -std -short-purls -noserial -notimestamp), with each component's
// licenses as go-licenses classified them for the notices (cyclonedx-gomod's
// own detector, go-license-detector, calls the Go project's BSD-3-Clause
// license "BSD-Source-Code"). Short package URLs: the long ones carry the
// GOOS and GOARCH of the machine making the SBOM, not the binary's (which
// the SBOM's properties give).
func sbomOf(b *binary, version string, notices *noticeSet) (*cdx.BOM, error) {
	gen, err := bin.NewGenerator(b.File,
		bin.WithLogger(zerolog.Nop()), // what it would warn about, checkBOM reports
		bin.WithIncludeStdlib(true),
		bin.WithVersionOverride("v"+version),
		bin.WithShortPURLS(true))
	if err != nil {
		return nil, err
	}
	bom, err := gen.Generate()
	if err != nil {
		return nil, fmt.Errorf("cyclonedx-gomod on %s: %w", b.File, err)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil || bom.Components == nil {
		return nil, fmt.Errorf("cyclonedx-gomod on %s: no main component or components", b.File)
	}
	main := b.Info.Main.Path
	setLicenses(bom.Metadata.Component, notices.licensesOf(main, main))
	module := map[string]string{} // a component's module: cyclonedx-gomod names a replaced one by its replacement
	for _, m := range b.linked() {
		module[m.Path] = m.Path
		if m.Local != "" {
			module[m.Local] = m.Path
		}
	}
	for i := range *bom.Components {
		c := &(*bom.Components)[i]
		setLicenses(c, notices.licensesOf(cmp.Or(module[c.Name], c.Name), main))
	}
	bom.Metadata.Tools = &cdx.ToolsChoice{Components: &[]cdx.Component{{
		Type:    cdx.ComponentTypeApplication,
		Name:    "cyclonedx-gomod",
		Version: toolVersion("github.com/CycloneDX/cyclonedx-gomod"),
	}}}
	return bom, nil
}

// setLicenses gives c the SPDX license ids; none leaves c without, which
// checkBOM reports.
func setLicenses(c *cdx.Component, ids []string) {
	if len(ids) == 0 {
		return
	}
	ls := make(cdx.Licenses, len(ids))
	for i, id := range ids {
		ls[i] = cdx.LicenseChoice{License: &cdx.License{ID: id}}
	}
	c.Licenses = &ls
}

func fileSHA256(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return sha256Hex(data), nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
