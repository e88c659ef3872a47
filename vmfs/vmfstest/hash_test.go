package vmfstest

import "testing"

func TestNameHashSample(t *testing.T) {
	h := nameHash("directory")
	if h != 0x5F1265850DBC9F66 {
		t.Fatalf("got %#x", h)
	}
	if h%hashEntriesRoot != 0x3C82 {
		t.Fatalf("idx %#x", h%hashEntriesRoot)
	}
}
