package vmdk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDescriptorVariants(t *testing.T) {
	// CRLF, lower-case keys and access words, quoted and unquoted values,
	// VMDKstream's "Disk Descriptor File" heading, VirtualBox's DDB heading,
	// a file name with spaces, extra fields after the offset, no DDB.
	text := "# Disk Descriptor File\r\nVERSION=1\r\nencoding = \"windows-1252\"\r\ncid=0000abcd\r\nParentCID = ffffffff\r\n" +
		"createtype = \"twoGbMaxExtentFlat\"\r\n\r\n# Extent description\r\n" +
		"rw 4192256 flat \"my disk-f001.vmdk\" 0\r\nRDONLY 100 FLAT \"/dev/sdb\" 63 PARTUUID-x \\\\?\\Volume{1}\r\n" +
		"NOACCESS 8 ZERO\r\n# The disk Data Base\r\nddb.geometry.heads = \"255\"\r\nddb.adapterType=lsilogic\r\n"
	d, err := ParseDescriptor([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.Encoding != "windows-1252" || d.CID != 0xabcd || d.ParentCID != 0xFFFFFFFF || d.CreateType != "twoGbMaxExtentFlat" || d.HasParent() {
		t.Errorf("header: %+v", d)
	}
	want := []ExtentLine{
		{Line: 9, Access: "RW", Sectors: 4192256, Type: "FLAT", File: "my disk-f001.vmdk"},
		{Line: 10, Access: "RDONLY", Sectors: 100, Type: "FLAT", File: "/dev/sdb", Start: 63, Extra: []string{"PARTUUID-x", `\\?\Volume{1}`}},
		{Line: 11, Access: "NOACCESS", Sectors: 8, Type: "ZERO"},
	}
	if !reflect.DeepEqual(d.Extents, want) {
		t.Errorf("extents:\n%+v\nwant\n%+v", d.Extents, want)
	}
	if d.DDB["geometry.heads"] != "255" || d.DDB["adaptertype"] != "lsilogic" {
		t.Errorf("DDB: %v", d.DDB)
	}
	if d.Capacity() != (4192256+100+8)*512 {
		t.Errorf("capacity %d", d.Capacity())
	}
	// Embedded descriptors end at the first NUL.
	d, err = ParseDescriptor([]byte("RW 8 SPARSE \"x\"\n\x00\x00garbage RW 9 ZERO"))
	if err != nil || len(d.Extents) != 1 {
		t.Errorf("NUL end: %v %+v", err, d)
	}
	// A parent.
	d, _ = ParseDescriptor([]byte("parentCID=12345678\nparentFileNameHint=\"../base dir/b.vmdk\"\nRW 8 VMFSSPARSE \"x\"\n"))
	if !d.HasParent() || d.ParentFileNameHint != "../base dir/b.vmdk" || d.ParentCID != 0x12345678 {
		t.Errorf("parent: %+v", d)
	}
	// Junk lines are skipped with a warning; no extent line is not a descriptor.
	d, err = ParseDescriptor([]byte("hello world\nRW 8 ZERO\n"))
	if err != nil || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "line 1") {
		t.Errorf("junk: %v %v", err, d)
	}
	if _, err := ParseDescriptor([]byte("version=1\ncreateType=\"vmfs\"\n")); !errors.Is(err, ErrNotDescriptor) {
		t.Errorf("no extents: %v", err)
	}
	// Sizes that would overflow int64 byte offsets are refused.
	if _, err := ParseDescriptor([]byte("RW 18014398509481984 ZERO\nRW 18014398509481984 ZERO\n")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("overflow: %v", err)
	}
}

func TestLooksLikeDescriptor(t *testing.T) {
	for s, want := range map[string]bool{
		"version=1\nRW 1 ZERO\n":  true,
		"RW 1 ZERO\n\x00\x00\x00": true, // qemu pads to a sector
		"RW 1 ZERO\n\x00\x00x":    false,
		// qemu-img's stray bytes after the NUL of a descriptor it wrote.
		"# Disk DescriptorFile\nRW 1 ZERO\n\x00\n\x00\x00": true,
		"\x00\x00\x00":                     false,
		"":                                 false,
		"\xeb\x63\x90\x10\x8e\xd0\xbc\x00": false, // a boot sector
	} {
		if got := looksLikeDescriptor([]byte(s)); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}

// TestThinAndOtherCreateTypes: createType is reported, never obeyed; the
// ESXi variants qemu refuses open here.
func TestThinAndOtherCreateTypes(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "d-flat.vmdk", make([]byte, 1<<20))
	for _, ct := range []string{"vmfs", "vmfsThin", "vmfsPreallocated", "vmfsEagerZeroedThick", "vmfsThick", "custom", "somethingNew"} {
		p := writeTemp(t, dir, "d.vmdk", []byte("createType=\""+ct+"\"\nRW 2048 VMFS \"d-flat.vmdk\"\nddb.thinProvisioned = \"1\"\n"))
		d, err := Open(p, nil)
		if err != nil {
			t.Fatalf("%s: %v", ct, err)
		}
		if in := d.Info(); in.CreateType != ct || !in.Thin || in.Capacity != 1<<20 {
			t.Errorf("%s: %+v", ct, in)
		}
		d.Close()
	}
}

// A descriptor qemu-img wrote, padded to a sector with a stray "\n" after
// its NUL, opens as the disk it describes, not as a raw disk of 512 bytes
// (a flaky CI failure: the stray bytes come from qemu's buffer).
func TestDescriptorWithStrayPadding(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "d-flat.vmdk", make([]byte, 1<<20))
	text := []byte("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"d-flat.vmdk\" 0\n\x00\n")
	p := writeTemp(t, dir, "d.vmdk", append(text, make([]byte, 512-len(text))...))
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != 1<<20 {
		t.Errorf("size %d, want %d", d.Size(), 1<<20)
	}
}

// TestWindows1252Names: a hosted descriptor in windows-1252 names
// "Données-flat.vmdk" with the byte 0xE9; the copy on Linux has a UTF-8 name.
func TestWindows1252Names(t *testing.T) {
	dir := t.TempDir()
	writeTemp(t, dir, "Données-flat.vmdk", make([]byte, 1<<20))
	p := writeTemp(t, dir, "d.vmdk", []byte("encoding=\"windows-1252\"\nRW 2048 FLAT \"Donn\xe9es-flat.vmdk\" 0\n"))
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := d.Info().Extents[0].File; !strings.HasSuffix(f, "/Données-flat.vmdk") {
		t.Errorf("file %q", f)
	}
	d.Close()
	// Without the encoding line the name stays as written: missing.
	p = writeTemp(t, dir, "d2.vmdk", []byte("RW 2048 FLAT \"Donn\xe9es-flat.vmdk\" 0\n"))
	if _, err := Open(p, nil); !errors.Is(err, ErrExtentMissing) {
		t.Errorf("no encoding: %v", err)
	}
	if s, ok := decodeName("\x80\x9f\xff", "CP1252"); !ok || s != "€Ÿÿ" {
		t.Errorf("decode: %q %v", s, ok)
	}
}

// IsVMDK tells a VMDK from a raw disk as Open does: every file it calls a
// VMDK opens as one, and every other file opens as a raw disk.
func TestIsVMDKAgreesWithOpen(t *testing.T) {
	boot := make([]byte, 4096)
	copy(boot, "\xeb\x63\x90\x10\x8e\xd0\xbc\x00")
	big := bytes.Repeat([]byte("RW 1 ZERO\n"), MaxDescriptorSize/10+1)
	for name, data := range map[string][]byte{
		"desc.vmdk":   []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\nRW 8 ZERO\n"),
		"kdmv.vmdk":   append([]byte("KDMV"), make([]byte, 1020)...),
		"cowd.vmdk":   append([]byte("COWD"), make([]byte, 1020)...),
		"boot.img":    boot,
		"text.img":    big,
		"zeros.img":   make([]byte, 4096),
		"sesparse.vm": append([]byte{0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0}, make([]byte, 1016)...),
	} {
		is, err := IsVMDK(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, data, 0o444)
		d, err := Open(p, nil)
		raw := err == nil && d.Info().Extents[0].Format == "flat" && d.raw
		if err == nil {
			d.Close()
		}
		if is == raw {
			t.Errorf("%s: IsVMDK = %v, but Open gives raw=%v (err %v)", name, is, raw, err)
		}
	}
}
