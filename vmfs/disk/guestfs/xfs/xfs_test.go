package xfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

func openImage(t testing.TB, im *image) (*FS, *os.File) {
	t.Helper()
	f, err := os.Open(im.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	x, err := Open(f, im.size, guestfs.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return x, f
}

func TestReadsWhatMkfsAndTheKernelWrote(t *testing.T) {
	for _, variant := range []string{"v5", "v4", "v5-1k-dir8k", "v4-ftype", "v5-4k-sectors"} {
		t.Run(variant, func(t *testing.T) {
			if testing.Short() && variant != "v5" && variant != "v4" {
				t.Skip("-short: the v5 and v4 images cover the code; this geometry is left to the long run")
			}
			im := testImage(t, variant)
			x, _ := openImage(t, im)
			if w := x.Warnings(); len(w) != 0 {
				t.Errorf("warnings on an intact file system: %q", w)
			}
			compareTree(t, x, im.wants)
		})
	}
}

// compareTree checks that x lists exactly the paths of wants and reads
// each as the kernel (or the prototype's source) does.
func compareTree(t *testing.T, x *FS, wants map[string]want) {
	t.Helper()
	seen := map[string]bool{}
	err := fs.WalkDir(x, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		if p == "." {
			return nil
		}
		seen[p] = true
		w, ok := wants[p]
		if !ok {
			t.Errorf("%s: listed, but not on the file system", p)
			return nil
		}
		if d.Type() != w.typ {
			t.Errorf("%s: type %v, want %v", p, d.Type(), w.typ)
		}
		fi, err := d.Info()
		if err != nil {
			t.Errorf("%s: Info: %v", p, err)
			return nil
		}
		info := fi.Sys().(*guestfs.Info)
		if info.FS != "XFS" || info.State != guestfs.Live {
			t.Errorf("%s: Sys() = %+v", p, info)
		}
		if w.ino != 0 && info.ID != w.ino {
			t.Errorf("%s: inode %d, want %d", p, info.ID, w.ino)
		}
		if w.nlink != 0 && info.Links != w.nlink {
			t.Errorf("%s: %d links, want %d", p, info.Links, w.nlink)
		}
		if !w.mtime.IsZero() && !fi.ModTime().Equal(w.mtime) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), w.mtime)
		}
		switch {
		case w.typ == 0:
			if fi.Size() != w.size {
				t.Errorf("%s: size %d, want %d", p, fi.Size(), w.size)
			}
			if sum := readSum(t, x, p); sum != w.sum {
				t.Errorf("%s: sha256 %s, want %s", p, sum, w.sum)
			}
		case w.typ == fs.ModeSymlink:
			if got, err := x.ReadLink(p); err != nil || got != w.target {
				t.Errorf("%s: ReadLink = %q, %v; want %q", p, got, err, w.target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p := range wants {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d paths not listed: %q", len(missing), missing[:min(10, len(missing))])
	}
}

// readSum reads a file twice: sequentially, and backwards in odd-sized
// pieces through ReadAt; both must agree.
func readSum(t *testing.T, x *FS, p string) string {
	f, err := x.Open(p)
	if err != nil {
		t.Errorf("open %s: %v", p, err)
		return ""
	}
	defer f.Close()
	h := sha256.New()
	var whole bytes.Buffer
	if _, err := io.Copy(io.MultiWriter(h, &whole), f); err != nil {
		t.Errorf("read %s: %v", p, err)
	}
	ra := f.(io.ReaderAt)
	const piece = 40961
	buf := make([]byte, piece)
	for off := int64(whole.Len()) / piece * piece; off >= 0; off -= piece {
		n, err := ra.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Errorf("%s: ReadAt(%d): %v", p, off, err)
			break
		}
		if !bytes.Equal(buf[:n], whole.Bytes()[off:off+int64(n)]) {
			t.Errorf("%s: ReadAt(%d) differs from a sequential read", p, off)
			break
		}
	}
	if m, ok := f.(allocmap.Mapper); ok {
		am, err := m.AllocationMap()
		if err != nil {
			t.Errorf("%s: AllocationMap: %v", p, err)
		}
		if err := am.Validate(int64(whole.Len())); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		// Outside the map the file reads as zeros.
		pos := int64(0)
		for _, r := range append(am, allocmap.Range{Off: int64(whole.Len())}) {
			if bytes.ContainsFunc(whole.Bytes()[pos:r.Off], func(c rune) bool { return c != 0 }) {
				t.Errorf("%s: data in [%d, %d), outside the allocation map", p, pos, r.Off)
			}
			pos = r.End()
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestBtreeAndSparseShapes(t *testing.T) {
	im := testImage(t, "v5")
	x, _ := openImage(t, im)
	for _, c := range []struct {
		path     string
		format   uint8
		minLevel int
	}{
		{"frag-160", fmtBtree, 1},
		{"frag-6000", fmtBtree, 2},
		{"node", fmtBtree, 0},
		{"leaf", fmtExtents, 0},
		{"sf", fmtLocal, 0},
	} {
		n, err := x.resolve("test", c.path, false)
		if err != nil {
			t.Fatal(err)
		}
		if n.in.format != c.format && !(c.path == "node" && n.in.format == fmtExtents) {
			t.Errorf("%s: data fork format %d, want %d: the image no longer tests it", c.path, n.in.format, c.format)
		}
		if c.minLevel > 0 {
			if lvl := int(n.in.fork[0])<<8 | int(n.in.fork[1]); lvl < c.minLevel {
				t.Errorf("%s: btree of level %d, want at least %d", c.path, lvl, c.minLevel)
			}
		}
	}
	f, err := x.Open("sparse")
	if err != nil {
		t.Fatal(err)
	}
	am, _ := f.(allocmap.Mapper).AllocationMap()
	if total := am.Total(); total > 1<<20 {
		t.Errorf("sparse: %d bytes allocated, want the few written blocks", total)
	}
	f, _ = x.Open("prealloc")
	am, _ = f.(allocmap.Mapper).AllocationMap()
	if total := am.Total(); total != 2*x.sb.blockSize {
		t.Errorf("prealloc: %d bytes allocated, want the 2 written blocks (unwritten extents are not data)", total)
	}
}

func TestSymlinksAndLinks(t *testing.T) {
	x, _ := openImage(t, testImage(t, "v5"))
	fi, err := x.Stat("sym-dir/block-entry-007")
	if err != nil || fi.Size() != int64(len("file 7\n")) {
		t.Errorf("Stat through a link to a directory: %v, %v", fi, err)
	}
	if fi, err := x.Stat("sym-abs"); err != nil || fi.Mode().Type() != 0 {
		t.Errorf("Stat of an absolute link: %v, %v", fi, err)
	}
	if fi, err := x.Lstat("sym-abs"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat of a link: %v, %v", fi, err)
	}
	if _, err := x.Stat("sym-long"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a dangling link: %v, want ErrNotExist", err)
	}
	a, err := x.Stat("small.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.Stat("sf/hard-link")
	if err != nil {
		t.Fatal(err)
	}
	ia, ib := a.Sys().(*guestfs.Info), b.Sys().(*guestfs.Info)
	if ia.ID != ib.ID || ia.Links != 2 || ib.Links != 2 {
		t.Errorf("hard links: %+v and %+v, want one inode with 2 links", ia, ib)
	}
	if a.ModTime().Year() != 2200 {
		t.Errorf("bigtime mtime %v, want in 2200", a.ModTime())
	}
	if _, err := x.ReadLink("small.txt"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink of a file: %v", err)
	}
}

// patched is a reader with some bytes replaced.
type patched struct {
	r       io.ReaderAt
	off     int64
	replace []byte
}

func (p patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	for i := range b[:n] {
		if o := off + int64(i); o >= p.off && o < p.off+int64(len(p.replace)) {
			b[i] = p.replace[o-p.off]
		}
	}
	return n, err
}

// patchInode returns a reader in which inode n's bytes are what edit makes
// of them, with the checksum made anew: damage a checksum does not catch.
func patchInode(t *testing.T, x *FS, r io.ReaderAt, path string, edit func(b []byte)) (io.ReaderAt, *inode) {
	t.Helper()
	n, err := x.resolve("test", path, false)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, x.sb.inodeSize)
	if _, err := r.ReadAt(b, n.in.off); err != nil {
		t.Fatal(err)
	}
	edit(b)
	binary.LittleEndian.PutUint32(b[100:], 0)
	binary.LittleEndian.PutUint32(b[100:], crc32.Checksum(b, castagnoli))
	return patched{r: r, off: n.in.off, replace: b}, n.in
}

func formatErrorAt(t *testing.T, what string, err error, off int64, msg string) {
	t.Helper()
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || fe.Off != off || !strings.Contains(fe.Msg, msg) {
		t.Errorf("%s: %v, want a FormatError at %#x saying %q", what, err, off, msg)
	} else {
		t.Logf("%s: %v", what, err)
	}
}

func TestHostileInodes(t *testing.T) {
	x, f := openImage(t, testImage(t, "v5"))
	be := binary.BigEndian

	// Two pointers of a btree node to one block: the walk ends.
	n, _ := x.resolve("test", "frag-6000", false)
	fork := n.in.fork
	maxrecs := (len(fork) - 4) / 16
	node, _ := x.sb.fsbOffset(be.Uint64(fork[4+maxrecs*8:]))
	blk := make([]byte, x.sb.blockSize)
	f.ReadAt(blk, node)
	if be.Uint16(blk[4:]) != 1 || be.Uint16(blk[6:]) < 2 {
		t.Fatalf("frag-6000: the btree node below the root is of level %d with %d records", be.Uint16(blk[4:]), be.Uint16(blk[6:]))
	}
	ptrs := blk[72+(len(blk)-72)/16*8:]
	copy(ptrs[8:16], ptrs[:8])
	binary.LittleEndian.PutUint32(blk[64:], 0)
	binary.LittleEndian.PutUint32(blk[64:], crc32.Checksum(blk, castagnoli))
	y, _ := Open(patched{r: f, off: node, replace: blk}, imageSize, guestfs.Options{})
	_, err := y.Open("frag-6000")
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "the btree loops") {
		t.Errorf("btree loop: %v", err)
	} else {
		t.Log(err)
	}

	// An absurd extent count costs nothing: the records on disk are read.
	r, in := patchInode(t, x, f, "frag-6000", func(b []byte) { be.PutUint32(b[76:], 0xffffffff) })
	y, _ = Open(r, imageSize, guestfs.Options{})
	_, err = y.Open("frag-6000")
	formatErrorAt(t, "nextents 2^32-1", err, in.off, "6000 extents found, the inode counts 4294967295")
	r, in = patchInode(t, x, f, "frag-160", func(b []byte) { be.PutUint32(b[76:], 3) })
	y, _ = Open(r, imageSize, guestfs.Options{})
	_, err = y.Open("frag-160")
	leaf, _ := x.sb.fsbOffset(be.Uint64(in.fork[4+(len(in.fork)-4)/16*8:]))
	formatErrorAt(t, "nextents 3", err, leaf+72+3*16, "more extents than the 3 the inode counts") // the 4th record

	// A short-form directory whose first entry names the root: a loop,
	// left out of the listing.
	r, _ = patchInode(t, x, f, "sf", func(b []byte) {
		fork := b[176:]
		nl := int(fork[6])
		be.PutUint32(fork[6+3+nl+1:], uint32(x.sb.rootIno))
	})
	y, _ = Open(r, imageSize, guestfs.Options{})
	ents, err := y.ReadDir("sf")
	if err != nil || len(ents) != 3 {
		t.Errorf("sf with an entry naming the root: %d entries, %v; want the 3 others", len(ents), err)
	}
	if err := fs.WalkDir(y, ".", func(string, fs.DirEntry, error) error { return nil }); err != nil {
		t.Error(err)
	}

	// An extent past the end of the file system.
	r, in = patchInode(t, x, f, "random.bin", func(b []byte) { b[176+8] = 0xff })
	y, _ = Open(r, imageSize, guestfs.Options{})
	_, err = y.Open("random.bin")
	formatErrorAt(t, "extent outside", err, in.off, "lies outside the file system")
}

func TestOpensFromSecondarySuperblock(t *testing.T) {
	for _, variant := range []string{"v5", "v4", "v5-4k-sectors"} {
		t.Run(variant, func(t *testing.T) {
			if testing.Short() && variant == "v5-4k-sectors" {
				t.Skip("-short: the v5 and v4 images cover the code")
			}
			im := testImage(t, variant)
			f, err := os.Open(im.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			intact, _ := openImage(t, im)
			// Ransomware zeroed the head: superblock, AGF, AGI, AGFL.
			r := patched{r: f, off: 0, replace: make([]byte, 4*intact.sb.sectSize)}
			// In a partition larger than the file system by 1 MiB.
			if _, err := Open(bytes.NewReader(nil), 0, guestfs.Options{}); err == nil {
				t.Fatal("an empty reader opens")
			}
			bigger, err := Open(r, imageSize+1<<20, guestfs.Options{})
			if err != nil {
				t.Errorf("Open with AG 0 zeroed in a larger partition: %v", err)
			} else if _, err := bigger.Stat("small.txt"); err != nil {
				t.Error(err)
			}
			x, err := Open(r, imageSize, guestfs.Options{})
			if err != nil {
				t.Fatalf("Open with AG 0 zeroed: %v", err)
			}
			if w := x.Warnings(); len(w) == 0 || !strings.Contains(w[0], "opened from the copy of allocation group") {
				t.Errorf("warnings %q, want one naming the secondary superblock", w)
			} else {
				t.Log(w)
			}
			compareTree(t, x, im.wants)
		})
	}
}

func TestCorruptInodeIsFormatError(t *testing.T) {
	im := testImage(t, "v5")
	x, f := openImage(t, im)
	n, err := x.resolve("test", "random.bin", false)
	if err != nil {
		t.Fatal(err)
	}
	r := patched{r: f, off: n.in.off + 60, replace: []byte{0xff}}
	y, err := Open(r, imageSize, guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = y.Stat("random.bin")
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || fe.Off != n.in.off {
		t.Fatalf("Stat of an inode with a bad checksum: %v, want a FormatError at %#x", err, n.in.off)
	}
	t.Log(err)
}

// TestConcurrentReads reads files from several goroutines at once, as
// export --jobs does: go-xfs-filesystem, evaluated for this package,
// shares one seek position between its files and returned wrong bytes
// here.
func TestConcurrentReads(t *testing.T) {
	im := testImage(t, "v5")
	x, _ := openImage(t, im)
	paths := []string{"frag-160", "frag-6000", "random.bin", "sparse", "prealloc", "leaf/leaf-entry-with-a-longer-name-0100"}
	errs := make(chan error, len(paths)*3)
	for round := 0; round < 3; round++ {
		for _, p := range paths {
			go func() {
				f, err := x.Open(p)
				if err != nil {
					errs <- err
					return
				}
				defer f.Close()
				h := sha256.New()
				if _, err := io.Copy(h, f); err != nil {
					errs <- err
					return
				}
				if sum := hex.EncodeToString(h.Sum(nil)); sum != im.wants[p].sum {
					errs <- fmt.Errorf("%s: sha256 %s, want %s", p, sum, im.wants[p].sum)
					return
				}
				errs <- nil
			}()
		}
	}
	for range len(paths) * 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestListedName(t *testing.T) {
	for raw, want := range map[string]string{
		"plain.txt":     "plain.txt",
		"caf\xc3\xa9":   "café",
		"latin1-\xe9":   `latin1-\xe9`,
		"slash/in-name": `slash\x2fin-name`,
		"nul\x00":       `nul\x00`,
	} {
		got := listedName([]byte(raw))
		if got != want || !fs.ValidPath(got) {
			t.Errorf("listedName(%q) = %q, want %q (a valid path element)", raw, got, want)
		}
	}
}

// TestTruncatedImage opens an image cut short: the files in what is left
// read, the others fail with a FormatError.
func TestTruncatedImage(t *testing.T) {
	im := testImage(t, "v5")
	f, err := os.Open(im.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 100 << 20
	x, err := Open(io.NewSectionReader(f, 0, size), size, guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := x.Warnings(); len(w) != 1 || !strings.Contains(w[0], "truncated") {
		t.Errorf("warnings %q", w)
	}
	read, failed := 0, 0
	for p, w := range im.wants {
		if w.typ != 0 {
			continue
		}
		b, err := fs.ReadFile(x, p)
		var fe *ondisk.FormatError
		switch {
		case err == nil && int64(len(b)) == w.size:
			read++
		case errors.As(err, &fe):
			failed++
		default:
			t.Errorf("%s: %d bytes, %v", p, len(b), err)
		}
	}
	t.Logf("%d files read, %d past the end", read, failed)
	if read == 0 {
		t.Error("no file read")
	}
}

// TestV4Btree reads a v4 file whose extents lie in a btree. This kernel
// no longer writes v4 and mkfs.xfs -p lays every file out in few extents,
// so the test makes the btree by hand, by the format: the extent records
// of random.bin moved into a BMAP leaf block in free space, the inode's
// fork made a btree root pointing at it. xfs_db then maps the file the
// same way through that btree.
func TestV4Btree(t *testing.T) {
	im := testImage(t, "v4")
	x, f := openImage(t, im)
	be := binary.BigEndian
	n, err := x.resolve("test", "random.bin", false)
	if err != nil {
		t.Fatal(err)
	}
	in := n.in
	if in.format != fmtExtents || in.nextents < 1 {
		t.Fatalf("random.bin: format %d with %d extents", in.format, in.nextents)
	}
	// The last block of the last AG: free on a file system this empty.
	fsb := uint64(x.sb.agCount-1)<<x.sb.agBlkLog | uint64(x.sb.dblocks-1-uint64(x.sb.agCount-1)*uint64(x.sb.agBlocks))
	blkOff, ok := x.sb.fsbOffset(fsb)
	if !ok {
		t.Fatal("no last block")
	}
	// libxfs wants more extents in a btree than the inode holds: each
	// extent of the file is cut in 12 (a map that is still right).
	ext, err := x.extentMap(in)
	if err != nil {
		t.Fatal(err)
	}
	var recs []byte
	for _, e := range ext {
		start := (uint64(e.phys) / uint64(x.sb.blockSize)) // AG 0: block number = fsb
		for i, piece := uint64(0), e.count/12+1; i < e.count; i += piece {
			c := min(piece, e.count-i)
			recs = be.AppendUint64(recs, (e.off+i)<<9|(start+i)>>43)
			recs = be.AppendUint64(recs, (start+i)<<21|c)
		}
	}
	if ext[len(ext)-1].phys >= x.sb.agSize() || len(recs)/16 <= (x.sb.inodeSize-100)/16 {
		t.Fatalf("random.bin: %d extents, the last at %#x: not what the test cuts", len(ext), ext[len(ext)-1].phys)
	}
	blk := make([]byte, x.sb.blockSize)
	copy(blk, "BMAP")
	be.PutUint16(blk[4:], 0)                    // level
	be.PutUint16(blk[6:], uint16(len(recs)/16)) // records
	be.PutUint64(blk[8:], ^uint64(0))           // no left sibling
	be.PutUint64(blk[16:], ^uint64(0))          // no right sibling
	copy(blk[24:], recs)
	ino := make([]byte, x.sb.inodeSize)
	if _, err := f.ReadAt(ino, in.off); err != nil {
		t.Fatal(err)
	}
	ino[5] = fmtBtree
	be.PutUint32(ino[76:], uint32(len(recs)/16))  // extents
	be.PutUint64(ino[64:], be.Uint64(ino[64:])+1) // blocks, with the btree's
	fork := ino[100:]
	clear(fork)
	maxrecs := (len(fork) - 4) / 16
	be.PutUint16(fork, 1)                 // level
	be.PutUint16(fork[2:], 1)             // records
	be.PutUint64(fork[4:], 0)             // key: file block 0
	be.PutUint64(fork[4+maxrecs*8:], fsb) // pointer
	r := multiPatched{f, []patched{{off: in.off, replace: ino}, {off: blkOff, replace: blk}}}
	y, err := Open(r, imageSize, guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(y, "random.bin")
	sum := sha256.Sum256(b)
	if err != nil || hex.EncodeToString(sum[:]) != im.wants["random.bin"].sum {
		t.Fatalf("random.bin through a hand-made v4 btree: %d bytes, %v; sha256 differs", len(b), err)
	}

	// xfs_db on a copy with the same two changes maps the file alike.
	xfsDB, ok := testenv.LookTool(t, "xfs_db")
	if !ok {
		return
	}
	cp := filepath.Join(t.TempDir(), "v4-btree.img")
	if err := run(testenv.Tool(t, "cp"), "--sparse=always", im.path, cp); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(cp, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt(ino, in.off)
	w.WriteAt(blk, blkOff)
	w.Close()
	out, err := exec.Command(xfsDB, "-r", "-c", "path /random.bin", "-c", "p core.format", "-c", "bmap", cp).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "core.format = 3 (btree)") || !strings.Contains(string(out), "data offset 0") {
		t.Errorf("xfs_db on the hand-made btree: %v\n%s", err, out)
	}
	t.Logf("xfs_db:\n%s", out)
}

// multiPatched is a reader with several ranges replaced.
type multiPatched struct {
	r  io.ReaderAt
	ps []patched
}

func (m multiPatched) ReadAt(b []byte, off int64) (int, error) {
	n, err := m.r.ReadAt(b, off)
	for _, p := range m.ps {
		p.r = nil
		for i := range b[:n] {
			if o := off + int64(i); o >= p.off && o < p.off+int64(len(p.replace)) {
				b[i] = p.replace[o-p.off]
			}
		}
	}
	return n, err
}

func TestNeedsRepairWarns(t *testing.T) {
	im := testImage(t, "v5")
	x, f := openImage(t, im)
	sb := make([]byte, x.sb.sectSize)
	if _, err := f.ReadAt(sb, 0); err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(sb[216:], binary.BigEndian.Uint32(sb[216:])|incompatRepair)
	binary.LittleEndian.PutUint32(sb[224:], 0)
	binary.LittleEndian.PutUint32(sb[224:], crc32.Checksum(sb, castagnoli))
	y, err := Open(patched{r: f, off: 0, replace: sb}, imageSize, guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := y.Warnings(); len(w) != 1 || !strings.Contains(w[0], "needs repair") {
		t.Errorf("warnings %q, want one saying the file system needs repair", w)
	}
	// A bit flipped under the checksum: the primary is refused and a copy
	// opens the file system.
	sb[300] ^= 1
	y, err = Open(patched{r: f, off: 0, replace: sb}, imageSize, guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := y.Warnings(); len(w) == 0 || !strings.Contains(w[0], "bad checksum") || strings.Contains(strings.Join(w, " "), "did not finish") {
		t.Errorf("warnings %q, want the primary's bad checksum named (and a copy's sb_inprogress is no news)", w)
	}
}

// TestV1Inode reads an inode of version 1 (link count in di_onlink), which
// mkfs.xfs no longer makes: a v4 inode turned v1 by hand.
func TestV1Inode(t *testing.T) {
	im := testImage(t, "v4")
	x, f := openImage(t, im)
	n, err := x.resolve("test", "small.txt", false)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, x.sb.inodeSize)
	if _, err := f.ReadAt(b, n.in.off); err != nil {
		t.Fatal(err)
	}
	b[4] = 1
	binary.BigEndian.PutUint16(b[6:], 3)           // di_onlink
	binary.BigEndian.PutUint32(b[16:], 0xdeadbeef) // di_nlink, not read in v1
	y, err := Open(patched{r: f, off: n.in.off, replace: b}, imageSize, guestfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := y.Stat("small.txt")
	if err != nil {
		t.Fatal(err)
	}
	if links := fi.Sys().(*guestfs.Info).Links; links != 3 {
		t.Errorf("v1 inode: %d links, want 3 (di_onlink)", links)
	}
	if got, err := fs.ReadFile(y, "small.txt"); err != nil || string(got) != "hello, xfs v4\n" {
		t.Errorf("v1 inode reads %q, %v", got, err)
	}
}

func TestUniqueNames(t *testing.T) {
	got := uniqueNames([]dirent{{name: "b", ino: 1}, {name: "a", ino: 2}, {name: "b", ino: 3}, {name: "b", ino: 4}, {name: "b~4", ino: 5}})
	want := []dirent{{name: "a", ino: 2}, {name: "b", ino: 1}, {name: "b~3", ino: 3}, {name: "b~4", ino: 4}}
	if !slices.Equal(got, want) {
		t.Errorf("uniqueNames = %v, want %v", got, want)
	}
}

// TestFSConformance runs testing/fstest on directories of a v4 and a v5
// image: io/fs's own checks of ReadDir, Stat, Open, Seek and ReadAt (not
// at the roots, whose sym-long dangles, which fstest takes for an error).
func TestFSConformance(t *testing.T) {
	for _, c := range []struct{ variant, dir, file string }{
		{"v4", "block", "block-entry-039"},
		{"v4", "leaf", "leaf-entry-with-a-longer-name-0399"},
		{"v5", "a", "b/c/d/e/deep.txt"},
		{"v5", "sf", "hard-link"},
		{"v5", "leaf", "leaf-entry-with-a-longer-name-0399"},
	} {
		x, _ := openImage(t, testImage(t, c.variant))
		sub, err := fs.Sub(x, c.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := fstest.TestFS(sub, c.file); err != nil {
			t.Errorf("%s %s: %v", c.variant, c.dir, err)
		}
	}
}
