package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Classes of the errors, found with errors.Is through *ondisk.FormatError.
var (
	ErrNotFAT  = errors.New("not a FAT file system")
	ErrCorrupt = errors.New("corrupt FAT file system")
)

// MaxFATBytes bounds the FAT table held in memory (a 4 GB FAT32 bootbank
// with 4 KB clusters needs 4 MB; a 1 TB FAT32 volume with 32 KB clusters
// 128 MB).
const MaxFATBytes = 256 << 20

func formatErr(st string, off int64, class error, format string, args ...any) error {
	return &ondisk.FormatError{Struct: "FAT " + st, Off: off, Msg: fmt.Sprintf(format, args...), Err: class}
}

// FS is a FAT volume. It implements guestfs.FS.
type FS struct {
	guestfs.Tree[*entry] // ReadDir, Stat, Lstat, ReadLink
	r                    io.ReaderAt
	size                 int64
	opts                 guestfs.Options
	Bits                 int // 12, 16 or 32
	Label                string
	VMware               bool // "VMWARE FAT16" signature at byte 512
	sectorSize           int64
	clusterSize          int64
	fatOff               int64
	rootOff              int64 // FAT12/16 fixed root directory
	rootSize             int64
	rootCluster          uint32 // FAT32
	dataOff              int64
	clusters             uint32 // number of data clusters
	fat                  []byte
	warnings             []string
	dirs                 *blockcache.LRU[dirKey, []*entry]
	usedOnce             sync.Once
	usedBefore           []uint32 // usedBefore[c]: clusters 2..c-1 that a chain holds

}

// Open reads the boot sector and the first FAT of a volume of size bytes.
// When the boot sector is destroyed, a FAT32 volume opens from the copy
// at sector 6, and Warnings says so.
func Open(r io.ReaderAt, size int64, opts guestfs.Options) (*FS, error) {
	f, err := openAt(r, size, 0)
	if err == nil {
		f.opts = opts
		return f, nil
	}
	if !errors.Is(err, ErrNotFAT) {
		return nil, err
	}
	// BPB_BkBootSec is 6 on every FAT32 volume that Windows and mkfs.fat
	// make; the primary that would say otherwise is the one destroyed.
	for _, bps := range []int64{512, 4096} {
		b, berr := openAt(r, size, 6*bps)
		if berr != nil || b.Bits != 32 || b.sectorSize != bps {
			continue
		}
		b.opts = opts
		b.warnings = append(b.warnings, fmt.Sprintf("boot sector unusable (%v): opened from its backup at byte %d", err, 6*bps))
		return b, nil
	}
	return nil, err
}

// openAt decodes the boot sector at byte at (0, or the FAT32 backup).
func openAt(r io.ReaderAt, size int64, at int64) (*FS, error) {
	bs := make([]byte, 1024)
	n, err := r.ReadAt(bs, at)
	if n < 512 {
		return nil, formatErr("boot sector", at, ErrNotFAT, "only %d bytes readable: %v", n, err)
	}
	bad := func(msg string, args ...any) error {
		return formatErr("boot sector", at, ErrNotFAT, msg, args...)
	}
	le := binary.LittleEndian
	bps := int64(le.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(le.Uint16(bs[14:]))
	nfats := int64(bs[16])
	rootEnt := int64(le.Uint16(bs[17:]))
	total := int64(le.Uint16(bs[19:]))
	if total == 0 {
		total = int64(le.Uint32(bs[32:]))
	}
	fatSz := int64(le.Uint16(bs[22:]))
	if fatSz == 0 {
		fatSz = int64(le.Uint32(bs[36:]))
	}
	switch {
	case bps != 512 && bps != 1024 && bps != 2048 && bps != 4096:
		return nil, bad("bytes per sector %d", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return nil, bad("sectors per cluster %d", spc)
	case reserved == 0:
		return nil, bad("no reserved sectors")
	case nfats == 0 || nfats > 4:
		return nil, bad("%d FATs", nfats)
	case fatSz == 0:
		return nil, bad("FAT size 0")
	case total == 0:
		return nil, bad("total sectors 0")
	}
	f := &FS{r: r, size: size, sectorSize: bps, clusterSize: bps * spc, dirs: blockcache.NewWeightedLRU[dirKey, []*entry](cachedDirs, cachedListBytes, listBytes)}
	f.Tree = guestfs.NewTree(guestfs.TreeOf[*entry]{Type: "FAT", Lookup: f.lookup, List: f.list, Info: f.info,
		IsDir: func(e *entry) bool { return e == nil || e.isDir() }, // nil: the root
		Name:  func(e *entry) string { return e.name }})
	f.fatOff = reserved * bps
	rootSectors := (rootEnt*32 + bps - 1) / bps
	f.rootOff = f.fatOff + nfats*fatSz*bps
	f.rootSize = rootEnt * 32
	f.dataOff = f.rootOff + rootSectors*bps
	dataSectors := total - (reserved + nfats*fatSz + rootSectors)
	if dataSectors <= 0 {
		return nil, bad("metadata (%d sectors) fills the volume (%d sectors)", reserved+nfats*fatSz+rootSectors, total)
	}
	clusters := dataSectors / spc
	switch {
	case clusters < 4085:
		f.Bits = 12
	case clusters < 65525:
		f.Bits = 16
	default:
		f.Bits = 32
	}
	if clusters > 0x0FFFFFF5 {
		return nil, bad("%d clusters", clusters)
	}
	f.clusters = uint32(clusters)
	if f.Bits == 32 {
		if rootEnt != 0 {
			return nil, bad("FAT32 with %d fixed root entries", rootEnt)
		}
		f.rootCluster = le.Uint32(bs[44:])
		f.Label = strings.TrimRight(string(bs[71:82]), " \x00")
	} else {
		if rootEnt == 0 {
			return nil, bad("FAT%d without root directory entries", f.Bits)
		}
		if bs[38] == 0x29 {
			f.Label = strings.TrimRight(string(bs[43:54]), " \x00")
		}
	}
	f.VMware = n >= 524 && string(bs[512:524]) == "VMWARE FAT16"
	need := (int64(clusters)+2)*int64(f.Bits)/8 + 2
	if need > fatSz*bps {
		return nil, bad("FAT of %d bytes cannot map %d clusters", fatSz*bps, clusters)
	}
	if f.dataOff > size {
		return nil, formatErr("boot sector", at, ErrCorrupt, "data area at byte %d lies past the end of the %d-byte volume", f.dataOff, size)
	}
	if need > MaxFATBytes {
		return nil, formatErr("table", f.fatOff, ErrCorrupt, "FAT of %d bytes exceeds the %d-byte limit", need, MaxFATBytes)
	}
	f.fat = make([]byte, need)
	if _, err := r.ReadAt(f.fat, f.fatOff); err != nil {
		return nil, formatErr("table", f.fatOff, ErrCorrupt, "%v", err)
	}
	// Entry 0 of a FAT holds the media byte of the boot sector with every
	// other bit set. When the first FAT lacks it (wiped, encrypted) and
	// a copy has it, the copy is read.
	media := uint32(bs[21])
	want := map[int]uint32{12: 0xF00 | media, 16: 0xFF00 | media, 32: 0x0FFFFF00 | media}[f.Bits]
	if f.next(0) != want {
		for i := int64(1); i < nfats; i++ {
			c := &FS{Bits: f.Bits, fat: make([]byte, need)}
			off := f.fatOff + i*fatSz*bps
			if _, err := r.ReadAt(c.fat, off); err == nil && c.next(0) == want {
				f.warnings = append(f.warnings, fmt.Sprintf("FAT 1 at byte %d lacks its media mark (%#x): FAT %d at byte %d read instead", f.fatOff, f.next(0), i+1, off))
				f.fat = c.fat
				break
			}
		}
	}
	return f, nil
}

// Type names the variant as partition.DetectFS does: FAT12, FAT16, FAT32.
func (f *FS) Type() string { return fmt.Sprintf("FAT%d", f.Bits) }

// Warnings lists what Open worked around.
func (f *FS) Warnings() []string { return f.warnings }

// next returns the FAT entry of cluster c.
func (f *FS) next(c uint32) uint32 {
	switch f.Bits {
	case 12:
		i := int(c) + int(c)/2
		v := uint32(binary.LittleEndian.Uint16(f.fat[i:]))
		if c&1 == 1 {
			return v >> 4
		}
		return v & 0xFFF
	case 16:
		return uint32(binary.LittleEndian.Uint16(f.fat[2*c:]))
	}
	return binary.LittleEndian.Uint32(f.fat[4*c:]) & 0x0FFFFFFF
}

func (f *FS) isEOC(v uint32) bool {
	switch f.Bits {
	case 12:
		return v >= 0xFF8
	case 16:
		return v >= 0xFFF8
	}
	return v >= 0x0FFFFFF8
}

func (f *FS) valid(c uint32) bool { return c >= 2 && c < f.clusters+2 }

// free reports whether cluster c is a data cluster no chain holds.
func (f *FS) free(c uint32) bool { return f.valid(c) && f.next(c) == 0 }

// chain returns the first max clusters of the chain starting at first. It
// ends early without error at an end-of-chain mark; a cluster out of range
// or one met twice (a loop) is an error.
func (f *FS) chain(first uint32, max int64) ([]uint32, error) {
	var out []uint32
	seen := guestfs.NewSeen(f.clusters+2, max)
	for c := first; int64(len(out)) < max; c = f.next(c) {
		if !f.valid(c) {
			return out, formatErr("cluster chain", f.fatOff, ErrCorrupt, "cluster %d (after %d clusters from %d) is outside 2..%d", c, len(out), first, f.clusters+1)
		}
		if seen.Add(c) {
			return out, formatErr("cluster chain", f.fatOff, ErrCorrupt, "chain from cluster %d loops back to cluster %d", first, c)
		}
		out = append(out, c)
		if f.isEOC(f.next(c)) {
			break
		}
	}
	return out, nil
}

func (f *FS) clusterOff(c uint32) int64 { return f.dataOff + int64(c-2)*f.clusterSize }
