package task

import (
	"context"
	"errors"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/publish"
	"github.com/gokeyvault/gokeyvault/pkg/secretfile"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// File is a file written for a SecretsToFiles entry.
type File struct {
	Entry  selection.File
	Format certformat.Format // as asked, or as the content type implied
	Path   string            // "" in a preview
	// Version, ContentType and Expires (zero: none) are those of the
	// value written; Size is the file's.
	Version     string
	ContentType string
	Expires     time.Time
	Size        int
	// Managed: the secret backs a Key Vault certificate.
	Managed bool
	// NoKey: the value is a certificate without its private key (Key
	// Vault stores one so when the key is not exportable), and the file
	// holds the certificate alone.
	NoKey bool
}

// FileFailure is a SecretsToFiles entry whose value was downloaded but
// could not be converted or written.
type FileFailure struct {
	Entry       selection.File
	Format      certformat.Format
	ContentType string
	// Err says what was found (certformat) or what the system refused;
	// it never quotes the value.
	Err error
}

// output is where a download's results go: the job, or nowhere.
type output interface {
	// Publish sets each of names to value as a secret variable.
	Publish(names []string, value string)
	// File writes data, made from value in format f, as e's file, sets
	// e's variable to its path and returns the path.
	File(e selection.File, f certformat.Format, value string, data []byte) (string, error)
}

// jobOutput is the job's: variables through the agent, files in the run's
// private directory.
type jobOutput struct {
	pub *publish.Publisher
	w   *vso.Writer
	dir *secretfile.Dir
}

func (o jobOutput) Publish(names []string, value string) { o.pub.Publish(names, value) }

func (o jobOutput) File(e selection.File, f certformat.Format, value string, data []byte) (string, error) {
	// A later step may print the file: the masker knows the value, and a
	// text file's own lines when conversion made new ones (a PFX's key as
	// PEM). A PFX file is binary: nothing of it prints as a line.
	o.pub.Register(value)
	if f != certformat.PFX && string(data) != value {
		o.pub.Register(string(data))
	}
	// The path is not secret: a plain variable, which later steps also
	// get in their environment (<NAME>_FILE). Set before a supervisor
	// that ends the run can shut the output: no file goes unnamed.
	return o.dir.Write(e.FileName(f), data, func(path string) { o.w.SetVariable(e.Var, path, false) })
}

// errUncarried fails a file whose value the agent would alter on its way
// to the masker.
var errUncarried = errors.New(vso.Uncarried("before masking") + ", so a step that printed the file would show it. " + vso.UncarriedFix)

// preview sets nothing and writes nothing.
type preview struct{}

func (preview) Publish([]string, string) {}

func (preview) File(selection.File, certformat.Format, string, []byte) (string, error) {
	return "", nil
}

// file converts a value for its SecretsToFiles entry and writes it.
func (dl *download) file(e selection.File, v keyvault.Value) {
	f := e.Format
	if f == "" {
		f = certformat.Default(v.ContentType)
	}
	var file certformat.File
	err := errUncarried
	done := dl.progress.busy(e.Text)
	if dl.enc.Carries(v.Value) {
		// Otherwise the masker would learn the value as the agent decodes
		// it, and a later step that prints the file would show it.
		file, err = certformat.Convert(dl.ctx, v.Value, v.ContentType, f)
	}
	var path string
	if err == nil {
		path, err = dl.out.File(e, f, v.Value, file.Data)
	}
	stopped := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	if !stopped && !errors.Is(err, secretfile.ErrClosed) {
		// A file refused because the run was being stopped stays
		// under way: it is one of those the stop cut short.
		done(err == nil)
	}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if stopped {
		// The run's end stopped the conversion: the entry was cut
		// short, as a supervisor that ended the run would say.
		dl.d.CutShort = append(dl.d.CutShort, e.Text)
		return
	}
	if err != nil {
		dl.d.FileFailures = append(dl.d.FileFailures, FileFailure{Entry: e, Format: f, ContentType: v.ContentType, Err: err})
		return
	}
	dl.d.Files = append(dl.d.Files, File{Entry: e, Format: f, Path: path, Version: v.Resolved, ContentType: v.ContentType, Expires: v.Expires, Size: len(file.Data), Managed: v.Managed, NoKey: file.NoKey})
}
