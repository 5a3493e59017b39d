//go:build windows

package secretfile

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a file mode means nothing: access is what the file's security
// descriptor says. Both the directory and each file are created with one
// that names the agent's user as owner and gives that user, and no one
// else, full control, with a protected DACL (nothing inherited from the
// temp directory, which may grant Users or Administrators access). The
// directory's entry is inherited by what is created in it; each file gets
// the same explicitly, as it is created: there is no moment at which the
// file exists with another ACL.

// unshared finds nothing wrong on Windows: a directory has no mode there,
// and the run's own directory gets an access control list that lets no
// one else in (below), nor rename or delete it.
func unshared(fs.FileInfo) (problem, fix string) { return "", "" }

// privateDir is the run's directory.
type privateDir struct{ path string }

// mkdirPrivate makes a new directory under root that only the agent's
// user can open.
func mkdirPrivate(root string) (*privateDir, error) {
	sa, err := ownerOnly("OICI")
	if err != nil {
		return nil, err
	}
	for range 10 {
		dir := filepath.Join(root, dirPattern+rand.Text())
		p, err := windows.UTF16PtrFromString(dir)
		if err != nil {
			return nil, err
		}
		err = windows.CreateDirectory(p, sa)
		if err == nil {
			return &privateDir{path: dir}, nil
		}
		if !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return nil, &os.PathError{Op: "mkdir", Path: dir, Err: err}
		}
	}
	return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(root, dirPattern+"*"), Err: windows.ERROR_ALREADY_EXISTS}
}

// create creates the file name in the directory, which must not hold it
// (CREATE_NEW fails on anything there, a link included), readable by the
// agent's user only.
func (d *privateDir) create(name string, data []byte) error {
	path := filepath.Join(d.path, name)
	sa, err := ownerOnly("")
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, sa, windows.CREATE_NEW,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}
	return writeAll(os.NewFile(uintptr(h), path), data)
}

// ownerOnly is a security descriptor that gives the process's user, as
// owner, full control and no one else anything; inherit is the ACE's
// inheritance flags ("OICI" for a directory's content).
func ownerOnly(inherit string) (*windows.SecurityAttributes, error) {
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	sid := user.User.Sid.String()
	sd, err := windows.SecurityDescriptorFromString("O:" + sid + "D:P(A;" + inherit + ";FA;;;" + sid + ")")
	if err != nil {
		return nil, err
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

// writeAll writes data to f and closes it; on failure the file is removed,
// so that a step never finds half a key.
func writeAll(f *os.File, data []byte) error {
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}
