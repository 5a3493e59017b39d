//go:build !windows

package secretfile

import (
	"os"
	"syscall"
)

// mkdirPrivate makes a new directory under root that only its owner can
// open (0700).
func mkdirPrivate(root string) (string, error) {
	dir, err := os.MkdirTemp(root, dirPattern)
	if err != nil {
		return "", err
	}
	// MkdirTemp asks for 0700, which a umask can only narrow (0500 would
	// keep the files out): set it exactly.
	if err := os.Chmod(dir, 0o700); err != nil {
		_ = os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// createPrivate creates path, which must not exist, with mode 0600.
// O_EXCL fails on anything already there, a symbolic link included,
// without following it; O_NOFOLLOW says so again.
func createPrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	// As for the directory: the mode, whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		_ = os.Remove(path)
		return err
	}
	return writeAll(f, data)
}
