package vmdk

import (
	"encoding/binary"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// cowdHeader is the ESX sparse ("COWD", vmfsSparse) header, the start of a
// 2048-byte header area.
//
//	off size field
//	  0   4  magic "COWD"
//	  4   4  version (1)
//	  8   4  flags (3)
//	 12   4  numSectors (capacity)
//	 16   4  grainSize (sectors)
//	 20   4  gdOffset (sectors, normally 4)
//	 24   4  numGDEntries
//	 28   4  freeSector (high-water mark)
//	 32 1024 parentFileName (child) / CHS (root), 1056 parentGeneration,
//	1060 generation, 1064 name[60], 1124 description[512],
//	1636 savedGeneration, 1640 reserved, 1648 uncleanShutdown
type cowdHeader struct {
	Magic        [4]byte
	Version      uint32
	Flags        uint32
	NumSectors   uint32
	GrainSize    uint32
	GDOffset     uint32
	NumGDEntries uint32
	FreeSector   uint32
}

var magicCOWD = [4]byte{'C', 'O', 'W', 'D'}

const (
	cowdGTEntries      = 4096
	maxCOWDGrainSector = 1 << 16
)

// cowdExtent reads a COWD extent. Every entry is a u32 sector number; 0
// means "not here, ask the parent". There is no zeroed-grain value.
type cowdExtent struct {
	f          *file
	h          cowdHeader
	size       int64
	grainBytes int64
	cover      int64
	gd         []uint32
	gts        *blockcache.LRU[int64, []uint32]
}

func openCOWD(f *file, size int64, warn func(string)) (*cowdExtent, error) {
	var buf [2048]byte
	if err := f.readFull(buf[:], 0, "COWD header"); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	h := cowdHeader{Version: le.Uint32(buf[4:]), Flags: le.Uint32(buf[8:]), NumSectors: le.Uint32(buf[12:]),
		GrainSize: le.Uint32(buf[16:]), GDOffset: le.Uint32(buf[20:]), NumGDEntries: le.Uint32(buf[24:]), FreeSector: le.Uint32(buf[28:])}
	copy(h.Magic[:], buf[:4])
	if h.Magic != magicCOWD {
		return nil, corrupt(f.name, "COWD header", 0, "magic %q is not COWD", h.Magic[:])
	}
	if h.Version != 1 {
		warn(fmt.Sprintf("%s: COWD version %d (known: 1); reading it the same way", f.name, h.Version))
	}
	if h.GrainSize == 0 || h.GrainSize > maxCOWDGrainSector {
		return nil, corrupt(f.name, "COWD header", 16, "grain size %d sectors outside [1, %d]", h.GrainSize, maxCOWDGrainSector)
	}
	e := &cowdExtent{f: f, h: h, grainBytes: int64(h.GrainSize) * 512}
	e.cover = cowdGTEntries * e.grainBytes
	capBytes := int64(h.NumSectors) * 512
	need := (capBytes + e.cover - 1) / e.cover
	if int64(h.NumGDEntries) < need {
		return nil, corrupt(f.name, "COWD header", 24, "%d grain directory entries cannot cover %d sectors (need %d)", h.NumGDEntries, h.NumSectors, need)
	}
	if int64(h.NumGDEntries)*4 > f.size {
		return nil, corrupt(f.name, "COWD header", 24, "%d grain directory entries do not fit in the %d-byte file", h.NumGDEntries, f.size)
	}
	if size == 0 {
		size = capBytes
	} else if size != capBytes {
		warn(fmt.Sprintf("%s: descriptor says %d bytes, COWD header %d bytes; the part past the header capacity reads as zeros", f.name, size, capBytes))
	}
	e.size = size
	if le.Uint32(buf[1648:]) != 0 {
		warn(fmt.Sprintf("%s: not closed cleanly (uncleanShutdown set); recent writes may be missing", f.name))
	}
	raw := make([]byte, need*4)
	if err := f.readFull(raw, int64(h.GDOffset)*512, "COWD grain directory"); err != nil {
		return nil, err
	}
	e.gd = make([]uint32, need)
	for i := range e.gd {
		e.gd[i] = le.Uint32(raw[4*i:])
	}
	e.gts = blockcache.NewLRU[int64, []uint32](256) // 16 KiB each: 4 MiB
	return e, nil
}

// table returns grain table gdIndex, or nil when it is not allocated.
func (e *cowdExtent) table(gdIndex int64) ([]uint32, error) {
	if gdIndex >= int64(len(e.gd)) || e.gd[gdIndex] == 0 {
		return nil, nil
	}
	sector := e.gd[gdIndex]
	if t, ok := e.gts.Get(int64(sector)); ok {
		return t, nil
	}
	raw := make([]byte, cowdGTEntries*4)
	if err := e.f.readFull(raw, int64(sector)*512, "COWD grain table"); err != nil {
		return nil, err
	}
	t := make([]uint32, cowdGTEntries)
	for i := range t {
		t[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	e.gts.Put(int64(sector), t)
	return t, nil
}

func (e *cowdExtent) gte(off int64) (uint32, error) {
	t, err := e.table(off / e.cover)
	if t == nil || err != nil {
		return 0, err
	}
	return t[(off%e.cover)/e.grainBytes], nil
}

func (e *cowdExtent) lookup(off, limit int64) (int64, runState, error) {
	capBytes := int64(e.h.NumSectors) * 512
	if off >= capBytes {
		return limit, runZero, nil
	}
	limit = min(limit, capBytes-off)
	first, err := e.gte(off)
	if err != nil {
		return min(limit, e.cover-off%e.cover), runData, err
	}
	st := runData
	if first == 0 {
		st = runParent
	}
	grainStart := off - off%e.grainBytes
	n := extendRun(off, e.grainBytes-off%e.grainBytes, limit, e.cover, e.grainBytes, st == runParent, e.table,
		func(g uint32, pos int64) bool {
			return (g == 0) == (st == runParent) && (st != runData || int64(g) == int64(first)+(pos-grainStart)/512)
		})
	return n, st, nil
}

func (e *cowdExtent) read(p []byte, off int64) error {
	g, err := e.gte(off)
	if err != nil {
		return err
	}
	fileOff := int64(g)*512 + off%e.grainBytes
	return e.f.readFull(p, fileOff, "COWD grain")
}
