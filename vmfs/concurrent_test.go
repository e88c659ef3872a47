package vmfs

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestConcurrentStats: goroutines that stat the files of one volume in
// their own orders all see each file's own descriptor, while the
// descriptor caches and pages are evicted and their buffers reused (more
// files than the caches hold; run with -race).
func TestConcurrentStats(t *testing.T) {
	const n = 5000 // > fdCache's 4096 descriptors and fdPages' 64 pages of 32
	files := make([]vmfstest.Entry, n)
	for i := range files {
		files[i] = vmfstest.Entry{Path: fmt.Sprintf("d%d/f%d", i%7, i), Data: make([]byte, i%997)}
	}
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "many.img"), vmfstest.Spec{Version: 5, Label: "many", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	vol := openResult(t, res)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range rand.New(rand.NewPCG(uint64(g), 1)).Perm(n) {
				info, err := vol.Stat(files[i].Path)
				if err != nil || info.Size() != int64(i%997) || info.Name() != fmt.Sprintf("f%d", i) {
					errs <- fmt.Errorf("%s: %v, %v", files[i].Path, info, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
