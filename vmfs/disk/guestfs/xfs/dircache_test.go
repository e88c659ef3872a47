package xfs

import (
	"strings"
	"testing"
)

// TestDirCacheBound: the listings cached weigh at most cachedListBytes,
// names included, but the newest is kept however large. Ten listings of
// 20,000 entries with names of 255 characters (5.7 MB each) hold 200,000
// entries, under the bound by entries (1 Mi) and count (64) before: all
// ten, 57 MB, stayed.
func TestDirCacheBound(t *testing.T) {
	c := newDirCache()
	big := &cachedDir{ents: make([]dirent, 20000)}
	for i := range big.ents {
		big.ents[i] = dirent{name: strings.Repeat("x", 255), ino: uint64(i)}
	}
	kept := func() (n, weight int) {
		for ino := range uint64(10) {
			if d, ok := c.Get(ino); ok {
				n, weight = n+1, weight+listBytes(d)
			}
		}
		return n, weight
	}
	for ino := range uint64(10) {
		c.Put(ino, big)
	}
	if _, ok := c.Get(9); !ok {
		t.Error("the newest listing was dropped")
	}
	if n, w := kept(); w > cachedListBytes || n < 2 {
		t.Errorf("%d listings of %d bytes each cached, %d bytes (bound %d)", n, listBytes(big), w, cachedListBytes)
	}
	huge := &cachedDir{ents: make([]dirent, 2*cachedListBytes/direntBytes)}
	c.Put(100, huge)
	if _, ok := c.Get(100); !ok {
		t.Error("a listing heavier than the bound is not kept")
	}
	if n, _ := kept(); n != 0 {
		t.Errorf("%d listings kept beside one heavier than the bound", n)
	}
}
