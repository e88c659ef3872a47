package vmdk

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// sparseFile builds a small valid monolithicSparse file by hand (no
// external tool): 1 MiB capacity, 64 KiB grains, 512-entry GTs, a
// redundant GD, the embedded descriptor, grains 0 and 3 allocated.
func sparseFile(t testing.TB) []byte {
	t.Helper()
	le := binary.LittleEndian
	const capSectors = 2048
	b := make([]byte, 512*128+2*65536)
	copy(b, "KDMV")
	le.PutUint32(b[4:], 1)
	le.PutUint32(b[8:], flagNewlineCheck|flagRedundantGD|flagZeroedGrain)
	le.PutUint64(b[12:], capSectors)
	le.PutUint64(b[20:], 128)
	le.PutUint64(b[28:], 1)  // descriptor
	le.PutUint64(b[36:], 20) // sectors
	le.PutUint32(b[44:], 512)
	le.PutUint64(b[48:], 21) // rgd
	le.PutUint64(b[56:], 30) // gd
	le.PutUint64(b[64:], 128)
	copy(b[73:], "\n \r\n")
	copy(b[512:], "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\nRW 2048 SPARSE \"x.vmdk\"\nddb.adapterType = \"ide\"\n")
	le.PutUint32(b[21*512:], 22) // rgd -> rgt at 22
	le.PutUint32(b[30*512:], 31) // gd -> gt at 31
	for _, gt := range []int{22, 31} {
		le.PutUint32(b[gt*512+0:], 128) // grain 0 at sector 128
		le.PutUint32(b[gt*512+12:], 256)
		le.PutUint32(b[gt*512+4:], 1) // grain 1: zeroed
	}
	for i := 0; i < 65536; i++ {
		b[128*512+i] = byte(i)
		b[256*512+i] = byte(i * 7)
	}
	return b
}

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p, err := vmdktest.WriteFile(dir, name, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHandMadeSparse(t *testing.T) {
	b := sparseFile(t)
	want := make([]byte, 1<<20)
	copy(want, b[128*512:128*512+65536])
	copy(want[3*65536:], b[256*512:256*512+65536])
	d, err := Open(writeTemp(t, t.TempDir(), "x.vmdk", b), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conform(t, d, want)
	in := d.Info()
	if in.CreateType != "monolithicSparse" || in.AdapterType != "ide" || in.Chain[0].CID != "12345678" {
		t.Errorf("info: %+v", in)
	}
	m, _ := d.AllocationMap()
	if m.Total() != 2*65536 {
		t.Errorf("allocated %d, want 131072 (the zeroed grain is not data)", m.Total())
	}
}

// TestRedundantGDFallback zeroes the primary GD: the redundant copy serves.
func TestRedundantGDFallback(t *testing.T) {
	b := sparseFile(t)
	want := make([]byte, 1<<20)
	copy(want, b[128*512:128*512+65536])
	copy(want[3*65536:], b[256*512:256*512+65536])
	for _, damage := range []struct {
		name string
		do   func([]byte)
	}{
		{"gd-zeroed", func(b []byte) { clear(b[30*512 : 31*512]) }},
		{"gd-points-past-end", func(b []byte) { binary.LittleEndian.PutUint32(b[30*512:], 0x7FFFFFF0) }},
		{"gd-offset-past-end", func(b []byte) { binary.LittleEndian.PutUint64(b[56:], 1<<40) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			c := append([]byte(nil), b...)
			damage.do(c)
			d, err := Open(writeTemp(t, t.TempDir(), "x.vmdk", c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			got := make([]byte, len(want))
			if _, err := d.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("differs at %d", i)
			}
			if w := d.Warnings(); len(w) == 0 || !strings.Contains(strings.Join(w, "\n"), "redundant") {
				t.Errorf("no warning about the redundant copy: %v", w)
			}
		})
	}
}

// TestHostile: every damaged input gives a typed error naming the
// structure, never a panic, hang or huge allocation.
func TestHostile(t *testing.T) {
	le := binary.LittleEndian
	good := sparseFile(t)
	mod := func(f func(b []byte)) []byte {
		c := append([]byte(nil), good...)
		f(c)
		return c
	}
	cases := []struct {
		name       string
		file       []byte
		is         error
		wantStruct string
		off        int64
	}{
		{"truncated-header", good[:300], ErrCorrupt, "sparse header", 0},
		{"truncated-tables", good[:25*512], ErrCorrupt, "sparse header", 64},
		{"newline-mangled", mod(func(b []byte) { b[75] = '\n' }), ErrCorrupt, "sparse header", 73},
		{"version-9", mod(func(b []byte) { le.PutUint32(b[4:], 9) }), ErrUnsupported, "sparse header", 0},
		{"unknown-incompat-flag", mod(func(b []byte) { le.PutUint32(b[8:], 1<<20) }), ErrUnsupported, "sparse header", 8},
		{"grain-not-power-of-two", mod(func(b []byte) { le.PutUint64(b[20:], 100) }), ErrCorrupt, "sparse header", 20},
		{"grain-absurd", mod(func(b []byte) { le.PutUint64(b[20:], 1<<40) }), ErrCorrupt, "sparse header", 20},
		{"gtes-absurd", mod(func(b []byte) { le.PutUint32(b[44:], 1<<30) }), ErrCorrupt, "sparse header", 44},
		{"capacity-absurd", mod(func(b []byte) { le.PutUint64(b[12:], 1<<62) }), ErrCorrupt, "sparse header", 12},
		{"table-count-beyond-file", mod(func(b []byte) { le.PutUint64(b[12:], 1<<40); le.PutUint32(b[44:], 1) }), ErrCorrupt, "sparse header", 12},
		{"descriptor-past-end", mod(func(b []byte) { le.PutUint64(b[28:], 1<<30) }), ErrCorrupt, "sparse header", 28},
		{"gd-at-end-no-footer", mod(func(b []byte) { le.PutUint64(b[56:], gdAtEnd); le.PutUint32(b[8:], 0) }), ErrCorrupt, "sparse header", -2},
		{"cowd-truncated", []byte("COWD\x01\x00\x00\x00"), ErrCorrupt, "COWD header", 0},
		{"sesparse-truncated", []byte{0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0, 1}, ErrCorrupt, "SESparse header", 0},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(writeTemp(t, dir, c.name+".vmdk", c.file), nil)
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			var fe *ondisk.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v is not a *ondisk.FormatError", err)
			}
			if fe.Struct != c.wantStruct || (c.off != -2 && fe.Off != c.off) {
				t.Errorf("ondisk.FormatError{Struct %q, Off %d}, want {%q, %d}: %v", fe.Struct, fe.Off, c.wantStruct, c.off, err)
			}
		})
	}
	// A GT entry that points past the end fails the read of that grain, and
	// in tolerant mode reads as zeros with a warning.
	bad := mod(func(b []byte) {
		le.PutUint32(b[31*512+8:], 0x00FFFFF0)
		le.PutUint32(b[22*512+8:], 0x00FFFFF0)
	})
	p := writeTemp(t, dir, "gte-past-end.vmdk", bad)
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var fe *ondisk.FormatError
	if _, err := d.ReadAt(make([]byte, 4096), 2*65536); !errors.As(err, &fe) || fe.Struct != "grain" || fe.Off != 0x00FFFFF0*512 {
		t.Errorf("read of a grain past the end: %v", err)
	}
	d.Close()
	d, err = Open(p, &Options{Tolerant: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if _, err := d.ReadAt(buf, 0); err != nil || firstNonZero(buf[2*65536:3*65536]) >= 0 || len(d.Warnings()) == 0 {
		t.Errorf("tolerant read: err %v, warnings %v", err, d.Warnings())
	}
	d.Close()
}

func TestDescriptorHostile(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "data-flat.vmdk", make([]byte, 1<<20))
	sub := filepath.Join(dir, "vm")
	os.Mkdir(sub, 0o755)
	cases := []struct {
		name, text string
		is         error
	}{
		{"climbs-out", "RW 2048 FLAT \"../data-flat.vmdk\" 0\n", ErrPathEscape},
		{"climbs-out-deep", "RW 2048 VMFS \"a/../../x\"\n", ErrPathEscape},
		{"missing-extent", "RW 2048 VMFS \"nothere-flat.vmdk\"\n", ErrExtentMissing},
		{"bad-size", "RW -5 FLAT \"x\" 0\n", ErrCorrupt},
		{"bad-start", "RW 5 FLAT \"x\" zz\n", ErrCorrupt},
		{"unterminated-quote", "RW 5 FLAT \"x 0\n", ErrCorrupt},
		{"no-file", "RW 5 FLAT\n", ErrCorrupt},
		{"unknown-type", "RW 5 VSANSPARSE \"vsan://x\"\n", ErrUnsupported},
		{"short-flat", "RW 4096 FLAT \"../data-flat.vmdk\" 0\n", ErrPathEscape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, sub, c.name+".vmdk", []byte("# Disk DescriptorFile\nversion=1\ncreateType=\"custom\"\n"+c.text))
			_, err := Open(p, nil)
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
		})
	}
	// A flat extent shorter than the descriptor says.
	p := writeTemp(t, dir, "short.vmdk", []byte("RW 4096 FLAT \"data-flat.vmdk\" 0\n"))
	var fe *ondisk.FormatError
	if _, err := Open(p, nil); !errors.As(err, &fe) || fe.Struct != "flat extent" {
		t.Errorf("short flat: %v", err)
	}
	d, err := Open(p, &Options{Tolerant: true})
	if err != nil || d.Size() != 4096*512 || len(d.Warnings()) != 1 {
		t.Fatalf("tolerant short flat: %v", err)
	}
	d.Close()
	// Absolute extent names are looked up by base name next to the descriptor.
	p = writeTemp(t, dir, "abs.vmdk", []byte("RW 2048 VMFS \"/vmfs/volumes/ds1/vm/data-flat.vmdk\"\n"))
	if d, err := Open(p, nil); err != nil || d.Info().Extents[0].File != filepath.Join(dir, "data-flat.vmdk") {
		t.Errorf("absolute extent: %v", err)
	} else {
		d.Close()
	}
}

func TestDeviceBacked(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "rdm-rdmp.vmdk", make([]byte, 512))
	for _, line := range []string{"RW 2048 VMFSRDM \"rdm-rdmp.vmdk\"", "RW 2048 VMFSRAW \"/vmfs/devices/disks/naa.600\"", "RW 2048 FLAT \"/dev/sdb\" 0"} {
		p := writeTemp(t, dir, "rdm.vmdk", []byte("createType=\"vmfsPassthroughRawDeviceMap\"\n"+line+"\n"))
		d, err := Open(p, nil)
		if err != nil {
			t.Fatalf("%s: open: %v", line, err)
		}
		if _, err := d.ReadAt(make([]byte, 512), 0); !errors.Is(err, ErrDeviceBacked) {
			t.Errorf("%s: read err = %v, want ErrDeviceBacked", line, err)
		}
		if in := d.Info(); in.Extents[0].Format != "device" || !strings.Contains(in.Extents[0].Note, "LUN") {
			t.Errorf("%s: info %+v", line, in.Extents[0])
		}
		d.Close()
		d, err = Open(p, &Options{Tolerant: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadAt(make([]byte, 512), 0); err != nil || len(d.Warnings()) != 1 {
			t.Errorf("%s: tolerant: %v %v", line, err, d.Warnings())
		}
		d.Close()
	}
}

func TestChainProblems(t *testing.T) {
	dir := t.TempDir()
	raw := vmdktest.Pattern(1<<20, 5)
	writeTemp(t, dir, "base-flat.vmdk", raw)
	writeTemp(t, dir, "base.vmdk", []byte(vmdktest.Descriptor("vmfs", "VMFS", "base-flat.vmdk", 2048, 0xAAAAAAAA, 0xFFFFFFFF, "")))
	delta := vmdktest.Pattern(1<<20, 6)
	kind := func(g int64) vmdktest.Kind {
		if g%2 == 0 {
			return vmdktest.Data
		}
		return vmdktest.Unallocated
	}
	if err := vmdktest.WriteCOWD(filepath.Join(dir, "c-delta.vmdk"), delta, 1, kind); err != nil {
		t.Fatal(err)
	}
	// CID mismatch: a warning, the data still reads.
	p := writeTemp(t, dir, "c.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "c-delta.vmdk", 2048, 1, 0xBBBBBBBB, "base.vmdk")))
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, vmdktest.Expected(raw, delta, 512, kind))
	if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "parentCID bbbbbbbb") {
		t.Errorf("warnings %v", w)
	}
	d.Close()
	// Parent missing, and no disk of the folder has the CID parentCID
	// names: an error, or zeros for the parent's part when tolerant.
	p = writeTemp(t, dir, "orphan.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "c-delta.vmdk", 2048, 1, 0xCCCCCCCC, "gone.vmdk")))
	if _, err := Open(p, nil); !errors.Is(err, ErrParentMissing) || !strings.Contains(err.Error(), "CID cccccccc") {
		t.Errorf("missing parent: %v", err)
	}
	d, err = Open(p, &Options{Tolerant: true})
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, vmdktest.Expected(nil, delta, 512, kind))
	if in := d.Info(); len(in.Chain) != 1 || !in.Chain[0].ParentMissing {
		t.Errorf("missing parent not in Info: %+v", in.Chain)
	}
	d.Close()
	// Parent hint with a Windows path and an absolute ESXi path: found by base name.
	for _, hint := range []string{`C:\VMs\base.vmdk`, "/vmfs/volumes/5f1e/vm/base.vmdk"} {
		p = writeTemp(t, dir, "hint.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "c-delta.vmdk", 2048, 1, 0xAAAAAAAA, hint)))
		d, err := Open(p, nil)
		if err != nil {
			t.Fatalf("hint %s: %v", hint, err)
		}
		if len(d.Info().Chain) != 2 {
			t.Errorf("hint %s: chain %v", hint, d.Info().Chain)
		}
		d.Close()
	}
	// A loop: a -> b -> a.
	writeTemp(t, dir, "la.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "c-delta.vmdk", 2048, 1, 2, "lb.vmdk")))
	writeTemp(t, dir, "lb.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "c-delta.vmdk", 2048, 2, 1, "la.vmdk")))
	if _, err := Open(filepath.Join(dir, "la.vmdk"), nil); !errors.Is(err, ErrChainLoop) {
		t.Errorf("loop: %v", err)
	}
	// A self-loop.
	writeTemp(t, dir, "self.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "c-delta.vmdk", 2048, 1, 1, "self.vmdk")))
	if _, err := Open(filepath.Join(dir, "self.vmdk"), nil); !errors.Is(err, ErrChainLoop) {
		t.Errorf("self loop: %v", err)
	}
}

func TestRawAndGeneratedDescriptor(t *testing.T) {
	dir := t.TempDir()
	raw := vmdktest.Pattern(3<<20, 8)
	p := writeTemp(t, dir, "lost-flat.vmdk", raw)
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, raw)
	in := d.Info()
	d.Close()
	if in.Kind != "raw" || in.DescriptorName != "lost.vmdk" || !strings.Contains(in.Descriptor, `RW 6144 VMFS "lost-flat.vmdk"`) {
		t.Fatalf("info: %+v", in)
	}
	// The generated descriptor opens, reads the same bytes, and qemu-img
	// accepts it too when installed.
	dp := writeTemp(t, dir, in.DescriptorName, []byte(in.Descriptor))
	d, err = Open(dp, nil)
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, raw)
	d.Close()
	hosted := GenerateFlatDescriptor("lost-flat.vmdk", int64(len(raw)), FlatDescriptorOptions{Hosted: true, AdapterType: "ide"})
	hp := writeTemp(t, dir, "hosted.vmdk", []byte(hosted))
	if d, err := Open(hp, nil); err != nil || d.Size() != int64(len(raw)) {
		t.Fatalf("hosted descriptor: %v", err)
	}
	if _, err := os.Stat("/usr/bin/qemu-img"); err == nil {
		for _, q := range []string{dp, hp} {
			out := q + ".raw"
			run(t, "qemu-img", "convert", "-f", "vmdk", "-O", "raw", q, out)
			got, _ := os.ReadFile(out)
			if firstDiff(got, raw) >= 0 {
				t.Errorf("qemu-img reads %s differently", q)
			}
		}
	}
}

// TestWrongMagicAndMissing: a sparse extent line over a file with no known
// magic, bad SESparse and COWD headers, and a missing extent in tolerant mode.
func TestWrongMagicAndMissing(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	writeTemp(t, dir, "junk", make([]byte, 8192))
	data := vmdktest.Pattern(1<<20, 2)
	all := func(int64) vmdktest.Kind { return vmdktest.Data }
	vmdktest.WriteSESparse(filepath.Join(dir, "se"), data, all)
	vmdktest.WriteCOWD(filepath.Join(dir, "cowd"), data, 1, all)
	se, _ := os.ReadFile(filepath.Join(dir, "se"))
	cowd, _ := os.ReadFile(filepath.Join(dir, "cowd"))
	mut := func(b []byte, f func([]byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	writeTemp(t, dir, "se-v3", mut(se, func(b []byte) { le.PutUint64(b[8:], 0x300000001) }))
	writeTemp(t, dir, "se-grain", mut(se, func(b []byte) { le.PutUint64(b[24:], 16) }))
	writeTemp(t, dir, "se-gd", mut(se, func(b []byte) { le.PutUint64(b[136:], 0) }))
	writeTemp(t, dir, "se-vol", mut(se, func(b []byte) { le.PutUint64(b[512:], 7) }))
	writeTemp(t, dir, "cowd-grain", mut(cowd, func(b []byte) { le.PutUint32(b[16:], 0) }))
	writeTemp(t, dir, "cowd-gd", mut(cowd, func(b []byte) { le.PutUint32(b[24:], 0) }))
	writeTemp(t, dir, "cowd-gdcount", mut(cowd, func(b []byte) { le.PutUint32(b[24:], 1<<30) }))
	for _, c := range []struct {
		file, typ, wantStruct string
		is                    error
	}{
		{"junk", "SPARSE", "sparse extent", ErrCorrupt},
		{"junk", "VMFSSPARSE", "sparse extent", ErrCorrupt},
		{"se-v3", "SESPARSE", "SESparse header", ErrUnsupported},
		{"se-grain", "SESPARSE", "SESparse header", ErrUnsupported},
		{"se-gd", "SESPARSE", "SESparse header", ErrCorrupt},
		{"se-vol", "SESPARSE", "SESparse volatile header", ErrCorrupt},
		{"cowd-grain", "VMFSSPARSE", "COWD header", ErrCorrupt},
		{"cowd-gd", "VMFSSPARSE", "COWD header", ErrCorrupt},
		{"cowd-gdcount", "VMFSSPARSE", "COWD header", ErrCorrupt},
	} {
		p := writeTemp(t, dir, "d.vmdk", []byte("RW 2048 "+c.typ+" \""+c.file+"\"\n"))
		_, err := Open(p, nil)
		var fe *ondisk.FormatError
		if !errors.Is(err, c.is) || !errors.As(err, &fe) || fe.Struct != c.wantStruct {
			t.Errorf("%s as %s: %v", c.file, c.typ, err)
		}
	}
	// Missing extent, tolerant: zeros, reported in Info and Warnings.
	p := writeTemp(t, dir, "m.vmdk", []byte("RW 2048 VMFS \"gone-flat.vmdk\"\nRW 2048 SESPARSE \"se\"\n"))
	d, err := Open(p, &Options{Tolerant: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := append(make([]byte, 1<<20), data...)
	conform(t, d, want)
	if in := d.Info(); in.Extents[0].Format != "missing" || !strings.Contains(in.Extents[0].Note, "extent file missing") || len(in.Warnings) != 1 {
		t.Errorf("info: %+v", in)
	}
}

// Renamed files (ransomware appends an extension; people rename in a
// hurry): a parent missing under its hint is found by the CID its child's
// parentCID names, a missing extent by its name with a suffix, each with a
// warning; two candidates are an error that names both.
func TestRenamedParentAndExtent(t *testing.T) {
	dir := t.TempDir()
	raw := vmdktest.Pattern(1<<20, 7)
	writeTemp(t, dir, "base-flat.vmdk.locked", raw)
	writeTemp(t, dir, "base.vmdk.locked", []byte(vmdktest.Descriptor("vmfs", "VMFS", "base-flat.vmdk", 2048, 0xAAAAAAAA, 0xFFFFFFFF, "")))
	delta := vmdktest.Pattern(1<<20, 8)
	kind := func(g int64) vmdktest.Kind {
		if g%3 == 0 {
			return vmdktest.Data
		}
		return vmdktest.Unallocated
	}
	if err := vmdktest.WriteCOWD(filepath.Join(dir, "vm-000001-delta.vmdk"), delta, 1, kind); err != nil {
		t.Fatal(err)
	}
	child := writeTemp(t, dir, "vm-000001.vmdk", []byte(vmdktest.Descriptor("vmfsSparse", "VMFSSPARSE", "vm-000001-delta.vmdk", 2048, 0xBBBBBBBB, 0xAAAAAAAA, "base.vmdk")))
	d, err := Open(child, nil)
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, vmdktest.Expected(raw, delta, 512, kind))
	w := strings.Join(d.Warnings(), "\n")
	for _, s := range []string{"base.vmdk.locked has the CID aaaaaaaa", "base-flat.vmdk.locked, the same name with a suffix"} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings lack %q:\n%s", s, w)
		}
	}
	d.Close()

	// A flat extent too short for the descriptor is not taken.
	short := t.TempDir()
	writeTemp(t, short, "d-flat.vmdk.x", raw[:4096])
	p := writeTemp(t, short, "d.vmdk", []byte(vmdktest.Descriptor("vmfs", "VMFS", "d-flat.vmdk", 2048, 1, 0xFFFFFFFF, "")))
	if _, err := Open(p, nil); !errors.Is(err, ErrExtentMissing) {
		t.Errorf("short renamed extent: err = %v, want ErrExtentMissing", err)
	}

	// Two disks with the CID: no guess.
	writeTemp(t, dir, "base.vmdk.bak", []byte(vmdktest.Descriptor("vmfs", "VMFS", "base-flat.vmdk", 2048, 0xAAAAAAAA, 0xFFFFFFFF, "")))
	_, err = Open(child, nil)
	if !errors.Is(err, ErrParentMissing) || !strings.Contains(err.Error(), "base.vmdk.bak") || !strings.Contains(err.Error(), "base.vmdk.locked") {
		t.Errorf("two candidates: err = %v, want ErrParentMissing naming both", err)
	}
}

// Grains the guest unmapped in an SESparse snapshot read as zeros, as
// VMware and qemu read them, or with UnmappedFromParent as the parent's
// older data.
func TestSESparseUnmappedFromParent(t *testing.T) {
	dir := t.TempDir()
	base := vmdktest.Pattern(1<<20, 11)
	writeTemp(t, dir, "b-flat.vmdk", base)
	writeTemp(t, dir, "b.vmdk", []byte(vmdktest.Descriptor("vmfs", "VMFS", "b-flat.vmdk", 2048, 0xAAAAAAAA, 0xFFFFFFFF, "")))
	delta := vmdktest.Pattern(1<<20, 12)
	kind := func(g int64) vmdktest.Kind {
		switch g % 3 {
		case 0:
			return vmdktest.Data
		case 1:
			return vmdktest.Unmapped
		}
		return vmdktest.Unallocated
	}
	if err := vmdktest.WriteSESparse(filepath.Join(dir, "s-sesparse.vmdk"), delta, kind); err != nil {
		t.Fatal(err)
	}
	p := writeTemp(t, dir, "s.vmdk", []byte(vmdktest.Descriptor("seSparse", "SESPARSE", "s-sesparse.vmdk", 2048, 1, 0xAAAAAAAA, "b.vmdk")))
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, vmdktest.Expected(base, delta, 4096, kind))
	d.Close()
	fromParent := func(g int64) vmdktest.Kind {
		if k := kind(g); k != vmdktest.Unmapped {
			return k
		}
		return vmdktest.Unallocated
	}
	d, err = Open(p, &Options{UnmappedFromParent: true})
	if err != nil {
		t.Fatal(err)
	}
	conform(t, d, vmdktest.Expected(base, delta, 4096, fromParent))
	d.Close()
}
