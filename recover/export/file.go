package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/fsread"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// file exports one regular file in four phases: open the source, skip it
// when an earlier run left it complete, copy it to a temporary name
// (retrying after transient errors), and finish (read back, rename, set its
// time). *conn may be replaced after a reconnect.
func (ex *exporter) file(ctx context.Context, conn *Conn, it item, e *Entry) error {
	src, err := ex.openSource(it, e)
	if err != nil {
		return err
	}
	defer src.Close()
	e.Size = src.size
	ex.prog.FileStart(it.src, src.size)
	done, err := ex.skipIfComplete(ctx, *conn, it, src, e)
	if done || err != nil {
		return err
	}
	if e.SHA256, err = ex.copyWithRetry(ctx, conn, it, src, e); err != nil {
		return err
	}
	return ex.finish(ctx, *conn, it, src, e)
}

// sourceFile is one opened source: its bytes, size and time, and where its
// data lies.
type sourceFile struct {
	io.Closer
	ra    io.ReaderAt
	size  int64
	mtime time.Time
	alloc allocmap.Map // nil: all data; empty: all holes
}

// openSource opens the file, or the flattened image, an item stands for.
func (ex *exporter) openSource(it item, e *Entry) (*sourceFile, error) {
	var src sourceFile
	var opened any // asked for an allocation map
	if it.flat != nil {
		d, err := it.flat.Open()
		if err != nil {
			return nil, &SourceError{Path: it.src, Err: err}
		}
		src = sourceFile{Closer: d, ra: d, size: it.flat.Size, mtime: it.info.ModTime()}
		opened = d
	} else {
		f, err := ex.fsys.Open(it.src)
		if err != nil {
			return nil, &SourceError{Path: it.src, Err: err}
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, &SourceError{Path: it.src, Err: err}
		}
		ra := fsread.ReaderAt(ex.fsys, it.src, f)
		src = sourceFile{Closer: f, ra: ra, size: fi.Size(), mtime: fi.ModTime()}
		if c, ok := ra.(io.Closer); ok && any(ra) != any(f) {
			src.Closer = closeBoth{c, f}
		}
		opened = f
		if p, ok := f.(Provenancer); ok && e.Provenance == "" {
			e.Provenance = p.Provenance()
		}
		if w, ok := f.(Warner); ok && e.Warnings == nil {
			e.Warnings = w.Warnings()
		}
	}
	if m, ok := opened.(allocmap.Mapper); ok {
		if err := src.mapAllocation(m); err != nil {
			src.Close()
			return nil, &SourceError{Path: it.src, Err: err}
		}
	}
	return &src, nil
}

// closeBoth closes a reader's own file, then the file it reads.
type closeBoth [2]io.Closer

func (c closeBoth) Close() error {
	err := c[0].Close()
	if err2 := c[1].Close(); err == nil {
		err = err2
	}
	return err
}

// mapAllocation takes the source's allocation map, clipped to its size; a
// mapper that names no range means the file is all holes.
func (s *sourceFile) mapAllocation(m allocmap.Mapper) error {
	alloc, err := m.AllocationMap()
	if err != nil {
		return fmt.Errorf("allocation map: %w", err)
	}
	alloc = alloc.Clip(s.size)
	if err := alloc.Validate(s.size); err != nil {
		return err
	}
	if alloc == nil {
		alloc = allocmap.Map{}
	}
	s.alloc = alloc
	return nil
}

// skipIfComplete looks at what the destination already holds at it.dest.
// done is true when it is the complete copy an earlier run recorded in the
// manifest and the source still has that hash; with Options.ReadBack the
// copy is read back too, and a copy that no longer matches is copied again
// (Entry.Repaired). Anything else in the way is ErrExists unless
// Options.Overwrite.
func (ex *exporter) skipIfComplete(ctx context.Context, c Conn, it item, src *sourceFile, e *Entry) (done bool, err error) {
	have, err := c.Size(ctx, it.dest)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("%s: %w", it.dest, err)
	}
	prev, ok := ex.prevByDst[it.dest]
	ours := ok && prev.Done() && prev.Size == src.size
	if ours && (have == src.size || ex.opts.ReadBack) {
		s := newStream(it.src, src.ra, src.size, src.alloc, src.size, func(n int64) { ex.prog.Add(it.src, n) })
		if err := s.Each(ctx, func(int64, []byte, int64) error { return nil }); err != nil {
			return false, err
		}
		if s.Sum() == prev.SHA256 {
			switch {
			case !ex.opts.ReadBack:
				e.SHA256, e.Status = s.Sum(), StatusComplete
				return true, nil
			case have == src.size:
				m, err := readBack(ctx, c, it.dest, src.size, prev.SHA256)
				if err != nil && !errors.Is(err, ErrMismatch) {
					return false, err
				}
				if err == nil {
					e.SHA256, e.Status, e.Verified = s.Sum(), StatusComplete, true
					return true, nil
				}
				ex.opts.Logger.Warn(fmt.Sprintf("copying %s again: %v", it.dest, m), "dest", it.dest)
			}
			// The copy is this export's own, damaged since: copy it again.
			// The copy counts the source's bytes afresh.
			ex.prog.Add(it.src, -s.counted)
			e.Repaired = true
			return false, nil
		}
	}
	if ours && have != src.size {
		return false, fmt.Errorf("%s: %d bytes, the manifest says %d (--verify copies it again): %w", it.dest, have, src.size, ErrExists)
	}
	if !ex.opts.Overwrite {
		return false, fmt.Errorf("%s: %w", it.dest, ErrExists)
	}
	return false, nil
}

// readBack reads name back from the destination: an error wrapping
// ErrMismatch, with what was found, when it is missing or does not hold
// size bytes with sha256 sum; another error when it could not be read.
func readBack(ctx context.Context, c Conn, name string, size int64, sum string) (Mismatch, error) {
	m, err := verifyOne(ctx, c, Entry{Dest: name, Size: size, SHA256: sum}, nopProgress{})
	if errors.Is(err, errMissing) {
		return m, fmt.Errorf("%s: %w: %w", name, err, ErrMismatch)
	}
	if err != nil {
		return m, err
	}
	if m.Got != m.Want || m.Read != m.Size {
		return m, fmt.Errorf("%s: %w", m, ErrMismatch)
	}
	return m, nil
}

// copyWithRetry copies the source to the file's temporary name and returns
// its sha256. After a transient error it waits, reconnects and continues
// from what the destination kept, up to Options.Retries times.
func (ex *exporter) copyWithRetry(ctx context.Context, conn *Conn, it item, src *sourceFile, e *Entry) (string, error) {
	u := &upload{ex: ex, it: it, src: src, tmp: tempName(it.dest), conn: conn, from: -1}
	defer func() { e.ResumedFrom = u.resumedFrom }()
	backoff := ex.opts.Backoff
	for attempt := 0; ; attempt++ {
		sum, err := u.attempt(ctx)
		if err == nil {
			return sum, nil
		}
		var se *SourceError
		if errors.As(err, &se) || errors.Is(err, ErrDestination) || ctx.Err() != nil {
			return "", err
		}
		if !errors.Is(err, ErrTransient) || attempt >= ex.opts.Retries {
			if attempt > 0 {
				return "", fmt.Errorf("after %d retries: %w", attempt, err)
			}
			return "", err
		}
		ex.opts.Logger.Warn(fmt.Sprintf("retrying %s (attempt %d): %v", it.dest, attempt+1, err), "dest", it.dest, "attempt", attempt+1)
		e.Retries++
		u.disconnect()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// upload is one file's copy to its temporary name. The things a retry
// changes together live here: the connection, the offset to continue from,
// and the progress a failed attempt counted.
type upload struct {
	ex   *exporter
	it   item
	src  *sourceFile
	tmp  string
	conn *Conn // the worker's connection, replaced after a reconnect
	// from is where the next attempt continues; -1 asks the destination
	// how much of the temporary file it can keep.
	from int64
	// resumedFrom is where the first attempt continued a partial file
	// left by an earlier run.
	resumedFrom int64
	attempts    int
}

// attempt makes one try. A failed one takes back the progress it counted
// and forgets its offset, so that the next asks the destination again.
func (u *upload) attempt(ctx context.Context) (sum string, err error) {
	var s *Stream
	defer func() {
		u.attempts++
		if err != nil {
			if s != nil {
				u.ex.prog.Add(u.it.src, -s.counted)
			}
			u.from = -1
		}
	}()
	c, err := u.connection(ctx)
	if err != nil {
		return "", err
	}
	if u.from < 0 {
		if err := u.resumeOffset(ctx, c); err != nil {
			return "", err
		}
	}
	s = newStream(u.it.src, u.src.ra, u.src.size, u.src.alloc, u.from, func(n int64) { u.ex.prog.Add(u.it.src, n) })
	if err := c.Write(ctx, u.tmp, s); err != nil {
		return "", err
	}
	have, err := c.Size(ctx, u.tmp)
	if err != nil {
		return "", err
	}
	if have != u.src.size {
		return "", &transientError{fmt.Errorf("%s holds %d bytes after writing, want %d", u.tmp, have, u.src.size)}
	}
	return s.Sum(), nil
}

// connection returns the worker's connection, connecting again after a
// retry dropped it.
func (u *upload) connection(ctx context.Context) (Conn, error) {
	if *u.conn != nil {
		return *u.conn, nil
	}
	c, err := u.ex.dst.Connect(ctx)
	if err != nil {
		return nil, &transientError{err}
	}
	*u.conn = c
	return c, nil
}

func (u *upload) disconnect() {
	if *u.conn != nil {
		(*u.conn).Close()
		*u.conn = nil
	}
}

// resumeOffset asks the destination how much of a partial temporary file
// can be kept.
func (u *upload) resumeOffset(ctx context.Context, c Conn) error {
	keep, have, err := c.ResumeOffset(ctx, u.tmp, sourceReader{u.src.ra, u.it.src}, u.src.size)
	if err != nil {
		return err
	}
	if keep < have {
		u.ex.opts.Logger.Warn(fmt.Sprintf("%s: the partial copy of %d bytes matches the source only in its first %d", u.it.dest, have, keep), "dest", u.it.dest)
	}
	if keep > 0 {
		u.ex.opts.Logger.Info(fmt.Sprintf("continuing %s at byte %d", u.it.dest, keep), "dest", u.it.dest)
	}
	if u.attempts == 0 {
		u.resumedFrom = keep
	}
	u.from = keep
	return nil
}

// finish reads the copy back when asked, gives it its final name and sets
// its modification time.
func (ex *exporter) finish(ctx context.Context, c Conn, it item, src *sourceFile, e *Entry) error {
	tmp := tempName(it.dest)
	if ex.opts.ReadBack {
		_, err := readBack(ctx, c, tmp, src.size, e.SHA256)
		if errors.Is(err, ErrMismatch) {
			err = fmt.Errorf("read back: %w", err)
			if rerr := c.Remove(ctx, tmp); rerr != nil {
				ex.opts.Logger.Warn(fmt.Sprintf("could not remove the damaged temporary file %s: %v", tmp, rerr), "dest", tmp)
			}
		}
		if err != nil {
			e.SHA256 = ""
			return err
		}
		e.Verified = true
	}
	if err := c.Rename(ctx, tmp, it.dest); err != nil {
		return err
	}
	e.Status = StatusExported
	if src.mtime.IsZero() {
		return nil // the source does not know it
	}
	if err := c.SetModTime(ctx, it.dest, src.mtime); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		ex.opts.Logger.Debug(fmt.Sprintf("%s keeps the time it was written at: %v", it.dest, err), "dest", it.dest)
	}
	return nil
}
