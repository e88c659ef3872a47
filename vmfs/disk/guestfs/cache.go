package guestfs

import "sync"

// Cache keeps up to a fixed number of decoded structures (directories,
// inode blocks) by key, safe for concurrent use. When full it forgets an
// entry at random: enough to keep a walk from decoding a directory once
// per file in it, with memory bounded.
type Cache[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]V
	max int
}

// NewCache returns a cache of at most max entries.
func NewCache[K comparable, V any](max int) *Cache[K, V] {
	return &Cache[K, V]{m: map[K]V{}, max: max}
}

// Get returns the value kept for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// Put keeps v for k.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}
