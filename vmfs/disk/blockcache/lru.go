package blockcache

import (
	"container/list"
	"sync"
)

// LRU is a bounded, concurrency-safe cache of decoded values (VMFS file
// descriptors and directory listings, the guest file systems' directory
// listings, VMDK grain tables and decompressed grains): what a page of
// bytes cannot hold without decoding it again.
// It is bounded by entry count; callers size the count from the entry
// size so that memory stays flat whatever the disk size. Values whose
// size varies (a directory of ten entries or of a million) are bounded by
// their weight too (NewWeightedLRU).
type LRU[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	order list.List // front = most recent; values are *lruEntry
	items map[K]*list.Element

	weigh     func(V) int // nil: every value weighs nothing
	maxWeight int
	weight    int // of the values cached
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

// NewLRU makes a cache of at most n entries (at least one).
func NewLRU[K comparable, V any](n int) *LRU[K, V] {
	return &LRU[K, V]{max: max(1, n), items: make(map[K]*list.Element)}
}

// NewWeightedLRU makes a cache of at most n entries weighing maxWeight in
// all by weigh; the most recent entry is kept whatever it weighs.
func NewWeightedLRU[K comparable, V any](n, maxWeight int, weigh func(V) int) *LRU[K, V] {
	c := NewLRU[K, V](n)
	c.weigh, c.maxWeight = weigh, maxWeight
	return c
}

func (c *LRU[K, V]) weightOf(v V) int {
	if c.weigh == nil {
		return 0
	}
	return c.weigh(v)
}

// Get returns the value cached for k, making it the most recent.
func (c *LRU[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// Put caches v for k, dropping the least recently used entries beyond
// the bounds. It returns a value it dropped, or replaced under k, if any:
// memory the caller may reuse when nothing else holds it.
func (c *LRU[K, V]) Put(k K, v V) (dropped V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch el, found := c.items[k]; {
	case found:
		e := el.Value.(*lruEntry[K, V])
		c.weight += c.weightOf(v) - c.weightOf(e.val)
		dropped, ok, e.val = e.val, true, v
		c.order.MoveToFront(el)
	case c.order.Len() == c.max && c.weigh == nil:
		// Full: the least recent entry becomes the new one, which spares
		// two allocations per miss (a listing misses once per file).
		el := c.order.Back()
		e := el.Value.(*lruEntry[K, V])
		delete(c.items, e.key)
		dropped, ok = e.val, true
		e.key, e.val = k, v
		c.order.MoveToFront(el)
		c.items[k] = el
	default:
		c.items[k] = c.order.PushFront(&lruEntry[K, V]{k, v})
		c.weight += c.weightOf(v)
	}
	for c.order.Len() > 1 && (c.order.Len() > c.max || c.weight > c.maxWeight) {
		el := c.order.Back()
		e := el.Value.(*lruEntry[K, V])
		c.order.Remove(el)
		delete(c.items, e.key)
		c.weight -= c.weightOf(e.val)
		dropped, ok = e.val, true
	}
	return dropped, ok
}
