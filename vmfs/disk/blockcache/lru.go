package blockcache

import (
	"container/list"
	"sync"
)

// LRU is a bounded, concurrency-safe cache of decoded values (VMFS file
// descriptors and directory listings, VMDK grain tables and decompressed
// grains): what a page of bytes cannot hold without decoding it again.
// It is bounded by entry count; callers size the count from the entry
// size so that memory stays flat whatever the disk size.
type LRU[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	order list.List // front = most recent; values are *lruEntry
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

// NewLRU makes a cache of at most n entries (at least one).
func NewLRU[K comparable, V any](n int) *LRU[K, V] {
	return &LRU[K, V]{max: max(1, n), items: make(map[K]*list.Element)}
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

// Put caches v for k, dropping the least recently used entry when full.
// It returns the value dropped, or replaced under k, if any: memory the
// caller may reuse when nothing else holds it.
func (c *LRU[K, V]) Put(k K, v V) (dropped V, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		e := el.Value.(*lruEntry[K, V])
		dropped, e.val = e.val, v
		c.order.MoveToFront(el)
		return dropped, true
	}
	if c.order.Len() < c.max {
		c.items[k] = c.order.PushFront(&lruEntry[K, V]{k, v})
		return dropped, false
	}
	// Full: the least recent entry becomes the new one, which spares two
	// allocations per miss (a listing misses once per file).
	el := c.order.Back()
	e := el.Value.(*lruEntry[K, V])
	delete(c.items, e.key)
	dropped = e.val
	e.key, e.val = k, v
	c.order.MoveToFront(el)
	c.items[k] = el
	return dropped, true
}
