//go:build !windows

package check

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

// fakeAz writes an az of script (a shell script) in a directory of its
// own and returns its path.
func fakeAz(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "az")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

var vaultScope = policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, TenantID: "t1"}

// TestAzureCLIToken: az is asked what azidentity's AzureCLICredential
// asks, and its reply read as az 2.x writes it.
func TestAzureCLIToken(t *testing.T) {
	dir := t.TempDir()
	az := fakeAz(t, `printf '%s\n' "$@" > `+dir+`/args
echo '{"accessToken": "tok-1", "expiresOn": "2030-01-02 03:04:05.000000", "expires_on": 1893553445, "tenant": "t1", "tokenType": "Bearer"}'
`)
	c := &azureCLI{timeout: 10 * time.Second, path: az}
	tok, err := c.GetToken(context.Background(), vaultScope)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token != "tok-1" || !tok.ExpiresOn.Equal(time.Unix(1893553445, 0)) {
		t.Errorf("token %q expiring %v", tok.Token, tok.ExpiresOn)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	want := "account\nget-access-token\n-o\njson\n--resource\nhttps://vault.azure.net\n--tenant\nt1\n"
	if diff := cmp.Diff(want, string(args)); diff != "" {
		t.Errorf("az arguments (-want +got):\n%s", diff)
	}
}

// TestAzureCLIFails: a refusal is az's own words; no az at all lets the
// sign-in try the next tool.
func TestAzureCLIFails(t *testing.T) {
	c := &azureCLI{timeout: 10 * time.Second, path: fakeAz(t, "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")}
	if _, err := c.GetToken(context.Background(), vaultScope); err == nil || err.Error() != "az: ERROR: Please run 'az login' to setup account" {
		t.Errorf("error %v, want az's own", err)
	}
	t.Setenv("PATH", t.TempDir())
	s, err := NewSignIn("", Source{"the Azure CLI (az)", &azureCLI{timeout: time.Second}}, Source{"next", &source{tok: "tok-next"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := s.GetToken(context.Background(), vaultScope); err != nil || tok.Token != "tok-next" || s.Used() != "next" {
		t.Errorf("without az: %q from %q (%v), want the next tool's token", tok.Token, s.Used(), err)
	}
}

// TestAzureCLIStopped: an az that hangs, and the process it started, are
// both ended at the timeout, and when the check stops (Ctrl-C): the whole
// process group, not only az.
func TestAzureCLIStopped(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		cancel  bool // Ctrl-C once az has started its child
		want    string
	}{
		{"timeout", time.Second, false, "az did not answer within 1s and was stopped, with every process it started"},
		{"the check stopped", time.Hour, true, "context canceled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			az := fakeAz(t, "sleep 300 &\necho $! > "+dir+"/child\nwait\n")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					// The shell creates the file, then writes the pid:
					// wait for the pid, not the file.
					for {
						if b, err := os.ReadFile(filepath.Join(dir, "child")); err == nil && strings.HasSuffix(string(b), "\n") {
							cancel()
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
			}
			start := time.Now()
			_, err := (&azureCLI{timeout: tt.timeout, path: az}).GetToken(ctx, vaultScope)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("GetToken took %v", took)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "child"))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if pid <= 0 {
				t.Fatalf("az never started its child")
			}
			gone := false
			for deadline := time.Now().Add(2 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				gone = errors.Is(err, os.ErrNotExist) || strings.Contains(string(stat), ") Z ") || syscall.Kill(pid, 0) != nil
			}
			if !gone {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("az's child %d outlived it", pid)
			}
		})
	}
}

// TestAzureCLIFloods: an az that prints without end is stopped once it
// has printed more than a token could take, and nothing beyond that is
// kept.
func TestAzureCLIFloods(t *testing.T) {
	az := fakeAz(t, "yes '{\"accessToken\": \"padding padding padding padding\"}'\n")
	start := time.Now()
	_, err := (&azureCLI{timeout: 20 * time.Second, path: az}).GetToken(context.Background(), vaultScope)
	if err == nil || err.Error() != "az printed more than 1024 KiB, far more than a token, and was stopped, with every process it started" {
		t.Errorf("error %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopped after %v", took)
	}
}

// TestAzureCLIEscapedChild: a process az started that left its group and
// kept az's output open does not hold the check past az's end: az's
// answer stands.
func TestAzureCLIEscapedChild(t *testing.T) {
	c := &azureCLI{timeout: 10 * time.Second, path: fakeAz(t, `setsid sleep 20 &
echo '{"accessToken": "tok-1", "expires_on": 1893553445}'
`)}
	start := time.Now()
	tok, err := c.GetToken(context.Background(), vaultScope)
	if err != nil || tok.Token != "tok-1" {
		t.Errorf("token %q, %v; want az's", tok.Token, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("GetToken took %v", took)
	}
}

// TestAzureCLITenantChecked: a tenant from the vault's challenge goes on
// az's command line only if it is a tenant ID or domain.
func TestAzureCLITenantChecked(t *testing.T) {
	dir := t.TempDir()
	c := &azureCLI{timeout: 10 * time.Second, path: fakeAz(t, "touch "+dir+"/ran\n")}
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, TenantID: "x&calc.exe&"})
	if err == nil || err.Error() != `the vault names tenant "x&calc.exe&", which is not a tenant ID or domain (letters, digits, '.' and '-'): check that this is your vault` {
		t.Errorf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("az ran")
	}
}
