package blockcache

import (
	"container/list"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Fetch reads exactly len(p) bytes at off from what a Reader caches (a
// disk, a remote file retrying over a dropped link as it sees fit).
type Fetch func(p []byte, off int64) error

// Pool is an LRU of fixed-size pages shared by every Reader made from it
// (all files of one connection, say), so many open readers cost no more
// memory than one.
type Pool struct {
	chunk int64
	max   int // chunks kept (in flight ones included)

	mu   sync.Mutex
	m    map[chunkKey]*chunkEntry
	lru  list.List // of *chunkEntry, most recent in front
	ids  atomic.Uint64
	bufs sync.Pool // of *runBuf
}

type chunkKey struct {
	id  uint64
	idx int64
}

type chunkEntry struct {
	key   chunkKey
	buf   *runBuf
	data  []byte // part of buf.data, once ready
	err   error
	ready chan struct{}
	elem  *list.Element
}

// runBuf is the memory of one fetch, shared by the chunks it fills. It is
// counted: one reference per chunk in the pool, one for the fetch, one per
// reader copying out of it. At zero it is reused, which spares allocating
// and clearing a megabyte per fetch (a fifth of a remote scan's CPU).
type runBuf struct {
	data []byte
	refs atomic.Int32
}

// NewPool makes a pool of pages of pageSize bytes holding at most bytes
// (and at least 4 pages).
func NewPool(pageSize int64, bytes int64) *Pool {
	p := &Pool{chunk: pageSize, max: max(4, int(bytes/pageSize)), m: map[chunkKey]*chunkEntry{}}
	size := max(fetchRun, pageSize)
	p.bufs.New = func() any { return &runBuf{data: make([]byte, size)} }
	return p
}

// PageSize is the size of the pool's pages.
func (p *Pool) PageSize() int64 { return p.chunk }

// buf returns the buffer of a fetch of n pages. A full-size one is reused
// from the pool; a shorter one is its own size, so that scattered reads
// of one page each keep one page of memory apiece, not a whole run.
func (p *Pool) buf(n int) *runBuf {
	if size := int64(n) * p.chunk; size < max(fetchRun, p.chunk) {
		return &runBuf{data: make([]byte, size)}
	}
	return p.bufs.Get().(*runBuf)
}

// unref drops one reference to b, and reuses it when it was the last
// and it is a full-size buffer.
func (p *Pool) unref(b *runBuf) {
	if b.refs.Add(-1) == 0 && int64(len(b.data)) >= max(fetchRun, p.chunk) {
		p.bufs.Put(b)
	}
}

// remove takes e out of the pool; p.mu is held.
func (p *Pool) remove(e *chunkEntry) {
	p.lru.Remove(e.elem)
	delete(p.m, e.key)
	p.unref(e.buf)
}

// fetchRun is the most bytes one fetch asks for: neighbouring chunks that
// are missing together go in one request, since a server's cost is per
// request as much as per byte (qemu-nbd moves 128 KiB requests at a third
// of the rate of 1 MiB ones).
const fetchRun = 1 << 20

// getRange returns the entries of chunks from..to of r, starting the fetch
// of those not cached, neighbours together in runs of up to fetchRun bytes.
// With pin, each returned entry holds a reference to its buffer that the
// caller gives back with p.unref(e.buf) once it has copied the data out.
func (p *Pool) getRange(r *Reader, from, to int64, pin bool) []*chunkEntry {
	entries := make([]*chunkEntry, 0, to-from+1)
	var missing [][]*chunkEntry // runs of neighbouring new entries
	p.mu.Lock()
	for idx := from; idx <= to; idx++ {
		k := chunkKey{r.id, idx}
		e, ok := p.m[k]
		if ok {
			p.lru.MoveToFront(e.elem)
		} else {
			e = &chunkEntry{key: k, ready: make(chan struct{})}
			e.elem = p.lru.PushFront(e)
			p.m[k] = e
			if n := len(missing); n > 0 && missing[n-1][len(missing[n-1])-1].key.idx == idx-1 && int64(len(missing[n-1])+1)*p.chunk <= fetchRun {
				missing[n-1] = append(missing[n-1], e)
			} else {
				missing = append(missing, []*chunkEntry{e})
			}
		}
		entries = append(entries, e)
	}
	for _, run := range missing {
		b := p.buf(len(run))
		b.refs.Store(int32(len(run)) + 1)
		for _, e := range run {
			e.buf = b
		}
	}
	if pin {
		for _, e := range entries {
			e.buf.refs.Add(1)
		}
	}
	for len(p.m) > p.max {
		p.remove(p.lru.Back().Value.(*chunkEntry))
	}
	p.mu.Unlock()
	for _, run := range missing {
		go p.fetchRun(r, run)
	}
	return entries
}

// fetchRun reads the chunks of run, which are neighbours sharing one
// buffer, with one fetch.
func (p *Pool) fetchRun(r *Reader, run []*chunkEntry) {
	b := run[0].buf
	defer p.unref(b)
	off := run[0].key.idx * p.chunk
	data := b.data[:min(int64(len(run))*p.chunk, r.size-off)]
	err := r.fetch(data, off)
	for i, e := range run {
		if err == nil {
			e.data = data[int64(i)*p.chunk : min(int64(i+1)*p.chunk, int64(len(data)))]
		}
		e.err = err
		close(e.ready)
		if err != nil {
			p.drop(e) // the next read retries instead of seeing the old error
		}
	}
}

func (p *Pool) drop(e *chunkEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[e.key] == e {
		p.remove(e)
	}
}

// forget drops every chunk of one reader.
func (p *Pool) forget(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.m {
		if k.id == id {
			p.remove(e)
		}
	}
}

// Reader is the io.ReaderAt of one remote file or export: reads are
// served from chunks of the pool; sequential reads grow a read-ahead window
// up to ahead chunks, fetched concurrently.
type Reader struct {
	pool   *Pool
	id     uint64
	size   int64
	fetch  Fetch
	ahead  int64
	name   string                  // for errors
	zero   func(off, n int64) bool // see Options.Zero
	bypass int                     // see Options.Bypass

	mu      sync.Mutex
	streams [maxStreams]stream
	tick    int64
	closed  atomic.Bool
}

// maxStreams is how many sequential readers of one file are followed at
// once: an export with several jobs, or a file's data read between reads
// of its metadata, each keep their read-ahead.
const maxStreams = 8

// stream is one sequential reader.
type stream struct {
	next       int64 // chunk it asks for next
	window     int64 // chunks to keep ahead of it
	prefetched int64 // last chunk already scheduled for it
	used       int64 // tick of its last read, for replacement
}

// Options tune a Reader.
type Options struct {
	// Name names what is read in errors.
	Name string
	// ReadAhead is the most pages fetched ahead of a sequential reader
	// (0: none). A reader is sequential from its second read in a row;
	// its window doubles from one page up to ReadAhead.
	ReadAhead int
	// Zero, when set, says whether read-ahead should leave a range alone
	// (it is known to read as zeros, which readers get without the
	// cache); read-ahead skips such pages and goes on past them.
	Zero func(off, n int64) bool
	// Bypass, when positive and there is no read-ahead, sends reads of at
	// least this many bytes straight to Fetch: a file's data streamed in
	// large reads would only push the metadata out of the cache.
	Bypass int
}

// NewReader makes the cached reader of something of size bytes that fetch
// reads, its pages kept in p.
func (p *Pool) NewReader(size int64, fetch Fetch, o Options) *Reader {
	return &Reader{pool: p, id: p.ids.Add(1), size: size, fetch: fetch, ahead: int64(o.ReadAhead), name: o.Name, zero: o.Zero, bypass: o.Bypass}
}

// New puts a cache of its own, of bytes in pages of pageSize, in front of
// r, something of size bytes whose reads of what lies inside it must be
// complete (a disk).
func New(r io.ReaderAt, size, pageSize, bytes int64, o Options) *Reader {
	return NewPool(pageSize, bytes).NewReader(size, func(p []byte, off int64) error {
		n, err := r.ReadAt(p, off)
		if n == len(p) {
			return nil
		}
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}, o)
}

// batch bounds the chunks one ReadAt has in flight, so a huge read does not
// flood the pool.
const batch = 32

func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, fmt.Errorf("%s: %w", r.name, os.ErrClosed)
	}
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", r.name, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	var eof error
	if n > r.size-off {
		n, eof = r.size-off, io.EOF
	}
	if n == 0 {
		return 0, nil
	}
	if r.bypass > 0 && r.ahead == 0 && int(n) >= r.bypass {
		if err := r.fetch(p[:n], off); err != nil {
			return 0, err
		}
		return int(n), eof
	}
	c := r.pool.chunk
	first, last := off/c, (off+n-1)/c

	pfFrom, pfTo := r.track(first, last)

	done := int64(0)
	for b := first; b <= last; b += batch {
		end := min(last, b+batch-1)
		if b == first && pfFrom == end+1 && pfFrom <= pfTo && r.zero == nil {
			// The read-ahead continues this read: one call lets their
			// chunks share requests.
			end = pfTo
		}
		entries := r.pool.getRange(r, b, end, true)
		if b == first && pfFrom > end && pfFrom <= pfTo {
			r.readAhead(pfFrom, pfTo)
		}
		k, err := r.copyOut(p[:n], off, entries)
		done += k
		if err != nil {
			return int(done), err
		}
	}
	return int(done), eof
}

// readAhead starts fetching chunks from..to, except those known to read
// as zeros.
func (r *Reader) readAhead(from, to int64) {
	c := r.pool.chunk
	for from <= to {
		for from <= to && r.zero != nil && r.zero(from*c, min(c, r.size-from*c)) {
			from++
		}
		end := from
		for end < to && (r.zero == nil || !r.zero((end+1)*c, min(c, r.size-(end+1)*c))) {
			end++
		}
		if from <= to {
			r.pool.getRange(r, from, end, false)
		}
		from = end + 1
	}
}

// copyOut copies what p needs from the pinned entries, waiting for each
// to be fetched, and unpins them all.
func (r *Reader) copyOut(p []byte, off int64, entries []*chunkEntry) (int64, error) {
	var done int64
	var err error
	for _, e := range entries {
		cs := e.key.idx * r.pool.chunk
		if err == nil && cs < off+int64(len(p)) {
			<-e.ready
			if err = e.err; err == nil {
				from := max(off, cs)
				done += int64(copy(p[from-off:], e.data[from-cs:]))
			}
		}
		r.pool.unref(e.buf)
	}
	return done, err
}

// track follows a read of chunks first..last and returns the chunks to
// fetch ahead of it (none when pfFrom > pfTo).
func (r *Reader) track(first, last int64) (pfFrom, pfTo int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.follow(first, last)
	if st.window == 0 {
		return 1, 0
	}
	pfFrom, pfTo = max(last+1, st.prefetched+1), min(last+st.window, (r.size-1)/r.pool.chunk)
	st.prefetched = max(st.prefetched, pfTo)
	return pfFrom, pfTo
}

// Skipped records a read of [off, off+n) that did not need the cache (it
// is known to read as zeros), so that its stream keeps its read-ahead
// window when it reaches data again.
func (r *Reader) Skipped(off, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.follow(off/r.pool.chunk, (off+n-1)/r.pool.chunk)
}

// follow finds the stream a read of chunks first..last continues (or
// replaces the least recently used one) and moves it past the read. r.mu
// is held.
func (r *Reader) follow(first, last int64) *stream {
	r.tick++
	var st *stream
	for i := range r.streams {
		s := &r.streams[i]
		if s.used > 0 && (first == s.next || first == s.next-1) {
			st = s
			break
		}
		if st == nil || s.used < st.used {
			st = s
		}
	}
	if st.used > 0 && (first == st.next || first == st.next-1) {
		st.window = min(max(1, 2*st.window), r.ahead)
	} else {
		// A new stream: no read-ahead until its second read proves it
		// sequential, except at the start of the file.
		*st = stream{prefetched: last}
		if first == 0 {
			st.window = 1
		}
	}
	st.next, st.used = last+1, r.tick
	return st
}

// Size is the size of what is read.
func (r *Reader) Size() int64 { return r.size }

// Close drops the reader's pages; reads fail from then on.
func (r *Reader) Close() {
	if r.closed.Swap(true) {
		return
	}
	r.pool.forget(r.id)
}
