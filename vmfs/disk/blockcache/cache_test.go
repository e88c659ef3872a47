package blockcache

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"
)

// memFetcher serves a byte slice and records which chunks were fetched.
type memFetcher struct {
	data  []byte
	chunk int64
	mu    sync.Mutex
	got   map[int64]int
	fail  map[int64]int // chunk -> failures left
	calls []int         // length of each fetch
}

func (m *memFetcher) fetch(p []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	from, to := off/m.chunk, (off+int64(len(p))-1)/m.chunk
	for idx := from; idx <= to; idx++ {
		if m.fail[idx] > 0 {
			m.fail[idx]--
			return errors.New("injected")
		}
	}
	for idx := from; idx <= to; idx++ {
		m.got[idx]++
	}
	m.calls = append(m.calls, len(p))
	copy(p, m.data[off:])
	return nil
}

func (m *memFetcher) fetched(idx int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.got[idx] > 0
}

func newMem(size int) (*memFetcher, *Reader) {
	img := make([]byte, size)
	for i := range img {
		img[i] = byte(i * 7)
	}
	m := &memFetcher{data: img, chunk: 4096, got: map[int64]int{}, fail: map[int64]int{}}
	pool := NewPool(4096, 1<<20)
	return m, pool.NewReader(int64(size), m.fetch, Options{Name: "mem", ReadAhead: 8})
}

// waitFetched waits for background read-ahead of chunk idx.
func waitFetched(m *memFetcher, idx int64) bool {
	for i := 0; i < 200; i++ {
		if m.fetched(idx) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// Two interleaved sequential readers (two export jobs) both keep their
// read-ahead; a lone random read does not start any.
func TestCacheFollowsInterleavedStreams(t *testing.T) {
	m, r := newMem(4 << 20)
	buf := make([]byte, 4096)
	a, b := int64(0), int64(2<<20)
	for i := 0; i < 6; i++ {
		for _, off := range []*int64{&a, &b} {
			if _, err := r.ReadAt(buf, *off); err != nil || !bytes.Equal(buf, m.data[*off:*off+4096]) {
				t.Fatalf("read at %d: %v", *off, err)
			}
			*off += 4096
		}
	}
	// After 6 reads each, both streams are reading ahead of where they are.
	if !waitFetched(m, a/4096+1) || !waitFetched(m, b/4096+1) {
		t.Errorf("read-ahead lost with two interleaved readers: fetched %v", m.got)
	}
	// A random read is fetched alone.
	r.ReadAt(buf, 3<<20+4096*5)
	time.Sleep(50 * time.Millisecond)
	if m.fetched(3<<20/4096 + 6) {
		t.Error("a single random read started read-ahead")
	}
}

// A failed fetch is not cached: the next read fetches again.
func TestCacheDoesNotKeepErrors(t *testing.T) {
	m, r := newMem(64 << 10)
	m.fail[3] = 1
	buf := make([]byte, 100)
	if _, err := r.ReadAt(buf, 3*4096+10); err == nil {
		t.Fatal("injected failure not reported")
	}
	if _, err := r.ReadAt(buf, 3*4096+10); err != nil || !bytes.Equal(buf, m.data[3*4096+10:3*4096+110]) {
		t.Fatalf("second read: %v", err)
	}
}

// Memory stays bounded: the pool never keeps more chunks than it may.
func TestCachePoolBounded(t *testing.T) {
	m, r := newMem(4 << 20)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < 4<<20; off += 1 << 20 {
		if _, err := r.ReadAt(buf, off); err != nil || !bytes.Equal(buf, m.data[off:off+1<<20]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	r.pool.mu.Lock()
	n := len(r.pool.m)
	r.pool.mu.Unlock()
	if n > r.pool.max {
		t.Fatalf("pool holds %d chunks, max %d", n, r.pool.max)
	}
	r.Close()
	if _, err := r.ReadAt(buf, 0); err == nil {
		t.Fatal("read after close succeeded")
	}
}

// A sequential reader's read-ahead goes out in requests of many chunks,
// and no chunk is fetched twice.
func TestCacheCoalescesReadAhead(t *testing.T) {
	m, r := newMem(4 << 20)
	buf := make([]byte, 64<<10)
	for off := int64(0); off < 4<<20; off += int64(len(buf)) {
		if _, err := r.ReadAt(buf, off); err != nil || !bytes.Equal(buf, m.data[off:off+int64(len(buf))]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for idx, n := range m.got {
		if n != 1 {
			t.Errorf("chunk %d fetched %d times", idx, n)
		}
	}
	largest := 0
	for _, n := range m.calls {
		largest = max(largest, n)
	}
	// 64 KiB reads with 8 chunks of read-ahead: 24 chunks per request.
	if largest < 16*4096 || len(m.calls) > 4<<20/(16*4096) {
		t.Errorf("%d fetches, the largest %d bytes: read-ahead not coalesced", len(m.calls), largest)
	}
}

// Fetch buffers are reused only when no reader copies from them: readers
// racing over a pool much smaller than what they read always get the
// right bytes (run with -race).
func TestCacheReusesBuffersSafely(t *testing.T) {
	img := make([]byte, 8<<20)
	for i := range img {
		img[i] = byte(i*7 + i>>12)
	}
	fetch := func(p []byte, off int64) error { copy(p, img[off:]); return nil }
	pool := NewPool(16<<10, 256<<10)
	r := pool.NewReader(int64(len(img)), fetch, Options{Name: "mem", ReadAhead: 16})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 40<<10)
			for i := 0; i < 300; i++ {
				off := int64((g*1000003 + i*7919*4099) % (len(img) - len(buf)))
				if i%3 != 0 {
					off = int64((g<<20 + i*len(buf)) % (len(img) - len(buf)))
				}
				if _, err := r.ReadAt(buf, off); err != nil || !bytes.Equal(buf, img[off:off+int64(len(buf))]) {
					t.Errorf("reader %d: read at %d: wrong bytes (%v)", g, off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Read-ahead does not fetch chunks known to read as zeros, and goes on
// past them.
func TestCacheReadAheadSkipsZeros(t *testing.T) {
	m, r := newMem(4 << 20)
	zeroFrom, zeroTo := int64(1<<20), int64(1<<20+16<<10)
	r.zero = func(off, n int64) bool { return off >= zeroFrom && off+n <= zeroTo }
	buf := make([]byte, 4096)
	for off := int64(0); off < zeroFrom; off += int64(len(buf)) {
		if _, err := r.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFetched(m, zeroTo/4096+2) {
		t.Fatal("read-ahead stopped at the zero range")
	}
	for idx := zeroFrom / 4096; idx < zeroTo/4096; idx++ {
		if m.fetched(idx) {
			t.Errorf("chunk %d, known to read as zeros, was fetched", idx)
		}
	}
}

// The pool's bound holds in bytes, not only in pages: scattered one-page
// reads (a probe every megabyte of a disk) keep a page of memory each,
// not the megabyte buffer of a whole fetch run. Before, 256 such reads
// held 256 MiB in a pool bounded to 1 MiB.
func TestCachePoolBoundedInBytes(t *testing.T) {
	m, r := newMem(64 << 20)
	buf := make([]byte, 100)
	for off := int64(0); off < 64<<20; off += 256 << 10 {
		if _, err := r.ReadAt(buf, off); err != nil || !bytes.Equal(buf, m.data[off:off+100]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	r.pool.mu.Lock()
	defer r.pool.mu.Unlock()
	held := map[*runBuf]bool{}
	var bytesHeld int
	for _, e := range r.pool.m {
		if !held[e.buf] {
			held[e.buf] = true
			bytesHeld += len(e.buf.data)
		}
	}
	// A run partly evicted keeps its buffer until its last page goes:
	// what is held may exceed the bound by a little, never by a multiple.
	if limit := r.pool.max * int(r.pool.chunk); bytesHeld > limit+fetchRun {
		t.Fatalf("the pool holds %d bytes of buffers for %d pages; its bound is %d bytes", bytesHeld, len(r.pool.m), limit)
	}
}

// Large reads bypass a cache without read-ahead, so streaming a file's
// data does not push the metadata out; small ones are served from it.
func TestCacheBypassesLargeReads(t *testing.T) {
	img := make([]byte, 1<<20)
	for i := range img {
		img[i] = byte(i * 13)
	}
	var fetches []int
	var mu sync.Mutex
	fetch := func(p []byte, off int64) error {
		mu.Lock()
		fetches = append(fetches, len(p))
		mu.Unlock()
		copy(p, img[off:])
		return nil
	}
	r := NewPool(4096, 64<<10).NewReader(int64(len(img)), fetch, Options{Name: "mem", Bypass: 64 << 10})
	small := make([]byte, 512)
	for range 3 {
		if _, err := r.ReadAt(small, 8192+100); err != nil || !bytes.Equal(small, img[8192+100:8192+612]) {
			t.Fatalf("small read: %v", err)
		}
	}
	big := make([]byte, 128<<10)
	if _, err := r.ReadAt(big, 1<<19); err != nil || !bytes.Equal(big, img[1<<19:1<<19+128<<10]) {
		t.Fatalf("large read: %v", err)
	}
	n, err := r.ReadAt(big, int64(len(img))-100<<10)
	if n != 100<<10 || err != io.EOF || !bytes.Equal(big[:n], img[len(img)-100<<10:]) {
		t.Fatalf("large read across the end: %d, %v", n, err)
	}
	if want := []int{4096, 128 << 10, 100 << 10}; !slices.Equal(fetches, want) {
		t.Errorf("fetches %v, want %v: one page for the small reads, the large ones straight through", fetches, want)
	}
}
