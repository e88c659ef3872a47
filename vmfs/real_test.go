package vmfs

import (
	"context"
	"io/fs"
	"os"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	listingpkg "github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// fileDevice adapts an *os.File to Device.
type fileDevice struct {
	*os.File
	size int64
}

func (d fileDevice) Size() int64 { return d.size }

func openImage(t testing.TB, path string) Device {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	return fileDevice{f, fi.Size()}
}

// listing renders fsys in the format of ../shared/testdata/real/*.expected.
func listing(fsys fs.FS) (string, error) {
	var lines []string
	err := listingpkg.Walk(context.Background(), fsys, ".", listingpkg.Options{Recursive: true, Hash: true},
		func(e listingpkg.Entry, err error) error {
			if err != nil {
				return err
			}
			lines = append(lines, e.Expected())
			return nil
		})
	sort.Slice(lines, func(i, j int) bool { return pathOf(lines[i]) < pathOf(lines[j]) })
	return strings.Join(lines, "\n") + "\n", err
}

func pathOf(line string) string { return line[strings.LastIndex(line, " /")+1:] }

func TestRealVolumesMatchExpected(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: reads hundreds of MiB; make test runs it in its second, race-free pass")
	}
	for _, name := range []string{"vmfs3", "vmfs5", "vmfs6"} {
		t.Run(name, func(t *testing.T) {
			img, want := vmfstest.RealSample(t, name)
			vol, err := Open([]Device{openImage(t, img)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := listing(vol)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("listing differs\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestRealVolumesPassFSTest runs fstest.TestFS on the user directories of
// the real volumes; it reads files a byte at a time, so the 100+ MiB system
// files are left to TestRealVolumesMatchExpected.
func TestRealVolumesPassFSTest(t *testing.T) {
	for _, name := range []string{"vmfs5", "vmfs6"} {
		t.Run(name, func(t *testing.T) {
			img, _ := vmfstest.RealSample(t, name)
			vol, err := Open([]Device{openImage(t, img)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			sub, err := fs.Sub(vol, "directory")
			if err != nil {
				t.Fatal(err)
			}
			if err := fstest.TestFS(sub, "file1", "file5", "symlink"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
