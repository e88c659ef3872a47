package vmdk

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// copyChunk is the unit of CopySparse: large enough that a compressed disk
// decodes its grains in parallel inside one ReadAt.
const copyChunk = 4 << 20

// zeroBlock is the granularity at which CopySparse finds zeros inside
// allocated ranges and leaves them as holes.
const zeroBlock = 64 << 10

// CopySparse copies the ranges of m from src to the same offsets of dst,
// leaving everything else (and every all-zero 64 KiB block) unwritten, so a
// dst created empty and truncated to the size holds holes there. Ranges are
// grouped into windows of up to 4 MiB (a small gap between ranges is read
// as the zeros it is) and the windows are read and written by one worker
// per CPU: dst must accept concurrent WriteAt calls at distinct offsets, as
// *os.File does. progress, if not nil, is called with the bytes of m done so
// far (never concurrently). It returns the bytes actually written.
func CopySparse(ctx context.Context, dst io.WriterAt, src io.ReaderAt, m allocmap.Map, progress func(done int64)) (int64, error) {
	type job struct{ off, n, mapped int64 }
	jobs := make(chan job)
	stop := make(chan struct{})
	go func() {
		defer close(jobs)
		for _, w := range windows(m, copyChunk) {
			select {
			case jobs <- w:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		mu       sync.Mutex
		firstErr error
		done     int64
		written  atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			close(stop)
		}
	}
	for w := 0; w < max(2, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, copyChunk)
			for j := range jobs {
				b := buf[:j.n]
				k, err := src.ReadAt(b, j.off)
				if k == len(b) {
					err = nil
				} else if err == nil || err == io.EOF {
					err = fmt.Errorf("short read at byte %d: %d of %d bytes", j.off, k, j.n)
				}
				if err != nil {
					fail(err)
					return
				}
				for i := 0; i < len(b); i += zeroBlock {
					blk := b[i:min(i+zeroBlock, len(b))]
					if allocmap.IsZero(blk) {
						continue
					}
					if _, err := dst.WriteAt(blk, j.off+int64(i)); err != nil {
						fail(err)
						return
					}
					written.Add(int64(len(blk)))
				}
				mu.Lock()
				done += j.mapped
				if progress != nil && firstErr == nil {
					progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return written.Load(), firstErr
	}
	return written.Load(), ctx.Err()
}

// windows groups the ranges of m into reads of at most size bytes: a
// window starts at a range, and takes in the following ranges that start
// before it is full. mapped counts the bytes of m inside the window.
func windows(m allocmap.Map, size int64) []struct{ off, n, mapped int64 } {
	var out []struct{ off, n, mapped int64 }
	i, off := 0, int64(0)
	if len(m) > 0 {
		off = m[0].Off
	}
	for i < len(m) {
		start, limit := off, off+size
		end, mapped := start, int64(0)
		for i < len(m) && m[i].Off < limit {
			s := max(m[i].Off, off)
			e := min(m[i].End(), limit)
			end, mapped = e, mapped+e-s
			if m[i].End() > limit {
				off = limit // the range goes on in the next window
				break
			}
			i++
			if i < len(m) {
				off = m[i].Off
			}
		}
		out = append(out, struct{ off, n, mapped int64 }{start, end - start, mapped})
	}
	return out
}
