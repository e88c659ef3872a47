package ntfs

import (
	"strings"
	"testing"
)

// TestDirCacheBound: the cache drops the least recent listings once they
// weigh more than cachedListBytes, names included, but keeps the newest
// however large. Ten listings of 20,000 entries with names of 255
// characters (13 MB each by this weight) hold 200,000 entries, under
// the bound by entries (256 Ki) before: all ten, 134 MB, stayed.
func TestDirCacheBound(t *testing.T) {
	c := newDirCache()
	long := strings.Repeat("x", 255)
	nodes := make([]*node, 20000)
	for i := range nodes {
		nodes[i] = &node{name: long}
	}
	big := newDirList(nodes)
	kept := func() (n, weight int) {
		for id := range int64(10) {
			if d, ok := c.Get(id); ok {
				n, weight = n+1, weight+listBytes(d)
			}
		}
		return n, weight
	}
	for id := range int64(10) {
		c.Put(id, big)
	}
	if _, ok := c.Get(9); !ok {
		t.Error("the newest listing was dropped")
	}
	if n, w := kept(); w > cachedListBytes || n < 2 {
		t.Errorf("%d listings of %d bytes each cached, %d bytes (bound %d)", n, listBytes(big), w, cachedListBytes)
	}
	huge := &dirList{nodes: make([]*node, 2*cachedListBytes/nodeBytes)}
	for i := range huge.nodes {
		huge.nodes[i] = nodes[0]
	}
	c.Put(100, huge)
	if _, ok := c.Get(100); !ok {
		t.Error("a listing heavier than the bound is not kept")
	}
	if n, _ := kept(); n != 0 {
		t.Errorf("%d listings kept beside one heavier than the bound", n)
	}
	c.Put(101, newDirList(nil))
	if _, ok := c.Get(101); !ok {
		t.Error("an empty listing is not kept")
	}
}
