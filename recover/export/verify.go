package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// ErrMismatch reports a destination file whose size or sha256 differs from
// its manifest entry, or that is missing.
var ErrMismatch = errors.New("destination does not match the manifest")

// statusMismatch is the status Progress.FileDone gets for a file that
// failed verification.
const statusMismatch = "MISMATCH"

// errMissing reports an exported file no longer in the destination.
var errMissing = errors.New("missing")

// Mismatch is one file that failed verification.
type Mismatch struct {
	Dest string `json:"dest"`
	Want string `json:"want_sha256"`
	Got  string `json:"got_sha256,omitempty"`
	Size int64  `json:"size"`
	Read int64  `json:"read"` // bytes read back: at most Size+1
	// DestSize is the size of the file in the destination.
	DestSize int64  `json:"dest_size"`
	Err      string `json:"error,omitempty"`
}

func (m Mismatch) String() string {
	switch {
	case m.Err != "":
		return fmt.Sprintf("%s: %s", m.Dest, m.Err)
	case m.DestSize != m.Size:
		return fmt.Sprintf("%s: %d bytes, manifest says %d", m.Dest, m.DestSize, m.Size)
	default:
		return fmt.Sprintf("%s: sha256 %s, manifest says %s", m.Dest, m.Got, m.Want)
	}
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Checked    int        `json:"checked"` // files read back and compared
	Bytes      int64      `json:"bytes"`
	Mismatches []Mismatch `json:"mismatches"`
}

// Verify reads back every exported file of a manifest through conn and
// compares its size and sha256 with the entry. Files that differ or cannot
// be read are listed in the result; the error is ErrMismatch then, or what
// stopped the verification (a lost connection, a cancelled context).
func Verify(ctx context.Context, conn Conn, entries []Entry, prog Progress) (*VerifyResult, error) {
	if prog == nil {
		prog = nopProgress{}
	}
	var total int64
	files := 0
	for _, e := range entries {
		if e.Done() {
			total += e.Size
			files++
		}
	}
	prog.Start(files, total)
	defer prog.Finish()
	res := &VerifyResult{Mismatches: []Mismatch{}}
	for _, e := range entries {
		if !e.Done() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		prog.FileStart(e.Dest, e.Size)
		m, err := verifyOne(ctx, conn, e, prog)
		res.Checked++
		res.Bytes += m.Read
		status := "verified"
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			m.Err = err.Error()
		}
		if m.Err != "" || m.Got != m.Want || m.Read != m.Size {
			res.Mismatches = append(res.Mismatches, m)
			status = statusMismatch
		}
		prog.FileDone(e.Dest, status)
	}
	if len(res.Mismatches) > 0 {
		return res, fmt.Errorf("%d of %d files: %w", len(res.Mismatches), res.Checked, ErrMismatch)
	}
	return res, nil
}

func verifyOne(ctx context.Context, conn Conn, e Entry, prog Progress) (Mismatch, error) {
	m := Mismatch{Dest: e.Dest, Want: e.SHA256, Size: e.Size}
	if e.Size == 0 {
		// An empty file needs no data connection; over FTPS some servers
		// reset an empty one before the TLS handshake ends.
		n, err := conn.Size(ctx, e.Dest)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return m, errMissing
			}
			return m, err
		}
		m.Read, m.DestSize = n, n
		if n == 0 {
			m.Got = hex.EncodeToString(sha256.New().Sum(nil))
		}
		return m, nil
	}
	rc, err := conn.Open(ctx, e.Dest)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return m, fmt.Errorf("missing")
		}
		return m, err
	}
	defer rc.Close()
	h := sha256.New()
	// Read one byte past the recorded size: a longer file is a mismatch,
	// whose real size the destination is asked for rather than read.
	w := &countWriter{h: h, add: func(n int64) { prog.Add(e.Dest, n) }}
	_, err = io.Copy(w, io.LimitReader(rc, e.Size+1))
	m.Read, m.DestSize = w.n, w.n
	if err != nil {
		return m, err
	}
	m.Got = hex.EncodeToString(h.Sum(nil))
	if err := rc.Close(); err != nil {
		return m, err
	}
	if w.n > e.Size {
		n, err := conn.Size(ctx, e.Dest)
		if err != nil {
			return m, err
		}
		m.DestSize = n
	}
	return m, nil
}

type countWriter struct {
	h   io.Writer
	n   int64
	add func(int64)
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	w.add(int64(len(p)))
	return len(p), nil
}
