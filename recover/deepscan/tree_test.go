package deepscan

import (
	"io/fs"
	"testing"
)

// TestTreeSymlinkLoop: recovered links that point at each other end in an
// error, not in endless recursion.
func TestTreeSymlinkLoop(t *testing.T) {
	tree := newTree()
	f := &Finding{Kind: Orphan}
	tree.add("d", &tnode{name: "a", mode: fs.ModeSymlink | 0o777, target: "b", finding: f})
	tree.add("d", &tnode{name: "b", mode: fs.ModeSymlink | 0o777, target: "a", finding: f})
	if _, err := tree.Open("d/a"); err == nil {
		t.Fatal("a symlink loop opened")
	}
	if target, err := tree.ReadLink("d/a"); err != nil || target != "b" {
		t.Fatalf("ReadLink = %q, %v", target, err)
	}
}
