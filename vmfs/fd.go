package vmfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// File descriptor types and addressing modes, named for the reader
// (layout: vmfs.md "File descriptors", "Addressing modes").
const (
	typeVolume    = layout.TypeVolume
	typeDirectory = layout.TypeDirectory
	typeRegular   = layout.TypeRegular
	typeSymlink   = layout.TypeSymlink
	typeSystem    = layout.TypeSystem
	typeRDM       = layout.TypeRDM

	zlaFileBlock      = layout.ZLAFileBlock
	zlaSubBlock       = layout.ZLASubBlock
	zlaPointerBlock   = layout.ZLAPointerBlock
	zlaPointerBlock2  = layout.ZLAPointerBlock2
	zlaDoubleIndirect = layout.ZLADoubleIndirect
	zlaResident       = layout.ZLAResident
)

const (
	lockMagicFD  = layout.LockFD
	sIFMT        = 0o170000
	sIFDIR       = 0o040000
	maxFileBytes = 1 << 56 // no VMFS file can be larger (64 TiB volumes)
)

// fileDesc is a decoded file descriptor (FS3_FileMetadata plus its data
// area): an inode.
type fileDesc struct {
	addr       uint32
	vol        int64 // volume offset of the descriptor slot
	generation uint32
	linkCount  uint32
	typ        uint32
	flags      uint32
	length     int64
	blockSize  int64
	numBlocks  int64
	mtime      uint32
	ctime      uint32
	atime      uint32
	uid, gid   uint32
	mode       uint32
	zla        uint32
	numTBZ     uint32
	shift      uint     // log2 of the bytes one block-array entry covers
	parentFD   uint32   // VMFS6 only
	resident   []byte   // data area, for zla resident
	ptrs       []uint64 // the block array up to its last entry in use
}

// fdLayout gives where the parts of a descriptor slot are.
func (v *Volume) fdLayout() layout.FDSlot {
	return layout.FDSlotOf(v.desc.Version() >= 6, v.desc.MDAlignment)
}

// parseFD decodes a descriptor slot read from volume offset vol. addr is
// the address it was reached by (0 when carving).
func (v *Volume) parseFD(slot []byte, vol int64, addr uint32) (*fileDesc, error) {
	lay, f := v.fdLayout(), layout.FDMeta
	// The structure's name is made only for an error: a listing parses a
	// descriptor per file.
	bad := func(format string, args ...any) error {
		return corrupt(fmt.Sprintf("file descriptor %#08x", addr), vol, format, args...)
	}
	if got := layout.Lock.Magic.Get32(slot); got != lockMagicFD {
		return nil, bad("lock magic %#x, want %#x", got, lockMagicFD)
	}
	m := slot[lay.Meta:]
	fd := &fileDesc{
		addr:       f.Addr.Get32(m),
		vol:        vol,
		generation: f.Generation.Get32(m),
		linkCount:  f.Links.Get32(m),
		typ:        f.Type.Get32(m),
		flags:      f.Flags.Get32(m),
		length:     int64(f.Length.Get(m)),
		blockSize:  int64(f.BlockSize.Get(m)),
		numBlocks:  int64(f.Blocks.Get(m)),
		mtime:      f.MTime.Get32(m),
		ctime:      f.CTime.Get32(m),
		atime:      f.ATime.Get32(m),
		uid:        f.UID.Get32(m),
		gid:        f.GID.Get32(m),
		mode:       f.Mode.Get32(m),
		zla:        f.ZLA.Get32(m),
		numTBZ:     f.TBZLo.Get32(m),
	}
	if v.desc.Version() >= 6 {
		fd.parentFD = f.ParentFD.Get32(m)
	}
	if addr != 0 && fd.addr != addr {
		return nil, bad("descriptor records its own address as %#08x", fd.addr)
	}
	if fd.typ < typeVolume || fd.typ > typeRDM {
		return nil, bad("type %d", fd.typ)
	}
	if fd.length < 0 || fd.length > maxFileBytes {
		return nil, bad("length %d out of range", fd.length)
	}
	shift := uint(f.BlockShift.Get(m))
	if shift == 0 { // VMFS3 leaves it 0: index by the block size (vmfs.md: "File descriptors")
		if !isPow2(fd.blockSize) {
			if fd.zla != zlaResident {
				return nil, bad("block size %d is not a power of two", fd.blockSize)
			}
			fd.blockSize = v.desc.SubBlockSize
		}
		shift = uint(bits.TrailingZeros64(uint64(fd.blockSize)))
	}
	if shift < 9 || shift > 40 {
		return nil, bad("block offset shift %d", shift)
	}
	fd.shift = shift
	switch fd.zla {
	case zlaResident:
		if fd.length > lay.DataCap {
			return nil, bad("resident file of %d bytes exceeds the %d-byte data area", fd.length, lay.DataCap)
		}
		fd.resident = append([]byte(nil), slot[lay.Data:lay.Data+fd.length]...)
	case zlaFileBlock, zlaSubBlock, zlaPointerBlock, zlaPointerBlock2, zlaDoubleIndirect:
		// Only up to the last pointer in use: the rest are holes, and a
		// small file's array is mostly empty (v.entry knows the full count).
		arr := slot[lay.Ptrs : lay.Ptrs+lay.PtrCount*lay.PtrSize]
		used := int64(len(bytes.TrimRight(arr, "\x00")))
		fd.ptrs = pointers(arr, (used+lay.PtrSize-1)/lay.PtrSize, lay.PtrSize)
	default:
		if fd.typ != typeRDM {
			return nil, bad("addressing mode %#x: %v", fd.zla, ErrUnsupported)
		}
	}
	return fd, nil
}

// readFD reads the descriptor at addr through .fdc.sf, with caching.
func (v *Volume) readFD(addr uint32) (*fileDesc, error) {
	if fd, ok := v.fdCache.Get(addr); ok {
		return fd, nil
	}
	if addr&7 != addrFD {
		return nil, fmt.Errorf("%w: %#08x is not a file-descriptor address", ErrCorrupt, addr)
	}
	fd, err := v.readFDThroughFDC(addr)
	if err != nil && v.rec != nil {
		// .fdc.sf is damaged or its descriptor moved: use where the scan
		// found a descriptor claiming this address.
		if vol, ok := v.rec.FDs[addr]; ok {
			fd, err = v.readFDAt(vol, addr)
		}
	}
	if err != nil {
		return nil, err
	}
	v.fdCache.Put(addr, fd)
	return fd, nil
}

func (v *Volume) readFDThroughFDC(addr uint32) (*fileDesc, error) {
	if v.fdc == nil {
		return nil, fmt.Errorf("%w: file descriptor %#08x: .fdc.sf is unreadable", ErrCorrupt, addr)
	}
	c, r := fdAddr(addr)
	off, err := v.fdc.resourceOffset(c, r)
	if err != nil {
		return nil, err
	}
	vol, err := v.fileVolOffset(v.fdc.fd, off)
	if err != nil {
		return nil, fmt.Errorf("locating file descriptor %#08x: %w", addr, err)
	}
	return v.readFDAt(vol, addr)
}

func (v *Volume) readFDAt(vol int64, addr uint32) (*fileDesc, error) {
	var fd *fileDesc
	var perr error
	err := v.fdSlot(vol, v.fdLayout().Size, func(slot []byte) { fd, perr = v.parseFD(slot, vol, addr) })
	if err != nil {
		return nil, fmt.Errorf("vmfs: reading file descriptor %#08x at volume offset %#x: %w", addr, vol, err)
	}
	return fd, perr
}

// fdPage is how much of the volume one read around a file descriptor
// takes in: the descriptors after it (32 on VMFS5), which a listing asks
// for next.
const fdPage = 64 << 10

// fdSlot calls use with the size bytes at volume offset vol, read through
// v.fdPages; a slot that straddles a page, or a page that cannot be read
// whole (the end of a truncated volume), is read on its own. use must not
// keep or change the bytes: a cached page is lent to it under v.fdMu, and
// the buffer of a page dropped from the cache is reused for the next one
// read (a 100,000-file listing reads 200 MB of descriptors, which were as
// many megabytes allocated, faulted in and swept).
func (v *Volume) fdSlot(vol, size int64, use func(slot []byte)) error {
	page := vol &^ (fdPage - 1)
	if vol >= 0 && vol+size <= page+fdPage && page+fdPage <= v.lv.Size() {
		in := func(b []byte) []byte { return b[vol-page : vol-page+size : vol-page+size] }
		v.fdMu.Lock()
		if b, ok := v.fdPages.Get(page); ok {
			use(in(b))
			v.fdMu.Unlock()
			return nil
		}
		b := v.fdSpare
		v.fdSpare = nil
		v.fdMu.Unlock()
		if b == nil {
			b = make([]byte, fdPage)
		}
		if _, err := readFull(v.lv, b, page); err == nil {
			v.fdMu.Lock()
			v.fdSpare, _ = v.fdPages.Put(page, b)
			use(in(b))
			v.fdMu.Unlock()
			return nil
		}
	}
	slot := make([]byte, size)
	if _, err := readFull(v.lv, slot, vol); err != nil {
		return err
	}
	use(slot)
	return nil
}

// ptrsPerBlock is the number of pointers in one pointer block (vmfs.md: "Mapping a file offset").
func (v *Volume) ptrsPerBlock() int64 {
	n, _ := layout.PointerBlock(v.desc.Version() >= 6, v.desc.MDAlignment)
	return n
}

// pointerBlock returns the pointers of the pointer block at address a.
func (v *Volume) pointerBlock(a uint64) ([]uint64, error) {
	if pb, ok := v.pbCache.Get(a); ok {
		return pb, nil
	}
	vol, err := v.resourceVol(a)
	if err != nil {
		return nil, fmt.Errorf("pointer block %#x: %w", a, err)
	}
	n, size := layout.PointerBlock(v.desc.Version() >= 6, v.desc.MDAlignment)
	buf := make([]byte, n*size)
	if _, err := readFull(v.lv, buf, vol); err != nil {
		return nil, fmt.Errorf("vmfs: reading pointer block %#x at volume offset %#x: %w", a, vol, err)
	}
	pb := pointers(buf, n, size)
	v.pbCache.Put(a, pb)
	return pb, nil
}

// pointers decodes n little-endian pointers of size bytes (4 or 8) from
// b: an FD's pointer array or a pointer block.
func pointers(b []byte, n, size int64) []uint64 {
	p := make([]uint64, n)
	for i := range p {
		if size == 8 {
			p[i] = binary.LittleEndian.Uint64(b[int64(i)*8:])
		} else {
			p[i] = uint64(binary.LittleEndian.Uint32(b[int64(i)*4:]))
		}
	}
	return p
}

// entry returns the data pointer for block n of fd (vmfs.md: "Mapping a file
// offset"), 0 for a hole.
func (v *Volume) entry(fd *fileDesc, n int64) (uint64, error) {
	P := v.ptrsPerBlock()
	count := v.fdLayout().PtrCount // fd.ptrs leaves out the unused tail
	idx := func(ptrs []uint64, i int64) (uint64, error) {
		if i < 0 || i >= count {
			return 0, corrupt(fmt.Sprintf("file descriptor %#08x", fd.addr), fd.vol,
				"block %d is beyond what addressing mode %#x can reach", n, fd.zla)
		}
		if i >= int64(len(ptrs)) {
			return 0, nil
		}
		return ptrs[i], nil
	}
	switch fd.zla {
	case zlaFileBlock, zlaSubBlock:
		return idx(fd.ptrs, n)
	case zlaPointerBlock, zlaPointerBlock2:
		pb, err := idx(fd.ptrs, n/P)
		if err != nil || pb == 0 {
			return 0, err
		}
		ptrs, err := v.pointerBlock(pb)
		if err != nil {
			return 0, err
		}
		return ptrs[n%P], nil
	case zlaDoubleIndirect:
		p1, err := idx(fd.ptrs, n/(P*P))
		if err != nil || p1 == 0 {
			return 0, err
		}
		l1, err := v.pointerBlock(p1)
		if err != nil {
			return 0, err
		}
		p2 := l1[(n/P)%P]
		if p2 == 0 {
			return 0, nil
		}
		l2, err := v.pointerBlock(p2)
		if err != nil {
			return 0, err
		}
		return l2[n%P], nil
	}
	return 0, fmt.Errorf("%w: addressing mode %#x of file descriptor %#08x", ErrUnsupported, fd.zla, fd.addr)
}

// span is a run of a file: either zeros or bytes at a volume offset.
type span struct {
	zero bool
	vol  int64
	len  int64
}

// locate maps file offset off (< fd.length) to the run that holds it; the
// run ends at the end of its block or of the file.
func (v *Volume) locate(fd *fileDesc, off int64) (span, error) {
	unit := int64(1) << fd.shift
	n := off >> fd.shift
	within := off & (unit - 1)
	e, err := v.entry(fd, n)
	if err != nil {
		return span{}, err
	}
	t, err := v.dataBlock(e)
	if err != nil {
		return span{}, fmt.Errorf("file descriptor %#08x, block %d: %w", fd.addr, n, err)
	}
	if t.size > unit { // a large block covers several addressing units
		within = off % t.size
	}
	run := min(unit-within, fd.length-off)
	if t.size > 0 && t.size-within < run {
		run = t.size - within
	}
	if run <= 0 {
		return span{}, corrupt(fmt.Sprintf("file descriptor %#08x", fd.addr), fd.vol,
			"block %d of %d bytes cannot hold offset %d", n, t.size, within)
	}
	return span{zero: t.zero, vol: t.vol + within, len: run}, nil
}

// fileVolOffset maps an offset of an allocated file (a resource file) to
// the volume; holes are an error there.
func (v *Volume) fileVolOffset(fd *fileDesc, off int64) (int64, error) {
	if fd == nil {
		return 0, fmt.Errorf("%w: resource file descriptor missing", ErrCorrupt)
	}
	if off < 0 || off >= fd.length {
		return 0, fmt.Errorf("%w: offset %#x outside file descriptor %#08x of %d bytes", ErrCorrupt, off, fd.addr, fd.length)
	}
	s, err := v.locate(fd, off)
	if err != nil {
		return 0, err
	}
	if s.zero {
		return 0, fmt.Errorf("%w: offset %#x of system file %#08x is a hole", ErrCorrupt, off, fd.addr)
	}
	return s.vol, nil
}

func unixTime(t uint32) time.Time { return time.Unix(int64(t), 0).UTC() }
