package fsread

import (
	"errors"
	"io"
	"io/fs"
)

// ReaderAt returns random access to f, which is name opened in fsys. Close
// the result when it is an io.Closer (not f itself): it may hold a file it
// opened again; f stays the caller's to close.
func ReaderAt(fsys fs.FS, name string, f fs.File) io.ReaderAt {
	if ra, ok := f.(io.ReaderAt); ok {
		return ra
	}
	return &seqReader{fsys: fsys, name: name, f: f}
}

// seqReader serves ReadAt over Read, and Seek when the file has it. Calls
// must not overlap: it keeps one position.
type seqReader struct {
	fsys fs.FS
	name string
	f    fs.File // the caller's file, or one opened again to go back
	own  bool    // f was opened here
	pos  int64
}

func (r *seqReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: r.name, Err: fs.ErrInvalid}
	}
	if off != r.pos {
		// Past the end is EOF, as for ReadAt; some Seek methods refuse it.
		if fi, err := r.f.Stat(); err == nil && fi.Mode().IsRegular() && off >= fi.Size() {
			return 0, io.EOF
		}
		if err := r.moveTo(off); err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(r.f, p)
	r.pos += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// moveTo sets the position to off: by Seek, by reading forward, or by
// opening the file again and reading forward from its start.
func (r *seqReader) moveTo(off int64) error {
	if sk, ok := r.f.(io.Seeker); ok {
		if _, err := sk.Seek(off, io.SeekStart); err != nil {
			return err
		}
		r.pos = off
		return nil
	}
	if off < r.pos {
		f, err := r.fsys.Open(r.name)
		if err != nil {
			return err
		}
		r.Close()
		r.f, r.own, r.pos = f, true, 0
	}
	n, err := io.CopyN(io.Discard, r.f, off-r.pos)
	r.pos += n
	return err
}

// Close closes the file opened again to go back, if any.
func (r *seqReader) Close() error {
	if !r.own {
		return nil
	}
	r.own = false
	return r.f.Close()
}
