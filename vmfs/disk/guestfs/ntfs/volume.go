package ntfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// Records of the system files the reader opens.
const (
	recordMFT    = 0
	recordBitmap = 6
	recordRoot   = 5
	firstUser    = 16 // records below are NTFS's own files, hidden from the tree
)

// FS is an NTFS volume opened read-only. It is safe for concurrent use.
type FS struct {
	r    io.ReaderAt
	size int64
	opts guestfs.Options
	boot bootSector
	ctx  *parser.NTFSContext
	mft  *stream // $MFT's unnamed $DATA
	n    int64   // records in $MFT

	mu       sync.Mutex
	warnings []string
	dirs     dirCache

	deletedOnce sync.Once
	deleted     *deletedTree
	deletedErr  error
}

var _ guestfs.FS = (*FS)(nil)

// Open reads the NTFS volume of size bytes in r: its boot sector (or the
// backup at the volume's end) and $MFT's run list (or, when $MFT's first
// record is destroyed, $MFTMirr's copy of it).
func Open(r io.ReaderAt, size int64, opts guestfs.Options) (*FS, error) {
	bs, warn, err := findBoot(r, size)
	if err != nil {
		return nil, err
	}
	v := &FS{r: r, size: size, opts: opts, boot: bs}
	if warn != "" {
		v.warn("%s", warn)
	}
	if end := bs.sectors * bs.sectorSize; end > size {
		v.warn("volume of %d bytes in an image of %d: clusters past the end read as errors", end, size)
	}
	v.ctx = parser.GetNTFSContextFromRawMFT(nil, bs.clusterSize, bs.recordSize)
	v.ctx.DiskReader = r
	if err := v.bootstrapMFT(); err != nil {
		return nil, err
	}
	return v, nil
}

// Type names the file system as partition.DetectFS does.
func (v *FS) Type() string { return "NTFS" }

// Warnings are what the reader met and worked around.
func (v *FS) Warnings() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.warnings...)
}

func (v *FS) warn(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.warnings) < 1000 {
		v.warnings = append(v.warnings, fmt.Sprintf(format, args...))
	}
}

// bootstrapMFT finds $MFT's data: the unnamed $DATA of record 0, read at
// the cluster the boot sector names, or from $MFTMirr when that record is
// destroyed. A large $MFT continues in extension records named by record
// 0's attribute list, which are themselves read through the first piece.
func (v *FS) bootstrapMFT() error {
	cs := v.boot.clusterSize
	rec, err := v.rawRecord(v.boot.mftCluster*cs, recordMFT)
	var first []attribute
	if err == nil {
		first = rec.pieces(attrData, "")
		if len(first) == 0 {
			err = corrupt(rec.what(), rec.off, "$MFT has no $DATA attribute")
		}
	}
	if err != nil {
		mirr, merr := v.rawRecord(v.boot.mirrCluster*cs, recordMFT)
		if merr != nil {
			return err
		}
		if first = mirr.pieces(attrData, ""); len(first) == 0 {
			return err
		}
		v.warn("$MFT record 0 unreadable (%v); its run list taken from $MFTMirr", err)
		rec = mirr
	}
	mft, err := v.openStream(first[:1], "$MFT $DATA")
	if err != nil {
		return err
	}
	v.setMFT(mft)
	if len(rec.pieces(attrAttributeList, "")) == 0 {
		return nil
	}
	// Record 0 again, now that its extension records can be read.
	full, err := v.record(recordMFT)
	if err != nil {
		return err
	}
	if mft, err = v.openStream(full.pieces(attrData, ""), "$MFT $DATA"); err != nil {
		return err
	}
	v.setMFT(mft)
	return nil
}

// setMFT makes s the stream records are read from. The library reads a
// record's header fields one by one before the record itself, each a read
// of the disk: 4 MiB of 64 KiB pages in front of $MFT make a listing of
// 5000 files read $MFT once instead of 30,000 times.
func (v *FS) setMFT(s *stream) {
	v.mft = s
	v.n = s.size / v.boot.recordSize
	if old, ok := v.ctx.MFTReader.(*blockcache.Reader); ok {
		old.Close()
	}
	v.ctx.MFTReader = blockcache.New(s, s.size, 64<<10, 4<<20, blockcache.Options{Name: "$MFT"})
	v.ctx.Purge()
}

// recordOffset returns the byte offset of record id in the reader, -1 when
// $MFT does not map it.
func (v *FS) recordOffset(id int64) int64 {
	if v.mft == nil {
		return -1
	}
	pos := id * v.boot.recordSize
	if v.mft.resident != nil {
		return -1
	}
	i := v.mft.find(pos / v.boot.clusterSize)
	if i == len(v.mft.ext) || v.mft.ext[i].lcn < 0 {
		return -1
	}
	e := v.mft.ext[i]
	return e.lcn*v.boot.clusterSize + pos - e.vcn*v.boot.clusterSize
}

// record reads MFT record id through $MFT, following its attribute list.
// It reads the record itself rather than through the library's GetMFT,
// whose cache of 1000 records only churns in a listing of 100,000; the
// library still caches the extension records an attribute list names.
func (v *FS) record(id int64) (rec *record, err error) {
	off := v.recordOffset(id)
	if id < 0 || id >= v.n {
		return nil, corrupt(recordName(id), off, "beyond the %d records of $MFT", v.n)
	}
	defer guard(&err, id, off)
	e, err := parser.GetFixedUpMFTEntry(v.ctx, v.ctx.MFTReader, id*v.boot.recordSize)
	if err != nil {
		return nil, corrupt(recordName(id), off, "%v", err)
	}
	return v.decodeRecord(e, id, off, true)
}

func recordName(id int64) string { return fmt.Sprintf("MFT record %d", id) }

// rawRecord reads the MFT record at byte offset off of the reader, without
// following an attribute list (used before $MFT is known).
func (v *FS) rawRecord(off, id int64) (rec *record, err error) {
	defer guard(&err, id, off)
	e, err := parser.GetFixedUpMFTEntry(v.ctx, v.r, off)
	if err != nil {
		return nil, corrupt(recordName(id), off, "%v", err)
	}
	return v.decodeRecord(e, id, off, false)
}

// guard turns a panic of the go-ntfs parser on a damaged record into an
// error naming the record.
func guard(err *error, id, off int64) {
	if p := recover(); p != nil {
		*err = corrupt(recordName(id), off, "go-ntfs parser failed: %v", p)
	}
}

func (v *FS) decodeRecord(e *parser.MFT_ENTRY, id, off int64, lists bool) (*record, error) {
	hdr := make([]byte, 0x30)
	if n, _ := e.Reader.ReadAt(hdr, e.Offset); n < len(hdr) {
		return nil, corrupt(recordName(id), off, "short record")
	}
	if string(hdr[:4]) != "FILE" {
		return nil, corrupt(recordName(id), off, "no FILE signature (%q)", hdr[:4])
	}
	rec := &record{
		id:    id,
		off:   off,
		seq:   binary.LittleEndian.Uint16(hdr[0x10:]),
		flags: binary.LittleEndian.Uint16(hdr[0x16:]),
		base:  binary.LittleEndian.Uint64(hdr[0x20:]) & (1<<48 - 1),
	}
	// The library follows an attribute list of any size, one record
	// read per entry: bound it first, reading the record's own attributes.
	attrs := v.directAttributes(e)
	list := false
	for _, a := range attrs {
		if a.Type().Value == attrAttributeList {
			if a.DataSize() > maxAttributeList {
				return nil, corrupt(recordName(id), off, "attribute list of %d bytes", a.DataSize())
			}
			list = true
		}
	}
	if list && lists {
		attrs = e.EnumerateAttributes(v.ctx)
	}
	for _, a := range attrs {
		if a.Type().Value == 0xFFFFFFFF { // the end marker; the library reads on into the slack
			break
		}
		rec.attrs = append(rec.attrs, v.decodeAttribute(a))
	}
	return rec, nil
}

// directAttributes lists the attributes stored in the record itself.
func (v *FS) directAttributes(e *parser.MFT_ENTRY) []*parser.NTFS_ATTRIBUTE {
	var out []*parser.NTFS_ATTRIBUTE
	used := int64(e.Mft_entry_size())
	for off := int64(e.Attribute_offset()); off+16 <= used; {
		a := v.ctx.Profile.NTFS_ATTRIBUTE(e.Reader, e.Offset+off)
		l := int64(a.Length())
		if a.Type().Value == 0xFFFFFFFF || l < 16 || off+l > used {
			break
		}
		out = append(out, a)
		off += l
	}
	return out
}

func (v *FS) decodeAttribute(a *parser.NTFS_ATTRIBUTE) attribute {
	at := attribute{
		typ:      uint32(a.Type().Value),
		name:     a.Name(),
		flags:    uint16(*a.Flags()),
		resident: a.IsResident(),
	}
	if at.resident {
		n := min(int64(a.Content_size()), v.boot.recordSize)
		at.content = make([]byte, n)
		k, _ := a.Reader.ReadAt(at.content, a.Offset+int64(a.Content_offset()))
		at.content = at.content[:k]
		return at
	}
	at.vcnStart = int64(a.Runlist_vcn_start())
	at.vcnEnd = int64(a.Runlist_vcn_end())
	at.dataSize = int64(a.Actual_size())
	at.initSize = int64(a.Initialized_size())
	at.cuShift = a.Compression_unit_size()
	at.runs = a.RunList()
	return at
}
