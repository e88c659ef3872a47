package linuxlvm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

const (
	sectorSize = 512
	// labelScanSectors: the label lies in one of the first four sectors
	// (sector 1 as pvcreate writes it).
	labelScanSectors = 4
	// mdaHeaderSize: the metadata area header; the circular buffer of text
	// follows it.
	mdaHeaderSize = 512
	// maxMetadata bounds the metadata text read from one area (LVM's
	// default area is 1 MiB).
	maxMetadata = 64 << 20
	// maxAreas bounds the lists of data and metadata areas of a PV header.
	maxAreas = 8
)

var (
	labelID   = []byte("LABELONE")
	labelType = []byte("LVM2 001")
	mdaMagic  = []byte(" LVM2 x[5A%r0N*>")
)

// crc is LVM's checksum: CRC-32 (IEEE) from the initial value 0xf597a6cf,
// without the final inversion.
func crc(b []byte) uint32 { return ^crc32.Update(^uint32(0xf597a6cf), crc32.IEEETable, b) }

// label is the label sector (32 bytes of header) and its PV header:
//
//	0  id "LABELONE"         8  sector number of this label (uint64)
//	16 crc of bytes 20..511  20 offset of the PV header in the sector (uint32)
//	24 type "LVM2 001"
//
// PV header: uuid (32 characters, no dashes), device size in bytes
// (uint64), then two lists of {offset, size} (uint64 bytes from the start
// of the device) each ended by a zero entry: the data areas, then the
// metadata areas.
type label struct {
	sector     int64
	uuid       string
	deviceSize int64
	data       []area
	metadata   []area
}

type area struct{ offset, size int64 }

// readLabel finds the label of an LVM2 physical volume. ok is false when
// the device carries none; an error is a label that is damaged.
func readLabel(r io.ReaderAt, size int64) (l *label, ok bool, err error) {
	buf := make([]byte, labelScanSectors*sectorSize)
	n, _ := r.ReadAt(buf, 0)
	for s := int64(0); s < labelScanSectors && (s+1)*sectorSize <= int64(n); s++ {
		b := buf[s*sectorSize : (s+1)*sectorSize]
		if !bytes.Equal(b[:8], labelID) {
			continue
		}
		l, err := decodeLabel(b, s, size)
		return l, true, err
	}
	return nil, false, nil
}

func decodeLabel(b []byte, s, size int64) (*label, error) {
	le := binary.LittleEndian
	off := s * sectorSize
	bad := func(format string, args ...any) error {
		return &ondisk.FormatError{Struct: "LVM label", Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
	}
	if got := int64(le.Uint64(b[8:])); got != s {
		return nil, bad("says it is in sector %d", got)
	}
	if !bytes.Equal(b[24:32], labelType) {
		return nil, &ondisk.FormatError{Struct: "LVM label", Off: off, Msg: fmt.Sprintf("type %q, not LVM2 001", b[24:32]), Err: ErrUnsupported}
	}
	if want, got := le.Uint32(b[16:]), crc(b[20:]); want != got {
		return nil, bad("checksum %#x, computed %#x", want, got)
	}
	h := int(le.Uint32(b[20:]))
	if h < 32 || h+32+8+16 > len(b) {
		return nil, bad("PV header at byte %d of the sector", h)
	}
	l := &label{sector: s, uuid: string(b[h : h+32]), deviceSize: int64(le.Uint64(b[h+32:]))}
	p := h + 40
	for _, list := range []*[]area{&l.data, &l.metadata} {
		for {
			if p+16 > len(b) {
				return nil, bad("area lists run past the sector")
			}
			a := area{int64(le.Uint64(b[p:])), int64(le.Uint64(b[p+8:]))}
			p += 16
			if a.offset == 0 {
				break
			}
			if len(*list) == maxAreas {
				return nil, bad("more than %d areas", maxAreas)
			}
			*list = append(*list, a)
		}
	}
	for _, a := range l.metadata {
		if a.offset < 0 || a.size < mdaHeaderSize || a.offset > size-a.size {
			return nil, bad("metadata area at byte %d of %d bytes lies outside the %d-byte device", a.offset, a.size, size)
		}
	}
	return l, nil
}

// readMetadata reads the newest metadata text of a metadata area. Its
// header:
//
//	0  crc of bytes 4..511   4  magic " LVM2 x[5A%r0N*>"
//	20 version (1)           24 start: the area's offset on the device
//	32 size of the area      40 raw locations: {offset from the area's
//	   start, size, crc of the text, flags} (8+8+4+4 bytes), ended by zeros
//
// The first raw location is the current text. The area after its header
// is a circular buffer: text that runs past the end continues right after
// the header.
func readMetadata(r io.ReaderAt, a area) ([]byte, error) {
	off, size, sum, flags, err := readAreaHeader(r, a)
	if err != nil {
		return nil, err
	}
	bad := func(off int64, st, format string, args ...any) error {
		return &ondisk.FormatError{Struct: st, Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
	}
	switch {
	case off == 0 || size == 0:
		return nil, bad(a.offset, "LVM metadata area header", "holds no metadata")
	case flags&1 != 0: // RAW_LOCN_IGNORED: pvchange --metadataignore
		return nil, bad(a.offset, "LVM metadata area header", "metadata marked ignored")
	case off < mdaHeaderSize || off >= a.size || size > a.size-mdaHeaderSize || size > maxMetadata:
		return nil, bad(a.offset, "LVM metadata area header", "text of %d bytes at %d in a %d-byte area", size, off, a.size)
	}
	text := make([]byte, size)
	first := min(size, a.size-off)
	if _, err := r.ReadAt(text[:first], a.offset+off); err != nil {
		return nil, bad(a.offset+off, "LVM metadata text", "%v", err)
	}
	if first < size {
		if _, err := r.ReadAt(text[first:], a.offset+mdaHeaderSize); err != nil {
			return nil, bad(a.offset+mdaHeaderSize, "LVM metadata text", "%v", err)
		}
	}
	if got := crc(text); got != sum {
		return nil, bad(a.offset+off, "LVM metadata text", "checksum %#x, computed %#x", sum, got)
	}
	return text, nil
}

// readAreaHeader checks a metadata area's header and returns its first
// raw location: the current text's offset in the area, size, checksum and
// flags.
func readAreaHeader(r io.ReaderAt, a area) (off, size int64, sum, flags uint32, err error) {
	le := binary.LittleEndian
	h := make([]byte, mdaHeaderSize)
	bad := func(format string, args ...any) error {
		return &ondisk.FormatError{Struct: "LVM metadata area header", Off: a.offset, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
	}
	if _, err := r.ReadAt(h, a.offset); err != nil {
		return 0, 0, 0, 0, bad("%v", err)
	}
	if !bytes.Equal(h[4:20], mdaMagic) {
		return 0, 0, 0, 0, bad("no magic")
	}
	if want, got := le.Uint32(h), crc(h[4:]); want != got {
		return 0, 0, 0, 0, bad("checksum %#x, computed %#x", want, got)
	}
	if start := int64(le.Uint64(h[24:])); start != a.offset {
		return 0, 0, 0, 0, bad("says it starts at byte %d", start)
	}
	return int64(le.Uint64(h[40:])), int64(le.Uint64(h[48:])), le.Uint32(h[56:]), le.Uint32(h[60:]), nil
}

// canonicalUUID drops the dashes LVM prints in its UUIDs, so that the
// label's form and the metadata's compare.
func canonicalUUID(s string) string { return strings.ReplaceAll(s, "-", "") }

// printUUID writes a 32-character UUID as LVM prints it: 6-4-4-4-4-4-6.
func printUUID(s string) string {
	s = canonicalUUID(s)
	if len(s) != 32 {
		return s
	}
	return s[0:6] + "-" + s[6:10] + "-" + s[10:14] + "-" + s[14:18] + "-" + s[18:22] + "-" + s[22:26] + "-" + s[26:32]
}

// scanMetadata looks for the metadata texts left in the circular buffer
// of a metadata area whose header or current text is damaged: LVM writes
// each new text after the last, so older ones (and often the current one)
// are still there, each starting "NAME {\nid = ". It returns the text of
// the highest seqno that parses, which may be older than the one lost. A
// text at the place a sound header names failed its checksum: it is not
// taken.
func scanMetadata(r io.ReaderAt, a area) ([]byte, *metadataCopy, error) {
	skip := -1
	if off, _, _, _, err := readAreaHeader(r, a); err == nil && off >= mdaHeaderSize && off < a.size {
		skip = int(off - mdaHeaderSize)
	}
	buf := make([]byte, min(a.size, maxMetadata))
	n, _ := r.ReadAt(buf, a.offset)
	ring := buf[min(n, mdaHeaderSize):n]
	var best []byte
	var bestCopy *metadataCopy
	var bestSeq int64 = -1
	mark := []byte(" {\nid = \"")
	for i := 0; ; {
		j := bytes.Index(ring[i:], mark)
		if j < 0 {
			break
		}
		at := i + j
		i = at + len(mark)
		start := at // back over the group's name, to the line's start
		for start > 0 && at-start < 128 && isNameByte(ring[start-1]) {
			start--
		}
		if start == at || start == skip || start > 0 && ring[start-1] != '\n' && ring[start-1] != 0 {
			continue
		}
		end := bytes.IndexByte(ring[start:], 0)
		if end < 0 {
			end = len(ring) - start
		}
		text := ring[start : start+end]
		cfg, err := parseConfig(text)
		if err != nil {
			continue
		}
		vg, err := vgSection(cfg)
		if err != nil {
			continue
		}
		if seq, _ := vg.int("seqno"); seq > bestSeq {
			best, bestCopy, bestSeq = text, &metadataCopy{cfg: cfg, vg: vg}, seq
		}
	}
	if best == nil {
		return nil, nil, &ondisk.FormatError{Struct: "LVM metadata area", Off: a.offset, Msg: "no metadata text found in it", Err: ErrCorrupt}
	}
	return best, bestCopy, nil
}
