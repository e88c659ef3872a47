package ext

import (
	"strings"
	"testing"
)

// TestDirCacheBound: the listings cached weigh at most cachedListBytes,
// names included, and the newest is kept however large. Bounded by 64 Ki
// entries before, a listing of 100,000 was not kept at all, so each path
// resolved in that directory read it again.
func TestDirCacheBound(t *testing.T) {
	c := newDirCache()
	large := make([]child, 100000)
	c.Put(1, large)
	if _, ok := c.Get(1); !ok {
		t.Error("a listing of 100,000 entries is not kept")
	}
	long := make([]child, 20000)
	for i := range long {
		long[i] = child{name: strings.Repeat("x", 255), ino: uint32(i)}
	}
	for ino := range uint32(10) {
		c.Put(10+ino, long)
	}
	n, weight := 0, 0
	for ino := range uint32(20) {
		if l, ok := c.Get(ino); ok {
			n, weight = n+1, weight+listBytes(l)
		}
	}
	if _, ok := c.Get(19); !ok || weight > cachedListBytes || n < 2 {
		t.Errorf("%d listings cached, %d bytes (bound %d), the newest kept %v", n, weight, cachedListBytes, ok)
	}
}
