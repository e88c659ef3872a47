package xfs

import (
	"fmt"

	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"golang.org/x/sys/unix"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

var update = flag.Bool("update", false, "make the seed images of testdata anew with mkfs.xfs")

// A seed is a small image made by mkfs.xfs -p, kept gzipped in testdata as
// its blocks that are not zero, outside the log: each a region, 8 bytes of
// offset, 4 of length (big-endian), then the bytes. The rest reads as
// zeros.
var seeds = []struct {
	name   string
	args   []string
	kernel bool // filled through the kernel (root) with fillKernelSeed, not -p
}{
	{"v5-proto.regions.gz", nil, false},
	{"v4-proto.regions.gz", []string{"-m", "crc=0", "-n", "ftype=0"}, false},
	{"v5-kernel.regions.gz", nil, true},
}

// maxSeed bounds the fuzzer's input.
const maxSeed = 4 << 20

type region struct {
	off  int64
	data []byte
}

// regionReader reads its regions over zeros, up to size.
type regionReader struct {
	regions []region
	size    int64
}

// parseRegions decodes a seed; whatever the bytes, it gives regions.
func parseRegions(b []byte) regionReader {
	rr := regionReader{size: imageSize}
	for len(b) >= 12 {
		off := int64(binary.BigEndian.Uint64(b) % imageSize)
		n := min(int(binary.BigEndian.Uint32(b[8:])), len(b)-12, int(imageSize-off))
		rr.regions = append(rr.regions, region{off, b[12 : 12+n]})
		b = b[12+n:]
	}
	return rr
}

func (rr regionReader) ReadAt(b []byte, off int64) (int, error) {
	if off >= rr.size {
		return 0, io.EOF
	}
	n := len(b)
	if int64(n) > rr.size-off {
		n = int(rr.size - off)
	}
	clear(b[:n])
	for _, r := range rr.regions {
		if r.off < off+int64(n) && r.off+int64(len(r.data)) > off {
			lo := max(r.off, off)
			hi := min(r.off+int64(len(r.data)), off+int64(n))
			copy(b[lo-off:hi-off], r.data[lo-r.off:hi-r.off])
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func readSeed(t testing.TB, name string) []byte {
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSeedImages makes the seeds anew with -update, and checks that each
// opens and reads whole: the fuzzer starts from file systems that work.
func TestSeedImages(t *testing.T) {
	if *update {
		makeSeeds(t)
	}
	for _, s := range seeds {
		x, err := Open(parseRegions(readSeed(t, s.name)), imageSize, guestfs.Options{})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		files := 0
		err = fs.WalkDir(x, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files++
				_, err = fs.ReadFile(x, p)
			}
			return err
		})
		if err != nil || files < 50 {
			t.Errorf("%s: %d files read, %v", s.name, files, err)
		}
		if s.kernel {
			checkKernelSeed(t, x)
			continue
		}
		// mkfs.xfs 6.1 -p writes a v5 remote symlink without its header
		// (xfs_db: "Metadata CRC error detected ... xfs_symlink block").
		target, err := x.ReadLink("long-link")
		var fe *ondisk.FormatError
		if v5 := strings.HasPrefix(s.name, "v5"); v5 && (!errors.As(err, &fe) || !strings.Contains(fe.Msg, "bad remote symlink header")) {
			t.Errorf("%s: ReadLink of a remote link without its header: %q, %v", s.name, target, err)
		} else if !v5 && (err != nil || target != strings.Repeat("long/", 100)) {
			t.Errorf("%s: ReadLink of a remote link: %q, %v", s.name, target, err)
		}
	}
}

func makeSeeds(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.xfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	imagesDir = dir
	for _, step := range []func() error{
		func() error { return writeFiles(filepath.Join(src, "block"), 20, "b%02d") },
		func() error { return writeFiles(filepath.Join(src, "leaf"), 120, "leaf-entry-%03d") },
		func() error { return os.WriteFile(filepath.Join(src, "data.bin"), randomBytes(9, 9000), 0o644) },
		func() error { return os.Symlink(strings.Repeat("long/", 100), filepath.Join(src, "long-link")) },
		func() error { return os.Symlink("data.bin", filepath.Join(src, "short-link")) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	var proto strings.Builder
	proto.WriteString("boot\n0 0\nd--755 0 0\n")
	if err := writeProto(&proto, src, 1); err != nil {
		t.Fatal(err)
	}
	proto.WriteString("$\n")
	protoPath := filepath.Join(dir, "proto")
	if err := os.WriteFile(protoPath, []byte(proto.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		img := filepath.Join(dir, "seed.img")
		if s.kernel {
			if _, err := mountedImage(t, mkfs, img, imageSize, s.args, fillKernelSeed); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := sparseFile(img, imageSize); err != nil {
				t.Fatal(err)
			}
			if err := run(mkfs, append(append([]string{"-q", "-f", "-p", protoPath}, s.args...), img)...); err != nil {
				t.Fatal(err)
			}
		}
		seed, err := seedRegions(img)
		if err != nil {
			t.Fatal(err)
		}
		if len(seed) > maxSeed {
			t.Fatalf("seed of %d bytes", len(seed))
		}
		var out bytes.Buffer
		z := gzip.NewWriter(&out)
		z.Write(seed)
		z.Close()
		if err := os.WriteFile(filepath.Join("testdata", s.name), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkKernelSeed checks that the kernel's seed holds what it is for: a
// node directory (free index blocks at 64 GiB in its logical range) and an
// extent btree.
func checkKernelSeed(t *testing.T, x *FS) {
	n, err := x.resolve("test", "node", false)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := x.extentMap(n.in)
	if err != nil {
		t.Fatal(err)
	}
	if last := ext[len(ext)-1]; last.off < 2*dirLeafOffset>>x.sb.blockLog {
		t.Errorf("node: no free index block, the directory is not of node format")
	}
	if n, err = x.resolve("test", "btree", false); err != nil || n.in.format != fmtBtree {
		t.Errorf("btree: %v, format %d", err, n.in.format)
	}
}

// fillKernelSeed makes what mkfs.xfs -p does not, small: a node directory
// (1200 names of one inode, hard links), an extent btree (a file of zeros,
// every other block punched: its data costs the seed nothing), a sparse
// file with an unwritten extent.
func fillKernelSeed(root string) error {
	if err := os.WriteFile(filepath.Join(root, "target"), []byte("linked\n"), 0o644); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(root, "node"), 0o755); err != nil {
		return err
	}
	for i := range 1200 {
		if err := os.Link(filepath.Join(root, "target"), filepath.Join(root, "node", fmt.Sprintf("n%04d", i))); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(root, "btree"))
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 100*4096)); err != nil {
		return err
	}
	for i := 1; i < 100; i += 2 {
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(i*4096), 4096); err != nil {
			return err
		}
	}
	g, err := os.Create(filepath.Join(root, "sparse"))
	if err != nil {
		return err
	}
	defer g.Close()
	if err := unix.Fallocate(int(g.Fd()), 0, 1<<20, 1<<20); err != nil {
		return err
	}
	if _, err := g.WriteAt([]byte("end"), 8<<20); err != nil {
		return err
	}
	return g.Sync()
}

// seedRegions encodes the blocks of an image that are not zero, leaving
// out the log.
func seedRegions(img string) ([]byte, error) {
	b, err := os.ReadFile(img)
	if err != nil {
		return nil, err
	}
	sb, err := decodeSuper(b, 0)
	if err != nil {
		return nil, err
	}
	logStart, ok := sb.fsbOffset(binary.BigEndian.Uint64(b[48:]))
	if !ok {
		return nil, errors.New("no internal log")
	}
	logEnd := logStart + int64(binary.BigEndian.Uint32(b[96:]))*sb.blockSize
	// Regions are the runs of the blocks outside the log that hold
	// anything, split where 64 zero bytes or more lie between.
	var out []byte
	const gap = 64
	flush := func(start, end int) {
		if end > start {
			out = binary.BigEndian.AppendUint64(out, uint64(start))
			out = binary.BigEndian.AppendUint32(out, uint32(end-start))
			out = append(out, b[start:end]...)
		}
	}
	start, last := -1, -1 // the open run and its last byte that is not zero
	for i, c := range b {
		if int64(i) >= logStart && int64(i) < logEnd {
			continue
		}
		if c == 0 {
			continue
		}
		if start >= 0 && i-last > gap {
			flush(start, last+1)
			start = -1
		}
		if start < 0 {
			start = i
		}
		last = i
	}
	if start >= 0 {
		flush(start, last+1)
	}
	return out, nil
}

// FuzzXFS mutates the head of an image. Property: Open, listing and
// reading either work or fail with an *ondisk.FormatError, and every
// listed file reads its size, the same bytes by Read and by ReadAt.
func FuzzXFS(f *testing.F) {
	for _, s := range seeds {
		f.Add(readSeed(f, s.name))
	}
	f.Fuzz(func(t *testing.T, seed []byte) {
		if len(seed) > maxSeed {
			return
		}
		x, err := Open(parseRegions(seed), imageSize, guestfs.Options{})
		if err != nil {
			mustFormatError(t, "Open", err)
			return
		}
		visited := 0
		fs.WalkDir(x, ".", func(p string, d fs.DirEntry, err error) error {
			if visited++; visited > 2000 {
				return fs.SkipAll
			}
			if err != nil {
				mustFormatError(t, "walk "+p, err)
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				mustFormatError(t, "info "+p, err)
				return nil
			}
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				if _, err := x.ReadLink(p); err != nil {
					mustFormatError(t, "readlink "+p, err)
				}
			case fi.Mode().IsRegular():
				checkReads(t, x, p, fi.Size())
			}
			return nil
		})
	})
}

func checkReads(t *testing.T, x *FS, p string, size int64) {
	f, err := x.Open(p)
	if err != nil {
		mustFormatError(t, "open "+p, err)
		return
	}
	defer f.Close()
	if size > 4<<20 {
		// Check the end only: a hostile size need not be read whole.
		b := make([]byte, 2)
		n, err := f.(io.ReaderAt).ReadAt(b, size-1)
		if n != 1 || err != io.EOF {
			t.Fatalf("%s: ReadAt at the last byte of %d: %d, %v", p, size, n, err)
		}
		return
	}
	whole, err := io.ReadAll(f)
	if err != nil {
		mustFormatError(t, "read "+p, err)
		return
	}
	if int64(len(whole)) != size {
		t.Fatalf("%s: read %d bytes of %d", p, len(whole), size)
	}
	b := make([]byte, len(whole))
	if n, err := f.(io.ReaderAt).ReadAt(b, 0); n != len(b) || (err != nil && err != io.EOF) || !bytes.Equal(b, whole) {
		t.Fatalf("%s: ReadAt disagrees with Read: %d, %v", p, n, err)
	}
	// What the allocation map leaves out reads as zeros.
	m, err := f.(allocmap.Mapper).AllocationMap()
	if err != nil || m.Validate(size) != nil {
		t.Fatalf("%s: allocation map %v: %v", p, m, err)
	}
	pos := int64(0)
	for _, r := range append(m, allocmap.Range{Off: size}) {
		if bytes.ContainsFunc(whole[pos:r.Off], func(c rune) bool { return c != 0 }) {
			t.Fatalf("%s: data in [%d, %d), outside the allocation map", p, pos, r.Off)
		}
		pos = r.End()
	}
}

func mustFormatError(t *testing.T, what string, err error) {
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s: %v (%T), want an *ondisk.FormatError", what, err, err)
	}
}
