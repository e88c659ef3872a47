package vmdk

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// fixture is a disk to open and the raw bytes it must read as.
type fixture struct {
	name string
	path string
	want []byte
	opts *Options
}

// rawSize is odd on purpose: not a multiple of the 64 KiB grain, so every
// sparse format has a partial last grain.
const rawSize = 6<<20 + 3584

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// qemuFixtures converts the pattern disk with qemu-img to every subformat
// it writes, and builds a hosted chain with qemu-img create -b and qemu-io.
func qemuFixtures(t *testing.T, dir string, raw []byte) []fixture {
	testenv.Tool(t, "qemu-img")
	rawPath, _ := vmdktest.WriteFile(dir, "pattern.raw", raw)
	var fx []fixture
	for _, sub := range []string{"monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat", "streamOptimized"} {
		p := filepath.Join(dir, "qemu-"+sub+".vmdk")
		run(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+sub, rawPath, p)
		fx = append(fx, fixture{name: "qemu/" + sub, path: p, want: raw})
	}
	// A three-link hosted chain: base, child with writes and a zeroed grain,
	// grandchild with more writes.
	base := filepath.Join(dir, "chain-base.vmdk")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", rawPath, base)
	child := filepath.Join(dir, "chain-child.vmdk")
	run(t, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "zeroed_grain=on", "-b", "chain-base.vmdk", "-F", "vmdk", child)
	run(t, "qemu-io", "-f", "vmdk", "-c", "write -P 0x55 65536 131072", "-c", "write -z 1048576 65536", "-c", "write -P 0x66 3000000 5000", child)
	grand := filepath.Join(dir, "chain-grand.vmdk")
	run(t, "qemu-img", "create", "-q", "-f", "vmdk", "-b", "chain-child.vmdk", "-F", "vmdk", grand)
	run(t, "qemu-io", "-f", "vmdk", "-c", "write -P 0x77 100000 70000", grand)
	want := append([]byte(nil), raw...)
	fill := func(off, n int, v byte) {
		for i := off; i < off+n; i++ {
			want[i] = v
		}
	}
	fill(65536, 131072, 0x55)
	fill(1048576, 65536, 0)
	fill(3000000, 5000, 0x66)
	fill(100000, 70000, 0x77)
	fx = append(fx, fixture{name: "qemu/chain-3-links", path: grand, want: want})
	return fx
}

// ownFixtures are written by vmdktest: COWD and SESparse deltas over a VMFS
// flat base, and a hand-made multi-extent descriptor.
func ownFixtures(t *testing.T, dir string, raw []byte) []fixture {
	var fx []fixture
	size := int64(len(raw)) &^ 511
	base := raw[:size]
	mustWrite := func(name, text string) string {
		p, err := vmdktest.WriteFile(dir, name, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mustWrite("esx-flat.vmdk", string(base))
	mustWrite("esx.vmdk", vmdktest.Descriptor("vmfs", "VMFS", "esx-flat.vmdk", size/512, 0x11111111, 0xFFFFFFFF, ""))
	fx = append(fx, fixture{name: "own/vmfs-flat", path: filepath.Join(dir, "esx.vmdk"), want: base})

	delta := vmdktest.Pattern(size, 99)
	cowdKind := func(g int64) vmdktest.Kind {
		if g%7 == 0 || g%11 == 3 || (g >= 4096 && g < 4200) {
			return vmdktest.Data
		}
		return vmdktest.Unallocated
	}
	if err := vmdktest.WriteCOWD(filepath.Join(dir, "esx-000001-delta.vmdk"), delta, 1, cowdKind); err != nil {
		t.Fatal(err)
	}
	mustWrite("esx-000001.vmdk", vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "esx-000001-delta.vmdk", size/512, 0x22222222, 0x11111111, "esx.vmdk"))
	fx = append(fx, fixture{name: "own/cowd-over-flat", path: filepath.Join(dir, "esx-000001.vmdk"), want: vmdktest.Expected(base, delta, 512, cowdKind)})

	// COWD with 8-sector grains, so grains straddle differently.
	cowd8 := func(g int64) vmdktest.Kind {
		if g%3 == 1 {
			return vmdktest.Data
		}
		return vmdktest.Unallocated
	}
	if err := vmdktest.WriteCOWD(filepath.Join(dir, "esx-000002-delta.vmdk"), delta, 8, cowd8); err != nil {
		t.Fatal(err)
	}
	mustWrite("esx-000002.vmdk", vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "esx-000002-delta.vmdk", size/512, 0x33333333, 0x11111111, "esx.vmdk"))
	fx = append(fx, fixture{name: "own/cowd8-over-flat", path: filepath.Join(dir, "esx-000002.vmdk"), want: vmdktest.Expected(base, delta, 4096, cowd8)})

	seKind := func(g int64) vmdktest.Kind {
		switch {
		case g%5 == 0 || (g > 300 && g < 700):
			return vmdktest.Data
		case g%13 == 1:
			return vmdktest.Zero
		case g%17 == 2:
			return vmdktest.Unmapped
		}
		return vmdktest.Unallocated
	}
	if err := vmdktest.WriteSESparse(filepath.Join(dir, "esx-000003-sesparse.vmdk"), delta, seKind); err != nil {
		t.Fatal(err)
	}
	mustWrite("esx-000003.vmdk", vmdktest.Descriptor("seSparse", "SESPARSE", "esx-000003-sesparse.vmdk", size/512, 0x44444444, 0x11111111, "esx.vmdk"))
	fx = append(fx, fixture{name: "own/sesparse-over-flat", path: filepath.Join(dir, "esx-000003.vmdk"), want: vmdktest.Expected(base, delta, 4096, seKind)})

	// custom: FLAT with a non-zero start sector, a ZERO extent, a second
	// FLAT extent of the same file, RDONLY.
	mustWrite("custom.vmdk", `# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="custom"
RW 2048 FLAT "esx-flat.vmdk" 4096
RW 1000 ZERO
RDONLY 3000 FLAT "esx-flat.vmdk" 17
`)
	want := append(append(append([]byte(nil), base[4096*512:6144*512]...), make([]byte, 1000*512)...), base[17*512:3017*512]...)
	fx = append(fx, fixture{name: "own/custom-multi-extent", path: filepath.Join(dir, "custom.vmdk"), want: want})
	return fx
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	raw := vmdktest.Pattern(rawSize, 1)
	fx := ownFixtures(t, dir, raw)
	if _, ok := testenv.LookTool(t, "qemu-img"); ok {
		fx = append(fx, qemuFixtures(t, dir, raw)...)
	}
	// Debian's python3, where python3-vmdkstream puts its module.
	if python, ok := testenv.LookTool(t, "/usr/bin/python3"); ok {
		p := filepath.Join(dir, "vmdkstream.vmdk")
		out, err := exec.Command(python, "-c", "import sys, VMDKstream; VMDKstream.convert_to_stream(sys.argv[1], sys.argv[2])", filepath.Join(dir, "pattern.raw"), p).CombinedOutput()
		if err != nil {
			testenv.Partly(t, "python3-vmdkstream unavailable (Debian package python3-vmdkstream), leaving that layout out: %v %s", err, out)
		} else {
			fx = append(fx, fixture{name: "vmdkstream/streamOptimized", path: p, want: raw})
		}
	}
	for _, f := range fx {
		t.Run(f.name, func(t *testing.T) {
			d, err := Open(f.path, f.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			conform(t, d, f.want)
			for _, w := range d.Warnings() {
				t.Errorf("warning: %s", w)
			}
		})
	}
}

// conform is the reader suite every format passes.
func conform(t *testing.T, d *Disk, want []byte) {
	t.Helper()
	size := int64(len(want))
	if d.Size() != size {
		t.Fatalf("Size = %d, want %d", d.Size(), size)
	}
	// Whole disk in one read.
	got := make([]byte, size)
	if n, err := d.ReadAt(got, 0); n != len(got) || (err != nil && err != io.EOF) {
		t.Fatalf("full read: n=%d err=%v", n, err)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("full read differs first at byte %d", i)
	}
	check := func(off int64, n int) {
		t.Helper()
		if off < 0 || off >= size {
			return
		}
		buf := make([]byte, n)
		m, err := d.ReadAt(buf, off)
		exp := want[off:min(off+int64(n), size)]
		if m != len(exp) {
			t.Fatalf("ReadAt(%d, %d): n=%d, want %d (err %v)", off, n, m, len(exp), err)
		}
		if off+int64(n) > size && err != io.EOF {
			t.Fatalf("ReadAt(%d, %d) past the end: err=%v, want io.EOF", off, n, err)
		}
		if off+int64(n) <= size && err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		if i := firstDiff(buf[:m], exp); i >= 0 {
			t.Fatalf("ReadAt(%d, %d) differs at byte %d", off, n, off+int64(i))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		check(rng.Int64N(size), 1+rng.IntN(200<<10))
	}
	// Grain and table boundaries of every format (512 B and 4 KiB COWD and
	// SESparse grains, 64 KiB KDMV grains, 2 MiB COWD tables), sampled
	// across the disk; and every extent boundary.
	var edges []int64
	for _, g := range []int64{512, 4096, 65536, 2 << 20} {
		for i := int64(1); i <= 12; i++ {
			if b := (size / 13 * i) / g * g; b > 0 {
				edges = append(edges, b)
			}
		}
	}
	for _, e := range d.Info().Extents {
		edges = append(edges, e.Start, e.Start+e.Size)
	}
	for _, b := range edges {
		check(b-1, 2)
		check(b-513, 1030)
		check(b-70000, 140000)
		check(b-4096, 8192)
	}
	// The end: partial last grain, EOF.
	check(size-1, 1)
	check(size-100, 4096)
	if n, err := d.ReadAt(make([]byte, 10), size); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at size: n=%d err=%v, want 0, EOF", n, err)
	}
	if _, err := d.ReadAt(make([]byte, 10), -1); err == nil {
		t.Fatal("ReadAt at -1: no error")
	}
	// Concurrent readers share nothing but the caches.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			buf := make([]byte, 200<<10)
			for i := 0; i < 15; i++ {
				off := r.Int64N(size)
				n := 1 + r.IntN(len(buf))
				m, _ := d.ReadAt(buf[:n], off)
				if !bytes.Equal(buf[:m], want[off:off+int64(m)]) {
					errs <- errors.New("concurrent read mismatch")
					return
				}
			}
		}(uint64(w))
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// The allocation map is valid and everything outside it is zero.
	m, err := d.AllocationMap()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(size); err != nil {
		t.Fatal(err)
	}
	var prev int64
	for _, r := range append(m, allocmapEnd(size)) {
		if i := firstNonZero(want[prev:r.Off]); i >= 0 {
			t.Fatalf("byte %d is not zero but outside the allocation map", prev+int64(i))
		}
		prev = r.End()
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

var _ = os.Getpid

func allocmapEnd(size int64) allocmap.Range { return allocmap.Range{Off: size, Len: 0} }
