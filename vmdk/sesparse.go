package vmdk

import (
	"encoding/binary"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// seSparseHeader is the constant header of a SESparse extent (ESXi 6.5+):
// sector 0, 512 bytes, every field a u64. Regions are (offset, size) pairs
// in sectors.
//
//	  0 magic 0x00000000CAFEBABE     8 version 0x0000000200000001
//	 16 capacity                    24 grainSize (8)
//	 32 grainTableSize (64)         40 flags (0)
//	 48..79 reserved (0)
//	 80 volatileHeader  96 journalHeader  112 journal
//	128 grainDirectory 144 grainTables    160 freeBitmap
//	176 backmap        192 grains
type seSparseHeader struct {
	Magic, Version, Capacity, GrainSize, GrainTableSize, Flags uint64
	Reserved                                                   [4]uint64
	VolatileHeader, JournalHeader, Journal                     region
	GrainDirectory, GrainTables, FreeBitmap, Backmap, Grains   region
}

type region struct{ Offset, Size uint64 }

const (
	seMagic         = 0x00000000CAFEBABE
	seVolatileMagic = 0x00000000CAFECAFE
	seVersion       = 0x0000000200000001
	seGTEntries     = 4096
	seGrainBytes    = 8 * 512
)

// seSparseExtent reads a SESparse extent. Grain directory entries carry a
// grain-table index; table entries a type nibble and a bit-shuffled grain
// index (vmdk.md: "SESparse").
type seSparseExtent struct {
	f     *file
	h     seSparseHeader
	size  int64
	cover int64
	gd    []uint64
	gts   *blockcache.LRU[int64, []uint64]
	// unmappedFromParent reads unmapped grains (type 1) from the parent.
	unmappedFromParent bool
}

func openSESparse(f *file, size int64, warn func(string)) (*seSparseExtent, error) {
	var buf [512]byte
	if err := f.readFull(buf[:], 0, "SESparse header"); err != nil {
		return nil, err
	}
	var w [27]uint64
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	h := seSparseHeader{Magic: w[0], Version: w[1], Capacity: w[2], GrainSize: w[3], GrainTableSize: w[4], Flags: w[5],
		Reserved:       [4]uint64{w[6], w[7], w[8], w[9]},
		VolatileHeader: region{w[10], w[11]}, JournalHeader: region{w[12], w[13]}, Journal: region{w[14], w[15]},
		GrainDirectory: region{w[16], w[17]}, GrainTables: region{w[18], w[19]}, FreeBitmap: region{w[20], w[21]},
		Backmap: region{w[22], w[23]}, Grains: region{w[24], w[25]}}
	bad := func(off int64, format string, a ...any) error {
		return corrupt(f.name, "SESparse header", off, format, a...)
	}
	switch {
	case h.Magic != seMagic:
		return nil, bad(0, "magic 0x%016x is not 0xCAFEBABE", h.Magic)
	case h.Version != seVersion:
		return nil, unsupported(f.name, "SESparse header", 8, "version 0x%016x (known: 2.1)", h.Version)
	case h.GrainSize != 8:
		return nil, unsupported(f.name, "SESparse header", 24, "grain size %d sectors (known: 8)", h.GrainSize)
	case h.GrainTableSize != 64:
		return nil, unsupported(f.name, "SESparse header", 32, "grain table size %d sectors (known: 64)", h.GrainTableSize)
	case h.Flags != 0:
		return nil, unsupported(f.name, "SESparse header", 40, "flags 0x%x (known: 0)", h.Flags)
	case h.Capacity > maxSectors:
		return nil, bad(16, "capacity %d sectors is absurd", h.Capacity)
	}
	if h.Reserved != [4]uint64{} || !allocmap.IsZero(buf[208:]) {
		warn(fmt.Sprintf("%s: SESparse header has non-zero reserved fields or padding (qemu refuses such files); reading it anyway", f.name))
	}
	for i, r := range []region{h.GrainDirectory, h.GrainTables, h.Grains} {
		if r.Offset > maxSectors || r.Size > maxSectors {
			return nil, bad(int64(128+16*i), "region at sector %d of %d sectors is absurd", r.Offset, r.Size)
		}
	}
	e := &seSparseExtent{f: f, h: h, cover: seGTEntries * seGrainBytes}
	capBytes := int64(h.Capacity) * 512
	if size == 0 {
		size = capBytes
	} else if size != capBytes {
		warn(fmt.Sprintf("%s: descriptor says %d bytes, SESparse header %d bytes; the part past the header capacity reads as zeros", f.name, size, capBytes))
	}
	e.size = size
	// Volatile header: a journal that still needs replaying means the
	// metadata may be older than the data.
	if vo := int64(h.VolatileHeader.Offset) * 512; vo > 0 {
		var vb [32]byte
		if err := f.readFull(vb[:], vo, "SESparse volatile header"); err != nil {
			return nil, err
		}
		if m := binary.LittleEndian.Uint64(vb[:]); m != seVolatileMagic {
			return nil, corrupt(f.name, "SESparse volatile header", vo, "magic 0x%016x is not 0xCAFECAFE", m)
		}
		if binary.LittleEndian.Uint64(vb[24:]) != 0 {
			warn(fmt.Sprintf("%s: the SESparse journal holds metadata updates that were never applied; the newest writes may be missing", f.name))
		}
	}
	need := (capBytes + e.cover - 1) / e.cover
	have := int64(h.GrainDirectory.Size) * 512 / 8
	if have < need {
		return nil, bad(136, "grain directory of %d entries cannot cover %d sectors (need %d)", have, h.Capacity, need)
	}
	gdOff := int64(h.GrainDirectory.Offset) * 512
	raw := make([]byte, need*8)
	if err := f.readFull(raw, gdOff, "SESparse grain directory"); err != nil {
		return nil, err
	}
	e.gd = make([]uint64, need)
	for i := range e.gd {
		e.gd[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	e.gts = blockcache.NewLRU[int64, []uint64](128) // 32 KiB each: 4 MiB
	return e, nil
}

// table returns grain table gdIndex, or nil when it is not allocated.
func (e *seSparseExtent) table(gdIndex int64) ([]uint64, error) {
	if gdIndex >= int64(len(e.gd)) || e.gd[gdIndex] == 0 {
		return nil, nil
	}
	gde := e.gd[gdIndex]
	gdeOff := int64(e.h.GrainDirectory.Offset)*512 + gdIndex*8
	if gde>>32 != 0x10000000 {
		return nil, corrupt(e.f.name, "SESparse grain directory entry", gdeOff, "0x%016x lacks the 0x10000000 tag", gde)
	}
	idx := int64(gde & 0xFFFFFFFF)
	if idx*64 >= int64(e.h.GrainTables.Size) {
		return nil, corrupt(e.f.name, "SESparse grain directory entry", gdeOff, "grain table %d outside the table area of %d sectors", idx, e.h.GrainTables.Size)
	}
	if t, ok := e.gts.Get(idx); ok {
		return t, nil
	}
	raw := make([]byte, seGTEntries*8)
	if err := e.f.readFull(raw, (int64(e.h.GrainTables.Offset)+idx*64)*512, "SESparse grain table"); err != nil {
		return nil, err
	}
	t := make([]uint64, seGTEntries)
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	e.gts.Put(idx, t)
	return t, nil
}

// gte returns the raw grain table entry of the grain holding off.
func (e *seSparseExtent) gte(off int64) (uint64, error) {
	t, err := e.table(off / e.cover)
	if t == nil || err != nil {
		return 0, err
	}
	return t[(off%e.cover)/seGrainBytes], nil
}

// decode splits a grain table entry into state and, for data, the byte
// offset of the grain in the file.
func (e *seSparseExtent) decode(g uint64, off int64) (runState, int64, error) {
	switch g >> 60 {
	case 0:
		if g != 0 {
			return 0, 0, corrupt(e.f.name, "SESparse grain table entry", -1, "0x%016x for byte %d: type 0 with bits set", g, off)
		}
		return runParent, 0, nil
	case 1: // unmapped by the guest: zeros for VMware and qemu
		if e.unmappedFromParent {
			return runParent, 0, nil
		}
		return runZero, 0, nil
	case 2: // a zero grain
		return runZero, 0, nil
	case 3:
		idx := int64((g>>48)&0xFFF) | int64(g&0x0000FFFFFFFFFFFF)<<12
		if idx >= maxSectors/8 {
			return 0, 0, corrupt(e.f.name, "SESparse grain table entry", -1, "0x%016x for byte %d: grain index too large", g, off)
		}
		return runData, (int64(e.h.Grains.Offset) + idx*8) * 512, nil
	}
	return 0, 0, corrupt(e.f.name, "SESparse grain table entry", -1, "0x%016x for byte %d: unknown type %d", g, off, g>>60)
}

func (e *seSparseExtent) lookup(off, limit int64) (int64, runState, error) {
	capBytes := int64(e.h.Capacity) * 512
	if off >= capBytes {
		return limit, runZero, nil
	}
	limit = min(limit, capBytes-off)
	g, err := e.gte(off)
	if err != nil {
		return min(limit, e.cover-off%e.cover), runData, err
	}
	st, at, err := e.decode(g, off)
	if err != nil {
		return min(limit, seGrainBytes-off%seGrainBytes), runData, err
	}
	grainStart := off - off%seGrainBytes
	n := extendRun(off, seGrainBytes-off%seGrainBytes, limit, e.cover, seGrainBytes, st == runParent, e.table,
		func(g uint64, pos int64) bool {
			s2, at2, err := e.decode(g, pos)
			return err == nil && s2 == st && (st != runData || at2 == at+pos-grainStart)
		})
	return n, st, nil
}

func (e *seSparseExtent) read(p []byte, off int64) error {
	g, err := e.gte(off)
	if err != nil {
		return err
	}
	_, at, err := e.decode(g, off)
	if err != nil {
		return err
	}
	return e.f.readFull(p, at+off%seGrainBytes, "SESparse grain")
}
