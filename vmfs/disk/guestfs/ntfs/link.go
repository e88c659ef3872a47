package ntfs

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Reparse tags of the links the reader follows.
const (
	tagMountPoint = 0xA0000003 // junction
	tagSymlink    = 0xA000000C
	tagLxSymlink  = 0xA000001D // WSL symbolic link
)

// Reparse tags of files whose data is not in their unnamed stream, which
// reads as zeros or as nothing: Windows decodes it through a filter.
const (
	tagDedup = 0x80000013 // Data Deduplication: the chunk store holds the data
	tagWOF   = 0x80000017 // CompactOS: XPRESS or LZX data in the WofCompressedData stream
	tagCloud = 0x9000001A // OneDrive and other cloud files (0x9000X01A): a placeholder
)

// elsewhere returns ErrUnsupported for a file whose reparse point says
// its data is not in its unnamed stream, rather than let the stream's
// zeros pass for its content.
func elsewhere(rec *record) error {
	rp := rec.pieces(attrReparsePoint, "")
	if len(rp) == 0 || !rp[0].resident || len(rp[0].content) < 4 {
		return nil
	}
	var what string
	switch tag := binary.LittleEndian.Uint32(rp[0].content); {
	case tag == tagDedup:
		what = "deduplicated (its data is in the volume's chunk store)"
	case tag == tagWOF:
		what = "compressed by Windows (WOF, XPRESS or LZX, in its WofCompressedData stream)"
	case tag&0xFFFF0FFF == tagCloud:
		what = "a cloud placeholder (its data is not on the volume)"
	default:
		return nil
	}
	return &ondisk.FormatError{Path: "ntfs", Struct: rec.what(), Off: rec.off, Msg: "file " + what, Err: ErrUnsupported}
}

// interixMagic starts the data of a symbolic link as ntfs-3g writes it by
// default (an Interix/SFU link: a system file holding the UTF-16 target).
const interixMagic = "IntxLNK\x01"

// reparseTarget decodes a $REPARSE_POINT attribute (0x00 tag, 0x04 data
// length, 0x08 data) of a link: for a symbolic link or junction, the data
// holds 0x00 substitute name offset, 0x02 its length, 0x04 print name
// offset, 0x06 its length, then (symbolic link only) 0x08 flags (1:
// relative), then the UTF-16 names; for a WSL link, a version and the
// UTF-8 target. ok is false for other reparse points.
func reparseTarget(b []byte) (target string, ok bool) {
	if len(b) < 8 {
		return "", false
	}
	tag := binary.LittleEndian.Uint32(b)
	data := b[8:min(len(b), 8+int(binary.LittleEndian.Uint16(b[4:])))]
	switch tag {
	case tagLxSymlink:
		if len(data) < 4 {
			return "", false
		}
		return string(data[4:]), true
	case tagSymlink, tagMountPoint:
	default:
		return "", false
	}
	buf, relative := 8, false
	if tag == tagSymlink {
		if len(data) < 12 {
			return "", false
		}
		buf, relative = 12, binary.LittleEndian.Uint32(data[8:])&1 != 0
	}
	if len(data) < buf {
		return "", false
	}
	name := func(off, n uint16) string {
		start, end := buf+int(off), buf+int(off)+int(n)
		if end > len(data) || n%2 != 0 {
			return ""
		}
		return utf16String(data[start:end])
	}
	t := name(binary.LittleEndian.Uint16(data[4:]), binary.LittleEndian.Uint16(data[6:]))
	if t == "" {
		t = strings.TrimPrefix(name(binary.LittleEndian.Uint16(data[0:]), binary.LittleEndian.Uint16(data[2:])), `\??\`)
	}
	if t == "" {
		return "", false
	}
	if relative {
		t = strings.ReplaceAll(t, `\`, "/")
	}
	return t, true
}

// interixTarget decodes the data of an Interix link.
func interixTarget(b []byte) (string, bool) {
	if len(b) < len(interixMagic)+2 || string(b[:len(interixMagic)]) != interixMagic {
		return "", false
	}
	b = b[len(interixMagic):]
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u)), len(u) > 0
}

// linkTarget returns the target of a link record, ok false when it is none.
func (v *FS) linkTarget(rec *record, attrs uint32) (string, bool, error) {
	if rp := rec.pieces(attrReparsePoint, ""); len(rp) > 0 {
		if !rp[0].resident {
			return "", false, nil
		}
		t, ok := reparseTarget(rp[0].content)
		return t, ok, nil
	}
	if attrs&fileSystem == 0 {
		return "", false, nil
	}
	data := rec.pieces(attrData, "")
	if len(data) == 0 {
		return "", false, nil
	}
	s, err := v.openStream(data, rec.what()+" $DATA")
	if err != nil || s.size < int64(len(interixMagic))+2 || s.size > 4096+int64(len(interixMagic)) {
		return "", false, err
	}
	b := make([]byte, s.size)
	if _, err := s.ReadAt(b, 0); err != nil && len(b) > 0 {
		return "", false, err
	}
	t, ok := interixTarget(b)
	return t, ok, nil
}
