package deepscan

import (
	"context"
	"errors"
	"io"
	"io/fs"
)

// RunOptions tune Run.
type RunOptions struct {
	Options
	// Dir is where the scan file lives (its .vmfsrecover subfolder).
	Dir string
	// Rescan ignores a saved scan file and scans from the start.
	Rescan bool
}

// Run returns the findings for a source: from its scan file when a
// complete scan was saved, else by scanning (resuming a partial scan) and
// saving the findings as it goes. It returns the scan file's path.
func Run(ctx context.Context, r io.ReaderAt, size int64, spec string, opts RunOptions) (*Findings, string, error) {
	id, err := Identify(r, size)
	if err != nil {
		return nil, "", err
	}
	path := ScanFilePath(opts.Dir, id)
	f, err := Load(path)
	switch {
	case err == nil && !opts.Rescan && f.Identity == id && f.Size == size:
		if f.Complete() {
			return f, path, nil
		}
	case err == nil || errors.Is(err, fs.ErrNotExist):
		f = New(spec, id, size)
	default:
		return nil, path, err
	}
	if opts.Rescan {
		f = New(spec, id, size)
	}
	inner := opts.Checkpoint
	opts.Checkpoint = func(f *Findings) error {
		if err := f.Save(path); err != nil {
			return err
		}
		if inner != nil {
			return inner(f)
		}
		return nil
	}
	if err := Scan(ctx, r, f, opts.Options); err != nil {
		return f, path, err
	}
	return f, path, nil
}
