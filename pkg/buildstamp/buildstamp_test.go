package buildstamp

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// built is the build information of a release build: a clean tree, two
// modules, one of them replaced.
func built(settings ...debug.BuildSetting) *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "github.com/gokeyvault/gokeyvault/cmd/gokeyvault",
		Main:      debug.Module{Path: "github.com/gokeyvault/gokeyvault", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/Azure/azure-sdk-for-go/sdk/azcore", Version: "v1.23.3", Sum: "h1:abc="},
			{Path: "golang.org/x/net", Version: "v0.58.0", Sum: "h1:def=", Replace: &debug.Module{Path: "example.com/net", Version: "v0.58.1", Sum: "h1:ghi="}},
		},
		Settings: append([]debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "CGO_ENABLED", Value: "0"},
			{Key: "GOARCH", Value: "arm64"},
			{Key: "GOOS", Value: "windows"},
		}, settings...),
	}
}

var (
	rev       = debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}
	revTime   = debug.BuildSetting{Key: "vcs.time", Value: "2026-12-06T21:14:03Z"}
	clean     = debug.BuildSetting{Key: "vcs.modified", Value: "false"}
	dirtyTree = debug.BuildSetting{Key: "vcs.modified", Value: "true"}
)

func TestCommit(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"clean tree", built(rev, revTime, clean), "0123456789ab"},
		{"modified tree", built(rev, revTime, dirtyTree), "0123456789ab, modified"},
		{"no version control information", built(), "unknown"},
		{"no build information", nil, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromBuildInfo("1.0.0", tt.bi).Commit(); got != tt.want {
				t.Errorf("Commit() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want []string
	}{
		{
			name: "release build",
			bi:   built(rev, revTime, clean),
			want: []string{
				"GoKeyVault   1.0.0",
				"commit       0123456789abcdef0123456789abcdef01234567",
				"commit time  2026-12-06T21:14:03Z",
				"modified     false",
				"go           go1.26.8 windows/arm64",
				"main         github.com/gokeyvault/gokeyvault/cmd/gokeyvault",
				"modules (2):",
				"  github.com/Azure/azure-sdk-for-go/sdk/azcore  v1.23.3  h1:abc=",
				"  golang.org/x/net                              v0.58.0  h1:def=  => example.com/net v0.58.1",
			},
		},
		{
			name: "built without version control information",
			bi:   built(),
			want: []string{
				"GoKeyVault   1.0.0",
				"commit       unknown (built without version control information)",
				"commit time  unknown",
				"modified     unknown",
				"go           go1.26.8 windows/arm64",
				"main         github.com/gokeyvault/gokeyvault/cmd/gokeyvault",
				"modules (2):",
				"  github.com/Azure/azure-sdk-for-go/sdk/azcore  v1.23.3  h1:abc=",
				"  golang.org/x/net                              v0.58.0  h1:def=  => example.com/net v0.58.1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := FromBuildInfo("1.0.0", tt.bi).Write(&buf); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")); diff != "" {
				t.Errorf("Write (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRead: a test binary has build information; its main package is the
// test's.
func TestRead(t *testing.T) {
	s := Read("x")
	if s.Version != "x" || s.GoVersion == "" || !strings.HasSuffix(s.Main, "buildstamp.test") {
		t.Errorf("Read = %+v", s)
	}
}
