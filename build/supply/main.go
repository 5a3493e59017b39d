// Command supply writes what a security review of the extension reads beside
// the task's binaries, derived from the binaries themselves and their module
// graph, never from a hand list:
//
//   - ThirdPartyNotices.txt: the license text (and NOTICE files) of every
//     module linked into any of the binaries, and of the Go standard library.
//     go-licenses (github.com/google/go-licenses/v2) walks each binary's
//     package graph for its platform, finds each package's license file and
//     classifies it; a module with no license file, or one it does not
//     recognise, fails the run.
//   - sbom/<goos>_<goarch>.cdx.json: a CycloneDX 1.6 SBOM of each binary,
//     from the build information the Go toolchain embedded in it
//     (cyclonedx-gomod, github.com/CycloneDX/cyclonedx-gomod): the modules,
//     their versions and go.sum hashes, the Go version and the binary's own
//     hashes, with each module's licenses as go-licenses classified them for
//     the notices. It has no serial number and no timestamp, so that two
//     builds of one commit write the same bytes.
//
// Both tools read the module cache only (offline: the go commands they run
// get the module cache as their module proxy), so nothing here reaches the
// network, and go-licenses' license URLs, which it would look up online, are
// not used. Each SBOM is checked against its binary before it is written.
//
//	supply -root ../.. -out DIR -version 1.0.0 BINARY...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "supply:", err)
		}
		os.Exit(1)
	}
}

// noticesFile is the notices' name in the task folder, as AzureKeyVault@2
// names its own.
const noticesFile = "ThirdPartyNotices.txt"

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("supply", flag.ContinueOnError)
	root := fs.String("root", ".", "the main module's folder (where go.mod is)")
	out := fs.String("out", "", "folder to write ThirdPartyNotices.txt and sbom/ into")
	version := fs.String("version", "", "the product's version, for the SBOMs' main component")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *version == "" || fs.NArg() == 0 {
		return errors.New("usage: supply -root DIR -out DIR -version X.Y.Z BINARY")
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	var bins []*binary
	for _, f := range fs.Args() {
		b, err := readBinary(f)
		if err != nil {
			return err
		}
		bins = append(bins, b)
	}
	if err := offline(); err != nil {
		return err
	}
	// go-licenses loads packages from the working directory's module.
	if err := os.Chdir(*root); err != nil {
		return err
	}
	notices, err := collectNotices(ctx, bins)
	if err != nil {
		return err
	}
	if err := notices.write(filepath.Join(outDir, noticesFile), bins); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d modules and the Go standard library\n", noticesFile, len(notices.modules))
	for _, b := range bins {
		name, err := writeSBOM(b, *version, notices, outDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d modules and the Go standard library\n", name, len(b.Info.Deps))
	}
	return nil
}

// offline makes every go command this process starts use the module cache
// as its module proxy and skip the checksum database: the modules were
// verified when the binaries were built, and cyclonedx-gomod compares each
// module's hash with the one the binary records. A module missing from the
// cache is then an error, not a download. (GOPROXY=off would not do:
// go mod download then refuses even what is cached.)
func offline() error {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := filepath.ToSlash(filepath.Join(strings.TrimSpace(string(out)), "cache", "download"))
	if !strings.HasPrefix(dir, "/") {
		dir = "/" + dir // C:/... on Windows
	}
	for k, v := range map[string]string{"GOPROXY": "file://" + dir, "GOSUMDB": "off", "GOFLAGS": "-mod=readonly"} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
