package ntfs

import "testing"

// TestDirCacheBound: the cache drops the oldest listings once it holds
// more entries than cachedEntries, but keeps the newest however large.
func TestDirCacheBound(t *testing.T) {
	var c dirCache
	big := &dirList{nodes: make([]*node, cachedEntries/3)}
	for id := range int64(10) {
		c.put(id, big)
	}
	if c.entries > cachedEntries || c.get(9) == nil || c.get(0) != nil {
		t.Errorf("%d entries cached (bound %d), newest kept %v, oldest dropped %v", c.entries, cachedEntries, c.get(9) != nil, c.get(0) == nil)
	}
	huge := &dirList{nodes: make([]*node, 2*cachedEntries)}
	c.put(100, huge)
	if c.get(100) == nil || len(c.order) != 1 {
		t.Errorf("a directory larger than the bound is not kept alone: %d listings", len(c.order))
	}
	c.put(101, newDirList(nil))
	if c.get(101) == nil {
		t.Error("an empty listing is not kept")
	}
}
