package main

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
)

// TestCheckBOM: an SBOM that misses a module the binary links, or gets its
// version, hash or license wrong, or names one it does not link, or
// describes another binary, fails the check; so does one that is not valid
// CycloneDX.
func TestCheckBOM(t *testing.T) {
	f := newFixture(t, mitLicense)
	sch := cycloneDXSchema(t)
	bins := f.enter(t)
	b := bins[0]
	notices, err := collectNotices(context.Background(), bins)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(b.File)
	if err != nil {
		t.Fatal(err)
	}
	good := func(t *testing.T) *cdx.BOM {
		bom, err := sbomOf(b, "1.2.3", notices)
		if err != nil {
			t.Fatal(err)
		}
		return bom
	}
	component := func(bom *cdx.BOM, name string) *cdx.Component {
		i := slices.IndexFunc(*bom.Components, func(c cdx.Component) bool { return c.Name == name })
		return &(*bom.Components)[i]
	}
	sync := "golang.org/x/sync " + f.Sync.Version
	zeros := strings.Repeat("0", 64)
	tests := []struct {
		name      string
		change    func(bom *cdx.BOM)
		want      []string
		wantValid bool
	}{
		{name: "good", change: func(*cdx.BOM) {}, wantValid: true},
		{name: "a linked module missing", change: func(bom *cdx.BOM) {
			*bom.Components = slices.DeleteFunc(*bom.Components, func(c cdx.Component) bool { return c.Name == "golang.org/x/sync" })
		}, want: []string{"module " + sync + " is linked into the binary but not in the SBOM"}, wantValid: true},
		{name: "the standard library missing", change: func(bom *cdx.BOM) {
			*bom.Components = slices.DeleteFunc(*bom.Components, func(c cdx.Component) bool { return c.Name == "std" })
		}, want: []string{"module std " + runtime.Version() + " is linked into the binary but not in the SBOM"}, wantValid: true},
		{name: "another version", change: func(bom *cdx.BOM) { component(bom, "golang.org/x/sync").Version = "v0.0.1" },
			want: []string{"component golang.org/x/sync is v0.0.1, the binary links " + f.Sync.Version}, wantValid: true},
		{name: "no license", change: func(bom *cdx.BOM) { component(bom, "golang.org/x/sync").Licenses = nil },
			want: []string{"component " + sync + " has no license"}, wantValid: true},
		{name: "another hash", change: func(bom *cdx.BOM) {
			component(bom, "golang.org/x/sync").Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: zeros}}
		}, want: []string{"component " + sync + `: SHA-256 ["` + zeros + `"], want ` + h1Hex(f.Sync.Sum) + " (the binary's go.sum hash " + f.Sync.Sum + ")"}, wantValid: true},
		{name: "a module the binary does not link", change: func(bom *cdx.BOM) {
			*bom.Components = append(*bom.Components, cdx.Component{Type: cdx.ComponentTypeLibrary, Name: "example.com/extra", Version: "v1.0.0"})
		}, want: []string{"component example.com/extra v1.0.0 is not linked into the binary"}, wantValid: true},
		{name: "another binary", change: func(bom *cdx.BOM) {
			for i, p := range *bom.Metadata.Properties {
				if p.Name == "cdx:gomod:binary:hash:SHA-256" {
					(*bom.Metadata.Properties)[i].Value = "ff"
				}
			}
		}, want: []string{`property cdx:gomod:binary:hash:SHA-256 is "ff", want "` + sum + `"`}, wantValid: true},
		{name: "a license id SPDX does not know", change: func(bom *cdx.BOM) { setLicenses(component(bom, "golang.org/x/sync"), []string{"Not-A-License"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bom := good(t)
			tt.change(bom)
			if diff := cmp.Diff(tt.want, checkBOM(bom, b, sum)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			data, err := encodeBOM(bom)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(doc); (err == nil) != tt.wantValid {
				t.Errorf("schema validation: %v, want valid %v", err, tt.wantValid)
			}
		})
	}
}
