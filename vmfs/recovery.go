package vmfs

import (
	"fmt"
	"io/fs"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// Recovery carries what a deep scan found, to open a volume whose LVM
// header, descriptor or .fdc.sf is damaged.
type Recovery struct {
	// Descriptor replaces an unreadable file-system descriptor (found
	// elsewhere by the scan, or inferred from surviving system files).
	Descriptor *Descriptor
	// FDs are volume offsets of file descriptors found by the scan, by the
	// address each records for itself; used when .fdc.sf cannot locate one.
	FDs map[uint32]int64
}

// OpenRecovered opens the logical volume lv (for example a section of a
// disk starting at an origin found by a scan) with the help of rec. Missing
// pieces are recorded as anomalies instead of failing; the root directory
// may be unreadable (HasRoot), and files are then reached with OpenFD.
func OpenRecovered(lv Device, rec Recovery, opts Options) (*Volume, error) {
	return openLogical(lv, nil, nil, opts, &rec)
}

// HasRoot reports whether the root directory could be read.
func (v *Volume) HasRoot() bool { return v.root != nil }

// OpenFDAt opens the file descriptor stored at volume offset vol, as a
// scan found it, under the given name.
func (v *Volume) OpenFDAt(vol int64, name string) (*File, error) {
	fd, err := v.readFDAt(vol, 0)
	if err != nil {
		return nil, err
	}
	return &File{v: v, node: node{name: name, fd: fd}}, nil
}

// OpenFD opens the file descriptor at address addr under the given name.
func (v *Volume) OpenFD(addr uint32, name string) (*File, error) {
	fd, err := v.readFD(addr)
	if err != nil {
		return nil, err
	}
	return &File{v: v, node: node{name: name, fd: fd}}, nil
}

// FDAllocated reports whether the .fdc.sf bitmap marks descriptor addr as
// in use; a deleted file's descriptor is marked free (vmfs.md: "Cluster metadata"; 1 = free).
func (v *Volume) FDAllocated(addr uint32) (bool, error) {
	if v.fdc == nil || v.fdc.perGroup == 0 {
		return false, fmt.Errorf("%w: .fdc.sf is unreadable", ErrCorrupt)
	}
	c, r := fdAddr(addr)
	if r >= uint64(v.fdc.perCluster) {
		return false, fmt.Errorf("%w: descriptor %#08x: resource %d of %d", ErrCorrupt, addr, r, v.fdc.perCluster)
	}
	hdr := v.fdc.geometry().ClusterOffset(int64(c))
	v6 := v.desc.Version() >= 6
	meta, bitmap := layout.ClusterMetaOffset(v6, v.desc.MDAlignment), int64(layout.ClusterMeta5.Bitmap.Off)
	if v6 {
		bitmap = int64(layout.ClusterMeta6.Bitmap.Off)
	}
	vol, err := v.fileVolOffset(v.fdc.fd, hdr+meta+bitmap+int64(r/8))
	if err != nil {
		return false, err
	}
	var b [1]byte
	if _, err := readFull(v.lv, b[:], vol); err != nil {
		return false, err
	}
	return b[0]&(1<<(r%8)) == 0, nil
}

// Record is a directory entry with the descriptor it names.
type Record struct {
	Name       string `json:"name"`
	FD         uint32 `json:"fd"`
	Generation uint32 `json:"generation"`
	Type       string `json:"type"`
}

// Records lists a directory's entries with their descriptor addresses.
func (f *File) Records() ([]Record, error) {
	if !isDirFD(f.node.fd) {
		return nil, &fs.PathError{Op: "records", Path: f.node.name, Err: fs.ErrInvalid}
	}
	ents, err := f.v.readDir(f.node.fd)
	if err != nil {
		return nil, err
	}
	return records(ents), nil
}

// SlackRecords lists entries left past the end of a VMFS3/5 directory:
// removing an entry compacts the array and leaves the last 140 bytes
// behind, so deleted files keep their names there until overwritten.
func (f *File) SlackRecords() ([]Record, error) {
	fd := f.node.fd
	if !isDirFD(fd) || f.v.desc.Version() >= 6 || fd.zla == zlaResident {
		return nil, nil
	}
	end := roundUp(fd.length, fd.blockSize)
	if end <= fd.length || end-fd.length > 1<<20 {
		return nil, nil
	}
	slack := make([]byte, end-fd.length)
	big := *fd
	big.length = end
	if _, err := f.v.readFileAt(&big, slack, fd.length); err != nil {
		return nil, err
	}
	// Entries are 140-byte aligned from the directory's start.
	skip := (dirent5Size - fd.length%dirent5Size) % dirent5Size
	return records(parseDir5(slack[min(skip, int64(len(slack))):])), nil
}

func records(ents []dirent) []Record {
	out := make([]Record, 0, len(ents))
	for _, d := range ents {
		out = append(out, Record{Name: d.name, FD: d.addr, Generation: d.generation, Type: typeName(min(d.typ, typeRDM))})
	}
	return out
}

// FDInfo is what a descriptor says about itself, for scan findings.
type FDInfo struct {
	Addr       uint32 `json:"addr"`
	SelfOffset int64  `json:"self_offset"` // volume offset the lock block records
	Type       string `json:"type"`
	Length     int64  `json:"length"`
	Generation uint32 `json:"generation"`
	ParentFD   uint32 `json:"parent_fd,omitempty"`
	MTime      uint32 `json:"mtime"`
	VMFS6      bool   `json:"vmfs6"`
	MDAlign    int64  `json:"md_alignment,omitempty"` // VMFS6: where the metadata block was found
	BlockSize  int64  `json:"block_size"`
}

// CarveFD checks whether b (starting at a 512-byte boundary) holds a file
// descriptor: the FD lock magic, then metadata that names itself with an
// FD address, a known type and a power-of-two block size. VMFS6 metadata
// sits one metadata block after the lock and carries the "fdmd" signature.
func CarveFD(b []byte) (FDInfo, bool) {
	f := layout.FDMeta
	if len(b) < 0x400 || layout.Lock.Magic.Get32(b) != lockMagicFD {
		return FDInfo{}, false
	}
	self := int64(layout.Lock.Self.Get(b))
	try := func(meta int64, v6 bool) (FDInfo, bool) {
		if int64(len(b)) < meta+layout.FDMetaSize {
			return FDInfo{}, false
		}
		m := b[meta:]
		typ := f.Type.Get32(m)
		info := FDInfo{
			Addr: f.Addr.Get32(m), SelfOffset: self, Type: typeName(min(typ, typeRDM)),
			Length: int64(f.Length.Get(m)), Generation: f.Generation.Get32(m), MTime: f.MTime.Get32(m),
			BlockSize: int64(f.BlockSize.Get(m)), VMFS6: v6,
		}
		if info.Addr&7 != addrFD || typ < typeVolume || typ > typeRDM || info.Length < 0 || info.Length > maxFileBytes {
			return FDInfo{}, false
		}
		if !isPow2(info.BlockSize) && f.ZLA.Get32(m) != zlaResident {
			return FDInfo{}, false
		}
		if v6 {
			info.ParentFD = f.ParentFD.Get32(m)
			info.MDAlign = meta
		}
		return info, true
	}
	sig := int64(f.Signature.Off)
	for meta := int64(0x1000); meta <= 0x10000; meta *= 2 {
		if int64(len(b)) >= meta+sig+4 && f.Signature.Get32(b[meta:]) == layout.FDSignature {
			return try(meta, true)
		}
	}
	return try(layout.FDSlotOf(false, 0).Meta, false)
}

// FDLocation is the volume offset where .fdc.sf places descriptor addr. A
// descriptor found elsewhere that claims the same address is a stale copy
// (for example from the file system this volume was formatted over).
func (v *Volume) FDLocation(addr uint32) (int64, error) {
	if v.fdc == nil {
		return 0, fmt.Errorf("%w: .fdc.sf is unreadable", ErrCorrupt)
	}
	c, r := fdAddr(addr)
	off, err := v.fdc.resourceOffset(c, r)
	if err != nil {
		return 0, err
	}
	return v.fileVolOffset(v.fdc.fd, off)
}

// Attributes returns the VMFS attributes of an open file.
func (f *File) Attributes() *Attributes { return &f.v.fileInfo(f.node).attrs }

// Locate returns the volume offset holding byte off of the file, or hole
// set when that byte has no storage (a hole or a to-be-zeroed block).
func (f *File) Locate(off int64) (vol int64, hole bool, err error) {
	fd := f.node.fd
	if off < 0 || off >= fd.length {
		return 0, false, fmt.Errorf("vmfs: offset %d outside a file of %d bytes", off, fd.length)
	}
	if fd.zla == zlaResident {
		return fd.vol + f.v.fdLayout().Data + off, false, nil
	}
	s, err := f.v.locate(fd, off)
	return s.vol, s.zero, err
}
