package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

const (
	chunkSize = 1 << 20  // one read from the source
	zeroBlock = 64 << 10 // granularity of all-zero detection: such blocks become holes locally
)

var zeros = make([]byte, chunkSize)

// SourceError is a failure to read the source file: the destination is not
// to blame, so the exporter does not retry it and goes on with other files.
type SourceError struct {
	Path string
	Off  int64
	Err  error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("reading source %s at offset %d: %v", e.Path, e.Off, e.Err)
}
func (e *SourceError) Unwrap() error { return e.Err }

// sourceReader reads a source file: a short read is a SourceError naming it.
type sourceReader struct {
	r    io.ReaderAt
	path string
}

func (s sourceReader) ReadAt(p []byte, off int64) (int, error) {
	got, err := s.r.ReadAt(p, off)
	if got < len(p) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return got, &SourceError{Path: s.path, Off: off + int64(got), Err: err}
	}
	return got, nil
}

// Stream is the content of one source file as a destination writes it: the
// bytes from From() to Size(), delivered in order as data or holes, while the
// sha256 of the whole file (the prefix before From() included, read but not
// delivered) is computed. A Stream is used once.
type Stream struct {
	path  string
	r     io.ReaderAt
	size  int64
	alloc allocmap.Map // nil: everything is data
	from  int64
	sum   []byte
	read  func(n int64) // progress, may be nil
	// counted is what was reported to read, so a failed attempt can be
	// taken back from the progress.
	counted int64
}

func newStream(path string, r io.ReaderAt, size int64, alloc allocmap.Map, from int64, progress func(int64)) *Stream {
	s := &Stream{path: path, r: r, size: size, alloc: alloc, from: from}
	if progress != nil {
		s.read = func(n int64) {
			s.counted += n
			progress(n)
		}
	}
	return s
}

// Size is the length of the file.
func (s *Stream) Size() int64 { return s.size }

// From is the offset the destination continues at.
func (s *Stream) From() int64 { return s.from }

// Sum is the hex sha256 of the whole file, set once Each has finished
// without error.
func (s *Stream) Sum() string {
	if s.sum == nil {
		return ""
	}
	return hex.EncodeToString(s.sum)
}

// Each calls fn for every run of the file from From() on, in order: data
// holds bytes to write at off, or is nil when hole bytes of zeros start at
// off (holes come from the allocation map and from all-zero blocks). data is
// only valid during the call.
func (s *Stream) Each(ctx context.Context, fn func(off int64, data []byte, hole int64) error) error {
	hs := newHasher()
	defer hs.close()
	err := s.each(ctx, hs, fn)
	sum, herr := hs.finish()
	if err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	s.sum = sum
	return nil
}

// WriteTo writes the bytes from From() on to w, holes as zeros; it is how
// a destination without holes (FTP) consumes a Stream.
func (s *Stream) WriteTo(ctx context.Context, w io.Writer) error {
	return s.Each(ctx, func(off int64, data []byte, hole int64) error {
		if data != nil {
			_, err := w.Write(data)
			return err
		}
		for hole > 0 {
			n := min(hole, int64(len(zeros)))
			if _, err := w.Write(zeros[:n]); err != nil {
				return err
			}
			hole -= n
		}
		return nil
	})
}

func (s *Stream) each(ctx context.Context, hs *hasher, fn func(off int64, data []byte, hole int64) error) error {
	alloc := s.alloc
	if alloc == nil {
		alloc = allocmap.Map{{Off: 0, Len: s.size}}
	}
	var off int64
	emitHole := func(end int64) error {
		if end <= off {
			return nil
		}
		hs.zeros(end - off)
		if s.read != nil {
			s.read(end - off)
		}
		if end > s.from {
			start := max(off, s.from)
			if err := fn(start, nil, end-start); err != nil {
				return err
			}
		}
		off = end
		return nil
	}
	for _, r := range alloc {
		if r.Off >= s.size {
			break
		}
		if err := emitHole(r.Off); err != nil {
			return err
		}
		end := min(r.End(), s.size)
		for off < end {
			if err := ctx.Err(); err != nil {
				return err
			}
			buf := hs.buffer()
			n := int(min(int64(len(buf)), end-off))
			buf = buf[:n]
			if _, err := (sourceReader{s.r, s.path}).ReadAt(buf, off); err != nil {
				hs.release(buf)
				return err
			}
			hs.data(buf)
			if s.read != nil {
				s.read(int64(n))
			}
			if off+int64(n) > s.from {
				skip := max(0, s.from-off)
				if err := emitRuns(off+skip, buf[skip:], fn); err != nil {
					return err
				}
			}
			off += int64(n)
		}
	}
	return emitHole(s.size)
}

// emitRuns splits buf into runs of data and of all-zero blocks.
func emitRuns(off int64, buf []byte, fn func(off int64, data []byte, hole int64) error) error {
	start := 0 // start of the pending data run
	for i := 0; i < len(buf); {
		n := min(zeroBlock, len(buf)-i)
		if !bytes.Equal(buf[i:i+n], zeros[:n]) {
			i += n
			continue
		}
		j := i + n
		for j < len(buf) {
			m := min(zeroBlock, len(buf)-j)
			if !bytes.Equal(buf[j:j+m], zeros[:m]) {
				break
			}
			j += m
		}
		if i > start {
			if err := fn(off+int64(start), buf[start:i], 0); err != nil {
				return err
			}
		}
		if err := fn(off+int64(i), nil, int64(j-i)); err != nil {
			return err
		}
		start, i = j, j
	}
	if start < len(buf) {
		return fn(off+int64(start), buf[start:], 0)
	}
	return nil
}

// hasher computes sha256 in its own goroutine, so that reading and writing
// one chunk overlaps with hashing the previous one; sha256 without SHA-NI
// runs at about the speed of a disk.
type hasher struct {
	jobs chan hashJob
	free chan []byte
	done chan struct{}
	h    hash.Hash
}

type hashJob struct {
	data  []byte
	zeros int64
}

const hashBuffers = 4

func newHasher() *hasher {
	hs := &hasher{
		jobs: make(chan hashJob, hashBuffers),
		free: make(chan []byte, hashBuffers),
		done: make(chan struct{}),
		h:    sha256.New(),
	}
	for range hashBuffers {
		hs.free <- make([]byte, chunkSize)
	}
	jobs := hs.jobs // finish sets the field to nil, maybe before this runs
	go func() {
		defer close(hs.done)
		for j := range jobs {
			if j.data != nil {
				hs.h.Write(j.data)
				hs.free <- j.data[:cap(j.data)]
				continue
			}
			for j.zeros > 0 {
				n := min(j.zeros, int64(len(zeros)))
				hs.h.Write(zeros[:n])
				j.zeros -= n
			}
		}
	}()
	return hs
}

func (hs *hasher) buffer() []byte     { return <-hs.free }
func (hs *hasher) release(buf []byte) { hs.free <- buf[:cap(buf)] }
func (hs *hasher) data(buf []byte)    { hs.jobs <- hashJob{data: buf} }
func (hs *hasher) zeros(n int64)      { hs.jobs <- hashJob{zeros: n} }
func (hs *hasher) finish() ([]byte, error) {
	if hs.jobs == nil {
		return nil, errors.New("hasher finished twice")
	}
	close(hs.jobs)
	hs.jobs = nil
	<-hs.done
	return hs.h.Sum(nil), nil
}

// close stops the goroutine if finish was not called.
func (hs *hasher) close() {
	if hs.jobs != nil {
		close(hs.jobs)
		hs.jobs = nil
		<-hs.done
	}
}
