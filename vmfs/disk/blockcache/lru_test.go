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

// A weighted cache drops the least recent entries until the rest weigh
// no more than its bound, but keeps the newest whatever it weighs.
func TestWeightedLRU(t *testing.T) {
	c := NewWeightedLRU[int, string](10, 5, func(s string) int { return len(s) })
	c.Put(1, "aa")
	c.Put(2, "bb")
	c.Get(1)
	if d, ok := c.Put(3, "cc"); !ok || d != "bb" {
		t.Errorf("over the weight, Put dropped %q, %v; want bb, the least recent", d, ok)
	}
	if c.weight != 4 || c.order.Len() != 2 {
		t.Errorf("weight %d in %d entries; want 4 in 2", c.weight, c.order.Len())
	}
	c.Put(3, "c") // a lighter value under the same key
	if c.weight != 3 {
		t.Errorf("weight %d after replacing cc with c; want 3", c.weight)
	}
	c.Put(4, "heavier than all")
	if v, ok := c.Get(4); !ok || v != "heavier than all" || c.order.Len() != 1 {
		t.Errorf("the newest, heavier than the bound: Get = %q, %v with %d entries; want it alone", v, ok, c.order.Len())
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
