package vmdk

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// compressedFile builds a small streamOptimized-style file by hand: grains
// 0 and 2 compressed, with markers (LBA + size) or without (size only).
func compressedFile(t testing.TB, markers bool) (file, want []byte) {
	le := binary.LittleEndian
	want = make([]byte, 4*65536+1024) // partial last grain
	for i := range want[:65536] {
		want[i] = byte(i % 251)
	}
	copy(want[2*65536:], bytes.Repeat([]byte("grain two "), 6000))
	copy(want[4*65536:], "tail")
	b := make([]byte, 128*512)
	copy(b, "KDMV")
	le.PutUint32(b[4:], 3)
	flags := uint32(flagNewlineCheck | flagCompressed)
	if markers {
		flags |= flagMarkers
	}
	le.PutUint32(b[8:], flags)
	le.PutUint64(b[12:], uint64(len(want)/512))
	le.PutUint64(b[20:], 128)
	le.PutUint32(b[44:], 512)
	le.PutUint64(b[56:], 2) // GD at sector 2, GT at 3
	le.PutUint64(b[64:], 128)
	copy(b[73:], "\n \r\n")
	le.PutUint16(b[77:], 1)
	le.PutUint32(b[2*512:], 3)
	for _, g := range []int{0, 2, 4} {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(want[g*65536 : min((g+1)*65536, len(want))])
		zw.Close()
		le.PutUint32(b[3*512+4*g:], uint32(len(b)/512))
		var hdr []byte
		if markers {
			hdr = binary.LittleEndian.AppendUint64(nil, uint64(g*128))
		}
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(z.Len()))
		b = append(append(b, hdr...), z.Bytes()...)
		b = append(b, make([]byte, (512-len(b)%512)%512)...)
	}
	return b, want
}

func TestCompressedHandMade(t *testing.T) {
	for _, markers := range []bool{true, false} {
		f, want := compressedFile(t, markers)
		d, err := Open(writeTemp(t, t.TempDir(), "c.vmdk", f), nil)
		if err != nil {
			t.Fatal(err)
		}
		conform(t, d, want)
		d.Close()
	}
	// A flipped bit in a stored Adler-32 is caught.
	f, _ := compressedFile(t, true)
	size := int(binary.LittleEndian.Uint32(f[128*512+8:]))
	f[128*512+12+size-1] ^= 1
	d, err := Open(writeTemp(t, t.TempDir(), "c.vmdk", f), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadAt(make([]byte, 10), 0); err == nil || !strings.Contains(err.Error(), "Adler-32") {
		t.Errorf("bad checksum: %v", err)
	}
	d.Close()
	// A grain marker whose LBA disagrees with the table is corruption.
	f, _ = compressedFile(t, true)
	binary.LittleEndian.PutUint64(f[128*512:], 999)
	d, err = Open(writeTemp(t, t.TempDir(), "c.vmdk", f), nil)
	if err != nil {
		t.Fatal(err)
	}
	var fe *ondisk.FormatError
	if _, err := d.ReadAt(make([]byte, 10), 0); !errors.As(err, &fe) || fe.Struct != "grain marker" || fe.Off != 128*512 || !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad LBA: %v", err)
	}
	d.Close()
}

// exercise opens fsys/name, strict and tolerant, and checks what every
// reader of a disk relies on, whatever the bytes:
//   - Info's capacity is Size;
//   - ReadAt returns len(p) bytes or an error within Size, and past Size
//     the bytes up to it with io.EOF;
//   - a ReadAt of any range reads the bytes a sequential read of the whole
//     disk read there (grain boundaries, caches and the parallel decoder
//     agree), and reads them again the same;
//   - the allocation map lies within Size, sorted, without overlaps, and
//     what lies outside it reads as zeros.
func exercise(t *testing.T, fsys fstest.MapFS, name string) {
	for _, tol := range []bool{false, true} {
		d, err := OpenFS(fsys, name, &Options{Tolerant: tol})
		if err != nil {
			continue
		}
		checkDisk(t, d, tol)
		d.Close()
	}
}

// checkDisk: see exercise. Disks over 4 MiB are sampled rather than read
// whole, to keep fuzzing fast.
func checkDisk(t *testing.T, d *Disk, tol bool) {
	size := d.Size()
	if in := d.Info(); in.Capacity != size {
		t.Fatalf("tolerant %v: Info capacity %d, Size %d", tol, in.Capacity, size)
	}
	if size < 0 {
		t.Fatalf("negative size %d", size)
	}
	read := func(n int, off int64) ([]byte, bool) {
		p := make([]byte, n)
		got, err := d.ReadAt(p, off)
		want := int64(n)
		if off+want > size {
			want = max(size-off, 0)
			if err == nil {
				t.Fatalf("tolerant %v: ReadAt(%d, %d) past size %d: no error", tol, n, off, size)
			}
		}
		if err != nil && (err != io.EOF || int64(got) != want) {
			return nil, false // an error about the bytes, which is allowed
		}
		if int64(got) != want {
			t.Fatalf("tolerant %v: ReadAt(%d, %d) = %d, nil; size %d", tol, n, off, got, size)
		}
		return p[:got], true
	}
	var whole []byte
	if size <= 4<<20 {
		whole = make([]byte, 0, size)
		for off := int64(0); off < size; off += 64 << 10 {
			b, ok := read(int(min(64<<10, size-off)), off)
			if !ok {
				whole = nil
				break
			}
			whole = append(whole, b...)
		}
	}
	for _, r := range []struct {
		off int64
		n   int
	}{{0, 4096}, {size / 2, 256 << 10}, {size - 1000, 3000}, {65536 - 7, 70000}, {size/3 | 511, 1 << 20}, {size, 1}} {
		if r.off < 0 {
			continue
		}
		b, ok := read(r.n, r.off)
		if !ok {
			continue
		}
		if again, ok := read(r.n, r.off); ok && !bytes.Equal(again, b) {
			t.Fatalf("tolerant %v: two reads of %d bytes at %d differ", tol, r.n, r.off)
		}
		if whole != nil && len(b) > 0 && !bytes.Equal(b, whole[r.off:r.off+int64(len(b))]) {
			t.Fatalf("tolerant %v: ReadAt(%d, %d) differs from the sequential read", tol, r.n, r.off)
		}
	}
	if size > 64<<20 { // bounded anyway, but big maps make fuzzing slow
		return
	}
	m, err := d.AllocationMap()
	if err != nil {
		return
	}
	var end int64
	for i, r := range m {
		if r.Len <= 0 || r.Off < end || (i > 0 && r.Off == end) || r.End() > size {
			t.Fatalf("tolerant %v: allocation map %v: range %d not sorted, merged and within size %d", tol, m, i, size)
		}
		if whole != nil && bytes.Count(whole[end:r.Off], []byte{0}) != int(r.Off-end) {
			t.Fatalf("tolerant %v: bytes %d-%d read as data but lie outside the allocation map %v", tol, end, r.Off, m)
		}
		end = r.End()
	}
	if whole != nil && bytes.Count(whole[end:], []byte{0}) != len(whole[end:]) {
		t.Fatalf("tolerant %v: bytes from %d read as data but lie past the allocation map %v", tol, end, m)
	}
}

func FuzzParseDescriptor(f *testing.F) {
	f.Add([]byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "d.vmdk", 2048, 1, 2, "p.vmdk")))
	f.Add([]byte("RW 10 FLAT \"a b.vmdk\" 5 x y\r\nRDONLY 3 ZERO\nNOACCESS 1 VMFSRDM \"r\"\nddb.x = \"y\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDescriptor(b)
		if err != nil {
			return
		}
		var total int64
		for _, e := range d.Extents {
			if e.Sectors < 0 || e.Start < 0 {
				t.Fatalf("negative numbers in %+v", e)
			}
			total += e.Sectors
		}
		if total > maxSectors {
			t.Fatalf("total %d sectors passed the bound", total)
		}
	})
}

// FuzzDescriptorDisk opens a fuzzed descriptor over fixed extent files: a
// flat base, a COWD and a SESparse delta.
func FuzzDescriptorDisk(f *testing.F) {
	dir := f.TempDir()
	base := vmdktest.Pattern(256<<10, 3)
	kind := func(g int64) vmdktest.Kind { return vmdktest.Kind(g % 4) }
	vmdktest.WriteCOWD(filepath.Join(dir, "d"), base, 1, kind)
	vmdktest.WriteSESparse(filepath.Join(dir, "s"), base, kind)
	cowd, _ := os.ReadFile(filepath.Join(dir, "d"))
	se, _ := os.ReadFile(filepath.Join(dir, "s"))
	f.Add([]byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "d", 512, 1, 2, "b.vmdk")))
	f.Add([]byte(vmdktest.Descriptor("seSparse", "SESPARSE", "s", 512, 1, 2, "b.vmdk")))
	f.Add([]byte("RW 100 FLAT \"f\" 3\nRW 50 ZERO\nRW 512 SPARSE \"d\"\n"))
	// Renamed files: a parent found by CID, an extent by its name's prefix.
	f.Add([]byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "e", 512, 1, 2, "gone.vmdk")))
	f.Fuzz(func(t *testing.T, b []byte) {
		exercise(t, fstest.MapFS{
			"vm/x.vmdk":     {Data: b},
			"vm/b.vmdk":     {Data: []byte(vmdktest.Descriptor("vmfs", "VMFS", "f", 512, 2, 0xFFFFFFFF, ""))},
			"vm/f":          {Data: base},
			"vm/d":          {Data: cowd},
			"vm/s":          {Data: se},
			"vm/e.locked":   {Data: cowd},
			"vm/c.vmdk.bak": {Data: []byte(vmdktest.Descriptor("vmfs", "VMFS", "f", 512, 3, 0xFFFFFFFF, ""))},
		}, "vm/x.vmdk")
	})
}

// FuzzSparseFile opens fuzzed bytes as a single-file disk: the KDMV (plain
// and compressed), COWD and SESparse header checks and table walks.
func FuzzSparseFile(f *testing.F) {
	f.Add(sparseFile(f))
	c, _ := compressedFile(f, true)
	f.Add(c)
	c, _ = compressedFile(f, false)
	f.Add(c)
	dir := f.TempDir()
	data := vmdktest.Pattern(128<<10, 4)
	kind := func(g int64) vmdktest.Kind { return vmdktest.Kind(g % 4) }
	vmdktest.WriteCOWD(filepath.Join(dir, "d"), data, 2, kind)
	vmdktest.WriteSESparse(filepath.Join(dir, "s"), data, kind)
	for _, n := range []string{"d", "s"} {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		f.Add(b)
	}
	for _, n := range []string{"tiny/qemu-stream.vmdk", "tiny/vmdkstream.vmdk"} {
		if b, err := os.ReadFile(testenv.Testdata(f, "vmdk", "samples", n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		exercise(t, fstest.MapFS{"x.vmdk": {Data: b}}, "x.vmdk")
	})
}
