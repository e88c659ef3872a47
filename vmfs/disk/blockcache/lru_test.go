package blockcache

import (
	"sync"
	"testing"
)

// The least recently used entry goes first; a Get makes an entry recent.
func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewLRU[int64, string](2)
	c.Put(1, "a")
	c.Put(2, "b")
	c.Get(1)
	c.Put(3, "c")
	if _, ok := c.Get(2); ok {
		t.Error("2, the least recently used, is still cached")
	}
	for k, want := range map[int64]string{1: "a", 3: "c"} {
		if v, ok := c.Get(k); !ok || v != want {
			t.Errorf("Get(%d) = %q, %v; want %q", k, v, ok, want)
		}
	}
	c.Put(3, "C")
	if v, _ := c.Get(3); v != "C" {
		t.Errorf("Put over an entry: Get = %q", v)
	}
	if z := NewLRU[int64, int](0); z.max != 1 {
		t.Errorf("a cache of 0 entries holds %d", z.max)
	}
}

// Put hands back what it drops, for reuse: the least recent entry when
// full, or the value replaced under the same key.
func TestLRUPutReturnsDropped(t *testing.T) {
	c := NewLRU[int, string](2)
	for k, v := range []string{"a", "b"} {
		if d, ok := c.Put(k, v); ok {
			t.Errorf("Put(%d) into room dropped %q", k, d)
		}
	}
	if d, ok := c.Put(2, "c"); !ok || d != "a" {
		t.Errorf("Put into a full cache dropped %q, %v; want a", d, ok)
	}
	if d, ok := c.Put(2, "C"); !ok || d != "c" {
		t.Errorf("Put over an entry dropped %q, %v; want c", d, ok)
	}
}

// Concurrent users never see more entries than the bound (run with -race).
func TestLRUConcurrent(t *testing.T) {
	c := NewLRU[int, int](16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := (g*131 + i) % 40
				if v, ok := c.Get(k); ok && v != k*k {
					t.Errorf("Get(%d) = %d", k, v)
					return
				}
				c.Put(k, k*k)
			}
		}()
	}
	wg.Wait()
	if n := c.order.Len(); n > 16 || len(c.items) != n {
		t.Errorf("%d entries, %d in the map; bound 16", n, len(c.items))
	}
}
