package ntfs

import (
	"testing"
	"testing/fstest"
)

// TestFSConformance runs testing/fstest over the small image, deleted
// files and the orphan directory included: every listed name opens, reads
// and stats as it lists, directories read in pieces as whole.
func TestFSConformance(t *testing.T) {
	v := openBytes(t, loadSmall(t))
	if err := fstest.TestFS(v, "hello.txt", "h.txt", "s.txt:ads", "d/file-with-a-long-name-aa", "c/c.txt", "sp.bin", "l", "deleted.bin"); err != nil {
		t.Error(err)
	}
}
