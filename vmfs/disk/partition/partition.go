package partition

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Sentinel errors, for errors.Is.
var (
	// ErrNoTable: neither a valid MBR signature nor a GPT header was found.
	ErrNoTable = errors.New("no partition table")
	// ErrCorrupt: a table was found but cannot be used.
	ErrCorrupt = errors.New("corrupt partition table")
)

// formatError reports a bad structure at byte offset off of the disk as a
// *ondisk.FormatError of class ErrCorrupt.
func formatError(structure string, off int64, msg string) error {
	return &ondisk.FormatError{Struct: structure, Off: off, Msg: msg, Err: ErrCorrupt}
}

// Scheme names the kind of partition table.
type Scheme string

const (
	MBR Scheme = "mbr"
	GPT Scheme = "gpt"
)

// Partition is one entry of a table, in bytes.
type Partition struct {
	Index    int    `json:"index"` // 1-based; MBR logical partitions start at 5
	Start    int64  `json:"start"` // byte offset on the disk
	Size     int64  `json:"size"`  // bytes
	Type     string `json:"type"`  // human-readable type ("VMFS", "Linux", ...)
	MBRType  byte   `json:"mbr_type,omitempty"`
	TypeGUID string `json:"type_guid,omitempty"` // GPT, upper-case canonical form
	GUID     string `json:"guid,omitempty"`      // GPT unique partition GUID
	Name     string `json:"name,omitempty"`      // GPT partition name
	Bootable bool   `json:"bootable,omitempty"`  // MBR status 0x80
	Logical  bool   `json:"logical,omitempty"`   // inside an MBR extended partition
}

// End is the byte offset just past the partition.
func (p Partition) End() int64 { return p.Start + p.Size }

// IsVMFS reports whether the table marks the partition as a VMFS datastore.
func (p Partition) IsVMFS() bool {
	return p.MBRType == 0xFB || p.TypeGUID == GUIDVMFS
}

// Section returns a reader of the partition's bytes on disk r.
func (p Partition) Section(r io.ReaderAt) *io.SectionReader {
	return io.NewSectionReader(r, p.Start, p.Size)
}

// Table is a decoded partition table.
type Table struct {
	Scheme     Scheme      `json:"scheme"`
	SectorSize int         `json:"sector_size"`
	DiskGUID   string      `json:"disk_guid,omitempty"` // GPT
	DiskID     uint32      `json:"disk_id,omitempty"`   // MBR disk signature at 0x1B8
	Partitions []Partition `json:"partitions"`
	// Warnings lists anomalies that did not stop the read: a bad primary
	// GPT, partitions past the end of the disk, overlapping entries.
	Warnings []string `json:"warnings,omitempty"`
}

// Well-known GPT partition type GUIDs.
const (
	GUIDVMFS           = "AA31E02A-400F-11DB-9590-000C2911D1B8"
	GUIDVMFSL          = "4EB2EA39-7855-4790-A79E-FAE495E21F8D" // ESX-OSData (ESXi 7+)
	GUIDVMKDiagnostic  = "9D275380-40AD-11DB-BF97-000C2911D1B8"
	GUIDVMwareReserved = "9198EFFC-31C0-11DB-8F78-000C2911D1B8"
	GUIDEFISystem      = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	GUIDBasicData      = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
	GUIDLinuxData      = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	GUIDLinuxSwap      = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
	GUIDLinuxLVM       = "E6D6D379-F507-44C2-A23C-238F2A3DF928"
	GUIDMSReserved     = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
	GUIDBIOSBoot       = "21686148-6449-6E6F-744E-656564454649"
)

var gptTypeNames = map[string]string{
	GUIDVMFS:           "VMFS",
	GUIDVMFSL:          "VMFS-L",
	GUIDVMKDiagnostic:  "vmkDiagnostic",
	GUIDVMwareReserved: "VMware reserved",
	GUIDEFISystem:      "EFI system",
	GUIDBasicData:      "Basic data",
	GUIDLinuxData:      "Linux",
	GUIDLinuxSwap:      "Linux swap",
	GUIDLinuxLVM:       "Linux LVM",
	GUIDMSReserved:     "Microsoft reserved",
	GUIDBIOSBoot:       "BIOS boot",
}

var mbrTypeNames = map[byte]string{
	0x01: "FAT12", 0x04: "FAT16", 0x05: "Extended", 0x06: "FAT16",
	0x07: "NTFS/exFAT", 0x0B: "FAT32", 0x0C: "FAT32 (LBA)", 0x0E: "FAT16 (LBA)",
	0x0F: "Extended (LBA)", 0x27: "Windows recovery", 0x82: "Linux swap",
	0x83: "Linux", 0x85: "Linux extended", 0x8E: "Linux LVM", 0xEE: "GPT protective",
	0xEF: "EFI system", 0xFB: "VMFS", 0xFC: "vmkcore", 0xFD: "Linux RAID",
}

// TypeName returns a readable name for an MBR type byte.
func TypeName(t byte) string {
	if n, ok := mbrTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("0x%02X", t)
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0F || t == 0x85 }

// maxLogical bounds the EBR chain, which can loop on a damaged disk.
const maxLogical = 128

// Read decodes the partition table of a disk of the given size. A GPT is
// preferred when a protective MBR (or no MBR) is present and a valid GPT
// header exists. It returns ErrNoTable (wrapped) when there is none.
func Read(r io.ReaderAt, size int64) (*Table, error) {
	if size < 512 {
		return nil, fmt.Errorf("disk of %d bytes: %w", size, ErrNoTable)
	}
	var mbr [512]byte
	if _, err := r.ReadAt(mbr[:], 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading MBR: %w", err)
	}
	hasSig := mbr[510] == 0x55 && mbr[511] == 0xAA
	protective := false
	if hasSig {
		for i := 0; i < 4; i++ {
			if mbr[0x1BE+16*i+4] == 0xEE {
				protective = true
			}
		}
	}
	if protective || !hasSig {
		t, gerr := readGPT(r, size)
		if gerr == nil {
			if !protective {
				t.Warnings = append(t.Warnings, "GPT found without a protective MBR")
			}
			return t, nil
		}
		if !hasSig || !errors.Is(gerr, ErrNoTable) {
			if protective || !errors.Is(gerr, ErrNoTable) {
				return nil, gerr
			}
			return nil, fmt.Errorf("no MBR signature at byte 510 and %w", gerr)
		}
	}
	t, err := readMBR(r, size, mbr[:])
	if err == nil && protective {
		t.Warnings = append(t.Warnings, "protective MBR (type 0xEE) but no GPT header at LBA 1 or at the end of the disk")
	}
	return t, err
}

func readMBR(r io.ReaderAt, size int64, mbr []byte) (*Table, error) {
	t := &Table{Scheme: MBR, SectorSize: 512, DiskID: binary.LittleEndian.Uint32(mbr[0x1B8:])}
	var extStart int64 = -1
	for i := 0; i < 4; i++ {
		e := mbr[0x1BE+16*i:]
		typ := e[4]
		start, count := int64(binary.LittleEndian.Uint32(e[8:])), int64(binary.LittleEndian.Uint32(e[12:]))
		if typ == 0 || count == 0 {
			continue
		}
		if e[0] != 0 && e[0] != 0x80 {
			return nil, formatError("MBR", 0x1BE+16*int64(i), fmt.Sprintf("entry %d has status byte 0x%02X (not 0x00 or 0x80): not a partition table", i+1, e[0]))
		}
		p := Partition{Index: i + 1, Start: start * 512, Size: count * 512, MBRType: typ, Type: TypeName(typ), Bootable: e[0] == 0x80}
		t.Partitions = append(t.Partitions, p)
		if isExtended(typ) && extStart < 0 {
			extStart = start
		}
	}
	if extStart >= 0 {
		logical, warn := readEBRChain(r, size, extStart)
		t.Partitions = append(t.Partitions, logical...)
		t.Warnings = append(t.Warnings, warn...)
	}
	t.check(size)
	return t, nil
}

// readEBRChain follows the extended partition's EBRs. Damage ends the
// chain with a warning rather than failing the whole table.
func readEBRChain(r io.ReaderAt, size int64, extStart int64) ([]Partition, []string) {
	var out []Partition
	var warn []string
	seen := map[int64]bool{}
	ebr := extStart
	buf := make([]byte, 512)
	for n := 0; ; n++ {
		off := ebr * 512
		if n >= maxLogical {
			warn = append(warn, fmt.Sprintf("EBR chain longer than %d entries; stopped at byte %d", maxLogical, off))
			break
		}
		if seen[ebr] {
			warn = append(warn, fmt.Sprintf("EBR chain loops back to byte %d", off))
			break
		}
		seen[ebr] = true
		if off+512 > size {
			warn = append(warn, fmt.Sprintf("EBR at byte %d lies past the end of the disk", off))
			break
		}
		if _, err := r.ReadAt(buf, off); err != nil {
			warn = append(warn, fmt.Sprintf("EBR at byte %d: %v", off, err))
			break
		}
		if buf[510] != 0x55 || buf[511] != 0xAA {
			warn = append(warn, fmt.Sprintf("EBR at byte %d has no 0x55AA signature", off))
			break
		}
		e1, e2 := buf[0x1BE:], buf[0x1CE:]
		if typ := e1[4]; typ != 0 {
			start, count := int64(binary.LittleEndian.Uint32(e1[8:])), int64(binary.LittleEndian.Uint32(e1[12:]))
			if count > 0 {
				out = append(out, Partition{Index: 5 + len(out), Start: (ebr + start) * 512, Size: count * 512,
					MBRType: typ, Type: TypeName(typ), Bootable: e1[0] == 0x80, Logical: true})
			}
		}
		next := int64(binary.LittleEndian.Uint32(e2[8:]))
		if e2[4] == 0 || next == 0 {
			break
		}
		ebr = extStart + next
	}
	return out, warn
}

func readGPT(r io.ReaderAt, size int64) (*Table, error) {
	var firstErr error
	for _, ss := range []int64{512, 4096} {
		if size < 3*ss {
			continue
		}
		t, err := readGPTAt(r, size, ss, ss)
		if err == nil {
			return t, nil
		}
		if errors.Is(err, ErrNoTable) {
			// No primary header: a backup alone still counts.
			if t, berr := readGPTAt(r, size, ss, size-ss); berr == nil {
				t.Warnings = append(t.Warnings, fmt.Sprintf("primary GPT header missing at byte %d; used the backup at byte %d", ss, size-ss))
				return t, nil
			}
			continue
		}
		// The primary exists but is damaged: try its backup.
		if firstErr == nil {
			firstErr = err
		}
		if t, berr := readGPTAt(r, size, ss, size-ss); berr == nil {
			t.Warnings = append(t.Warnings, fmt.Sprintf("primary GPT unusable (%v); used the backup", err))
			return t, nil
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, fmt.Errorf("no GPT header at LBA 1: %w", ErrNoTable)
}

// maxEntryBytes bounds the GPT entry array read into memory.
const maxEntryBytes = 1 << 20

func readGPTAt(r io.ReaderAt, size, ss, off int64) (*Table, error) {
	hdr := make([]byte, ss)
	if _, err := r.ReadAt(hdr, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading GPT header at byte %d: %w", off, err)
	}
	if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
		return nil, fmt.Errorf("GPT header at byte %d: %w", off, ErrNoTable)
	}
	le := binary.LittleEndian
	hsize := le.Uint32(hdr[12:])
	if hsize < 92 || int64(hsize) > ss {
		return nil, formatError("GPT header", off, fmt.Sprintf("header size %d outside [92, %d]", hsize, ss))
	}
	h := append([]byte(nil), hdr[:hsize]...)
	want := le.Uint32(h[16:])
	le.PutUint32(h[16:], 0)
	if got := crc32.ChecksumIEEE(h); got != want {
		return nil, formatError("GPT header", off, fmt.Sprintf("header CRC32 0x%08X, computed 0x%08X", want, got))
	}
	lastLBA := size/ss - 1
	firstUsable, lastUsable := int64(le.Uint64(hdr[40:])), int64(le.Uint64(hdr[48:]))
	entLBA := int64(le.Uint64(hdr[72:]))
	nEnt, entSize := int64(le.Uint32(hdr[80:])), int64(le.Uint32(hdr[84:]))
	if entSize < 128 || entSize%8 != 0 || entSize > 4096 {
		return nil, formatError("GPT header", off, fmt.Sprintf("entry size %d not a multiple of 8 in [128, 4096]", entSize))
	}
	if nEnt*entSize > maxEntryBytes {
		return nil, formatError("GPT header", off, fmt.Sprintf("%d entries of %d bytes exceed %d bytes", nEnt, entSize, maxEntryBytes))
	}
	if entLBA < 2 || entLBA > lastLBA || (entLBA*ss+nEnt*entSize) > size {
		return nil, formatError("GPT header", off, fmt.Sprintf("entry array at LBA %d (%d bytes) outside the disk of %d bytes", entLBA, nEnt*entSize, size))
	}
	ents := make([]byte, nEnt*entSize)
	if _, err := r.ReadAt(ents, entLBA*ss); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading GPT entries at byte %d: %w", entLBA*ss, err)
	}
	if got, want := crc32.ChecksumIEEE(ents), le.Uint32(hdr[88:]); got != want {
		return nil, formatError("GPT entries", entLBA*ss, fmt.Sprintf("entry array CRC32 0x%08X, computed 0x%08X", want, got))
	}
	t := &Table{Scheme: GPT, SectorSize: int(ss), DiskGUID: guidString(hdr[56:72])}
	for i := int64(0); i < nEnt; i++ {
		e := ents[i*entSize : (i+1)*entSize]
		tg := guidString(e[0:16])
		if tg == "00000000-0000-0000-0000-000000000000" {
			continue
		}
		first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
		if first < 0 || last < first || last > 1<<62/ss {
			t.Warnings = append(t.Warnings, fmt.Sprintf("GPT entry %d has LBAs %d-%d; skipped", i+1, first, last))
			continue
		}
		if first < firstUsable || last > lastUsable {
			t.Warnings = append(t.Warnings, fmt.Sprintf("GPT entry %d (LBAs %d-%d) outside the usable area %d-%d", i+1, first, last, firstUsable, lastUsable))
		}
		name := utf16Name(e[56:128])
		typ, ok := gptTypeNames[tg]
		if !ok {
			typ = tg
		}
		t.Partitions = append(t.Partitions, Partition{Index: int(i + 1), Start: first * ss, Size: (last - first + 1) * ss,
			Type: typ, TypeGUID: tg, GUID: guidString(e[16:32]), Name: name})
	}
	t.check(size)
	return t, nil
}

// check adds warnings for partitions past the end of the disk or overlapping.
func (t *Table) check(size int64) {
	for i, p := range t.Partitions {
		if p.End() > size {
			t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d (bytes %d-%d) extends past the end of the disk (%d bytes)", p.Index, p.Start, p.End(), size))
		}
		for _, q := range t.Partitions[i+1:] {
			if isExtended(p.MBRType) && q.Logical || isExtended(q.MBRType) && p.Logical {
				continue
			}
			if p.Start < q.End() && q.Start < p.End() {
				t.Warnings = append(t.Warnings, fmt.Sprintf("partitions %d and %d overlap", p.Index, q.Index))
			}
		}
	}
}

// guidString formats a GPT mixed-endian GUID.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return strings.ToUpper(fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b[0:]), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16]))
}

// ParseGUID converts the canonical text form to the on-disk GPT bytes.
func ParseGUID(s string) ([16]byte, error) {
	var g [16]byte
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 || len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("GUID %q: not in the form XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", s)
	}
	// The first three groups are stored little-endian.
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5], g[6], g[7] = raw[5], raw[4], raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g, nil
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
