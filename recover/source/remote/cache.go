package remote

import (
	"container/list"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// fetchFunc reads exactly len(p) bytes at off from the remote side, retrying
// over a dropped link as it sees fit.
type fetchFunc func(p []byte, off int64) error

// chunkPool is an LRU of fixed-size chunks shared by every cachedReader of
// one connection, so many open extents cost no more memory than one.
type chunkPool struct {
	chunk int64
	max   int // chunks kept (in flight ones included)

	mu   sync.Mutex
	m    map[chunkKey]*chunkEntry
	lru  list.List // of *chunkEntry, most recent in front
	ids  atomic.Uint64
	read atomic.Int64 // bytes fetched from the remote side
}

type chunkKey struct {
	id  uint64
	idx int64
}

type chunkEntry struct {
	key   chunkKey
	data  []byte
	err   error
	ready chan struct{}
	elem  *list.Element
}

func newChunkPool(chunk int64, bytes int64) *chunkPool {
	return &chunkPool{chunk: chunk, max: max(4, int(bytes/chunk)), m: map[chunkKey]*chunkEntry{}}
}

// get returns the entry of a chunk, starting its fetch if it is not cached.
func (p *chunkPool) get(r *cachedReader, idx int64) *chunkEntry {
	k := chunkKey{r.id, idx}
	p.mu.Lock()
	if e, ok := p.m[k]; ok {
		p.lru.MoveToFront(e.elem)
		p.mu.Unlock()
		return e
	}
	e := &chunkEntry{key: k, ready: make(chan struct{})}
	e.elem = p.lru.PushFront(e)
	p.m[k] = e
	for len(p.m) > p.max {
		old := p.lru.Back().Value.(*chunkEntry)
		p.lru.Remove(old.elem)
		delete(p.m, old.key)
	}
	p.mu.Unlock()

	go func() {
		off := idx * p.chunk
		data := make([]byte, min(p.chunk, r.size-off))
		err := r.fetch(data, off)
		if err == nil {
			p.read.Add(int64(len(data)))
		}
		e.data, e.err = data, err
		close(e.ready)
		if err != nil {
			p.drop(e) // the next read retries instead of seeing the old error
		}
	}()
	return e
}

func (p *chunkPool) drop(e *chunkEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[e.key] == e {
		p.lru.Remove(e.elem)
		delete(p.m, e.key)
	}
}

// forget drops every chunk of one reader.
func (p *chunkPool) forget(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.m {
		if k.id == id {
			p.lru.Remove(e.elem)
			delete(p.m, k)
		}
	}
}

// cachedReader is the io.ReaderAt of one remote file or export: reads are
// served from chunks of the pool; sequential reads grow a read-ahead window
// up to ahead chunks, fetched concurrently.
type cachedReader struct {
	pool  *chunkPool
	id    uint64
	size  int64
	fetch fetchFunc
	ahead int64
	name  string // for errors

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

func newCachedReader(pool *chunkPool, name string, size int64, ahead int, fetch fetchFunc) *cachedReader {
	return &cachedReader{pool: pool, id: pool.ids.Add(1), size: size, fetch: fetch, ahead: int64(ahead), name: name}
}

// batch bounds the chunks one ReadAt has in flight, so a huge read does not
// flood the pool.
const batch = 32

func (r *cachedReader) ReadAt(p []byte, off int64) (int, error) {
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
	c := r.pool.chunk
	first, last := off/c, (off+n-1)/c

	pfFrom, pfTo := r.track(first, last)

	done := int64(0)
	for b := first; b <= last; b += batch {
		end := min(last, b+batch-1)
		entries := make([]*chunkEntry, 0, end-b+1)
		for i := b; i <= end; i++ {
			entries = append(entries, r.pool.get(r, i))
		}
		if b == first {
			for i := pfFrom; i <= pfTo; i++ {
				r.pool.get(r, i)
			}
		}
		for _, e := range entries {
			<-e.ready
			if e.err != nil {
				return int(done), e.err
			}
			cs := e.key.idx * c
			from := max(off, cs)
			k := copy(p[from-off:n], e.data[from-cs:])
			done += int64(k)
		}
	}
	return int(done), eof
}

// track finds the stream a read of chunks first..last continues (or
// replaces the least recently used one) and returns the chunks to fetch
// ahead of it (none when pfFrom > pfTo).
func (r *cachedReader) track(first, last int64) (pfFrom, pfTo int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
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
	if st.window == 0 {
		return 1, 0
	}
	pfFrom, pfTo = max(last+1, st.prefetched+1), min(last+st.window, (r.size-1)/r.pool.chunk)
	st.prefetched = max(st.prefetched, pfTo)
	return pfFrom, pfTo
}

func (r *cachedReader) Size() int64 { return r.size }

func (r *cachedReader) close() {
	if r.closed.Swap(true) {
		return
	}
	r.pool.forget(r.id)
}
