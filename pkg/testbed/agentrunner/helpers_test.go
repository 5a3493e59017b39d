package agentrunner

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// makeTask writes a throwaway task folder: task.json plus the given files.
func makeTask(t *testing.T, taskJSON string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "task.json"), []byte(taskJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scriptTask is a Node20_1 task whose main.js is script.
func scriptTask(t *testing.T, script string) string {
	t.Helper()
	return makeTask(t, `{"inputs":[],"execution":{"Node20_1":{"target":"main.js"}}}`, map[string]string{"main.js": script})
}

// lineWatch is an Options.Output that closes seen when a line containing
// marker has been written to the log.
type lineWatch struct {
	marker string
	seen   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	buf    strings.Builder
}

func newLineWatch(marker string) *lineWatch {
	return &lineWatch{marker: marker, seen: make(chan struct{})}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	hit := strings.Contains(w.buf.String(), w.marker)
	w.mu.Unlock()
	if hit {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}
