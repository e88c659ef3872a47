package t

import (
	"os"
	"strconv"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func TestQuick(t *testing.T) {
	vers, _ := strconv.Atoi(os.Getenv("V"))
	img := os.Getenv("IMG")
	spec := vmfstest.Spec{Version: vers, Label: "quick", Files: []vmfstest.Entry{
		{Path: "directory/file1"},
		{Path: "directory/file4", Data: []byte("content\n")},
		{Path: "directory/file5", Size: 8193, Seed: 1},
		{Path: "directory/small", Size: 5000, Seed: 2},
		{Path: "directory/symlink", Kind: vmfstest.Symlink, Target: "file4"},
		{Path: "big", Size: 3<<20 + 17, Seed: 3},
		{Path: "frag", Size: 5<<20 + 17, Seed: 4, Fragmented: true},
		{Path: "pb", Size: 300<<20 + 5, Seed: 5, Thin: true, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 290 << 20}}},
		{Path: "gone", Size: 9000, Seed: 6, Deleted: true},
	}}
	r, err := vmfstest.Write(img, spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Expected()
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + s)
}
