//go:build unix

package netconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCAFileRefused: the agent's CA file is read before the run's budget
// watches it: what is not a regular file of a sane size is refused at
// once, not read until the machine gives out.
func TestCAFileRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), maxCAFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		fifo:                         "not a regular file",
		dir:                          "not a regular file",
		big:                          "larger than 4 MiB",
		filepath.Join(dir, "absent"): "no such file or directory",
	} {
		done := make(chan error, 1)
		go func() { _, err := loadCA(file); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("loadCA(%s) = %v, want %q", file, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("loadCA(%s) still reading after 5 s", file)
		}
	}
}
