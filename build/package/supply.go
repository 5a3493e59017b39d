package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// What the task folder holds besides what the source tree gives it, for a
// security review: the third-party notices and an SBOM per binary, which
// build/supply writes from the binaries, and the checksums of every file.
const (
	noticesFile   = "ThirdPartyNotices.txt"
	checksumsFile = "SHA256SUMS"
	sbomDir       = "sbom"
)

// sbomPath is the slash-separated path of p's SBOM in the task folder.
func (p platform) sbomPath() string {
	return path.Join(sbomDir, p.GOOS+"_"+p.GOARCH+".cdx.json")
}

// supplyFiles are the paths in the task folder that packaging writes.
func supplyFiles() []string {
	files := []string{noticesFile, checksumsFile}
	for _, p := range platforms() {
		files = append(files, p.sbomPath())
	}
	return files
}

// addSupply runs build/supply on the staged binaries, which writes the
// notices and the SBOMs into the staged task folder, then writes the
// folder's checksums, and records all of it in st.
func addSupply(ctx context.Context, supply, root, tmp, task string, v version, st *staging, stdout io.Writer) error {
	taskDir := filepath.Join(tmp, filepath.FromSlash(task))
	args := []string{"-root", root, "-out", taskDir, "-version", v.String()}
	for _, p := range platforms() {
		args = append(args, filepath.Join(taskDir, filepath.FromSlash(p.binPath())))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, supply, args...)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build/supply (notices and SBOMs): %w", err)
	}
	sums, err := checksums(taskDir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(taskDir, checksumsFile), sums, 0o644); err != nil {
		return err
	}
	for _, f := range supplyFiles() {
		st.Files = append(st.Files, path.Join(task, f))
	}
	slices.Sort(st.Files)
	return nil
}

// checksums is a SHA256SUMS file, as sha256sum writes it (sha256sum -c
// reads it in the folder), of every file under dir but itself, sorted by
// slash-separated path.
func checksums(dir string) ([]byte, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == checksumsFile {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+rel+"\n")
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checksums of %s: %w", dir, err)
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return []byte(strings.Join(lines, "")), nil
}

var checksumLineRE = regexp.MustCompile(`^([0-9a-f]{64})  (\S.*)$`)

// parseChecksums reads a SHA256SUMS file into path -> hex digest.
func parseChecksums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		m := checksumLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			return nil, fmt.Errorf("%s: not a checksum line: %q", checksumsFile, sc.Text())
		}
		sums[m[2]] = m[1]
	}
	return sums, sc.Err()
}

// copyBeside copies what a reviewer reads without unpacking the .vsix, the
// notices, the SBOMs and the checksums, from the staged task folder into
// dir, beside the .vsix.
func copyBeside(taskDir, dir string) error {
	for _, f := range append([]string{noticesFile, checksumsFile}, sbomDir) {
		dst := filepath.Join(dir, f)
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
	}
	for _, f := range supplyFiles() {
		data, err := os.ReadFile(filepath.Join(taskDir, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
