package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// repoRoot is the repository, seen from this package's folder.
const repoRoot = "../.."

// vsixPublisherEnv names the publisher of the .vsix make package just wrote.
// make test sets it, which makes a missing or stale .vsix a failure; a plain
// go test without it runs the .vsix test only when a matching one is there.
const vsixPublisherEnv = "GOKEYVAULT_VSIX_PUBLISHER"

// TestPackedTaskRunsOnThisPlatform unpacks the .vsix the way the agent
// unpacks a task (a zip, executable bits lost) and runs the extracted task
// folder through the agent runner against the local cloud: the real
// launcher and this platform's real shipped binary, both stages.
func TestPackedTaskRunsOnThisPlatform(t *testing.T) {
	file, m, ver := packedVSIX(t)
	v, err := readVSIX(file)
	if err != nil {
		t.Fatal(err)
	}
	if problems := checkVSIX(v, m, ver, v.Publisher); len(problems) > 0 {
		t.Fatalf("%s:\n%s", file, strings.Join(problems, "\n"))
	}

	taskDir := extractTask(t, file, m.taskFolder(), t.TempDir())
	bin := filepath.Join(taskDir, filepath.FromSlash(platform{runtime.GOOS, runtime.GOARCH}.binPath()))
	if fi, err := os.Stat(bin); err != nil {
		t.Fatalf("this platform's binary is not in the package: %v", err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 != 0 {
		t.Fatalf("extracted binary is executable (%v): the test must start as the agent does, without the bit", fi.Mode())
	}

	// The commit as the first log line must give it, read here from what
	// the toolchain recorded in the packed binary.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	commit, revision := "unknown", "unknown (built without version control information)"
	for _, kv := range info.Settings {
		if kv.Key == "vcs.revision" {
			commit, revision = kv.Value[:12], kv.Value
		}
	}
	for _, kv := range info.Settings {
		if kv.Key == "vcs.modified" && kv.Value == "true" {
			commit += ", modified"
		}
	}

	world, err := testworld.Start(context.Background(), testworld.Options{Dir: t.TempDir(), Vault: "kv-vsix", ClientSecret: "vsix-client-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { world.Close() })
	vault := world.Vault
	values := map[string]string{
		"db-password":  "p@ss;word]100%",
		"app-settings": "{\n  \"feature\": true\n}",
		"api-key":      "AKIA-vsix-1234567890",
	}
	for name, value := range values {
		vault.Put(localcloud.Secret{Name: name, Value: value})
	}
	vault.Put(localcloud.Secret{Name: "old", Value: "disabled-value", Disabled: true})

	tests := []struct {
		name       string
		stage      agentrunner.Stage
		inputs     map[string]string
		wantResult string
		wantVars   map[string]agentrunner.Variable
	}{
		{
			name:       "step downloads every enabled secret",
			stage:      agentrunner.StageMain,
			inputs:     map[string]string{"SecretsFilter": "*"},
			wantResult: "Succeeded",
			wantVars: map[string]agentrunner.Variable{
				"db-password":                       {Value: values["db-password"], Secret: true},
				"app-settings":                      {Value: values["app-settings"], Secret: true},
				"api-key":                           {Value: values["api-key"], Secret: true},
				"SYSTEM_UNSAFEALLOWMULTILINESECRET": {},
			},
		},
		{
			name:       "pre-job stage downloads named secrets",
			stage:      agentrunner.StagePreJob,
			inputs:     map[string]string{"SecretsFilter": "db-password", "RunAsPreJob": "true"},
			wantResult: "Succeeded",
			wantVars:   map[string]agentrunner.Variable{"db-password": {Value: values["db-password"], Secret: true}},
		},
		{
			name:       "step skips when the pre-job stage ran",
			stage:      agentrunner.StageMain,
			inputs:     map[string]string{"RunAsPreJob": "true"},
			wantResult: "Skipped",
			wantVars:   map[string]agentrunner.Variable{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := world.Options(taskDir, "*", t.TempDir())
			opts.Stage = tt.stage
			for k, v := range tt.inputs {
				opts.Inputs[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := agentrunner.Run(ctx, opts)
			if err != nil {
				t.Fatalf("run the extracted task: %v", err)
			}
			if res.Result != tt.wantResult || res.ExitCode != 0 {
				t.Fatalf("result %s, exit code %d; want %s, 0; log:\n%s", res.Result, res.ExitCode, tt.wantResult, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(tt.wantVars, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			for _, l := range res.Raw {
				if strings.Contains(l, world.Secret) {
					t.Errorf("the client secret reached the output: %q", l)
				}
			}
			if tt.wantResult == "Succeeded" {
				want := "GoKeyVault " + ver.String() + " (commit " + commit + "): vault kv-vsix (https://kv-vsix.vault.azure.net/), cloud AzureCloud"
				if len(res.Log) == 0 || res.Log[0] != want {
					t.Errorf("first log line %q, want %q", firstLine(res.Log), want)
				}
			}
		})
	}

	// The launcher restored the executable bit; the shipped binary carries VERSION.
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	if got := strings.TrimSpace(string(out)); got != ver.String() {
		t.Errorf("shipped binary --version = %q, want %q", got, ver)
	}
	out, err = exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	want := []string{"GoKeyVault   " + ver.String(), "commit       " + revision}
	if got := strings.SplitN(string(out), "\n", 3); len(got) < 3 || !slices.Equal(got[:2], want) {
		t.Errorf("shipped binary's version begins %q, want %q", got, want)
	}
}

// TestPackedChecksums: the task folder's SHA256SUMS in the .vsix lists
// every other file of the folder with its digest, and the checksums, notices
// and SBOMs beside the .vsix are the packed ones.
func TestPackedChecksums(t *testing.T) {
	file, m, _ := packedVSIX(t)
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	folder := m.taskFolder() + "/"
	packed := map[string][]byte{}
	for _, f := range zr.File {
		if rel, ok := strings.CutPrefix(f.Name, folder); ok && rel != "" && !strings.HasSuffix(rel, "/") {
			packed[rel] = readAll(t, f)
		}
	}
	sums, err := parseChecksums(packed[checksumsFile])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rel, data := range packed {
		if rel != checksumsFile {
			sum := sha256.Sum256(data)
			want[rel] = hex.EncodeToString(sum[:])
		}
	}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("%s in the .vsix (-the files' digests +what it says):\n%s", checksumsFile, diff)
	}
	for _, f := range supplyFiles() {
		beside, err := os.ReadFile(filepath.Join(filepath.Dir(file), filepath.FromSlash(f)))
		if err != nil {
			t.Errorf("beside the .vsix: %v", err)
		} else if !bytes.Equal(beside, packed[f]) {
			t.Errorf("%s beside the .vsix differs from the packed one", f)
		}
	}
}

func firstLine(log []string) string {
	if len(log) == 0 {
		return ""
	}
	return log[0]
}

// packedVSIX returns the .vsix make package wrote for this VERSION with the
// manifest and version it must match.
func packedVSIX(t *testing.T) (string, *manifest, version) {
	t.Helper()
	src, err := checkSources(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	m, ver := src.manifest, src.version
	publisher, strict := os.LookupEnv(vsixPublisherEnv)
	var file string
	if strict {
		file = filepath.Join(repoRoot, "dist", fmt.Sprintf("%s.%s-%s.vsix", publisher, m.ID, ver))
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("%s=%s but the package is missing: %v", vsixPublisherEnv, publisher, err)
		}
	} else {
		matches, _ := filepath.Glob(filepath.Join(repoRoot, "dist", fmt.Sprintf("*.%s-%s.vsix", m.ID, ver)))
		if len(matches) == 0 {
			t.Skipf("no dist/*.%s-%s.vsix: run make package first (make test does)", m.ID, ver)
		}
		file = matches[0]
	}
	if stale := staleFiles(t, file, m.taskFolder()); len(stale) > 0 {
		msg := fmt.Sprintf("%s was packed from another task folder (%s differ): run make package", file, strings.Join(stale, ", "))
		if strict {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return file, m, ver
}

// staleFiles lists the task folder's files, other than the binaries and
// what packaging writes (notices, SBOMs, checksums), whose packed bytes
// differ from the working tree's.
func staleFiles(t *testing.T, file, folder string) []string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var stale []string
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, folder+"/") || strings.HasSuffix(f.Name, "/") || strings.HasPrefix(f.Name, folder+"/bin/") ||
			slices.Contains(supplyFiles(), strings.TrimPrefix(f.Name, folder+"/")) {
			continue
		}
		packed := readAll(t, f)
		local, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(f.Name)))
		if err != nil || !bytes.Equal(packed, local) {
			stale = append(stale, f.Name)
		}
	}
	return stale
}

// extractTask unpacks the task folder of a .vsix into dst as the agent does:
// plain files, no modes, so the binary is not executable. The other
// platforms' binaries are left packed: they cannot run here, and inflating
// 40 MB under the race detector would cost seconds.
func extractTask(t *testing.T, file, folder, dst string) string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	host := platform{runtime.GOOS, runtime.GOARCH}.binPath()
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(f.Name, folder+"/")
		if !ok || rel == "" || strings.HasSuffix(rel, "/") || (isShippedBinary(rel) && rel != host) {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) || path.Clean(rel) != rel {
			t.Fatalf("package entry %q escapes the task folder", f.Name)
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, readAll(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func readAll(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", f.Name, err)
	}
	return b
}
