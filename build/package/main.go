// Command package builds the GoKeyVault Marketplace extension (.vsix).
//
// It checks task.json against the rules of tasks.schema.json and
// vss-extension.json against what the Marketplace needs, checks that
// VERSION, task.json, vss-extension.json and the seven binaries agree, stages
// exactly what ships into a temporary folder (VERSION and the publisher
// stamped in), adds to the task folder the third-party notices and an SBOM
// per binary (build/supply) and the SHA256SUMS of every file, runs tfx-cli
// there, and checks the .vsix it wrote: identity, contents, size. Any tfx
// warning fails the build. The notices, SBOMs and SHA256SUMS are also
// written beside the .vsix.
//
//	go run ./build/package [-publisher contoso]   # after make build-all, npm ci and building build/supply; make package does all
//	go run ./build/package -check                 # the source checks only: no binaries, no tfx
//	go run ./build/package -set-version 1.2.3     # write a new version everywhere it is held
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "package:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root")
	publisher := fs.String("publisher", "", "Marketplace publisher ID to pack for (default: vss-extension.json's)")
	outDir := fs.String("out", "dist", "folder to write the .vsix to")
	tfx := fs.String("tfx", filepath.Join("build", "package", "node_modules", ".bin", "tfx"), "tfx-cli executable (npm ci in build/package installs it)")
	supply := fs.String("supply", filepath.Join(".cache", "bin", "supply"), "build/supply executable (make package builds it)")
	checkOnly := fs.Bool("check", false, "check task.json, vss-extension.json and the versions, then exit")
	setVersion := fs.String("set-version", "", "write `MAJOR.MINOR.PATCH` to VERSION, task.json and vss-extension.json, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *setVersion != "" {
		return writeVersion(*root, *setVersion, stdout)
	}
	src, err := checkSources(*root)
	if err != nil {
		return err
	}
	if *checkOnly {
		fmt.Fprintf(stdout, "task.json and %s pass their checks; version %s everywhere\n", manifestFile, src.version)
		return nil
	}
	pub := *publisher
	if pub == "" {
		pub = src.manifest.Publisher
	}
	if !marketplaceIDRE.MatchString(pub) {
		return fmt.Errorf("publisher %q must be letters, digits, '-' or '_'", pub)
	}
	tools := packTools{}
	for _, t := range []struct {
		flag string
		abs  *string
	}{{*tfx, &tools.tfx}, {*supply, &tools.supply}} {
		if *t.abs, err = filepath.Abs(t.flag); err != nil {
			return err
		}
	}
	if src.root, err = filepath.Abs(src.root); err != nil {
		return err
	}
	out, err := filepath.Abs(filepath.Join(*outDir, fmt.Sprintf("%s.%s-%s.vsix", pub, src.manifest.ID, src.version)))
	if err != nil {
		return err
	}
	return pack(ctx, src, pub, tools, out, stdout)
}

// sources are the checked inputs of a package.
type sources struct {
	root        string
	manifest    *manifest
	rawManifest []byte
	version     version
	taskDir     string
}

// checkSources runs every check that needs neither binaries nor tfx, and
// reports all problems at once.
func checkSources(root string) (*sources, error) {
	ver, err := readVersionFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return nil, err
	}
	m, raw, err := readManifest(root)
	if err != nil {
		return nil, err
	}
	problems := validateManifest(root, m)
	if m.Version != ver.String() {
		problems = append(problems, fmt.Sprintf("%s: version %q differs from VERSION %s: run make set-version V=%s", manifestFile, m.Version, ver, ver))
	}
	src := &sources{root: root, manifest: m, rawManifest: raw, version: ver}
	if folder := m.taskFolder(); folder != "" {
		src.taskDir = filepath.Join(root, filepath.FromSlash(folder))
		problems = append(problems, validateTask(src.taskDir)...)
		if data, err := os.ReadFile(filepath.Join(src.taskDir, "task.json")); err == nil {
			if tv, err := taskJSONVersion(data); err == nil && tv != ver {
				problems = append(problems, fmt.Sprintf("task.json: version %s differs from VERSION %s: run make set-version V=%s", tv, ver, ver))
			}
		}
	}
	if len(problems) > 0 {
		return nil, problemsError("the extension's sources", problems)
	}
	return src, nil
}

func problemsError(what string, problems []string) error {
	return fmt.Errorf("%s: %d problem(s):\n  %s", what, len(problems), strings.Join(problems, "\n  "))
}

// packTools are the programs pack runs, by absolute path.
type packTools struct{ tfx, supply string }

// pack stages the checked sources, runs tfx and checks the .vsix; a .vsix
// that fails its checks is removed so that it cannot be published.
func pack(ctx context.Context, src *sources, publisher string, tools packTools, out string, stdout io.Writer) error {
	commit, problems := checkBinaries(src.taskDir)
	if len(problems) > 0 {
		return problemsError("the binaries", problems)
	}
	fmt.Fprintf(stdout, "binaries built from commit %s\n", commit)
	host := platform{runtime.GOOS, runtime.GOARCH}
	if slices.Contains(platforms(), host) {
		if err := checkHostVersion(ctx, src.taskDir, src.version); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "gokeyvault-vsix-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := stage(src.root, tmp, src.manifest, src.rawManifest, src.version, publisher)
	if err != nil {
		return err
	}
	for _, f := range st.Skipped {
		fmt.Fprintf(stdout, "not shipped: %s\n", f)
	}
	task := path.Clean(src.manifest.taskFolder())
	if err := addSupply(ctx, tools.supply, src.root, tmp, task, src.version, st, stdout); err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	output, err := runTfx(ctx, tools.tfx, tmp, out)
	fmt.Fprint(stdout, output)
	if err != nil {
		os.Remove(out)
		return err
	}
	v, err := readVSIX(out)
	if err != nil {
		os.Remove(out)
		return err
	}
	problems = checkVSIX(v, src.manifest, src.version, publisher)
	want := slices.Concat(slices.DeleteFunc(slices.Clone(st.Files), func(f string) bool { return f == manifestFile }), tfxGenerated())
	slices.Sort(want)
	if !slices.Equal(v.Files, want) {
		problems = append(problems, fmt.Sprintf("vsix: holds %q, want exactly the staged files %q", v.Files, want))
	}
	if len(problems) > 0 {
		os.Remove(out)
		return problemsError(filepath.Base(out), problems)
	}
	if err := copyBeside(filepath.Join(tmp, filepath.FromSlash(task)), filepath.Dir(out)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "packed %s: %d bytes (%.1f MiB of the 25 MiB limit), %d files, publisher %s, version %s\n",
		out, v.Size, float64(v.Size)/(1<<20), len(v.Files), publisher, src.version)
	fmt.Fprintf(stdout, "beside it: %s, %s and %s/ (the task folder's checksums, notices and SBOMs)\n", checksumsFile, noticesFile, sbomDir)
	return nil
}

// writeVersion writes a new version to VERSION, task.json and
// vss-extension.json, changing nothing else in them.
func writeVersion(root, s string, stdout io.Writer) error {
	v, err := parseVersion(s)
	if err != nil {
		return err
	}
	m, raw, err := readManifest(root)
	if err != nil {
		return err
	}
	folder := m.taskFolder()
	if folder == "" {
		return fmt.Errorf("%s has no %s contribution", manifestFile, taskContribTy)
	}
	taskFile := filepath.Join(root, filepath.FromSlash(folder), "task.json")
	taskData, err := os.ReadFile(taskFile)
	if err != nil {
		return err
	}
	// Stamp both before writing either, so that a failure leaves all as they were.
	newTask, err := stampTask(taskData, v)
	if err != nil {
		return err
	}
	newManifest, err := stampManifest(raw, v, "")
	if err != nil {
		return err
	}
	for _, w := range []struct {
		file string
		data []byte
	}{
		{taskFile, newTask},
		{filepath.Join(root, manifestFile), newManifest},
		{filepath.Join(root, "VERSION"), []byte(v.String() + "\n")},
	} {
		if err := os.WriteFile(w.file, w.data, 0o644); err != nil {
			return fmt.Errorf("write version %s: %w", v, err)
		}
	}
	fmt.Fprintf(stdout, "version %s written to VERSION, %s and %s\n", v, filepath.ToSlash(filepath.Join(folder, "task.json")), manifestFile)
	return nil
}
