package ntfs

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf16"

	"www.velocidex.com/golang/go-ntfs/parser"
)

// Attribute types the reader uses.
const (
	attrStandardInformation = 0x10
	attrAttributeList       = 0x20
	attrFileName            = 0x30
	attrData                = 0x80
	attrIndexRoot           = 0x90
	attrIndexAllocation     = 0xA0
	attrBitmap              = 0xB0
	attrReparsePoint        = 0xC0
)

// Flags of a non-resident attribute header (offset 0x0C).
const (
	flagCompressed = 0x0001
	flagEncrypted  = 0x4000
	flagSparse     = 0x8000
)

// Flags of an MFT record header (offset 0x16).
const (
	recordInUse     = 0x0001
	recordDirectory = 0x0002
)

// File attributes of $STANDARD_INFORMATION and $FILE_NAME.
const (
	fileReadOnly = 0x0001
	fileSystem   = 0x0004
)

// maxAttributeList bounds the $ATTRIBUTE_LIST the reader follows: 8192
// entries, each naming an extension record, which is far beyond the most
// fragmented file Windows writes.
const maxAttributeList = 256 << 10

// attribute is one attribute of a file, from its base record or, through
// the attribute list, an extension record. Layout of the header (offsets
// in the attribute): 0x00 type, 0x04 length, 0x08 non-resident flag, 0x09
// name length, 0x0A name offset, 0x0C flags; resident: 0x10 content size,
// 0x14 content offset; non-resident: 0x10 first VCN, 0x18 last VCN, 0x20
// run list offset, 0x22 compression unit (log2 clusters), 0x28 allocated,
// 0x30 data and 0x38 initialized size.
type attribute struct {
	typ      uint32
	name     string
	flags    uint16
	id       uint16 // attribute id, unique in its record
	resident bool
	content  []byte // resident only

	vcnStart, vcnEnd   int64
	dataSize, initSize int64
	cuShift            uint16
	runList            func() []*parser.Run // decodes the run list (go-ntfs)
}

// record is a decoded MFT record. Layout of the header: 0x00 "FILE", 0x04
// update sequence offset and 0x06 count, 0x10 sequence number, 0x12 link
// count, 0x14 first attribute offset, 0x16 flags, 0x18 bytes used, 0x1C
// bytes allocated, 0x20 base record reference (0 for a base record).
type record struct {
	id    int64
	off   int64 // byte offset of the record in the reader; -1 when unknown
	seq   uint16
	flags uint16
	base  uint64
	attrs []attribute
}

func (r *record) inUse() bool  { return r.flags&recordInUse != 0 }
func (r *record) isDir() bool  { return r.flags&recordDirectory != 0 }
func (r *record) what() string { return fmt.Sprintf("MFT record %d", r.id) }

// pieces returns the attributes of one type and name: a resident
// attribute alone, or the pieces of a non-resident one (VCN ranges, one per
// record when it spans several).
func (r *record) pieces(typ uint32, name string) []attribute {
	var out []attribute
	for _, a := range r.attrs {
		if a.typ == typ && a.name == name {
			out = append(out, a)
		}
	}
	return out
}

// streamNames lists the names of the $DATA attributes, "" for the
// unnamed one, once each.
func (r *record) streamNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range r.attrs {
		if a.typ == attrData && !seen[a.name] {
			seen[a.name] = true
			out = append(out, a.name)
		}
	}
	return out
}

// fileName is a $FILE_NAME attribute, in an MFT record or as the key of
// an $I30 index entry. Layout: 0x00 parent reference (48-bit record,
// 16-bit sequence), 0x08 creation, 0x10 modification, 0x18 MFT change,
// 0x20 access time, 0x28 allocated and 0x30 data size, 0x38 file
// attributes, 0x40 name length in UTF-16 units, 0x41 namespace (0 POSIX,
// 1 Win32, 2 DOS, 3 Win32 and DOS), 0x42 name.
type fileName struct {
	parent    int64
	parentSeq uint16
	mtime     time.Time
	attrs     uint32
	namespace uint8
	name      string
}

const namespaceDOS = 2

func decodeFileName(b []byte) (fileName, bool) {
	if len(b) < 0x42 {
		return fileName{}, false
	}
	n := int(b[0x40])
	if 0x42+2*n > len(b) || n == 0 {
		return fileName{}, false
	}
	ref := binary.LittleEndian.Uint64(b)
	return fileName{
		parent:    int64(ref & (1<<48 - 1)),
		parentSeq: uint16(ref >> 48),
		mtime:     filetime(binary.LittleEndian.Uint64(b[0x10:])),
		attrs:     binary.LittleEndian.Uint32(b[0x38:]),
		namespace: b[0x41],
		name:      utf16String(b[0x42 : 0x42+2*n]),
	}, true
}

// names returns the record's $FILE_NAME attributes but the DOS 8.3 ones
// (Windows shows the Win32 name), once each.
func (r *record) names() []fileName {
	var out []fileName
	for _, a := range r.attrs {
		if a.typ != attrFileName || !a.resident {
			continue
		}
		fn, ok := decodeFileName(a.content)
		if !ok || fn.namespace == namespaceDOS {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || (o.parent == fn.parent && o.name == fn.name)
		}
		if !dup {
			out = append(out, fn)
		}
	}
	return out
}

// anyName is the name of a record for a deleted file: a Win32 or POSIX
// name, or the DOS one when it has no other.
func (r *record) anyName() (fileName, bool) {
	if ns := r.names(); len(ns) > 0 {
		return ns[0], true
	}
	for _, a := range r.attrs {
		if a.typ == attrFileName && a.resident {
			if fn, ok := decodeFileName(a.content); ok {
				return fn, true
			}
		}
	}
	return fileName{}, false
}

// standard returns the file attributes and modification time of
// $STANDARD_INFORMATION (0x08 modification time, 0x20 file attributes),
// or those of the first $FILE_NAME when it is missing.
func (r *record) standard() (attrs uint32, mtime time.Time) {
	for _, a := range r.attrs {
		if a.typ == attrStandardInformation && a.resident && len(a.content) >= 0x24 {
			return binary.LittleEndian.Uint32(a.content[0x20:]), filetime(binary.LittleEndian.Uint64(a.content[0x08:]))
		}
	}
	if fn, ok := r.anyName(); ok {
		return fn.attrs, fn.mtime
	}
	return 0, time.Time{}
}

// filetime converts a Windows FILETIME (100 ns since 1601) to a time.
func filetime(ft uint64) time.Time {
	const toUnix = 116444736000000000
	if ft < toUnix || ft > toUnix+(1<<62)/100 {
		return time.Time{}
	}
	return time.Unix(0, int64(ft-toUnix)*100).UTC()
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
