package exfat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Classes of the errors, found with errors.Is through *ondisk.FormatError.
var (
	ErrNotExFAT = errors.New("not an exFAT file system")
	ErrCorrupt  = errors.New("corrupt exFAT file system")
)

func formatErr(st string, off int64, class error, format string, args ...any) error {
	return &ondisk.FormatError{Struct: "exFAT " + st, Off: off, Msg: fmt.Sprintf(format, args...), Err: class}
}

// FS is an exFAT volume. It implements guestfs.FS.
type FS struct {
	guestfs.Tree[*node] // ReadDir, Stat, Lstat, ReadLink
	r                   io.ReaderAt
	size                int64
	opts                guestfs.Options
	Label               string
	Serial              uint32
	sectorSize          int64
	clusterSize         int64
	fatOff              int64
	heapOff             int64
	clusters            uint32 // ClusterCount: clusters 2..clusters+1
	// heapClusters is how many of them the device holds (fewer when the
	// image is cut short).
	heapClusters int64
	rootCluster  uint32
	activeFat    int // 1 when VolumeFlags selects the second FAT (TexFAT)
	fatCache     pageCache
	bitmap       *stream   // the allocation bitmap, one bit a cluster from cluster 2
	bitmapCache  pageCache // pages of the bitmap
	upcase       []uint16  // full table: upcase[c] is c in upper case
	dirs         *blockcache.LRU[dirKey, []*node]

	mu       sync.Mutex
	warnings []string
}

// boot is the main (or backup) boot sector, as far as this reader uses it:
//
//	3   FileSystemName "EXFAT   "      64  PartitionOffset (sectors)
//	72  VolumeLength (sectors)         80  FatOffset (sectors)
//	84  FatLength (sectors)            88  ClusterHeapOffset (sectors)
//	92  ClusterCount                   96  FirstClusterOfRootDirectory
//	100 VolumeSerialNumber             104 FileSystemRevision (1.00)
//	106 VolumeFlags (bit 0 ActiveFat, 1 VolumeDirty, 2 MediaFailure)
//	108 BytesPerSectorShift (9-12)     109 SectorsPerClusterShift
//	110 NumberOfFats (1, 2 for TexFAT) 510 0x55 0xAA
//
// The boot region is 12 sectors: this one, 8 extended boot sectors, the
// OEM parameters, a reserved sector, and a sector filled with the
// region's checksum. A copy of the region follows at sector 12.
const bootRegionSectors = 12

// Open reads the boot region, the allocation bitmap and the up-case table
// of a volume of size bytes. When the main boot region fails its checksum
// it opens from the backup region at sector 12 and says so in Warnings.
func Open(r io.ReaderAt, size int64, opts guestfs.Options) (*FS, error) {
	f, err := openAt(r, size, 0)
	if err != nil {
		if !errors.Is(err, ErrNotExFAT) && !errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		var berr error
		for shift := 9; shift <= 12; shift++ {
			var b *FS
			if b, berr = openAt(r, size, bootRegionSectors<<shift); berr == nil && b.sectorSize == 1<<shift {
				b.warn("main boot region unusable (%v): opened from the backup at byte %d", err, bootRegionSectors<<shift)
				f, err = b, nil
				break
			}
		}
		if err != nil {
			return nil, err
		}
	}
	f.opts = opts
	if err := f.readRoot(); err != nil {
		return nil, err
	}
	return f, nil
}

// warn records what the reader worked around, once: a directory is
// decoded again at every lookup.
func (f *FS) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.warnings, msg) && len(f.warnings) < maxWarnings {
		f.warnings = append(f.warnings, msg)
	}
}

// maxWarnings bounds the warnings kept of a badly damaged volume.
const maxWarnings = 1000

// Warnings lists what the reader met and worked around.
func (f *FS) Warnings() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.warnings...)
}

// Type is "exFAT", as partition.DetectFS names it.
func (f *FS) Type() string { return "exFAT" }

// bootChecksum is the checksum of the boot region's first 11 sectors,
// without VolumeFlags and PercentInUse, which change without rewriting it.
func bootChecksum(region []byte, sectorSize int) uint32 {
	var sum uint32
	for i, b := range region[:11*sectorSize] {
		if i == 106 || i == 107 || i == 112 {
			continue
		}
		sum = (sum>>1 | sum<<31) + uint32(b)
	}
	return sum
}

// openAt decodes the boot region at byte at (0, or the backup's).
func openAt(r io.ReaderAt, size, at int64) (*FS, error) {
	bs := make([]byte, 512)
	if n, err := r.ReadAt(bs, at); n < len(bs) {
		return nil, formatErr("boot sector", at, ErrNotExFAT, "only %d bytes readable: %v", n, err)
	}
	bad := func(format string, args ...any) error {
		return formatErr("boot sector", at, ErrCorrupt, format, args...)
	}
	if string(bs[3:11]) != "EXFAT   " {
		return nil, formatErr("boot sector", at, ErrNotExFAT, "no EXFAT signature")
	}
	le := binary.LittleEndian
	bpsShift, spcShift := bs[108], bs[109]
	if bpsShift < 9 || bpsShift > 12 || spcShift > 25-bpsShift {
		return nil, bad("sector shift %d, cluster shift %d", bpsShift, spcShift)
	}
	if bs[510] != 0x55 || bs[511] != 0xAA {
		return nil, bad("no boot signature")
	}
	f := &FS{r: r, size: size, sectorSize: 1 << bpsShift, dirs: blockcache.NewWeightedLRU[dirKey, []*node](cachedDirs, cachedListBytes, listBytes)}
	f.Tree = guestfs.NewTree(guestfs.TreeOf[*node]{Type: "exFAT", Lookup: f.lookup, List: f.list, Info: f.info,
		IsDir: func(n *node) bool { return n.dir },
		Name:  func(n *node) string { return n.name }})
	f.clusterSize = f.sectorSize << spcShift
	region := make([]byte, bootRegionSectors*f.sectorSize)
	if _, err := r.ReadAt(region, at); err != nil {
		return nil, bad("boot region: %v", err)
	}
	sum := bootChecksum(region, int(f.sectorSize))
	for i := 11 * f.sectorSize; i < 12*f.sectorSize; i += 4 {
		if got := le.Uint32(region[i:]); got != sum {
			return nil, formatErr("boot checksum sector", at+11*f.sectorSize, ErrCorrupt, "checksum %#x, computed %#x", got, sum)
		}
	}
	volLen := int64(le.Uint64(bs[72:]))
	fatOff, fatLen := int64(le.Uint32(bs[80:])), int64(le.Uint32(bs[84:]))
	heapOff, count := int64(le.Uint32(bs[88:])), le.Uint32(bs[92:])
	nfats := int64(bs[110])
	flags := le.Uint16(bs[106:])
	switch {
	case nfats != 1 && nfats != 2:
		return nil, bad("%d FATs", nfats)
	case fatOff < 24 || fatLen == 0 || fatOff+nfats*fatLen > heapOff:
		return nil, bad("FAT at sector %d, %d sectors, %d of them, before the heap at sector %d", fatOff, fatLen, nfats, heapOff)
	case count == 0 || count > 0xFFFFFFF5 || int64(count)+1 > fatLen*f.sectorSize/4:
		return nil, bad("%d clusters for a FAT of %d sectors", count, fatLen)
	case volLen < heapOff+int64(count)<<spcShift:
		return nil, bad("volume of %d sectors holds no heap of %d clusters at sector %d", volLen, count, heapOff)
	case heapOff*f.sectorSize > size:
		return nil, bad("cluster heap at byte %d past the end of the %d-byte volume", heapOff*f.sectorSize, size)
	}
	f.clusters = count
	f.activeFat = int(flags & 1)
	f.fatOff = (fatOff + int64(f.activeFat)*fatLen) * f.sectorSize
	if flags&1 != 0 && nfats == 1 {
		return nil, bad("active FAT 2 of 1")
	}
	f.heapOff = heapOff * f.sectorSize
	f.heapClusters = min(int64(count), (size-f.heapOff)/f.clusterSize)
	if f.heapClusters < int64(count) {
		f.warn("the device holds %d of the heap's %d clusters: the volume is cut short", f.heapClusters, count)
	}
	f.rootCluster = le.Uint32(bs[96:])
	f.Serial = le.Uint32(bs[100:])
	if !f.valid(f.rootCluster) {
		return nil, bad("root directory at cluster %d of 2..%d", f.rootCluster, count+1)
	}
	if flags&2 != 0 {
		f.warn("volume marked dirty: it was not unmounted cleanly")
	}
	if flags&4 != 0 {
		f.warn("volume marked with media failures")
	}
	f.fatCache.read = func(p []byte, off int64) (int, error) { return r.ReadAt(p, f.fatOff+off) }
	f.fatCache.size = (int64(count) + 2) * 4
	return f, nil
}

func (f *FS) valid(c uint32) bool { return c >= 2 && c-2 < f.clusters }

func (f *FS) clusterOff(c uint32) int64 { return f.heapOff + int64(c-2)*f.clusterSize }

// clusterAt is the cluster that holds byte dev of the heap.
func (f *FS) clusterAt(dev int64) uint32 { return uint32(2 + (dev-f.heapOff)/f.clusterSize) }

// next returns the FAT entry of cluster c.
func (f *FS) next(c uint32) (uint32, error) {
	var b [4]byte
	if err := f.fatCache.readAt(b[:], int64(c)*4); err != nil {
		return 0, formatErr("FAT", f.fatOff+int64(c)*4, ErrCorrupt, "%v", err)
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// allocated reports whether the allocation bitmap marks cluster c in use.
func (f *FS) allocated(c uint32) bool {
	if !f.valid(c) || f.bitmap == nil {
		return true
	}
	var b [1]byte
	if f.bitmapCache.readAt(b[:], int64(c-2)/8) != nil {
		return true
	}
	return b[0]&(1<<((c-2)%8)) != 0
}

// readRoot reads the root directory's critical entries: the allocation
// bitmap, the up-case table and the volume label.
func (f *FS) readRoot() error {
	root := &node{cluster: f.rootCluster, dir: true}
	raw, err := f.dirBytes(root)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	var upFirst uint32
	var upLen int64
	var upSum uint32
	for i := 0; i+32 <= len(raw.b); i += 32 {
		e := raw.b[i : i+32]
		switch e[0] {
		case 0:
			i = len(raw.b)
		case 0x81:
			// TexFAT keeps a bitmap for each FAT: BitmapFlags bit 0 says which.
			if int(e[1]&1) != f.activeFat {
				continue
			}
			first, n := le.Uint32(e[20:]), int64(le.Uint64(e[24:]))
			if n < (int64(f.clusters)+7)/8 || n > int64(f.clusters)/8+f.clusterSize {
				return formatErr("allocation bitmap entry", raw.off(i), ErrCorrupt, "%d bytes for %d clusters", n, f.clusters)
			}
			s, err := f.chainStream(first, n, false)
			if err != nil {
				return err
			}
			f.bitmap = s
			f.bitmapCache.read, f.bitmapCache.size = s.ReadAt, n
		case 0x82:
			upSum, upFirst, upLen = le.Uint32(e[4:]), le.Uint32(e[20:]), int64(le.Uint64(e[24:]))
		case 0x83:
			n := min(int(e[1]), 11)
			f.Label = decodeName(e[2:], n)
		}
	}
	if f.bitmap == nil {
		return formatErr("root directory", f.clusterOff(f.rootCluster), ErrCorrupt, "no allocation bitmap entry")
	}
	f.upcase = f.readUpcase(upFirst, upLen, upSum)
	return nil
}

// maxUpcase is the size of an uncompressed up-case table: 65536 UTF-16
// code units.
const maxUpcase = 2 << 16

// readUpcase reads the up-case table: code units in order, where 0xFFFF
// followed by a count skips that many units that map to themselves. A
// table that is missing or fails its checksum is replaced by the
// specification's mandatory ASCII-only table, with a warning.
func (f *FS) readUpcase(first uint32, n int64, sum uint32) []uint16 {
	up := make([]uint16, 1<<16)
	for i := range up {
		up[i] = uint16(i)
	}
	ascii := func(why string) []uint16 {
		f.warn("up-case table %s: names compare by ASCII case only", why)
		for c := 'a'; c <= 'z'; c++ {
			up[c] = uint16(c - 'a' + 'A')
		}
		return up
	}
	if n <= 0 || n > maxUpcase || n%2 != 0 {
		return ascii(fmt.Sprintf("of %d bytes", n))
	}
	s, err := f.chainStream(first, n, false)
	if err != nil {
		return ascii(err.Error())
	}
	b := make([]byte, n)
	if _, err := s.ReadAt(b, 0); err != nil {
		return ascii(err.Error())
	}
	var got uint32
	for _, c := range b {
		got = (got>>1 | got<<31) + uint32(c)
	}
	if got != sum {
		return ascii(fmt.Sprintf("checksum %#x, computed %#x", sum, got))
	}
	c := 0
	for i := 0; i+1 < len(b) && c < len(up); i += 2 {
		v := binary.LittleEndian.Uint16(b[i:])
		if v == 0xFFFF && i+3 < len(b) {
			c += int(binary.LittleEndian.Uint16(b[i+2:]))
			i += 2
			continue
		}
		up[c] = v
		c++
	}
	return up
}

// pageCache reads a large table (the FAT, the allocation bitmap) in pages,
// keeping a bounded number of them.
type pageCache struct {
	read  func(p []byte, off int64) (int, error)
	size  int64
	mu    sync.Mutex
	pages map[int64][]byte
}

const (
	pageSize = 64 << 10
	maxPages = 256 // 16 MiB
)

func (c *pageCache) readAt(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > c.size {
		return fmt.Errorf("bytes %d+%d outside the %d-byte table", off, len(p), c.size)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		pg := off / pageSize
		b, ok := c.pages[pg]
		if !ok {
			b = make([]byte, min(pageSize, c.size-pg*pageSize))
			if n, err := c.read(b, pg*pageSize); n < len(b) {
				return err
			}
			if c.pages == nil || len(c.pages) >= maxPages {
				c.pages = map[int64][]byte{}
			}
			c.pages[pg] = b
		}
		n := copy(p, b[off-pg*pageSize:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// equalFold compares two names as exFAT does: code unit by code unit
// through the up-case table.
func (f *FS) equalFold(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if f.upcase[a[i]] != f.upcase[b[i]] {
			return false
		}
	}
	return true
}
