package xfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
)

// The test images are made by mkfs.xfs (xfsprogs) on sparse image files:
// version 5 images are filled through a loop mount by the kernel (root),
// version 4 ones, which this kernel no longer mounts, by mkfs.xfs -p from
// a prototype file. What the kernel (or the source tree of the prototype)
// holds is what the reader must list and read.

// want is what a path holds, as the kernel or the prototype's source says.
type want struct {
	typ    fs.FileMode // fs.ModeType bits
	size   int64       // regular files
	sum    string      // sha256 of a regular file
	target string      // symbolic links
	ino    uint64      // 0 when not known (prototype images)
	nlink  int         // 0 when not known
	mtime  time.Time   // zero when not known
}

type image struct {
	path  string
	size  int64
	wants map[string]want
	err   error
}

var (
	imagesDir  string
	imagesOnce sync.Once
	images     sync.Map // variant -> *image
	imageMu    sync.Map // variant -> *sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imagesDir != "" {
		os.RemoveAll(imagesDir)
	}
	os.Exit(code)
}

// imageSize is the smallest size newer mkfs.xfs accepts (300 MiB), kept
// sparse.
const imageSize = 320 << 20

// testImage returns the image of a variant, made once per test binary.
func testImage(t testing.TB, variant string) *image {
	t.Helper()
	mu, _ := imageMu.LoadOrStore(variant, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if im, ok := images.Load(variant); ok {
		return im.(*image)
	}
	mkfs := testenv.Tool(t, "mkfs.xfs")
	imagesOnce.Do(func() {
		var err error
		if imagesDir, err = os.MkdirTemp("", "xfs-test-"); err != nil {
			t.Fatal(err)
		}
	})
	im := &image{path: filepath.Join(imagesDir, variant+".img"), size: imageSize}
	if variant == "bench" {
		im.size = benchImageSize
	}
	switch variant {
	case "v5":
		im.wants, im.err = mountedImage(t, mkfs, im.path, im.size, nil, populate)
	case "v5-1k-dir8k":
		im.wants, im.err = mountedImage(t, mkfs, im.path, im.size, []string{"-b", "size=1024", "-n", "size=8192"}, populate)
	case "bench":
		im.wants, im.err = mountedImage(t, mkfs, im.path, im.size, nil, func(root string) error {
			f, err := os.Create(filepath.Join(root, "big.bin"))
			if err != nil {
				return err
			}
			defer f.Close()
			for i := range uint64(benchFileSize >> 20) {
				if _, err := f.Write(randomBytes(i, 1<<20)); err != nil {
					return err
				}
			}
			if err := f.Sync(); err != nil {
				return err
			}
			return emptyFiles(filepath.Join(root, "many"), benchFiles)
		})
	case "v4":
		im.wants, im.err = protoImage(t, mkfs, im.path, []string{"-m", "crc=0", "-n", "ftype=0"})
	case "v5-4k-sectors":
		im.wants, im.err = protoImage(t, mkfs, im.path, []string{"-s", "size=4096"})
	case "v4-ftype":
		im.wants, im.err = protoImage(t, mkfs, im.path, []string{"-m", "crc=0", "-b", "size=1024"})
	default:
		t.Fatalf("no image variant %q", variant)
	}
	images.Store(variant, im)
	if im.err != nil {
		t.Fatalf("making the %s image: %v", variant, im.err)
	}
	return im
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func sparseFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(size)
}

// mountedImage makes an XFS image, mounts it through a loop device, fills
// it with fill and returns what the kernel reads back.
func mountedImage(t testing.TB, mkfs, img string, size int64, args []string, fill func(root string) error) (map[string]want, error) {
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "filling an XFS image through the kernel needs root")
	}
	losetup := testenv.Tool(t, "losetup")
	mount := testenv.Tool(t, "mount")
	if err := sparseFile(img, size); err != nil {
		return nil, err
	}
	if err := run(mkfs, append(append([]string{"-q", "-f"}, args...), img)...); err != nil {
		return nil, err
	}
	out, err := exec.Command(losetup, "-f", "--show", img).Output()
	if err != nil {
		testenv.Lacks(t, "no loop device: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	defer run(losetup, "-d", dev)
	mnt, err := os.MkdirTemp(imagesDir, "mnt-")
	if err != nil {
		return nil, err
	}
	if err := run(mount, "-t", "xfs", dev, mnt); err != nil {
		return nil, err
	}
	mounted := true
	defer func() {
		if mounted {
			run(testenv.Tool(t, "umount"), mnt)
		}
	}()
	if err := fill(mnt); err != nil {
		return nil, err
	}
	wants, err := walkHost(mnt, true)
	if err != nil {
		return nil, err
	}
	testenv.WriteBack(t, mnt)
	mounted = false
	if err := run(testenv.Tool(t, "umount"), mnt); err != nil {
		return nil, err
	}
	return wants, nil
}

// walkHost records what a host tree holds, relative to root.
func walkHost(root string, kernel bool) (map[string]want, error) {
	wants := map[string]want{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		w := want{typ: fi.Mode().Type()}
		if kernel {
			st := fi.Sys().(*syscall.Stat_t)
			w.ino, w.nlink, w.mtime = st.Ino, int(st.Nlink), fi.ModTime()
		}
		switch {
		case fi.Mode().IsRegular():
			w.size = fi.Size()
			if w.sum, err = fileSum(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if w.target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		wants[filepath.ToSlash(rel)] = w
		return nil
	})
	return wants, err
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func writeFiles(dir string, n int, format string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf(format, i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// emptyFiles makes n empty files in a new directory.
func emptyFiles(dir string, n int) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("file-%06d.txt", i)))
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}

// fragmented writes blocks*bs bytes and punches every other block, which
// leaves blocks/2 extents: a btree of extents once they outgrow the inode.
func fragmented(path string, blocks, bs int, seed uint64) error {
	if err := os.WriteFile(path, randomBytes(seed, blocks*bs), 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := 1; i < blocks; i += 2 {
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(i*bs), int64(bs)); err != nil {
			return err
		}
	}
	return f.Sync()
}

// populate fills a mounted file system with every shape the reader reads.
func populate(root string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return err
	}
	bs := int(st.Bsize)
	p := func(name string) string { return filepath.Join(root, name) }
	steps := []func() error{
		func() error { return os.WriteFile(p("small.txt"), []byte("hello, xfs\n"), 0o644) },
		func() error { return os.WriteFile(p("empty"), nil, 0o600) },
		func() error { return writeFiles(p("sf"), 3, "s%d") },
		func() error { return writeFiles(p("block"), 40, "block-entry-%03d") },
		func() error { return writeFiles(p("leaf"), 400, "leaf-entry-with-a-longer-name-%04d") },
		func() error {
			return writeFiles(p("node"), 6000, "node-entry-with-a-much-longer-name-to-fill-blocks-%05d")
		},
		func() error { return os.WriteFile(p("random.bin"), randomBytes(1, 3<<20+123), 0o644) },
		// 160 extents: a one-level btree; 6000: two levels below the root.
		func() error { return fragmented(p("frag-160"), 320, bs, 2) },
		func() error { return fragmented(p("frag-6000"), 12000, bs, 3) },
		func() error {
			f, err := os.Create(p("sparse"))
			if err != nil {
				return err
			}
			defer f.Close()
			for _, off := range []int64{0, 5 << 20, 40 << 20} {
				if _, err := f.WriteAt(randomBytes(uint64(off), 3*bs+17), off+int64(bs)/2); err != nil {
					return err
				}
			}
			return f.Truncate(48 << 20)
		},
		func() error {
			// Unwritten extents: preallocated space reads as zeros, also
			// past the end of the file.
			f, err := os.Create(p("prealloc"))
			if err != nil {
				return err
			}
			defer f.Close()
			if err := unix.Fallocate(int(f.Fd()), 0, 0, 1<<20); err != nil {
				return err
			}
			if _, err := f.WriteAt(randomBytes(4, 2*bs), 256<<10); err != nil {
				return err
			}
			return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 1<<20, 1<<20)
		},
		func() error { return os.Link(p("small.txt"), p("sf/hard-link")) },
		func() error { return os.Symlink("small.txt", p("sym-short")) },
		func() error { return os.Symlink("/"+strings.Repeat("long-directory-name/", 50)+"end", p("sym-long")) },
		func() error { return os.Symlink("block", p("sym-dir")) },
		func() error { return os.Symlink("/leaf/leaf-entry-with-a-longer-name-0007", p("sym-abs")) },
		func() error { return unix.Mkfifo(p("fifo"), 0o644) },
		func() error {
			if err := os.WriteFile(p("xattr.txt"), []byte("with an attribute fork\n"), 0o644); err != nil {
				return err
			}
			return unix.Setxattr(p("xattr.txt"), "user.note", []byte(strings.Repeat("x", 100)), 0)
		},
		func() error {
			if err := os.MkdirAll(p("a/b/c/d/e"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(p("a/b/c/d/e/deep.txt"), []byte("deep\n"), 0o644)
		},
		func() error {
			// After 2038: bigtime (v5 default of this xfsprogs).
			return os.Chtimes(p("small.txt"), time.Now(), time.Date(2200, 1, 2, 3, 4, 5, 6, time.UTC))
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// protoImage makes an image with mkfs.xfs -p (version 4, or version 5
// when args do not say crc=0): directories of every format, files,
// symbolic links short and long.
func protoImage(t testing.TB, mkfs, img string, args []string) (map[string]want, error) {
	src, err := os.MkdirTemp(imagesDir, "proto-src-")
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return os.WriteFile(filepath.Join(src, "small.txt"), []byte("hello, xfs v4\n"), 0o644) },
		func() error { return os.WriteFile(filepath.Join(src, "empty"), nil, 0o644) },
		func() error { return os.WriteFile(filepath.Join(src, "random.bin"), randomBytes(7, 5<<20+1), 0o644) },
		func() error { return writeFiles(filepath.Join(src, "sf"), 3, "s%d") },
		func() error { return writeFiles(filepath.Join(src, "block"), 40, "block-entry-%03d") },
		func() error { return writeFiles(filepath.Join(src, "leaf"), 400, "leaf-entry-with-a-longer-name-%04d") },
		func() error {
			return writeFiles(filepath.Join(src, "node"), 3000, "node-entry-with-a-much-longer-name-to-fill-blocks-%05d")
		},
		func() error { return os.Symlink("small.txt", filepath.Join(src, "sym-short")) },
		func() error {
			if !slices.Contains(args, "crc=0") {
				// mkfs.xfs 6.1 -p writes a v5 remote symlink without
				// its block header: xfs_db and the kernel find it
				// corrupt, and so does the reader (TestSeedImages).
				return nil
			}
			return os.Symlink("/"+strings.Repeat("long-directory-name/", 50)+"end", filepath.Join(src, "sym-long"))
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	var proto strings.Builder
	proto.WriteString("boot\n0 0\nd--755 0 0\n")
	if err := writeProto(&proto, src, 1); err != nil {
		return nil, err
	}
	proto.WriteString("$\n")
	protoPath := filepath.Join(imagesDir, filepath.Base(img)+".proto")
	if err := os.WriteFile(protoPath, []byte(proto.String()), 0o644); err != nil {
		return nil, err
	}
	if err := sparseFile(img, imageSize); err != nil {
		return nil, err
	}
	if err := run(mkfs, append(append([]string{"-q", "-f", "-p", protoPath}, args...), img)...); err != nil {
		return nil, err
	}
	wants, err := walkHost(src, false)
	if err != nil {
		return nil, err
	}
	return wants, inodesByXFSDB(t, img, wants)
}

// inodesByXFSDB sets the inode number of every path of wants as xfs_db
// lists it: "ls /DIR" prints a line an entry,
// "OFFSET INODE TYPE HASH NAMELEN NAME (good)".
func inodesByXFSDB(t testing.TB, img string, wants map[string]want) error {
	xfsDB, ok := testenv.LookTool(t, "xfs_db")
	if !ok {
		return nil
	}
	args := []string{"-r", "-c", "ls /"}
	for p, w := range wants {
		if w.typ == fs.ModeDir {
			args = append(args, "-c", "ls /"+p)
		}
	}
	out, err := exec.Command(xfsDB, append(args, img)...).Output()
	if err != nil {
		return fmt.Errorf("xfs_db: %v", err)
	}
	dir, found := "", 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "/") && strings.HasSuffix(line, ":") {
			dir = strings.Trim(strings.TrimSuffix(line, ":"), "/")
			continue
		}
		f := strings.Fields(line)
		if len(f) != 7 || f[6] != "(good)" || f[5] == "." || f[5] == ".." {
			continue
		}
		p := path.Join(dir, f[5])
		w, ok := wants[p]
		if !ok {
			return fmt.Errorf("xfs_db lists %s, not in the prototype", p)
		}
		if _, err := fmt.Sscan(f[1], &w.ino); err != nil {
			return fmt.Errorf("xfs_db line %q: %v", line, err)
		}
		wants[p] = w
		found++
	}
	if found != len(wants) {
		return fmt.Errorf("xfs_db lists %d of the prototype's %d paths", found, len(wants))
	}
	return nil
}

// writeProto writes the prototype lines of directory dir's entries.
func writeProto(b *strings.Builder, dir string, depth int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	ind := strings.Repeat(" ", depth)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			fmt.Fprintf(b, "%s%s d--755 0 0\n", ind, e.Name())
			if err := writeProto(b, p, depth+1); err != nil {
				return err
			}
			fmt.Fprintf(b, "%s$\n", ind)
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "%s%s l--777 0 0 %s\n", ind, e.Name(), target)
		default:
			fmt.Fprintf(b, "%s%s ---644 0 0 %s\n", ind, e.Name(), p)
		}
	}
	return nil
}
