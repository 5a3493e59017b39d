//go:build !windows

package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// unshared says what is wrong with a temp directory in which another user
// could replace the run's directory between its making and its use (a
// directory not the agent user's own, nor root's, or one others may write
// to without the sticky bit, which keeps them from renaming what is not
// theirs), and what to do about it; "" when nothing is.
func unshared(info fs.FileInfo) (problem, fix string) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ""
	}
	uid := os.Getuid()
	fix = fmt.Sprintf("Make it the agent user's own (chown it to uid %d and chmod 0700 it) or, if others must share it, give it the sticky bit (chmod +t)", uid)
	switch mode := info.Mode(); {
	case int(st.Uid) != uid && st.Uid != 0:
		return fmt.Sprintf("is owned by uid %d, not by the agent's user (uid %d)", st.Uid, uid), fix
	case mode.Perm()&0o022 != 0 && mode&fs.ModeSticky == 0:
		return fmt.Sprintf("has mode %04o: other users may write to it, and without the sticky bit they may rename what is in it", mode.Perm()), fix
	}
	return "", ""
}

// privateDir is the run's directory: its path, and the directory itself,
// opened as it was made, in which files are created, so that they go into
// it even if something took its name.
type privateDir struct {
	path string
	f    *os.File
}

// mkdirPrivate makes a new directory under root that only its owner can
// open (0700), and checks that the directory opened is that one: the
// agent user's, 0700, not a link.
func mkdirPrivate(root string) (*privateDir, error) {
	dir, err := os.MkdirTemp(root, dirPattern)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	// MkdirTemp asks for 0700, which a umask can only narrow (0500 would
	// keep the files out): set it exactly.
	if err := f.Chmod(0o700); err != nil {
		f.Close()
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() || info.Mode() != fs.ModeDir|0o700 {
		f.Close()
		return nil, fmt.Errorf("%s is not the directory just made (owner or mode changed): not used", dir)
	}
	return &privateDir{path: dir, f: f}, nil
}

// create creates the file name in the directory, which must not hold it,
// with mode 0600. O_EXCL fails on anything already there, a symbolic link
// included, without following it; O_NOFOLLOW says so again.
func (p *privateDir) create(name string, data []byte) error {
	dirfd := int(p.f.Fd())
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(p.path, name), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(p.path, name))
	// As for the directory: the mode, whatever the umask.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err = errors.Join(err, f.Close()); err != nil {
		// A step must never find half a key.
		_ = unix.Unlinkat(dirfd, name, 0)
		return err
	}
	return nil
}
