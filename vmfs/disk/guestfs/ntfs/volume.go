package ntfs

import (
	"bytes"
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
	r       io.ReaderAt
	size    int64
	opts    guestfs.Options
	boot    bootSector
	mft     *stream            // $MFT's unnamed $DATA
	records *blockcache.Reader // mft, cached
	n       int64              // records in $MFT
	profile *parser.NTFSProfile

	mu       sync.Mutex
	warnings []string
	dirs     *blockcache.LRU[int64, *dirList]

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
	v := &FS{r: r, size: size, opts: opts, boot: bs, dirs: newDirCache()}
	if warn != "" {
		v.warn("%s", warn)
	}
	if end := bs.sectors * bs.sectorSize; end > size {
		v.warn("volume of %d bytes in an image of %d: clusters past the end read as errors", end, size)
	}
	v.profile = parser.NewNTFSProfile()
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

// setMFT makes s the stream records are read from, through 4 MiB of
// 64 KiB pages: a listing reads $MFT once, not once a record.
func (v *FS) setMFT(s *stream) {
	v.mft = s
	v.n = s.size / v.boot.recordSize
	if v.records != nil {
		v.records.Close()
	}
	v.records = blockcache.New(s, s.size, 64<<10, 4<<20, blockcache.Options{Name: "$MFT"})
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

// record reads MFT record id through $MFT, with the attributes its
// attribute list places in extension records. It reads the record itself
// rather than through the library's GetMFT, whose cache of 1000 records
// only churns in a listing of 100,000.
func (v *FS) record(id int64) (*record, error) {
	rec, err := v.directRecord(id)
	if err != nil || len(rec.pieces(attrAttributeList, "")) == 0 {
		return rec, err
	}
	if err := v.expandList(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// directRecord reads MFT record id with the attributes it holds itself.
func (v *FS) directRecord(id int64) (*record, error) {
	off := v.recordOffset(id)
	if id < 0 || id >= v.n {
		return nil, corrupt(recordName(id), off, "beyond the %d records of $MFT", v.n)
	}
	return v.readRecord(v.records, id*v.boot.recordSize, id, off)
}

// expandList adds to rec the attributes its $ATTRIBUTE_LIST places in
// extension records, checking that each such record still belongs to rec
// (a deleted file's extension records may have been reused since). An
// entry: 0x00 attribute type, 0x04 entry length, 0x06 name length, 0x07
// name offset, 0x08 first VCN, 0x10 record reference, 0x18 attribute id.
func (v *FS) expandList(rec *record) error {
	s, err := v.openStream(rec.pieces(attrAttributeList, ""), rec.what()+" $ATTRIBUTE_LIST")
	if err != nil {
		return err
	}
	b := make([]byte, min(s.size, maxAttributeList))
	if _, err := s.ReadAt(b, 0); err != nil && err != io.EOF {
		return err
	}
	exts := map[int64]*record{}
	for i := 0; i+0x1A <= len(b); {
		l := int(binary.LittleEndian.Uint16(b[i+4:]))
		if l < 0x1A || l > len(b)-i {
			return corrupt(rec.what(), rec.off, "attribute list entry at %d of %d bytes", i, l)
		}
		typ, ref, attrID := binary.LittleEndian.Uint32(b[i:]), binary.LittleEndian.Uint64(b[i+0x10:]), binary.LittleEndian.Uint16(b[i+0x18:])
		i += l
		extID := int64(ref & (1<<48 - 1))
		if extID == rec.id {
			continue // among the record's own attributes
		}
		ext, ok := exts[extID]
		if !ok {
			if ext, err = v.directRecord(extID); err != nil {
				return err
			}
			if ext.base != uint64(rec.id) {
				return corrupt(rec.what(), rec.off, "attribute list names %s, which belongs to record %d (reused since)", ext.what(), ext.base)
			}
			exts[extID] = ext
		}
		found := false
		for _, a := range ext.attrs {
			if a.typ == typ && a.id == attrID {
				rec.attrs = append(rec.attrs, a)
				found = true
				break
			}
		}
		if !found {
			return corrupt(rec.what(), rec.off, "attribute list names attribute %#x #%d in %s, which lacks it", typ, attrID, ext.what())
		}
	}
	return nil
}

func recordName(id int64) string { return fmt.Sprintf("MFT record %d", id) }

// rawRecord reads the MFT record at byte offset off of the reader, without
// following an attribute list (used before $MFT is known).
func (v *FS) rawRecord(off, id int64) (*record, error) {
	return v.readRecord(v.r, off, id, off)
}

// readRecord reads the record at pos of r (off in the volume's reader, for
// errors), applies its update sequence fixups and decodes its header and
// the attributes it holds. The fixups and attribute headers are decoded
// here, not by go-ntfs: its accessors read and allocate field by field,
// which made most of a listing's time.
func (v *FS) readRecord(r io.ReaderAt, pos, id, off int64) (*record, error) {
	b := make([]byte, v.boot.recordSize)
	if n, err := r.ReadAt(b, pos); n < len(b) {
		return nil, corrupt(recordName(id), off, "short record: %v", err)
	}
	if string(b[:4]) != "FILE" {
		return nil, corrupt(recordName(id), off, "no FILE signature (%q)", b[:4])
	}
	if err := fixup(b, recordName(id), off); err != nil {
		return nil, err
	}
	rec := &record{
		id:    id,
		off:   off,
		seq:   binary.LittleEndian.Uint16(b[0x10:]),
		flags: binary.LittleEndian.Uint16(b[0x16:]),
		base:  binary.LittleEndian.Uint64(b[0x20:]) & (1<<48 - 1),
	}
	used := min(int(binary.LittleEndian.Uint32(b[0x18:])), len(b))
	for at := int(binary.LittleEndian.Uint16(b[0x14:])); at+16 <= used; {
		typ, l := binary.LittleEndian.Uint32(b[at:]), int(binary.LittleEndian.Uint32(b[at+4:]))
		if typ == 0xFFFFFFFF || l < 16 || l > used-at {
			break
		}
		attr := b[at : at+l]
		a := decodeAttribute(attr, func() []*parser.Run {
			return v.profile.NTFS_ATTRIBUTE(bytes.NewReader(attr), 0).RunList()
		})
		if a.typ == attrAttributeList {
			if size := max(int64(len(a.content)), a.dataSize); size > maxAttributeList {
				return nil, corrupt(recordName(id), off, "attribute list of %d bytes", size)
			}
		}
		rec.attrs = append(rec.attrs, a)
		at += l
	}
	return rec, nil
}

// decodeAttribute decodes an attribute from its bytes (header and body);
// runList decodes its run list, when non-resident, on demand.
func decodeAttribute(b []byte, runList func() []*parser.Run) attribute {
	if len(b) < 0x18 {
		return attribute{}
	}
	a := attribute{
		typ:      binary.LittleEndian.Uint32(b),
		flags:    binary.LittleEndian.Uint16(b[0x0C:]),
		id:       binary.LittleEndian.Uint16(b[0x0E:]),
		resident: b[8] == 0,
	}
	if n, at := int(b[9]), int(binary.LittleEndian.Uint16(b[0x0A:])); n > 0 && at+2*n <= len(b) {
		a.name = utf16String(b[at : at+2*n])
	}
	if a.resident {
		size, at := int(binary.LittleEndian.Uint32(b[0x10:])), int(binary.LittleEndian.Uint16(b[0x14:]))
		if at <= len(b) {
			a.content = b[at:min(len(b), at+size)]
		}
		return a
	}
	if len(b) < 0x40 {
		return attribute{}
	}
	a.vcnStart = int64(binary.LittleEndian.Uint64(b[0x10:]))
	a.vcnEnd = int64(binary.LittleEndian.Uint64(b[0x18:]))
	a.cuShift = binary.LittleEndian.Uint16(b[0x22:])
	a.dataSize = int64(binary.LittleEndian.Uint64(b[0x30:]))
	a.initSize = int64(binary.LittleEndian.Uint64(b[0x38:]))
	a.runList = runList
	return a
}
