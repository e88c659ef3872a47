package export

import (
	"context"
	"errors"
	"io"
	"time"
)

// Destination is where an export goes. It hands out connections: each
// exporter worker uses its own Conn, one at a time.
type Destination interface {
	Connect(ctx context.Context) (Conn, error)
	// String names the destination for messages; it never holds a password.
	String() string
}

// Conn is one connection to a destination. Names are "/"-separated paths
// relative to the destination root, already made safe by the exporter.
type Conn interface {
	// MkdirAll creates a directory and its parents.
	MkdirAll(ctx context.Context, dir string) error
	// Size returns the size of a regular file; an error wrapping
	// fs.ErrNotExist when there is none.
	Size(ctx context.Context, name string) (int64, error)
	// ResumeOffset says how much of a partial file an upload of a source of
	// size bytes keeps: keep is 0 when there is no partial file or it is
	// larger than size, otherwise a prefix of its have bytes checked
	// against src as far as the destination affords (local: all of it;
	// FTP: its settled size and its tail). Reading src fails only with a
	// SourceError.
	ResumeOffset(ctx context.Context, name string, src io.ReaderAt, size int64) (keep, have int64, err error)
	// Write stores the stream into name: when s.From() is 0 the file is
	// created or truncated, otherwise the first s.From() bytes already in
	// name are kept and the rest is written after them.
	Write(ctx context.Context, name string, s *Stream) error
	// Rename renames from to to, replacing to.
	Rename(ctx context.Context, from, to string) error
	// Settle makes the renames done so far through any connection of the
	// destination survive a power cut (local, unless NoSync: an fsync of
	// each folder they were made in; FTP: nothing the client can do). The
	// exporter settles before the manifest names a file, and after.
	Settle(ctx context.Context) error
	// Remove removes a file.
	Remove(ctx context.Context, name string) error
	// Open reads a file back.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Symlink creates name as a symbolic link to target; errors.ErrUnsupported
	// where the destination has no links.
	Symlink(ctx context.Context, target, name string) error
	// SetModTime sets a file's modification time; errors.ErrUnsupported
	// where the destination cannot.
	SetModTime(ctx context.Context, name string, t time.Time) error
	Close() error
}

// ErrExists reports a destination file that is in the way: it is not the
// complete result of an earlier run, and Options.Overwrite is off.
var ErrExists = errors.New("destination file exists (use --overwrite to replace it)")

// ErrDestination classes errors after which no further file can be written
// (no space left, permission denied, read-only filesystem, quota, storage
// refused): the export stops, keeping what is done.
var ErrDestination = errors.New("destination cannot take more data")

// fatalError marks an error as ErrDestination while keeping its message.
type fatalError struct{ err error }

func (e *fatalError) Error() string   { return e.err.Error() }
func (e *fatalError) Unwrap() []error { return []error{ErrDestination, e.err} }

// ErrTransient classes errors worth retrying after reconnecting: a dropped
// connection, a timeout, an FTP 4xx reply.
var ErrTransient = errors.New("transient destination error")

type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() []error { return []error{ErrTransient, e.err} }
