package imaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// Options tune a rescue. The zero value is usable.
type Options struct {
	ChunkSize  int64         // copy-phase read size; default 1 MiB
	SectorSize int64         // trim, scrape and retry read size; default 512
	Retries    int           // passes over the bad sectors after scraping
	SaveEvery  time.Duration // mapfile save interval; default 30 s
	// Progress, when set, is called with the totals at most every 100 ms
	// while reading, and when the mapfile is saved.
	Progress func(Stats)
}

// Stats are the totals of a rescue, as GNU ddrescue shows them.
type Stats struct {
	Size       int64
	Pos        int64 // where the rescue reads now
	Phase      mapfile.Phase
	Rescued    int64 // finished bytes
	NonTried   int64
	NonTrimmed int64
	NonScraped int64
	Bad        int64 // bytes in bad sectors
	ReadErrors int   // failed reads in this run
}

// Output is the image being written.
type Output interface {
	io.WriterAt
	Sync() error
}

// Saver writes the mapfile; it is called every Options.SaveEvery and when
// Run returns.
type Saver func(*mapfile.Map) error

// Run rescues src (size bytes) into out under the control of m, which
// says what is left to do: mapfile.New for a new rescue, a parsed mapfile
// to resume one. m must describe [0, size) (see mapfile.Map.Resize). It
// returns when every phase is done, or with the error that stopped it (the
// context's when interrupted, remote.ErrLinkDown, a write error); the
// mapfile is saved either way, so a rerun resumes.
func Run(ctx context.Context, src io.ReaderAt, size int64, out Output, m *mapfile.Map, save Saver, opts Options) (err error) {
	if m.Start() != 0 || m.End() != size {
		return fmt.Errorf("mapfile covers [%d, %d), the source is %d bytes", m.Start(), m.End(), size)
	}
	r := newRescue(ctx, src, size, out, m, save, opts)
	defer func() {
		if serr := r.save(); err == nil {
			err = serr
		}
	}()
	for _, phase := range []func() error{r.copy, r.trim, r.scrape, r.retry} {
		if err := phase(); err != nil {
			return err
		}
	}
	m.Phase, m.Pos, m.Pass = mapfile.Done, size, 1
	return nil
}

type rescue struct {
	ctx      context.Context
	src      io.ReaderAt
	size     int64
	out      Output
	m        *mapfile.Map
	saver    Saver
	opts     Options
	buf      []byte
	errs     int
	lastSave time.Time
	lastShow time.Time
}

func newRescue(ctx context.Context, src io.ReaderAt, size int64, out Output, m *mapfile.Map, save Saver, opts Options) *rescue {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1 << 20
	}
	if opts.SectorSize <= 0 {
		opts.SectorSize = 512
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = 30 * time.Second
	}
	return &rescue{ctx: ctx, src: src, size: size, out: out, m: m, saver: save, opts: opts,
		buf: make([]byte, opts.ChunkSize), lastSave: time.Now()}
}

// errStop wraps an error that ends the rescue rather than marking sectors
// bad.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }
func (e errStop) Unwrap() error { return e.err }

// read copies [off, off+n) of the source to the image. It returns false
// when the source failed to read there, and an error when the rescue must
// stop (interrupted, the link down, the image not writable).
func (r *rescue) read(off, n int64) (bool, error) {
	if err := r.ctx.Err(); err != nil {
		return false, err
	}
	p := r.buf[:n]
	got, err := r.src.ReadAt(p, off)
	if got == len(p) && (err == nil || err == io.EOF) {
		if !allocmap.IsZero(p) {
			if _, werr := r.out.WriteAt(p, off); werr != nil {
				return false, fmt.Errorf("writing the image at byte %d: %w", off, werr)
			}
		}
		return true, nil
	}
	if cerr := r.ctx.Err(); cerr != nil {
		return false, cerr
	}
	if errors.Is(err, remote.ErrLinkDown) {
		return false, err
	}
	r.errs++
	return false, nil
}

// step records the outcome of a read and saves the mapfile when due.
func (r *rescue) step(pos int64) error {
	r.m.Pos = pos
	// The totals walk the whole map: a scrape of a badly damaged disk
	// reads millions of sectors into a map of thousands of blocks.
	if r.opts.Progress != nil && time.Since(r.lastShow) >= 100*time.Millisecond {
		r.show()
	}
	if time.Since(r.lastSave) >= r.opts.SaveEvery {
		return r.save()
	}
	return nil
}

func (r *rescue) show() {
	r.lastShow = time.Now()
	r.opts.Progress(r.stats())
}

func (r *rescue) save() error {
	r.lastSave = time.Now()
	if r.opts.Progress != nil {
		r.show()
	}
	if err := r.out.Sync(); err != nil {
		return fmt.Errorf("syncing the image: %w", err)
	}
	return r.saver(r.m)
}

func (r *rescue) stats() Stats {
	return Stats{
		Size: r.size, Pos: r.m.Pos, Phase: r.m.Phase,
		Rescued:    r.m.Total(mapfile.Finished),
		NonTried:   r.m.Total(mapfile.NonTried),
		NonTrimmed: r.m.Total(mapfile.NonTrimmed),
		NonScraped: r.m.Total(mapfile.NonScraped),
		Bad:        r.m.Total(mapfile.BadSector),
		ReadErrors: r.errs,
	}
}

// enter starts phase ph, or resumes it where the mapfile says it stopped.
func (r *rescue) enter(ph mapfile.Phase) {
	if r.m.Phase != ph || r.m.Pos >= r.size {
		r.m.Phase, r.m.Pos, r.m.Pass = ph, 0, 1
	}
}

// copy reads the non-tried blocks in chunks aligned to ChunkSize: pass 1
// skips ahead after failures, pass 2 sweeps what pass 1 skipped.
func (r *rescue) copy() error {
	if r.m.Total(mapfile.NonTried) == 0 {
		return nil
	}
	r.enter(mapfile.Copying)
	for ; r.m.Total(mapfile.NonTried) > 0; r.m.Pass++ {
		skipping := r.m.Pass == 1
		skip := r.opts.ChunkSize
		maxSkip := max(r.opts.ChunkSize, min(r.size/100, 64<<20))
		for pos := r.m.Pos; ; {
			b, ok := r.m.Next(mapfile.NonTried, pos)
			if !ok {
				break
			}
			n := min(b.Size, r.opts.ChunkSize-b.Pos%r.opts.ChunkSize)
			good, err := r.read(b.Pos, n)
			if err != nil {
				return err
			}
			pos = b.Pos + n
			if good {
				r.m.Set(b.Pos, n, mapfile.Finished)
				skip = r.opts.ChunkSize
			} else {
				r.m.Set(b.Pos, n, mapfile.NonTrimmed)
				if skipping {
					pos += skip
					skip = min(2*skip, maxSkip)
				}
			}
			if err := r.step(pos); err != nil {
				return err
			}
		}
		r.m.Pos = 0
	}
	return nil
}

// trim reads each non-trimmed block's edges sector by sector, inward,
// until a sector fails on each side; the rest becomes non-scraped.
func (r *rescue) trim() error {
	if r.m.Total(mapfile.NonTrimmed) == 0 {
		return nil
	}
	r.enter(mapfile.Trimming)
	sec := r.opts.SectorSize
	for pos := r.m.Pos; ; {
		b, ok := r.m.Next(mapfile.NonTrimmed, pos)
		if !ok {
			break
		}
		lo, hi := b.Pos, b.End()
		// Leading edge, unless a bad sector already bounds it.
		if lo == 0 || r.m.At(lo-1) != mapfile.BadSector {
			for lo < hi {
				n := min(sec-lo%sec, hi-lo)
				good, err := r.read(lo, n)
				if err != nil {
					return err
				}
				st := mapfile.Finished
				if !good {
					st = mapfile.BadSector
				}
				r.m.Set(lo, n, st)
				lo += n
				if err := r.step(lo); err != nil {
					return err
				}
				if !good {
					break
				}
			}
		}
		// Trailing edge, backwards.
		if hi == r.size || r.m.At(hi) != mapfile.BadSector {
			for hi > lo {
				start := max(lo, (hi-1)/sec*sec)
				good, err := r.read(start, hi-start)
				if err != nil {
					return err
				}
				st := mapfile.Finished
				if !good {
					st = mapfile.BadSector
				}
				r.m.Set(start, hi-start, st)
				hi = start
				if err := r.step(b.Pos); err != nil {
					return err
				}
				if !good {
					break
				}
			}
		}
		r.m.Set(lo, hi-lo, mapfile.NonScraped)
		pos = b.End()
		if err := r.step(pos); err != nil {
			return err
		}
	}
	return nil
}

// sectors reads every sector of the blocks with status from, once, from
// the mapfile's position on, marking each finished or bad.
func (r *rescue) sectors(from mapfile.Status) error {
	sec := r.opts.SectorSize
	for pos := r.m.Pos; ; {
		b, ok := r.m.Next(from, pos)
		if !ok {
			return nil
		}
		for off := b.Pos; off < b.End(); {
			n := min(sec-off%sec, b.End()-off)
			good, err := r.read(off, n)
			if err != nil {
				return err
			}
			st := mapfile.BadSector
			if good {
				st = mapfile.Finished
			}
			r.m.Set(off, n, st)
			off += n
			if err := r.step(off); err != nil {
				return err
			}
		}
		pos = b.End()
	}
}

// scrape reads the non-scraped blocks sector by sector.
func (r *rescue) scrape() error {
	if r.m.Total(mapfile.NonScraped) == 0 {
		return nil
	}
	r.enter(mapfile.Scraping)
	return r.sectors(mapfile.NonScraped)
}

// retry reads the bad sectors again, Options.Retries passes, each bad
// sector once a pass.
func (r *rescue) retry() error {
	if r.opts.Retries == 0 || r.m.Total(mapfile.BadSector) == 0 {
		return nil
	}
	r.enter(mapfile.Retrying)
	for ; r.m.Pass <= r.opts.Retries; r.m.Pass++ {
		if err := r.sectors(mapfile.BadSector); err != nil {
			return err
		}
		r.m.Pos = 0
	}
	return nil
}
