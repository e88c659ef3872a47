package vmfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	listingpkg "github.com/vmfsrecover/vmfsrecover/recover/listing"
)

// realDir holds the real volumes made by VMware hosts (never copied into
// this repository; see its README).
const realDir = "../../shared/testdata/real"

var (
	unpackOnce sync.Map // name -> *unpacked
)

type unpacked struct {
	once sync.Once
	path string
	err  error
}

// realImage gunzips ../shared/testdata/real/NAME.img.gz once per test
// binary into a sparse temporary file and returns its path.
func realImage(t testing.TB, name string) string {
	t.Helper()
	gz := filepath.Join(realDir, name+".img.gz")
	if _, err := os.Stat(gz); err != nil {
		t.Skipf("real sample %s not available (%v); it lives in ../shared/testdata/real", gz, err)
	}
	v, _ := unpackOnce.LoadOrStore(name, &unpacked{})
	u := v.(*unpacked)
	u.once.Do(func() {
		dir, err := os.MkdirTemp("", "vmfsrecover-real-")
		if err != nil {
			u.err = err
			return
		}
		u.path = filepath.Join(dir, name+".img")
		u.err = gunzipSparse(gz, u.path)
	})
	if u.err != nil {
		t.Fatal(u.err)
	}
	return u.path
}

func gunzipSparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	var off int64
	for {
		n, err := io.ReadFull(zr, buf)
		if n > 0 {
			if !bytes.Equal(buf[:n], zero[:n]) {
				if _, werr := out.WriteAt(buf[:n], off); werr != nil {
					return werr
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return out.Truncate(off)
}

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
			img := realImage(t, name)
			vol, err := Open([]Device{openImage(t, img)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := listing(vol)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(realDir, name+".expected"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
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
			vol, err := Open([]Device{openImage(t, realImage(t, name))}, Options{})
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
