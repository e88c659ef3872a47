package vmfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// fuzzBase writes one small VMFS5 and one VMFS6 volume for the fuzzers to
// damage, into the fuzz target's folder (it goes with the target).
func fuzzBase(tb testing.TB) []string {
	dir := tb.TempDir()
	var imgs []string
	for _, v := range []int{5, 6} {
		res, err := vmfstest.Write(filepath.Join(dir, "v.img"+string(rune('0'+v))), vmfstest.Spec{Version: v, Files: []vmfstest.Entry{
			{Path: "a/resident", Data: []byte("r")},
			{Path: "a/sub", Size: 9000, Seed: 1},
			{Path: "a/blocks", Size: 2<<20 + 5, Seed: 2, Fragmented: true},
			{Path: "a/link", Kind: vmfstest.Symlink, Target: "resident"},
			{Path: "b/c/d", Size: 70000, Seed: 3},
			{Path: "gone", Size: 5000, Seed: 4, Deleted: true},
		}})
		if err != nil {
			tb.Fatal(err)
		}
		imgs = append(imgs, res.Image)
	}
	return imgs
}

// patched is a device whose bytes at off are replaced by patch.
type patched struct {
	Device
	off   int64
	patch []byte
}

func (p patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.Device.ReadAt(b, off)
	for i := range b[:n] {
		if k := off + int64(i) - p.off; k >= 0 && k < int64(len(p.patch)) {
			b[i] = p.patch[k]
		}
	}
	return n, err
}

// FuzzOpenDamaged overwrites bytes anywhere in the metadata of a generated
// volume, then opens it strictly and tolerantly, walks the tree and reads
// every file. Any outcome but a panic, a hang or a huge allocation is
// fine: errors are the expected answer to damage.
func FuzzOpenDamaged(f *testing.F) {
	f.Add(uint8(0), uint32(0), []byte{})                                       // intact
	f.Add(uint8(1), uint32(0), []byte{})                                       // intact
	f.Add(uint8(0), uint32(0x1300000), []byte{0xff, 0xff, 0xff, 0xff})         // descriptor magic
	f.Add(uint8(1), uint32(0x1500000+0x10200), []byte{0, 0, 0, 0, 9, 9, 9, 9}) // FDC cluster
	f.Add(uint8(0), uint32(0x1520000+0x200+0x14), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add(uint8(1), uint32(0x1900000), []byte("\x01\x00\xf5\x00\xff\xff\xff\xff"))
	imgs := fuzzBase(f)
	f.Fuzz(func(t *testing.T, which uint8, at uint32, patch []byte) {
		file, err := os.Open(imgs[int(which)%len(imgs)])
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		fi, _ := file.Stat()
		off := int64(at) % (64 << 20) // the metadata lives in the first 64 MiB
		dev := patched{Device: fileDevice{file, fi.Size()}, off: off, patch: patch}
		for _, tolerant := range []bool{false, true} {
			vol, err := Open([]Device{dev}, Options{Tolerant: tolerant})
			if err != nil {
				continue
			}
			checkVolume(t, vol)
		}
	})
}

// checkVolume walks the tree and checks, for the first 256 KiB of every
// file, what every reader of a volume relies on, whatever the damage:
//   - Stat's size is Size;
//   - ReadAt returns len(p) bytes or an error within the size, and past it
//     the bytes up to the size with io.EOF;
//   - a sequential Read gives the bytes ReadAt gave;
//   - the allocation map lies within the size, sorted and merged, what lies
//     outside it reads as zeros, and Locate calls a byte a hole exactly
//     when the map leaves it out.
func checkVolume(t *testing.T, vol *Volume) {
	visited := 0
	fs.WalkDir(vol, ".", func(p string, d fs.DirEntry, err error) error {
		if visited++; visited > 10000 {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".sf") {
			return nil // system files are large and read like any other
		}
		f, err := vol.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		if file, ok := f.(*File); ok {
			checkFile(t, p, file)
		}
		return nil
	})
}

func checkFile(t *testing.T, p string, f *File) {
	const window = 256 << 10
	size := f.Size()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		t.Fatalf("%s: Stat %v %v, Size %d", p, fi, err, size)
	}
	want := min(max(size, 0), window)
	var byReadAt []byte
	buf := make([]byte, 64<<10+3) // odd, so reads straddle blocks
	for off := int64(0); off < window; off += int64(len(buf)) {
		n, err := f.ReadAt(buf, off)
		if err == nil && (n != len(buf) || off+int64(n) > size) {
			t.Fatalf("%s: ReadAt(%d, %d) = %d, nil; size %d", p, len(buf), off, n, size)
		}
		if err != nil && err != io.EOF {
			byReadAt = nil // damage: nothing to compare
			break
		}
		if err == io.EOF && off+int64(n) != max(size, off) {
			t.Fatalf("%s: ReadAt(%d, %d) = %d, EOF; size %d", p, len(buf), off, n, size)
		}
		byReadAt = append(byReadAt, buf[:n]...)
		if err == io.EOF {
			break
		}
	}
	byReadAt = byReadAt[:min(int64(len(byReadAt)), want)]
	if byReadAt == nil || int64(len(byReadAt)) != want {
		return
	}
	byRead, err := io.ReadAll(io.LimitReader(f, window))
	if err == nil && !bytes.Equal(byRead, byReadAt) {
		t.Fatalf("%s: Read and ReadAt disagree on the first %d bytes", p, want)
	}
	// WriteTo from an odd offset: what io.Copy moves agrees with ReadAt.
	from := min(want, 4097)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	w := &capWriter{limit: int(want - from)}
	if _, err := f.WriteTo(w); (err == nil || err == errCapped) && !bytes.Equal(w.buf, byReadAt[from:]) {
		t.Fatalf("%s: WriteTo from %d and ReadAt disagree (%d bytes, want %d)", p, from, len(w.buf), want-from)
	}
	m, err := f.AllocationMap()
	if err != nil {
		return
	}
	var end int64
	inMap := func(off int64) bool {
		for _, r := range m {
			if off >= r.Off && off < r.End() {
				return true
			}
		}
		return false
	}
	for i, r := range m {
		if r.Len <= 0 || r.Off < end || (i > 0 && r.Off == end) || r.End() > size {
			t.Fatalf("%s: allocation map %v: range %d not sorted, merged and within size %d", p, m, i, size)
		}
		if r.Off < want {
			if z := byReadAt[min(end, want):min(r.Off, want)]; bytes.Count(z, []byte{0}) != len(z) {
				t.Fatalf("%s: bytes %d-%d hold data outside the allocation map %v", p, end, r.Off, m)
			}
		}
		end = r.End()
	}
	if z := byReadAt[min(end, want):]; bytes.Count(z, []byte{0}) != len(z) {
		t.Fatalf("%s: bytes from %d hold data past the allocation map %v", p, end, m)
	}
	for _, off := range []int64{0, size / 2, size - 1} {
		if off < 0 || off >= size {
			continue
		}
		if _, hole, err := f.Locate(off); err == nil && hole == inMap(off) {
			t.Fatalf("%s: Locate(%d) says hole %v, the allocation map %v says the opposite", p, off, hole, m)
		}
	}
}

func FuzzCarveFD(f *testing.F) {
	seed := make([]byte, 0x2000)
	binary.LittleEndian.PutUint32(seed, lockMagicFD)
	binary.LittleEndian.PutUint32(seed[0x200:], 0x00400004)
	binary.LittleEndian.PutUint32(seed[0x20C:], 3)
	binary.LittleEndian.PutUint64(seed[0x21C:], 1<<20)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if info, ok := CarveFD(b); ok && (info.Addr&7 != 4 || info.Length < 0) {
			t.Fatalf("CarveFD accepted %+v", info)
		}
	})
}

func FuzzParseDescriptor(f *testing.F) {
	seed := make([]byte, 0x200)
	binary.LittleEndian.PutUint32(seed, fsMagicVMFS)
	binary.LittleEndian.PutUint32(seed[4:], 24)
	binary.LittleEndian.PutUint64(seed[0xA1:], 1<<20)
	binary.LittleEndian.PutUint32(seed[0xD5:], 8)
	binary.LittleEndian.PutUint32(seed[0xD9:], 64<<10)
	binary.LittleEndian.PutUint32(seed[0x134:], 4096)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 0x200 {
			return
		}
		if d, err := ParseDescriptor(b[:0x200]); err == nil && (!isPow2(d.BlockSize) || d.fdcStart() <= 0) {
			t.Fatalf("ParseDescriptor accepted %+v", d)
		}
	})
}

// FuzzAssembleSpanned damages the LVM header or PE tables of one device of
// a generated two-disk VMFS6 volume, or leaves a device out, then
// assembles it (as a deep scan's rebuild does), opens it tolerantly, walks
// it and asks every file which of its bytes are missing (Warnings).
func FuzzAssembleSpanned(f *testing.F) {
	f.Add(uint8(0), uint32(0x100000+0x90), []byte{9, 0, 0, 0}, false) // numDevs
	f.Add(uint8(1), uint32(0x100000+0x200), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, false)
	f.Add(uint8(1), uint32(0x200000), []byte{0xff}, true)
	// Written once per fuzz target into its own folder, which goes with it.
	var (
		fuzzSpanOnce sync.Once
		fuzzSpan     []string
		fuzzSpanErr  error
	)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, at uint32, patch []byte, omit bool) {
		fuzzSpanOnce.Do(func() {
			for _, fx := range vmfstest.Fixtures(false) {
				if fx.Spec.Version == 6 && fx.Spec.Extents == 2 {
					res, err := vmfstest.Write(filepath.Join(dir, "span.img"), fx.Spec)
					if err != nil {
						fuzzSpanErr = err
						return
					}
					fuzzSpan = res.Images
				}
			}
		})
		if fuzzSpanErr != nil || len(fuzzSpan) != 2 {
			t.Fatalf("spanned fixture: %v (%d images)", fuzzSpanErr, len(fuzzSpan))
		}
		var devs []Device
		for i, p := range fuzzSpan {
			file, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			fi, _ := file.Stat()
			var d Device = fileDevice{file, fi.Size()}
			if i == int(which)%2 {
				if omit {
					continue
				}
				d = patched{Device: d, off: int64(at) % (4 << 20), patch: patch}
			}
			devs = append(devs, d)
		}
		span, err := Assemble(devs)
		if err != nil {
			return
		}
		vol, err := OpenRecovered(span, Recovery{}, Options{Tolerant: true})
		if err != nil {
			return
		}
		checkVolume(t, vol)
		fs.WalkDir(vol, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if f, err := vol.Open(p); err == nil {
					f.(*File).Warnings()
					f.Close()
				}
			}
			return nil
		})
	})
}

var errCapped = errors.New("capWriter: limit reached")

// capWriter keeps the first limit bytes written to it, then fails: WriteTo
// of a huge sparse file stops there.
type capWriter struct {
	buf   []byte
	limit int
}

func (c *capWriter) Write(p []byte) (int, error) {
	room := c.limit - len(c.buf)
	if len(p) > room {
		c.buf = append(c.buf, p[:room]...)
		return room, errCapped
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}
