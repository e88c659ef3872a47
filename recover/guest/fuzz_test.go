package guest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/guest/guesttest"
)

// FuzzTree reads any bytes as a disk: Open never fails on bad bytes (a
// damaged table is a warning), and every entry a directory lists within
// two levels is what Stat and Lstat say of its path (a directory or not,
// an *Info in Sys), or its directory fails to list with a path error
// naming it.
func FuzzTree(f *testing.F) {
	img := sparseImage(f, "fuzz.img", 256<<10)
	guesttest.Run(f, "start=8, type=1\n", "sfdisk", "-q", img)
	fatFiles(f, img, 4096, 200<<10, 12, map[string]int{"a.txt": 3, "dir/b.bin": 5000})
	seed, err := os.ReadFile(img)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:4096])
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := Open(context.Background(), []Disk{{Name: "d", R: bytes.NewReader(b), Size: int64(len(b))}}, Options{Deleted: true, Search: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var check func(dir string, depth int)
		check = func(dir string, depth int) {
			list, err := tree.ReadDir(dir)
			var pe *fs.PathError
			if err != nil {
				if !errors.As(err, &pe) || pe.Path != dir {
					t.Fatalf("ReadDir(%s): %v, not a path error naming it", dir, err)
				}
				return
			}
			for _, e := range list {
				name := path.Join(dir, e.Name())
				for _, stat := range []func(string) (fs.FileInfo, error){tree.Stat, tree.Lstat} {
					info, err := stat(name)
					if err != nil {
						continue // a damaged entry may not resolve
					}
					if _, ok := info.Sys().(*Info); !ok {
						t.Fatalf("%s: Sys() is %T", name, info.Sys())
					}
					if info.IsDir() != e.IsDir() && info.Mode()&fs.ModeSymlink == 0 && e.Type()&fs.ModeSymlink == 0 {
						t.Fatalf("%s: listed dir=%v, Stat dir=%v", name, e.IsDir(), info.IsDir())
					}
				}
				if e.IsDir() && depth < 2 {
					check(name, depth+1)
				}
			}
		}
		check(".", 0)
		tree.Warnings()
	})
}
