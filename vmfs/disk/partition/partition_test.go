package partition

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// mbrEntry writes one 16-byte MBR entry.
func mbrEntry(b []byte, status, typ byte, start, count uint32) {
	b[0], b[4] = status, typ
	binary.LittleEndian.PutUint32(b[8:], start)
	binary.LittleEndian.PutUint32(b[12:], count)
}

func TestMBRWithLogicalPartitions(t *testing.T) {
	disk := make([]byte, 64<<20)
	mbr := disk[:512]
	mbr[510], mbr[511] = 0x55, 0xAA
	binary.LittleEndian.PutUint32(mbr[0x1B8:], 0xDEADBEEF)
	mbrEntry(mbr[0x1BE:], 0x80, 0xFB, 2048, 20480)
	mbrEntry(mbr[0x1CE:], 0, 0x05, 30720, 100000)
	// EBR 1 at 30720: logical at +2048, link to the next EBR at +40960.
	e1 := disk[30720*512:]
	e1[510], e1[511] = 0x55, 0xAA
	mbrEntry(e1[0x1BE:], 0, 0x83, 2048, 8192)
	mbrEntry(e1[0x1CE:], 0, 0x05, 40960, 20000)
	e2 := disk[(30720+40960)*512:]
	e2[510], e2[511] = 0x55, 0xAA
	mbrEntry(e2[0x1BE:], 0, 0x07, 2048, 4096)

	tab, err := Read(bytes.NewReader(disk), int64(len(disk)))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Scheme != MBR || tab.DiskID != 0xDEADBEEF || len(tab.Partitions) != 4 {
		t.Fatalf("got %+v", tab)
	}
	want := []Partition{
		{Index: 1, Start: 2048 * 512, Size: 20480 * 512, MBRType: 0xFB, Type: "VMFS", Bootable: true},
		{Index: 2, Start: 30720 * 512, Size: 100000 * 512, MBRType: 0x05, Type: "Extended"},
		{Index: 5, Start: (30720 + 2048) * 512, Size: 8192 * 512, MBRType: 0x83, Type: "Linux", Logical: true},
		{Index: 6, Start: (30720 + 40960 + 2048) * 512, Size: 4096 * 512, MBRType: 0x07, Type: "NTFS/exFAT", Logical: true},
	}
	for i, p := range tab.Partitions {
		if p != want[i] {
			t.Errorf("partition %d = %+v, want %+v", i, p, want[i])
		}
	}
	if !tab.Partitions[0].IsVMFS() || tab.Partitions[2].IsVMFS() {
		t.Error("IsVMFS wrong")
	}
	if len(tab.Warnings) != 0 {
		t.Errorf("warnings: %v", tab.Warnings)
	}

	// A loop in the EBR chain ends the chain with a warning.
	mbrEntry(e2[0x1CE:], 0, 0x05, 0, 100) // link back to the first EBR... offset 0 means end
	mbrEntry(e2[0x1CE:], 0, 0x05, 40960, 100)
	tab, err = Read(bytes.NewReader(disk), int64(len(disk)))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Partitions) != 4 || !strings.Contains(strings.Join(tab.Warnings, ";"), "loops") {
		t.Errorf("loop: %d partitions, warnings %v", len(tab.Partitions), tab.Warnings)
	}
}

func TestProtectiveWithoutGPT(t *testing.T) {
	b := make([]byte, 1<<20)
	b[510], b[511] = 0x55, 0xAA
	mbrEntry(b[0x1BE:], 0, 0xEE, 1, 2047)
	tab, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil || tab.Scheme != MBR || len(tab.Warnings) != 1 || tab.Partitions[0].Type != "GPT protective" {
		t.Fatalf("%v %+v", err, tab)
	}
}

func TestNoTable(t *testing.T) {
	for _, size := range []int{100, 512, 1 << 20} {
		_, err := Read(bytes.NewReader(make([]byte, size)), int64(size))
		if !errors.Is(err, ErrNoTable) {
			t.Errorf("size %d: err = %v, want ErrNoTable", size, err)
		}
	}
	// A boot sector with 0x55AA but garbage status bytes is not a table.
	b := make([]byte, 4096)
	b[510], b[511] = 0x55, 0xAA
	mbrEntry(b[0x1BE:], 0x33, 0x07, 1, 2)
	_, err := Read(bytes.NewReader(b), int64(len(b)))
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || fe.Off != 0x1BE || !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want FormatError at 0x1BE", err)
	}
}

// makeGPT builds a GPT disk by hand (sector size ss) with the given entries
// and both header copies.
func makeGPT(size int64, ss int64, parts []Partition) []byte {
	disk := make([]byte, size)
	le := binary.LittleEndian
	disk[510], disk[511] = 0x55, 0xAA
	mbrEntry(disk[0x1BE:], 0, 0xEE, 1, 0xFFFFFFFF)
	ents := make([]byte, 128*128)
	for i, p := range parts {
		e := ents[i*128:]
		g, _ := ParseGUID(p.TypeGUID)
		copy(e, g[:])
		u, _ := ParseGUID(p.GUID)
		copy(e[16:], u[:])
		le.PutUint64(e[32:], uint64(p.Start/ss))
		le.PutUint64(e[40:], uint64(p.End()/ss-1))
		for j, c := range p.Name {
			le.PutUint16(e[56+2*j:], uint16(c))
		}
	}
	last := size/ss - 1
	entSectors := int64(len(ents)) / ss
	write := func(hdrLBA, altLBA, entLBA int64) {
		h := disk[hdrLBA*ss:]
		copy(h, "EFI PART")
		le.PutUint32(h[8:], 0x10000)
		le.PutUint32(h[12:], 92)
		le.PutUint64(h[24:], uint64(hdrLBA))
		le.PutUint64(h[32:], uint64(altLBA))
		le.PutUint64(h[40:], uint64(2+entSectors))
		le.PutUint64(h[48:], uint64(last-1-entSectors))
		g, _ := ParseGUID("11111111-2222-3333-4444-555555555555")
		copy(h[56:], g[:])
		le.PutUint64(h[72:], uint64(entLBA))
		le.PutUint32(h[80:], 128)
		le.PutUint32(h[84:], 128)
		copy(disk[entLBA*ss:], ents)
		le.PutUint32(h[88:], crc32.ChecksumIEEE(ents))
		le.PutUint32(h[16:], 0)
		le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	}
	write(1, last, 2)
	write(last, 1, last-entSectors)
	return disk
}

func TestGPTAndBackup(t *testing.T) {
	for _, ss := range []int64{512, 4096} {
		parts := []Partition{
			{Index: 1, Start: 1 << 20, Size: 4 << 20, Type: "VMFS", TypeGUID: GUIDVMFS, GUID: "0A0B0C0D-0E0F-1011-1213-141516171819", Name: "datastore1"},
			{Index: 2, Start: 5 << 20, Size: 2 << 20, Type: "Linux", TypeGUID: GUIDLinuxData, GUID: "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE", Name: "linux ñ"},
		}
		img := makeGPT(16<<20, ss, parts)
		tab, err := Read(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("ss %d: %v", ss, err)
		}
		if tab.Scheme != GPT || tab.SectorSize != int(ss) || tab.DiskGUID != "11111111-2222-3333-4444-555555555555" || len(tab.Warnings) != 0 {
			t.Fatalf("ss %d: %+v", ss, tab)
		}
		for i, p := range tab.Partitions {
			if p != parts[i] {
				t.Errorf("ss %d: partition %+v, want %+v", ss, p, parts[i])
			}
		}
		// Damage the primary entry array: its CRC fails and the backup is used.
		img[2*ss+40] ^= 0xFF
		tab, err = Read(bytes.NewReader(img), int64(len(img)))
		if err != nil || len(tab.Partitions) != 2 || len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0], "backup") {
			t.Fatalf("ss %d: damaged primary: %v %+v", ss, err, tab)
		}
		// Damage the backup header too: a FormatError naming the primary entries.
		img[int64(len(img))-ss+30] ^= 0xFF
		_, err = Read(bytes.NewReader(img), int64(len(img)))
		var fe *ondisk.FormatError
		if !errors.As(err, &fe) || fe.Struct != "GPT entries" || fe.Off != 2*ss {
			t.Fatalf("ss %d: both damaged: err = %v", ss, err)
		}
	}
}

func TestGPTHostileHeader(t *testing.T) {
	img := makeGPT(4<<20, 512, nil)
	le := binary.LittleEndian
	h := img[512:]
	le.PutUint32(h[80:], 0xFFFFFFFF) // absurd entry count
	le.PutUint32(h[16:], 0)
	le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	// Kill the backup so the primary's error surfaces.
	copy(img[len(img)-512:], "XXXXXXXX")
	_, err := Read(bytes.NewReader(img), int64(len(img)))
	var fe *ondisk.FormatError
	if !errors.As(err, &fe) || fe.Off != 512 || !strings.Contains(fe.Msg, "entries") {
		t.Fatalf("err = %v", err)
	}
}

// TestSfdisk checks tables written by util-linux sfdisk, an independent
// writer, and file systems made by mkfs.ext4 and mkfs.fat inside them.
func TestSfdisk(t *testing.T) {
	for _, tool := range []string{"sfdisk", "mkfs.ext4", "mkfs.fat"} {
		testenv.Tool(t, tool)
	}
	for _, label := range []string{"dos", "gpt"} {
		t.Run(label, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(128 << 20)
			f.Close()
			script := "label: " + label + "\n"
			if label == "dos" {
				script += "start=2048, size=40960, type=83\nstart=43008, size=32768, type=c\nstart=77824, size=100000, type=5\nstart=79872, size=20480, type=fb\n"
			} else {
				script += "start=2048, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n" +
					"start=43008, size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n" +
					"start=77824, size=20480, type=AA31E02A-400F-11DB-9590-000C2911D1B8, name=datastore1\n"
			}
			cmd := exec.Command("sfdisk", "--no-reread", "--no-tell-kernel", img)
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v\n%s", err, out)
			}
			if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "offset="+itoa(2048*512), img, "20480").CombinedOutput(); err != nil {
				t.Fatalf("mkfs.ext4: %v\n%s", err, out)
			}
			if out, err := exec.Command("mkfs.fat", "-F", "32", "--offset", "43008", img, "16384").CombinedOutput(); err != nil {
				t.Fatalf("mkfs.fat: %v\n%s", err, out)
			}
			f, err = os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tab, err := Read(f, 128<<20)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range tab.Partitions {
				got = append(got, itoa(p.Start/512)+"+"+itoa(p.Size/512)+":"+p.Type+":"+p.Name+":"+DetectFS(p.Section(f), p.Size))
			}
			want := map[string]string{
				"dos": "2048+40960:Linux::ext4 43008+32768:FAT32 (LBA)::FAT32 77824+100000:Extended:: 79872+20480:VMFS::",
				"gpt": "2048+40960:Linux:root:ext4 43008+32768:Basic data::FAT32 77824+20480:VMFS:datastore1:",
			}[label]
			if s := strings.Join(got, " "); s != want {
				t.Errorf("got  %s\nwant %s", s, want)
			}
			if len(tab.Warnings) != 0 {
				t.Errorf("warnings: %v", tab.Warnings)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDetectFSRealVMFS reads the first 20 MiB of the real VMFS partition
// images from ../shared/testdata/real.
func TestDetectFSRealVMFS(t *testing.T) {
	for _, name := range []string{"vmfs3", "vmfs5", "vmfs6"} {
		f, err := os.Open(vmfstest.RealFile(t, name+".img.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 20<<20)
		if _, err := io.ReadFull(zr, head); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := DetectFS(bytes.NewReader(head), int64(len(head))); got != FSVMFS {
			t.Errorf("%s: DetectFS = %q, want VMFS", name, got)
		}
		if _, err := Read(bytes.NewReader(head), int64(len(head))); !errors.Is(err, ErrNoTable) {
			t.Errorf("%s: a bare partition image has no table, got %v", name, err)
		}
	}
}

func TestDetectFSSignatures(t *testing.T) {
	put := func(size int, off int, s string) []byte {
		b := make([]byte, size)
		copy(b[off:], s)
		return b
	}
	ext := func(compat, incompat uint32) []byte {
		b := make([]byte, 4096)
		binary.LittleEndian.PutUint16(b[1024+56:], 0xEF53)
		binary.LittleEndian.PutUint32(b[1024+92:], compat)
		binary.LittleEndian.PutUint32(b[1024+96:], incompat)
		return b
	}
	cases := []struct {
		b    []byte
		want string
	}{
		{put(4096, 3, "NTFS    "), FSNTFS},
		{put(4096, 3, "EXFAT   "), FSExFAT},
		{put(4096, 0, "XFSB"), FSXFS},
		{put(4096, 3, "-FVE-FS-"), FSBitLocker},
		{put(0x20000, 0x10040, "_BHRfS_M"), FSBtrfs},
		{put(8192, 4086, "SWAPSPACE2"), FSSwap},
		{put(4096, 512, "LABELONE\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00LVM2 001"), FSLVM2},
		{ext(0, 0), FSExt2},
		{ext(4, 0), FSExt3},
		{ext(4, 0x40), FSExt4},
		{make([]byte, 4096), ""},
		{put(100, 3, "NTFS"), ""}, // too short for the whole magic
	}
	for i, c := range cases {
		if got := DetectFS(bytes.NewReader(c.b), int64(len(c.b))); got != c.want {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}

// FuzzRead: any bytes give a table or an error, never a panic or an
// allocation beyond the bounds; a table holds what checkTable asks.
func FuzzRead(f *testing.F) {
	f.Add(makeGPT(64<<10, 512, []Partition{{Start: 8192, Size: 8192, TypeGUID: GUIDVMFS, GUID: GUIDVMFS}}))
	m := make([]byte, 8192)
	m[510], m[511] = 0x55, 0xAA
	mbrEntry(m[0x1BE:], 0, 0x05, 2, 10)
	mbrEntry(m[0x1CE:], 0, 0x83, 12, 2)
	copy(m[1024+510:], "\x55\xAA")
	mbrEntry(m[1024+0x1BE:], 0, 0x83, 1, 1)
	mbrEntry(m[1024+0x1CE:], 0, 0x05, 0, 1)
	f.Add(m)
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Read(bytes.NewReader(b), int64(len(b)))
		if err == nil && tab == nil {
			t.Fatal("nil table without error")
		}
		if err == nil {
			checkTable(t, tab)
		}
		DetectFS(bytes.NewReader(b), int64(len(b)))
	})
}

// checkTable checks what users of a table rely on, whatever the disk
// claims: sectors of 512 or 4096 bytes, partitions on sector boundaries
// with a size, numbered once each, logical ones from 5.
func checkTable(t *testing.T, tab *Table) {
	if tab.SectorSize != 512 && tab.SectorSize != 4096 {
		t.Fatalf("sector size %d", tab.SectorSize)
	}
	ss := int64(tab.SectorSize)
	seen := map[int]bool{}
	for _, p := range tab.Partitions {
		if p.Index < 1 || seen[p.Index] || (p.Logical && p.Index < 5) {
			t.Fatalf("partition numbers in %+v", tab.Partitions)
		}
		seen[p.Index] = true
		if p.Start < 0 || p.Size <= 0 || p.Start%ss != 0 || p.Size%ss != 0 || p.End() < p.Start {
			t.Fatalf("partition %d at %d, %d bytes, in sectors of %d", p.Index, p.Start, p.Size, ss)
		}
	}
}
