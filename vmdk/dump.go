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

// copyChunk is the unit of CopySparse's workers: read in pieces of
// readPiece, written in one call per run of blocks that are not zeros.
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
		writeMu  sync.Mutex // see below
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
				if err := readPieces(src, b, j.off); err != nil {
					fail(err)
					return
				}
				// One write for each run of blocks that are not all
				// zeros: a syscall per run, not per 64 KiB.
				next := func(i int) int { return min(i+zeroBlock, len(b)) }
				for i := 0; i < len(b); {
					if allocmap.IsZero(b[i:next(i)]) {
						i = next(i)
						continue
					}
					start := i
					for i < len(b) && !allocmap.IsZero(b[i:next(i)]) {
						i = next(i)
					}
					// The kernel writes to one file one call at a time (its
					// inode lock), and a second writer spins on that lock,
					// burning the CPU the first leaves: the workers take
					// turns here instead, waiting asleep.
					writeMu.Lock()
					_, err := dst.WriteAt(b[start:i], j.off+int64(start))
					writeMu.Unlock()
					if err != nil {
						fail(err)
						return
					}
					written.Add(int64(i - start))
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

// readPiece is the most readPieces asks of src at once: less than a
// compressed Disk splits over goroutines of its own (the workers of
// CopySparse already keep the CPUs busy, and each fan-out and wait costs a
// wake-up, which on a loaded machine is a wait in the run queue).
const readPiece = 256 << 10

// readPieces fills b from src at off, readPiece bytes at a time.
func readPieces(src io.ReaderAt, b []byte, off int64) error {
	for done := 0; done < len(b); done += readPiece {
		p := b[done:min(done+readPiece, len(b))]
		k, err := src.ReadAt(p, off+int64(done))
		if k == len(p) {
			continue
		}
		if err == nil || err == io.EOF {
			err = fmt.Errorf("short read at byte %d: %d of %d bytes", off+int64(done), k, len(p))
		}
		return err
	}
	return nil
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
