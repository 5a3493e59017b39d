package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cancelOnEnv stops run once it has printed its last env line.
type cancelOnEnv struct {
	mu     sync.Mutex
	b      strings.Builder
	cancel context.CancelFunc
}

func (w *cancelOnEnv) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), "no_proxy=\n") {
		w.cancel()
	}
	return len(p), nil
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(cfgFile, []byte(`{
		"apps": [{"tenant": "t1", "clientId": "c1", "clientSecret": "s1"}],
		"vaults": [{"name": "kv-cfg", "tenant": "t1", "secrets": [{"name": "a", "value": "b"}], "faults": {"latency": "1ms", "pageSize": 5}}]
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string // -dir is added, a directory of the case's own
		wantErr    string
		wantStderr []string
	}{
		{"flags", []string{"-secret", "x=y"}, "", []string{"(1 secrets)"}},
		{"config", []string{"-config", cfgFile}, "", []string{"app: tenant t1, client id c1", "vault: https://kv-cfg.vault.azure.net (1 secrets)"}},
		{"bad secret flag", []string{"-secret", "novalue"}, `-secret "novalue": want name=value`, nil},
		{"missing config", []string{"-config", filepath.Join(dir, "absent.json")}, "read config", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			caseDir := t.TempDir()
			tc.args = append([]string{"-dir", caseDir}, tc.args...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out := &cancelOnEnv{cancel: cancel}
			var stderr strings.Builder
			err := run(ctx, tc.args, out, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("run error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, stderr.String())
			}
			var keys []string
			for _, line := range strings.Split(strings.TrimSpace(out.b.String()), "\n") {
				k, _, _ := strings.Cut(line, "=")
				keys = append(keys, k)
			}
			if diff := cmp.Diff([]string{"HTTPS_PROXY", "SSL_CERT_FILE", "https_proxy", "NO_PROXY", "no_proxy"}, keys); diff != "" {
				t.Errorf("env lines (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(caseDir, "ca.pem")); err != nil {
				t.Errorf("ca.pem: %v", err)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
