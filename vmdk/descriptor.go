package vmdk

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"path"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// MaxDescriptorSize bounds a descriptor's text (qemu reads at most 1 MiB).
const MaxDescriptorSize = 1 << 20

// maxSectors bounds sector counts so that byte offsets never overflow int64.
const maxSectors = 1 << 52 // 2 EiB; two such byte counts still add up inside int64

// Descriptor is the text descriptor of one link (vmdk.md: "Descriptor").
// Keys are matched case-insensitively; values keep their case.
type Descriptor struct {
	Version            int
	Encoding           string
	CID                uint32
	ParentCID          uint32 // 0xFFFFFFFF: no parent
	CreateType         string
	ParentFileNameHint string
	Extents            []ExtentLine
	// DDB holds the ddb.* keys, lower-cased, without the "ddb." prefix.
	DDB map[string]string
	// Other holds the remaining header keys, lower-cased.
	Other map[string]string
	// Warnings lists lines that were skipped.
	Warnings []string
}

// ExtentLine is one extent line: ACCESS SIZE TYPE ["FILE" [START [extra...]]].
type ExtentLine struct {
	Line    int    // 1-based line number in the descriptor
	Access  string // RW, RDONLY, NOACCESS (upper case)
	Sectors int64  // size in 512-byte sectors
	Type    string // FLAT, SPARSE, ZERO, VMFS, VMFSSPARSE, SESPARSE, VMFSRDM, VMFSRAW, ... (upper case)
	File    string // as written (relative to the descriptor, or absolute)
	Start   int64  // start sector inside File (flat kinds)
	Extra   []string
}

// HasParent reports whether the descriptor names a parent link.
func (d *Descriptor) HasParent() bool {
	return d.ParentFileNameHint != "" || (d.ParentCID != 0xFFFFFFFF && d.Other["parentcid"] != "")
}

// Capacity is the sum of the extent sizes in bytes.
func (d *Descriptor) Capacity() int64 {
	var n int64
	for _, e := range d.Extents {
		n += e.Sectors * 512
	}
	return n
}

var accessWords = map[string]bool{"RW": true, "RDONLY": true, "NOACCESS": true}

// ParseDescriptor parses descriptor text (standalone, or the NUL-terminated
// text embedded in a sparse file). It returns an error wrapping
// ErrNotDescriptor when the text has no extent line or is not text, and a
// *ondisk.FormatError naming the line for a malformed extent line.
func ParseDescriptor(b []byte) (*Descriptor, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > MaxDescriptorSize {
		return nil, fmt.Errorf("descriptor of %d bytes is larger than %d: %w", len(b), MaxDescriptorSize, ErrNotDescriptor)
	}
	d := &Descriptor{ParentCID: 0xFFFFFFFF, Version: 1, DDB: map[string]string{}, Other: map[string]string{}}
	var total int64
	for n, line := range strings.Split(string(b), "\n") {
		lineNo := n + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if first, _, _ := strings.Cut(line, " "); accessWords[strings.ToUpper(first)] {
			e, err := parseExtentLine(line, lineNo)
			if err != nil {
				return nil, err
			}
			if total += e.Sectors; total > maxSectors {
				return nil, &ondisk.FormatError{Path: "descriptor", Struct: fmt.Sprintf("line %d", lineNo), Off: -1, Msg: "total size overflows", Err: ErrCorrupt}
			}
			d.Extents = append(d.Extents, e)
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			d.Warnings = append(d.Warnings, fmt.Sprintf("descriptor line %d skipped: %.60q", lineNo, line))
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = unquote(strings.TrimSpace(val))
		switch key {
		case "version":
			v, err := strconv.Atoi(val)
			if err != nil {
				d.Warnings = append(d.Warnings, fmt.Sprintf("descriptor line %d: version %q is not a number", lineNo, val))
				continue
			}
			d.Version = v
		case "encoding":
			d.Encoding = val
		case "cid", "parentcid":
			v, err := strconv.ParseUint(val, 16, 32)
			if err != nil {
				d.Warnings = append(d.Warnings, fmt.Sprintf("descriptor line %d: %s %q is not 8 hex digits", lineNo, key, val))
				continue
			}
			if key == "cid" {
				d.CID = uint32(v)
			} else {
				d.ParentCID = uint32(v)
			}
		case "createtype":
			d.CreateType = val
		case "parentfilenamehint":
			d.ParentFileNameHint = val
		default:
			if k, ok := strings.CutPrefix(key, "ddb."); ok {
				d.DDB[k] = val
				continue
			}
		}
		d.Other[key] = val
	}
	if len(d.Extents) == 0 {
		return nil, fmt.Errorf("no extent lines: %w", ErrNotDescriptor)
	}
	return d, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func parseExtentLine(line string, lineNo int) (ExtentLine, error) {
	bad := func(format string, a ...any) error {
		return &ondisk.FormatError{Path: "descriptor", Struct: fmt.Sprintf("extent line %d", lineNo), Off: -1, Msg: fmt.Sprintf(format, a...), Err: ErrCorrupt}
	}
	e := ExtentLine{Line: lineNo}
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return e, bad("want ACCESS SIZE TYPE, got %q", line)
	}
	e.Access = strings.ToUpper(fields[0])
	n, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || n < 0 || n > maxSectors {
		return e, bad("size %q is not a sector count", fields[1])
	}
	e.Sectors = n
	e.Type = strings.ToUpper(fields[2])
	// The rest starts after the third field; the file name may hold spaces.
	rest := line
	for i := 0; i < 3; i++ {
		rest = strings.TrimLeft(rest, " \t")
		rest = rest[strings.IndexAny(rest+" ", " \t"):]
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		if e.Type != "ZERO" {
			return e, bad("%s extent without a file name", e.Type)
		}
		return e, nil
	}
	if rest[0] == '"' {
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return e, bad("file name has no closing quote")
		}
		e.File, rest = rest[1:1+end], strings.TrimSpace(rest[2+end:])
	} else {
		e.File, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
	}
	if rest != "" {
		more := strings.Fields(rest)
		s, err := strconv.ParseInt(more[0], 10, 64)
		if err != nil || s < 0 || s > maxSectors {
			return e, bad("start sector %q is not a sector number", more[0])
		}
		e.Start = s
		if len(more) > 1 {
			e.Extra = more[1:]
		}
	}
	return e, nil
}

// looksLikeDescriptor reports whether the start of a file is descriptor
// text: printable text, optionally padded with NUL bytes to the end (qemu
// pads descriptor files to a whole sector). Text that opens with the
// descriptor's header line may be followed by anything after its NUL:
// qemu-img leaves stray bytes of its buffer in the padding of some
// descriptors it writes (seen in a monolithicFlat one: "\n\x00\n\x00...").
func looksLikeDescriptor(head []byte) bool {
	text, padding, _ := bytes.Cut(head, []byte{0})
	if len(bytes.TrimSpace(text)) == 0 {
		return false
	}
	for _, c := range text {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	if bytes.HasPrefix(bytes.TrimSpace(text), []byte("# Disk DescriptorFile")) {
		return true
	}
	return len(bytes.Trim(padding, "\x00")) == 0
}

// Geometry is a CHS geometry from the DDB.
type Geometry struct {
	Cylinders int64 `json:"cylinders"`
	Heads     int64 `json:"heads"`
	Sectors   int64 `json:"sectors"`
}

// geometry reads ddb.geometry.* (zero when absent).
func (d *Descriptor) geometry() Geometry {
	atoi := func(k string) int64 { n, _ := strconv.ParseInt(d.DDB[k], 10, 64); return n }
	return Geometry{atoi("geometry.cylinders"), atoi("geometry.heads"), atoi("geometry.sectors")}
}

// FlatDescriptorOptions tune GenerateFlatDescriptor.
type FlatDescriptorOptions struct {
	// ESXi writes createType "vmfs" with a VMFS extent; hosted products
	// write "monolithicFlat" with a FLAT extent and offset 0.
	Hosted bool
	// AdapterType: "lsilogic" (default), "buslogic", "ide", "pvscsi", "lsisas1068".
	AdapterType string
	// ThinProvisioned adds ddb.thinProvisioned = "1".
	ThinProvisioned bool
}

// GenerateFlatDescriptor returns a descriptor that makes the flat extent
// file flatName (a base name, placed next to the descriptor) of size bytes a
// valid VMDK again: the "only -flat.vmdk survived" case. A size that is not
// a multiple of 512 is rounded down, as VMware would never have written it.
func GenerateFlatDescriptor(flatName string, size int64, o FlatDescriptorOptions) string {
	sectors := size / 512
	adapter := o.AdapterType
	if adapter == "" {
		adapter = "lsilogic"
	}
	// The geometry VMware writes for SCSI disks: 255 heads, 63 sectors;
	// IDE disks use 16 heads.
	heads := int64(255)
	if adapter == "ide" {
		heads = 16
	}
	cyl := sectors / (heads * 63)
	if adapter == "ide" && cyl > 16383 {
		cyl = 16383
	}
	createType, extentType, start := "vmfs", "VMFS", ""
	if o.Hosted {
		createType, extentType, start = "monolithicFlat", "FLAT", " 0"
	}
	// A stable CID derived from the name and size, so the same input gives
	// the same descriptor.
	cid := crc32.ChecksumIEEE([]byte(fmt.Sprintf("%s:%d", flatName, size)))
	var b strings.Builder
	fmt.Fprintf(&b, "# Disk DescriptorFile\n# Generated by vmfsrecover for an orphaned flat extent\nversion=1\nencoding=\"UTF-8\"\n")
	fmt.Fprintf(&b, "CID=%08x\nparentCID=ffffffff\ncreateType=\"%s\"\n\n", cid, createType)
	fmt.Fprintf(&b, "# Extent description\nRW %d %s \"%s\"%s\n\n", sectors, extentType, path.Base(flatName), start)
	fmt.Fprintf(&b, "# The Disk Data Base\n#DDB\n\n")
	fmt.Fprintf(&b, "ddb.adapterType = \"%s\"\n", adapter)
	fmt.Fprintf(&b, "ddb.geometry.cylinders = \"%d\"\nddb.geometry.heads = \"%d\"\nddb.geometry.sectors = \"63\"\n", cyl, heads)
	if o.ThinProvisioned {
		fmt.Fprintf(&b, "ddb.thinProvisioned = \"1\"\n")
	}
	fmt.Fprintf(&b, "ddb.virtualHWVersion = \"13\"\n")
	return b.String()
}
