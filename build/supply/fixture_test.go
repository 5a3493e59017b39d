package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mitLicense is a license go-licenses recognises.
const mitLicense = `MIT License

Copyright (c) 2026 Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

// supplyDir is this module's folder: tests change the working directory.
var supplyDir = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd
}()

// cachedModule is a module of this module's build list, in the module
// cache since this test was built: a fixture can link it offline.
type cachedModule struct{ Path, Version, Sum, GoModSum, Dir string }

func moduleOfBuildList(t *testing.T, path string) cachedModule {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", path)
	cmd.Dir = supplyDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", path, err)
	}
	var m cachedModule
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fixture is a main module, example.com/app (MIT), that links the local
// module example.com/lib (replaced by ./lib, with libLicense as its LICENSE
// unless empty) and golang.org/x/sync from the module cache.
type fixture struct {
	Dir, Binary string
	Sync        cachedModule
}

func newFixture(t *testing.T, libLicense string) *fixture {
	t.Helper()
	sync := moduleOfBuildList(t, "golang.org/x/sync")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.26\n\nrequire (\n\texample.com/lib v1.0.0\n\tgolang.org/x/sync " + sync.Version + "\n)\n\nreplace example.com/lib => ./lib\n",
		"go.sum":  "golang.org/x/sync " + sync.Version + " " + sync.Sum + "\ngolang.org/x/sync " + sync.Version + "/go.mod " + sync.GoModSum + "\n",
		"LICENSE": mitLicense,
		"main.go": `package main

import (
	"example.com/lib"
	"golang.org/x/sync/errgroup"
)

func main() {
	var g errgroup.Group
	g.Go(lib.Hello)
	_ = g.Wait()
}
`,
		"lib/go.mod": "module example.com/lib\n\ngo 1.26\n",
		"lib/lib.go": "package lib\n\nfunc Hello() error { return nil }\n",
	}
	if libLicense != "" {
		files["lib/LICENSE"] = libLicense
	}
	for name, content := range files {
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{Dir: dir, Binary: filepath.Join(dir, "app"), Sync: sync}
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", f.Binary, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the fixture: %v\n%s", err, out)
	}
	return f
}

// enter makes the fixture the working directory, as main does with -root,
// with every go command offline.
func (f *fixture) enter(t *testing.T) []*binary {
	t.Helper()
	for _, k := range []string{"GOPROXY", "GOSUMDB", "GOFLAGS"} {
		t.Setenv(k, os.Getenv(k)) // restored after the test: offline sets them
	}
	if err := offline(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOWORK", "off")
	t.Chdir(f.Dir)
	b, err := readBinary(f.Binary)
	if err != nil {
		t.Fatal(err)
	}
	return []*binary{b}
}

func mustContain(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%q\ndoes not contain %q", s, w)
		}
	}
}
