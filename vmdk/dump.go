package vmdk

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmdk/allocmap"
)

// copyChunk is the unit of CopySparse: large enough that a compressed disk
// decodes its grains in parallel inside one ReadAt.
const copyChunk = 4 << 20

// zeroBlock is the granularity at which CopySparse finds zeros inside
// allocated ranges and leaves them as holes.
const zeroBlock = 64 << 10

// CopySparse copies the ranges of m from src to the same offsets of dst,
// leaving everything else (and every all-zero 64 KiB block) unwritten, so a
// dst created empty and truncated to the size holds holes there. Reading
// and writing overlap: one goroutine reads the next chunk while the caller's
// goroutine writes the last. progress, if not nil, is called with the bytes
// of m done so far. It returns the bytes actually written.
func CopySparse(ctx context.Context, dst io.WriterAt, src io.ReaderAt, m allocmap.Map, progress func(done int64)) (int64, error) {
	type chunk struct {
		off int64
		buf []byte
		err error
	}
	free := make(chan []byte, 3)
	for i := 0; i < 3; i++ {
		free <- make([]byte, copyChunk)
	}
	full := make(chan chunk, 2)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for _, r := range m {
			for off := r.Off; off < r.End(); off += copyChunk {
				var buf []byte
				select {
				case buf = <-free:
				case <-stop:
					return
				}
				if err := ctx.Err(); err != nil {
					full <- chunk{err: err}
					return
				}
				n := min(copyChunk, r.End()-off)
				buf = buf[:n]
				k, err := src.ReadAt(buf, off)
				if k == len(buf) {
					err = nil
				} else if err == nil || err == io.EOF {
					err = fmt.Errorf("short read at byte %d: %d of %d bytes", off, k, n)
				}
				select {
				case full <- chunk{off: off, buf: buf, err: err}:
				case <-stop:
					return
				}
				if err != nil {
					return
				}
			}
		}
	}()
	var done, written int64
	for c := range full {
		if c.err != nil {
			return written, c.err
		}
		for i := 0; i < len(c.buf); i += zeroBlock {
			b := c.buf[i:min(i+zeroBlock, len(c.buf))]
			if isZero(b) {
				continue
			}
			if _, err := dst.WriteAt(b, c.off+int64(i)); err != nil {
				return written, err
			}
			written += int64(len(b))
		}
		done += int64(len(c.buf))
		if progress != nil {
			progress(done)
		}
		free <- c.buf[:cap(c.buf)]
	}
	return written, ctx.Err()
}

var zeros = make([]byte, zeroBlock)

func isZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }
