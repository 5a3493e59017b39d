package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Dir is where a run writes its files: a directory of its own, made under
// the agent's temp directory at the first write, so that a run that writes
// nothing leaves nothing behind. Its methods are safe for concurrent use.
type Dir struct {
	root string

	// mu is held through each write and its announcement, and by Close.
	mu     sync.Mutex
	priv   *privateDir // nil until made
	closed bool
}

// dirPattern names a run's directory; the system adds a random part, so
// that no other step of the job can have made it beforehand.
const dirPattern = "gokeyvault-files-"

// NotSetError is a run asked for files without an agent temp directory to
// put them in.
type NotSetError struct{}

func (NotSetError) Error() string {
	return "input SecretsToFiles needs the agent's temp directory (AGENT_TEMPDIRECTORY), which is not set: the task writes files only there, because the agent empties it after every job. Run the task on an Azure Pipelines agent, or leave SecretsToFiles empty"
}

// NewDir checks the agent's temp directory, root, and returns the Dir the
// run's files go to. Nothing is created yet.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, NotSetError{}
	}
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("the agent's temp directory (AGENT_TEMPDIRECTORY) is %q, not an absolute path: SecretsToFiles writes nowhere else", clip(root))
	}
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("the agent's temp directory (AGENT_TEMPDIRECTORY) %s does not exist: SecretsToFiles writes nowhere else. Run the task on an Azure Pipelines agent, which creates it for every job", clip(root))
	case err != nil:
		return nil, fmt.Errorf("the agent's temp directory (AGENT_TEMPDIRECTORY) %s cannot be read (SecretsToFiles writes nowhere else): %w", clip(root), err)
	case !info.IsDir():
		return nil, fmt.Errorf("the agent's temp directory (AGENT_TEMPDIRECTORY) %s is not a directory: SecretsToFiles writes nowhere else", clip(root))
	}
	if problem, fix := unshared(info); problem != "" {
		return nil, fmt.Errorf("the agent's temp directory (AGENT_TEMPDIRECTORY) %s %s, so another user could replace the directory SecretsToFiles writes the secrets to; nothing was written. %s", clip(root), problem, fix)
	}
	return &Dir{root: root}, nil
}

// ErrClosed is a write after Close.
var ErrClosed = errors.New("the run was stopped before this file was written")

// Write creates the file name (a name of the run's own, no path) in the
// run's directory with data, readable and writable by the agent's user
// only, calls announce (if not nil) with its full path before any other
// write or a Close can go on, and returns the path. A file that exists
// already, or a link of that name, is an error: nothing is overwritten.
func (d *Dir) Write(name string, data []byte, announce func(path string)) (string, error) {
	if !plainName(name) {
		return "", fmt.Errorf("refused to write a file named %q: a file's name is a secret name and its extension", clip(name))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", ErrClosed
	}
	dir, err := d.dir()
	if err != nil {
		return "", fmt.Errorf("create a private directory under the agent's temp directory %s: %w", d.root, err)
	}
	p := filepath.Join(dir.path, name)
	if err := dir.create(name, data); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	if announce != nil {
		announce(p)
	}
	return p, nil
}

// Close waits for a write under way and its announcement, and refuses
// every write after it: a run that is stopped in its place leaves no file
// that its variable does not name.
func (d *Dir) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
}

// dir makes the run's directory on first use; d.mu is held.
func (d *Dir) dir() (*privateDir, error) {
	if d.priv != nil {
		return d.priv, nil
	}
	p, err := mkdirPrivate(d.root)
	if err != nil {
		return nil, err
	}
	d.priv = p
	return p, nil
}

// plainName reports whether name is letters, digits, '-' and '.' only,
// and neither "." nor "..": a name that cannot leave the directory.
func plainName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func clip(s string) string { return vso.Clip(s, 80) }
