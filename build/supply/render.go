package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

const rule = "================================================================================"

// render writes the notices: a header, a table of contents, then each
// module's license files, sorted by module path, the Go standard library
// last. Nothing in it depends on the machine or the time.
func (s *noticeSet) render(bins []*binary) string {
	std := s.std
	var all []string
	for _, b := range bins {
		all = append(all, b.platform())
	}
	slices.Sort(all)
	mods := make([]*notice, 0, len(s.modules)+1)
	for _, path := range slices.Sorted(maps.Keys(s.modules)) {
		mods = append(mods, s.modules[path])
	}
	mods = append(mods, std)

	var b strings.Builder
	fmt.Fprintf(&b, `THIRD-PARTY SOFTWARE NOTICES

The GoKeyVault task's binaries (bin/<goos>_<goarch>/gokeyvault) are built with
%s and statically link the modules below. Their licenses ask that these
notices travel with the binaries. The list is the binaries' own module graph
as go-licenses %s found it, not a hand list; the SBOMs in sbom/ name the same
modules with their hashes. GoKeyVault itself is under the MIT license (LICENSE
in the extension).

%d modules and the Go standard library:

`, std.Version, toolVersion("github.com/google/go-licenses/v2"), len(s.modules))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, n := range mods {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", n.Module, n.Version, strings.Join(n.Licenses, ", "))
	}
	tw.Flush()
	for _, n := range mods {
		linkedInto := "every binary"
		if !slices.Equal(n.Platforms, all) {
			linkedInto = strings.Join(n.Platforms, ", ")
		}
		fmt.Fprintf(&b, "\n%s\n%s %s\nLicense: %s\nLinked into: %s\n", rule, n.Module, n.Version, strings.Join(n.Licenses, ", "), linkedInto)
		for _, name := range slices.Sorted(maps.Keys(n.Files)) {
			text := strings.ReplaceAll(n.Files[name], "\r\n", "\n")
			fmt.Fprintf(&b, "\n---- %s ----\n\n%s", name, strings.TrimRight(text, "\n")+"\n")
		}
	}
	return b.String()
}
