package ext

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// populate fills dir with what every image holds: small and larger
// files, a sparse file with data far apart, fast and slow symbolic links,
// an empty file, a hard link, a deep directory, a directory of many
// entries (several blocks, so htree where the kernel would make one).
func populate(t testing.TB, dir string) {
	t.Helper()
	rnd := rand.New(rand.NewSource(15))
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	write("hello.txt", []byte("hello, ext\n"))
	write("tiny", []byte("x"))
	write("empty", nil)
	write("medium.bin", random(300_000))
	write("a/b/c/d/deep.txt", []byte("deep\n"))
	for i := 0; i < 300; i++ {
		write(filepath.Join("many", "entry-with-a-longish-name-"+strings.Repeat("x", i%20)+"-"+strconv.Itoa(i)), []byte(strconv.Itoa(i)))
	}
	// Sparse: 6 MiB with data at 0, in the middle and in the last block.
	sp, err := os.Create(filepath.Join(dir, "sparse.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 3<<20 + 1234, 6<<20 - 100} {
		if _, err := sp.WriteAt(random(100), off); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	if err := os.Symlink("hello.txt", filepath.Join(dir, "fastlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("./", 40)+"a/b/c/d/deep.txt", filepath.Join(dir, "slowlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b", filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "hello.txt"), filepath.Join(dir, "a", "hardlink.txt")); err != nil {
		t.Fatal(err)
	}
}

// mkfs makes an image of size bytes with mkfs.TYPE args, filled from src.
func mkfs(t testing.TB, typ string, size int64, src string, args ...string) string {
	t.Helper()
	tool := testenv.Tool(t, "mkfs."+typ)
	img := filepath.Join(t.TempDir(), typ+".img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, append(append([]string{"-q", "-F"}, args...), "-d", src, img)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return img
}

func openImage(t testing.TB, img string, opts guestfs.Options) *FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	fsys, err := Open(f, fi.Size(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// entry is what a tree says of one path.
type entry struct {
	kind   string // file, dir, link
	size   int64  // file
	sum    string // file: sha256
	target string // link
}

func sum(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ourTree walks fsys.
func ourTree(t testing.TB, fsys *FS) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || p == "lost+found" {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := fsys.ReadLink(p)
			if err != nil {
				return err
			}
			out[p] = entry{kind: "link", target: target}
		case d.IsDir():
			out[p] = entry{kind: "dir"}
		default:
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			s, err := sum(f)
			if err != nil {
				return err
			}
			fi, _ := f.Stat()
			out[p] = entry{kind: "file", size: fi.Size(), sum: s}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// osTree walks a local folder the same way; sizes, when given, cut each
// file to its size in that tree before hashing it.
func osTree(t testing.TB, root string, sizes map[string]entry) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." || rel == "lost+found" {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = entry{kind: "link", target: target}
		case d.IsDir():
			out[rel] = entry{kind: "dir"}
		default:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			fi, _ := f.Stat()
			size := fi.Size()
			if e, ok := sizes[rel]; ok && e.size < size {
				size = e.size
			}
			s, err := sum(io.LimitReader(f, size))
			if err != nil {
				return err
			}
			out[rel] = entry{kind: "file", size: size, sum: s}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// debugfsTree dumps the image with debugfs rdump, the e2fsprogs reader.
// debugfs 1.47 dumps a file with inline data as the whole 60 bytes of
// i_block, past its size: sizes (our tree's) cut those.
func debugfsTree(t testing.TB, img string, sizes map[string]entry) map[string]entry {
	t.Helper()
	tool := testenv.Tool(t, "debugfs")
	out := t.TempDir()
	cmd := exec.Command(tool, "-R", "rdump / "+out, img)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, b)
	}
	return osTree(t, out, sizes)
}

func compareTrees(t *testing.T, what string, got, want map[string]entry) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: %s missing from our tree", what, p)
		} else if g != w {
			t.Errorf("%s: %s: ours %+v, want %+v", what, p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s in our tree only", what, p)
		}
	}
}

// variants are the images every tree test runs on.
var variants = []struct {
	name, typ string
	args      []string
}{
	{"ext2-1k", "ext2", []string{"-b", "1024"}},
	{"ext2-4k", "ext2", []string{"-b", "4096"}},
	{"ext3-1k", "ext3", []string{"-b", "1024"}},
	{"ext3-4k", "ext3", []string{"-b", "4096"}},
	{"ext4-4k", "ext4", []string{"-b", "4096"}},
	{"ext4-1k", "ext4", []string{"-b", "1024"}},
	{"ext4-noextents", "ext4", []string{"-b", "4096", "-O", "^extents,^64bit"}},
	{"ext4-32bit", "ext4", []string{"-b", "4096", "-O", "^64bit"}},
	{"ext4-metabg", "ext4", []string{"-b", "1024", "-O", "meta_bg,^resize_inode"}},
	{"ext4-inline", "ext4", []string{"-b", "4096", "-O", "inline_data"}},
	{"ext4-128inode", "ext4", []string{"-b", "4096", "-I", "128"}},
}

func TestTreeMatchesDebugfs(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	want := osTree(t, src, nil)
	for i, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if testing.Short() && i%3 != 0 {
				t.Skip("-short: a third of the variants")
			}
			img := mkfs(t, v.typ, 64<<20, src, v.args...)
			fsys := openImage(t, img, guestfs.Options{})
			if fsys.Type() != v.typ {
				t.Errorf("Type() = %q, want %q", fsys.Type(), v.typ)
			}
			got := ourTree(t, fsys)
			compareTrees(t, "source folder", got, want)
			var sizes map[string]entry
			if slices.Contains(v.args, "inline_data") {
				sizes = got
			}
			compareTrees(t, "debugfs rdump", got, debugfsTree(t, img, sizes))
			if w := fsys.Warnings(); len(w) > 0 {
				t.Errorf("warnings on a clean image: %q", w)
			}
		})
	}
}

func TestFSConformance(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	img := mkfs(t, "ext4", 64<<20, src)
	fsys := openImage(t, img, guestfs.Options{})
	if err := fstest.TestFS(fsys, "hello.txt", "a/b/c/d/deep.txt", "sparse.bin", "many/entry-with-a-longish-name--0"); err != nil {
		t.Fatal(err)
	}
}

func TestInfo(t *testing.T) {
	src := t.TempDir()
	populate(t, src)
	img := mkfs(t, "ext4", 64<<20, src, "-b", "4096")
	fsys := openImage(t, img, guestfs.Options{})
	fi, err := fsys.Stat("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	sfi, _ := os.Stat(filepath.Join(src, "hello.txt"))
	info := fi.Sys().(*guestfs.Info)
	if info.Links != 2 || info.State != guestfs.Live || info.FS != "ext4" || info.ID == 0 {
		t.Errorf("hello.txt: %+v, want 2 links, live, ext4", info)
	}
	// mke2fs -d keeps whole seconds.
	if fi.Mode() != 0o640 || fi.Size() != sfi.Size() || !fi.ModTime().Equal(sfi.ModTime().Truncate(time.Second)) {
		t.Errorf("hello.txt: mode %v size %d mtime %v, want %v %d %v", fi.Mode(), fi.Size(), fi.ModTime(), sfi.Mode(), sfi.Size(), sfi.ModTime())
	}
	hl, _ := fsys.Stat("a/hardlink.txt")
	if hl.Sys().(*guestfs.Info).ID != info.ID {
		t.Error("the hard link's inode differs")
	}
	li, err := fsys.Lstat("fastlink")
	if err != nil || li.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(fastlink) = %v, %v", li, err)
	}
	if fi, err := fsys.Stat("dirlink/c/d/deep.txt"); err != nil || fi.Size() != 5 {
		t.Errorf("through a symbolic link to a directory: %v, %v", fi, err)
	}
	// The sparse file's map: its three data blocks, the rest holes.
	f, err := fsys.Open("sparse.bin")
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.(allocmap.Mapper).AllocationMap()
	if err != nil {
		t.Fatal(err)
	}
	if m.Total() > 4*4096 || len(m) != 3 {
		t.Errorf("sparse.bin map %v, want its three data blocks", m)
	}
	b := make([]byte, 100)
	if _, err := f.(io.ReaderAt).ReadAt(b, 3<<20+1234); err != nil || bytes.Equal(b, make([]byte, 100)) {
		t.Errorf("ReadAt in the middle of sparse.bin: %v", err)
	}
}

func TestNotExt(t *testing.T) {
	_, err := Open(bytes.NewReader(make([]byte, 1<<20)), 1<<20, guestfs.Options{})
	var fe *ondisk.FormatError
	if !errors.Is(err, ErrNotExt) || !errors.As(err, &fe) {
		t.Fatalf("Open(zeros) = %v, want ErrNotExt as a FormatError", err)
	}
}
