package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// checkBOM compares an SBOM with the binary it describes: its main
// component, platform and hash; one component per linked module with the
// version and go.sum hash the binary records and a license; the standard
// library at the binary's Go version; and nothing the binary does not link.
func checkBOM(bom *cdx.BOM, b *binary, sha256Hex string) []string {
	var problems []string
	addf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if bom.Metadata == nil || bom.Metadata.Component == nil || bom.Components == nil {
		return []string{"no metadata, main component or components"}
	}
	main := bom.Metadata.Component
	if main.Name != b.Info.Main.Path || !hasLicense(main) {
		addf("main component %s (licenses %s), want %s with a license", main.Name, licenseIDs(main), b.Info.Main.Path)
	}
	props := map[string]string{}
	if bom.Metadata.Properties != nil {
		for _, p := range *bom.Metadata.Properties {
			props[p.Name] = p.Value
		}
	}
	for prop, want := range map[string]string{
		"cdx:gomod:binary:hash:SHA-256": sha256Hex,
		"cdx:gomod:build:env:GOOS":      b.Settings["GOOS"],
		"cdx:gomod:build:env:GOARCH":    b.Settings["GOARCH"],
		"cdx:gomod:build:env:GOVERSION": b.Info.GoVersion,
	} {
		if props[prop] != want {
			addf("property %s is %q, want %q", prop, props[prop], want)
		}
	}
	byName := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		byName[c.Name] = c
	}
	want := append(b.linked(), linked{Path: "std", Version: b.Info.GoVersion})
	for _, m := range want {
		name := m.Path
		if m.Local != "" {
			name = m.Local // cyclonedx-gomod names a module by its replacement
		}
		c, ok := byName[name]
		delete(byName, name)
		switch {
		case !ok:
			addf("module %s is linked into the binary but not in the SBOM", m)
			continue
		case c.Version != m.Version && !(m.Local != "" && c.Version == "(devel)"):
			addf("component %s is %s, the binary links %s", m.Path, c.Version, m.Version)
		case !hasLicense(&c):
			addf("component %s has no license", m)
		}
		if h := h1Hex(m.Sum); h != "" && !slices.Contains(hashes(&c, cdx.HashAlgoSHA256), h) {
			addf("component %s: SHA-256 %q, want %s (the binary's go.sum hash %s)", m, hashes(&c, cdx.HashAlgoSHA256), h, m.Sum)
		}
	}
	for name, c := range byName {
		addf("component %s %s is not linked into the binary", name, c.Version)
	}
	slices.Sort(problems)
	return problems
}

func hasLicense(c *cdx.Component) bool { return licenseIDs(c) != "" }

func licenseIDs(c *cdx.Component) string {
	var ids []string
	if c.Licenses != nil {
		for _, l := range *c.Licenses {
			if l.License != nil && (l.License.ID != "" || l.License.Name != "") {
				ids = append(ids, l.License.ID+l.License.Name)
			}
		}
	}
	return strings.Join(ids, ", ")
}

func hashes(c *cdx.Component, algo cdx.HashAlgorithm) []string {
	var out []string
	if c.Hashes != nil {
		for _, h := range *c.Hashes {
			if h.Algorithm == algo {
				out = append(out, h.Value)
			}
		}
	}
	return out
}

// h1Hex is a go.sum hash ("h1:" and base64 of a SHA-256) in hex, as
// cyclonedx-gomod writes it; "" for none.
func h1Hex(sum string) string {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "invalid go.sum hash " + sum
	}
	return hex.EncodeToString(raw)
}
