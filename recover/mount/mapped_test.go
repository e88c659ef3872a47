package mount

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/recover/mount/mounttest"
)

// backedFS gives a file "f" whose first backedLen bytes lie in image from
// offset at, as disk.Backed says; ReadAt refuses exactly the reads that
// Backing claims, so that a mount which copied them fails.
type backedFS struct {
	fstest.MapFS
	image     *os.File
	at        int64
	backedLen int64
}

type backedFile struct {
	fs.File
	data []byte
	fsys backedFS
}

func (b backedFS) Open(name string) (fs.File, error) {
	f, err := b.MapFS.Open(name)
	if err != nil || name != "f" {
		return f, err
	}
	return backedFile{f, b.MapFS[name].Data, b}, nil
}

func (f backedFile) Backing(off, n int64) (*os.File, int64, bool) {
	if off < 0 || n <= 0 || off+n > f.fsys.backedLen {
		return nil, 0, false
	}
	return f.fsys.image, f.fsys.at + off, true
}

func (f backedFile) ReadAt(p []byte, off int64) (int, error) {
	if _, _, ok := f.Backing(off, int64(len(p))); ok {
		return 0, errors.New("read through a buffer, not from the image's map")
	}
	return copy(p, f.data[off:]), nil
}

func TestBackedBytesReadFromTheImageMap(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprint("direct=", direct), func(t *testing.T) { testBackedBytes(t, direct) })
	}
}

func testBackedBytes(t *testing.T, direct bool) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 3<<20+77)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// The image holds other bytes around the file's, so that a reply from
	// the wrong place of the map differs.
	const at = 12345
	img := make([]byte, at+len(data)+4096)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	copy(img[at:], data[:2<<20])
	imgPath := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(imgPath, img, 0o644); err != nil {
		t.Fatal(err)
	}
	image, err := os.Open(imgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer image.Close()
	o := Options{DirectFrom: -1}
	if direct {
		o.DirectFrom = 1
	}
	fsys := backedFS{MapFS: fstest.MapFS{"f": {Data: data}}, image: image, at: at, backedLen: 2 << 20}
	srv := mountForTest(t, fsys, o)
	name := filepath.Join(srv.Dir, "f")
	ranges := [][2]int64{{0, 4096}, {100, 1 << 20}, {2<<20 - 10, 100}, {3 << 20, 1000}, {1 << 20, 1 << 20}}
	got := mounttest.ReadRanges(t, name, ranges)
	for i, r := range ranges {
		if want := data[r[0]:min(r[0]+r[1], int64(len(data)))]; !bytes.Equal(got[i], want) {
			t.Errorf("%d bytes at %d: differ from the file's", r[1], r[0])
		}
	}
	sum := sha256.Sum256(data)
	if got := mounttest.SHA256(t, name); got != hex.EncodeToString(sum[:]) {
		t.Errorf("whole file: sha256 %s, want %x", got, sum)
	}
	srv.t.maps.mu.Lock()
	m := srv.t.maps.byFile[image]
	srv.t.maps.mu.Unlock()
	if len(m) != len(img) {
		t.Errorf("the image's map: %d bytes, want the image's %d", len(m), len(img))
	}
	if err := srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	if len(srv.t.maps.byFile) != 0 {
		t.Errorf("%d maps left after Unmount", len(srv.t.maps.byFile))
	}
}

// TestImageGoneUnderTheMapReadsEIO: when the image's bytes under the map
// cannot be had (here the image shrank after the map was made, as a bad
// sector fails the read of a page), the kernel cannot copy the reply, and
// the reader gets EIO, as a failed ReadAt gives, and the mount serves on.
func TestImageGoneUnderTheMapReadsEIO(t *testing.T) {
	data := bytes.Repeat([]byte("vmfs"), 1<<18) // 1 MiB
	imgPath := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(imgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	image, err := os.Open(imgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer image.Close()
	fsys := backedFS{MapFS: fstest.MapFS{"f": {Data: data}, "g": {Data: []byte("still served")}},
		image: image, backedLen: int64(len(data))}
	srv := mountForTest(t, fsys, Options{DirectFrom: 1})
	name := filepath.Join(srv.Dir, "f")
	if got := mounttest.ReadFile(t, name); !bytes.Equal(got, data) {
		t.Fatal("the file read before the image shrank differs")
	}
	if err := os.Truncate(imgPath, 0); err != nil {
		t.Fatal(err)
	}
	if errs := mounttest.Try(t, []mounttest.Op{{Call: "read", Path: name}}); !errors.Is(errs[0], syscall.EIO) {
		t.Errorf("reading the file whose image shrank: %v, want EIO", errs[0])
	}
	if got := mounttest.ReadFile(t, filepath.Join(srv.Dir, "g")); string(got) != "still served" {
		t.Errorf("another file after the failed read: %q", got)
	}
}
