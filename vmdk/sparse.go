package vmdk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/vmfsrecover/vmfsrecover/vmdk/adler"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// sparseHeader is the hosted sparse ("KDMV", VMDK4) header: 512 bytes at
// offset 0, and again as the footer of streamOptimized files whose header
// says GD_AT_END.
//
//	off size field
//	  0   4  magic "KDMV"
//	  4   4  version (1..3)
//	  8   4  flags
//	 12   8  capacity (sectors)
//	 20   8  grainSize (sectors)
//	 28   8  descriptorOffset (sectors)
//	 36   8  descriptorSize (sectors)
//	 44   4  numGTEsPerGT
//	 48   8  rgdOffset (sectors)
//	 56   8  gdOffset (sectors; 0xFFFFFFFFFFFFFFFF = GD_AT_END)
//	 64   8  overHead (sectors)
//	 72   1  uncleanShutdown
//	 73   4  '\n' ' ' '\r' '\n'
//	 77   2  compressAlgorithm (0 none, 1 deflate in a zlib wrapper)
type sparseHeader struct {
	Magic             [4]byte
	Version           uint32
	Flags             uint32
	Capacity          uint64
	GrainSize         uint64
	DescriptorOffset  uint64
	DescriptorSize    uint64
	NumGTEsPerGT      uint32
	RGDOffset         uint64
	GDOffset          uint64
	OverHead          uint64
	UncleanShutdown   uint8
	Check             [4]byte
	CompressAlgorithm uint16
}

const (
	flagNewlineCheck = 1 << 0
	flagRedundantGD  = 1 << 1
	flagZeroedGrain  = 1 << 2
	flagCompressed   = 1 << 16
	flagMarkers      = 1 << 17
	knownIncompat    = flagCompressed | flagMarkers

	gdAtEnd = 0xFFFFFFFFFFFFFFFF

	// maxGrainSectors is qemu's bound; compressed grains are decoded into
	// memory, so they get a tighter one.
	maxGrainSectors           = 1 << 21
	maxCompressedGrainSectors = 1 << 16
	maxGTEsPerGT              = 4096
)

var magicKDMV = [4]byte{'K', 'D', 'M', 'V'}

// sparseExtent reads a KDMV extent, compressed or not.
type sparseExtent struct {
	f          *file
	h          sparseHeader
	size       int64 // bytes the extent presents (capacity)
	grainBytes int64
	cover      int64 // bytes covered by one GT
	gd, rgd    []uint32
	gtBytes    int64
	gts        *blockcache.LRU[int64, []uint32]
	compressed bool
	markers    bool
	grains     *blockcache.LRU[int64, []byte] // decompressed grains, for sub-grain reads
	warn       func(string)
	warned     sync.Map // GD indexes already reported
	// scan maps grain index to the sector of its marker, when the tables
	// were rebuilt by scanning a stream (tolerant mode only).
	scan map[int64]uint32
}

func (e *sparseExtent) warnOnce(key int64, msg string) {
	if _, dup := e.warned.LoadOrStore(key, true); !dup {
		e.warn(msg)
	}
}

// decodeSparseHeader decodes and validates a KDMV header at off.
func decodeSparseHeader(f *file, off int64) (sparseHeader, error) {
	var buf [512]byte
	var h sparseHeader
	if err := f.readFull(buf[:], off, "sparse header"); err != nil {
		return h, err
	}
	binary.Read(bytes.NewReader(buf[:]), binary.LittleEndian, &h)
	if h.Magic != magicKDMV {
		return h, corrupt(f.name, "sparse header", off, "magic %q is not KDMV", h.Magic[:])
	}
	if h.Version < 1 || h.Version > 3 {
		return h, unsupported(f.name, "sparse header", off, "version %d (known: 1-3)", h.Version)
	}
	if h.Flags&flagNewlineCheck != 0 && h.Check != [4]byte{'\n', ' ', '\r', '\n'} {
		return h, corrupt(f.name, "sparse header", off+73, "newline check bytes % x: the file was mangled by a text-mode transfer", h.Check[:])
	}
	if x := h.Flags & 0xFFFF0000 &^ knownIncompat; x != 0 {
		return h, unsupported(f.name, "sparse header", off+8, "unknown incompatible flags 0x%08x", x)
	}
	if h.Flags&flagMarkers != 0 && h.Flags&flagCompressed == 0 {
		return h, corrupt(f.name, "sparse header", off+8, "markers flag without compression flag")
	}
	if h.Flags&flagCompressed != 0 && h.CompressAlgorithm != 1 {
		return h, unsupported(f.name, "sparse header", off+77, "compression algorithm %d (known: 1 deflate)", h.CompressAlgorithm)
	}
	if h.Capacity > maxSectors {
		return h, corrupt(f.name, "sparse header", off+12, "capacity %d sectors is absurd", h.Capacity)
	}
	return h, nil
}

// openSparse opens a KDMV extent of size bytes (from the descriptor, or the
// header capacity when zero), in any of its layouts (vmdk.md: "Compressed
// grains and markers"): tables up front (hosted sparse, open-vmdk, qemu),
// tables found through the footer (VMware's streamOptimized), or, in
// tolerant mode when both are lost, tables rebuilt from the grain markers.
func openSparse(f *file, size int64, tolerant bool, warn func(string)) (*sparseExtent, error) {
	h, err := decodeSparseHeader(f, 0)
	if err != nil {
		return nil, err
	}
	if h.GDOffset == gdAtEnd {
		fh, err := footerHeader(f, warn)
		if err != nil {
			err = fmt.Errorf("header says GD_AT_END and the footer is unusable: %w", err)
			if !tolerant || h.Flags&flagMarkers == 0 {
				return nil, err
			}
			return scanStream(f, h, size, warn, err)
		}
		h = fh
	}
	e, err := newSparseExtent(f, h, size, tolerant, warn)
	if err != nil {
		return nil, err
	}
	if err := e.loadDirectories(); err != nil {
		if tolerant && e.markers {
			return scanStream(f, h, e.size, warn, err)
		}
		return nil, err
	}
	// 8 MiB of tables at most, whatever the GT size: 4096 KDMV GTs of 2 KiB.
	e.gts = blockcache.NewLRU[int64, []uint32](int(max(16, (64<<20)/8/e.gtBytes)))
	if e.compressed {
		e.grains = blockcache.NewLRU[int64, []byte](int(max(1, (4<<20)/e.grainBytes)))
	}
	return e, nil
}

// footerHeader reads the header copy of VMware's streamOptimized layout:
// the footer, one sector before the end-of-stream marker, holds the real
// grain directory offset.
func footerHeader(f *file, warn func(string)) (sparseHeader, error) {
	end := f.size &^ 511
	fh, err := decodeSparseHeader(f, end-1024)
	if err == nil && fh.GDOffset == gdAtEnd {
		err = corrupt(f.name, "footer", end-1024, "footer also says GD_AT_END")
	}
	if err != nil {
		return fh, err
	}
	if marker := make([]byte, 16); f.readFull(marker, end-1536, "footer marker") == nil {
		if binary.LittleEndian.Uint32(marker[12:]) != markerFooter {
			warn(fmt.Sprintf("%s: no footer marker at byte %d", f.name, end-1536))
		}
	}
	return fh, nil
}

// newSparseExtent checks the geometry header h gives (overhead, grain
// size, table size, capacity) against the file, bounding what later
// allocations may take.
func newSparseExtent(f *file, h sparseHeader, size int64, tolerant bool, warn func(string)) (*sparseExtent, error) {
	if over := int64(min(h.OverHead, maxSectors)) * 512; over > f.size {
		err := corrupt(f.name, "sparse header", 64, "file truncated: metadata (overHead) needs %d bytes, the file has %d", over, f.size)
		if !tolerant {
			return nil, err
		}
		warn(err.Error())
	}
	e := &sparseExtent{f: f, h: h, warn: warn}
	e.compressed = h.Flags&flagCompressed != 0
	e.markers = h.Flags&flagMarkers != 0
	g := h.GrainSize
	maxGrain := uint64(maxGrainSectors)
	if e.compressed {
		maxGrain = maxCompressedGrainSectors // decoded into memory
	}
	if g == 0 || g&(g-1) != 0 || g > maxGrain {
		return nil, corrupt(f.name, "sparse header", 20, "grain size %d sectors is not a power of two in [1, %d]", g, maxGrain)
	}
	if h.NumGTEsPerGT == 0 || h.NumGTEsPerGT > maxGTEsPerGT {
		return nil, corrupt(f.name, "sparse header", 44, "%d entries per grain table (want 1-%d)", h.NumGTEsPerGT, maxGTEsPerGT)
	}
	e.grainBytes = int64(g) * 512
	e.cover = int64(h.NumGTEsPerGT) * e.grainBytes
	e.gtBytes = int64(h.NumGTEsPerGT) * 4
	capBytes := int64(h.Capacity) * 512
	if size == 0 {
		size = capBytes
	} else if size != capBytes {
		warn(fmt.Sprintf("%s: descriptor says %d bytes, sparse header capacity %d bytes; the part past the header capacity reads as zeros", f.name, size, capBytes))
	}
	e.size = size
	if h.UncleanShutdown != 0 {
		warn(fmt.Sprintf("%s: not closed cleanly (uncleanShutdown set); recent writes may be missing", f.name))
	}
	// Every GD entry takes 4 bytes of the file: a count the file cannot hold is a lie.
	if nGD := (capBytes + e.cover - 1) / e.cover; nGD*4 > f.size {
		return nil, corrupt(f.name, "sparse header", 12, "capacity %d sectors needs %d grain directory entries; the %d-byte file cannot hold them", h.Capacity, nGD, f.size)
	}
	return e, nil
}

// loadDirectories reads the grain directory and, when the header says
// there is one, its redundant copy, which stands in for a damaged primary.
// The error is the primary's when no copy can stand in.
func (e *sparseExtent) loadDirectories() error {
	f, h := e.f, e.h
	capBytes := int64(h.Capacity) * 512
	nGD := (capBytes + e.cover - 1) / e.cover
	if nGD == 0 {
		return nil
	}
	load := func(sector uint64, what string) ([]uint32, error) {
		off, err := sectorsToBytes(sector)
		if err != nil || sector == 0 {
			return nil, corrupt(f.name, what, -1, "at sector %d", sector)
		}
		raw := make([]byte, nGD*4)
		if err := f.readFull(raw, off, what); err != nil {
			return nil, err
		}
		gd := make([]uint32, nGD)
		for i := range gd {
			gd[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
		return gd, nil
	}
	var gdErr error
	e.gd, gdErr = load(h.GDOffset, "grain directory")
	if h.Flags&flagRedundantGD != 0 && h.RGDOffset != 0 {
		var rerr error
		if e.rgd, rerr = load(h.RGDOffset, "redundant grain directory"); rerr != nil {
			e.warn(fmt.Sprintf("%s: redundant grain directory unusable: %v", f.name, rerr))
		}
	}
	if gdErr != nil {
		if e.rgd == nil {
			return gdErr
		}
		e.warn(fmt.Sprintf("%s: grain directory unusable (%v); using the redundant copy", f.name, gdErr))
		e.gd, e.rgd = e.rgd, nil
	}
	return nil
}

// gt returns grain table gdIndex, falling back to the redundant copy when the
// primary entry points outside the file or is zero while the copy is not.
func (e *sparseExtent) gt(gdIndex int64) ([]uint32, error) {
	sector := e.gd[gdIndex]
	t, err := e.loadGT(sector)
	if e.rgd != nil && e.rgd[gdIndex] != 0 && (err != nil || sector == 0) {
		if rt, rerr := e.loadGT(e.rgd[gdIndex]); rerr == nil {
			e.warnOnce(gdIndex, fmt.Sprintf("%s: grain table %d read from the redundant copy (primary entry %d: %v)", e.f.name, gdIndex, sector, err))
			return rt, nil
		}
	}
	return t, err
}

func (e *sparseExtent) loadGT(sector uint32) ([]uint32, error) {
	if sector == 0 {
		return nil, nil
	}
	if t, ok := e.gts.Get(int64(sector)); ok {
		return t, nil
	}
	raw := make([]byte, e.gtBytes)
	if err := e.f.readFull(raw, int64(sector)*512, "grain table"); err != nil {
		return nil, err
	}
	t := make([]uint32, len(raw)/4)
	for i := range t {
		t[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	e.gts.Put(int64(sector), t)
	return t, nil
}

// gte returns the grain table entry for the grain holding byte off.
func (e *sparseExtent) gte(off int64) (uint32, error) {
	if e.scan != nil {
		return e.scan[off/e.grainBytes], nil
	}
	gdIndex := off / e.cover
	if gdIndex >= int64(len(e.gd)) {
		return 0, nil
	}
	t, err := e.gt(gdIndex)
	if err != nil || t == nil {
		return 0, err
	}
	return t[(off%e.cover)/e.grainBytes], nil
}

func (e *sparseExtent) stateOf(gte uint32) runState {
	switch gte {
	case 0:
		return runParent
	case 1:
		// Zeroed grain (flag bit 2). Sector 1 can never hold a grain, so
		// VMware reads 1 as zeros even without the flag; so do we.
		return runZero
	}
	return runData
}

func (e *sparseExtent) lookup(off, limit int64) (int64, runState, error) {
	capBytes := int64(e.h.Capacity) * 512
	if off >= capBytes {
		return limit, runZero, nil
	}
	limit = min(limit, capBytes-off)
	first, err := e.gte(off)
	if err != nil {
		return min(limit, e.cover-off%e.cover), runData, err // the whole table is unreadable
	}
	st := e.stateOf(first)
	n := e.grainBytes - off%e.grainBytes
	if st == runData && e.compressed {
		return min(n, limit), st, nil
	}
	// Extend over following grains in the same state (and, for data,
	// stored right after each other, so one read serves them all),
	// scanning each table in place.
	grainStart := off - off%e.grainBytes
	for n < limit {
		next := off + n
		if e.scan != nil { // rebuilt stream: no tables
			g, _ := e.gte(next)
			if e.stateOf(g) != st {
				break
			}
			n += e.grainBytes
			continue
		}
		gdi := next / e.cover
		var t []uint32
		if gdi < int64(len(e.gd)) {
			if t, err = e.gt(gdi); err != nil {
				break
			}
		}
		if t == nil {
			if st != runParent {
				break
			}
			n += e.cover - next%e.cover // a whole absent table
			continue
		}
		for i := (next % e.cover) / e.grainBytes; i < int64(len(t)) && n < limit; i++ {
			g := t[i]
			if e.stateOf(g) != st || (st == runData && int64(g) != int64(first)+(off+n-grainStart)/512) {
				return min(n, limit), st, nil
			}
			n += e.grainBytes
		}
	}
	return min(n, limit), st, nil
}

func (e *sparseExtent) read(p []byte, off int64) error {
	if e.compressed {
		return e.readCompressed(p, off)
	}
	g, err := e.gte(off)
	if err != nil {
		return err
	}
	return e.f.readFull(p, int64(g)*512+off%e.grainBytes, "grain")
}

// Marker types of streamOptimized files.
const (
	markerEOS    = 0
	markerGT     = 1
	markerGD     = 2
	markerFooter = 3
)

var flatePool sync.Pool // of io.ReadCloser implementing flate.Resetter

var bufPool sync.Pool // of *[]byte for compressed grains

func getBuf(n int) *[]byte {
	if v, ok := bufPool.Get().(*[]byte); ok && cap(*v) >= n {
		*v = (*v)[:n]
		return v
	}
	b := make([]byte, n)
	return &b
}

func putBuf(b *[]byte) { bufPool.Put(b) }

// readCompressed serves p from one compressed grain.
func (e *sparseExtent) readCompressed(p []byte, off int64) error {
	gi := off / e.grainBytes
	in := off % e.grainBytes
	want := min(e.grainBytes, int64(e.h.Capacity)*512-gi*e.grainBytes)
	if buf, ok := e.grains.Get(gi); ok {
		copy(p, buf[in:])
		return nil
	}
	if in == 0 && int64(len(p)) == want {
		return e.inflate(p, gi, want) // whole grain: no copy
	}
	buf := make([]byte, want)
	if err := e.inflate(buf, gi, want); err != nil {
		return err
	}
	e.grains.Put(gi, buf)
	copy(p, buf[in:])
	return nil
}

// inflate decompresses grain gi into dst (len want).
func (e *sparseExtent) inflate(dst []byte, gi, want int64) error {
	g, err := e.gte(gi * e.grainBytes)
	if err != nil {
		return err
	}
	at := int64(g) * 512
	hlen := int64(4)
	if e.markers {
		hlen = 12
	}
	if err := checkRange(e.f, "grain marker", at, hlen); err != nil {
		return err
	}
	// One read for marker and payload in the common case: a compressed
	// grain is rarely larger than the grain.
	buf := getBuf(int(min(hlen+e.grainBytes+512, e.f.size-at)))
	defer putBuf(buf)
	if err := e.f.readFull(*buf, at, "grain marker"); err != nil {
		return err
	}
	hdr := *buf
	var size int64
	if e.markers {
		if lba := binary.LittleEndian.Uint64(hdr); lba != uint64(gi*e.grainBytes/512) {
			return corrupt(e.f.name, "grain marker", at, "LBA %d, the grain table expects %d", lba, gi*e.grainBytes/512)
		}
		size = int64(binary.LittleEndian.Uint32(hdr[8:]))
	} else {
		size = int64(binary.LittleEndian.Uint32(hdr))
	}
	if size == 0 || size > 2*e.grainBytes+1024 {
		return corrupt(e.f.name, "grain marker", at, "compressed size %d for a %d-byte grain", size, e.grainBytes)
	}
	if err := checkRange(e.f, "compressed grain", at+hlen, size); err != nil {
		return err
	}
	if have := int64(len(*buf)); hlen+size > have {
		more := getBuf(int(hlen + size))
		defer putBuf(more)
		copy(*more, *buf)
		if err := e.f.readFull((*more)[have:], at+have, "compressed grain"); err != nil {
			return err
		}
		buf = more
	}
	payload := (*buf)[hlen : hlen+size]
	// A zlib stream (RFC 1950), whatever the technote says: a 2-byte
	// header, raw deflate, and the Adler-32 of the data, big-endian.
	if len(payload) < 6 || payload[0]&0x0F != 8 || payload[0]>>4 > 7 || payload[1]&0x20 != 0 ||
		(uint16(payload[0])<<8|uint16(payload[1]))%31 != 0 {
		return corrupt(e.f.name, "compressed grain", at+hlen, "not a zlib stream (header % x)", payload[:min(2, len(payload))])
	}
	src := bytes.NewReader(payload[2:])
	var fr io.ReadCloser
	if v := flatePool.Get(); v != nil {
		fr = v.(io.ReadCloser)
		fr.(flate.Resetter).Reset(src, nil)
	} else {
		fr = flate.NewReader(src)
	}
	defer flatePool.Put(fr)
	if n, err := io.ReadFull(fr, dst); err != nil {
		return corrupt(e.f.name, "compressed grain", at+hlen, "inflated %d of %d bytes: %v", n, want, err)
	}
	sum := adler.Update(1, dst)
	// Read to the end of the deflate stream. Data past the grain is
	// corrupt, except in the last, partial grain, which writers may
	// compress whole.
	tail := getBuf(4096) // pooled: a local array would escape, 4 KiB a grain
	defer putBuf(tail)
	for {
		n, err := fr.Read(*tail)
		if n > 0 {
			if want == e.grainBytes {
				return corrupt(e.f.name, "compressed grain", at+hlen, "inflates to more than the %d-byte grain", e.grainBytes)
			}
			sum = adler.Update(sum, (*tail)[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return corrupt(e.f.name, "compressed grain", at+hlen, "deflate: %v", err)
		}
	}
	used := len(payload) - 2 - src.Len()
	trailer := payload[2+used:]
	if len(trailer) < 4 {
		return corrupt(e.f.name, "compressed grain", at+hlen, "zlib stream ends without its checksum")
	}
	if stored := binary.BigEndian.Uint32(trailer); stored != sum {
		return corrupt(e.f.name, "compressed grain", at+hlen, "Adler-32 %08x, data gives %08x", stored, sum)
	}
	return nil
}

// scanStream rebuilds the grain map of a streamOptimized extent whose grain
// directory or footer is unusable: every compressed grain starts with a
// marker carrying its LBA, so a linear walk over the markers finds them all
// (vmdk.md: "Compressed grains and markers"). A later grain for the same LBA wins. The walk stops
// at the end-of-stream marker (an all-zero sector) or at the end of the
// file; a sector that is no marker is skipped with a warning.
func scanStream(f *file, h sparseHeader, size int64, warn func(string), cause error) (*sparseExtent, error) {
	g := h.GrainSize
	if g == 0 || g&(g-1) != 0 || g > maxCompressedGrainSectors {
		return nil, cause
	}
	e := &sparseExtent{f: f, h: h, warn: warn, compressed: true, markers: true, scan: map[int64]uint32{}}
	e.grainBytes = int64(g) * 512
	e.cover = e.grainBytes
	capBytes := int64(h.Capacity) * 512
	if size == 0 {
		size = capBytes
	}
	e.size = size
	sector := int64(1)
	if h.DescriptorOffset > 0 && h.DescriptorOffset < maxSectors && h.DescriptorSize < maxSectors {
		sector = int64(h.DescriptorOffset + h.DescriptorSize)
	}
	if h.OverHead > uint64(sector) && int64(h.OverHead)*512 < f.size {
		sector = int64(h.OverHead)
	}
	var buf [512]byte
	skipped := 0
	for sector*512+512 <= f.size && sector < 1<<32 {
		if err := f.readFull(buf[:], sector*512, "stream marker"); err != nil {
			return nil, err
		}
		lba := binary.LittleEndian.Uint64(buf[:])
		n := int64(binary.LittleEndian.Uint32(buf[8:]))
		if n > 0 {
			if n <= 2*e.grainBytes+1024 && lba%g == 0 && int64(lba)*512 < capBytes {
				e.scan[int64(lba/g)] = uint32(sector)
				sector += (12 + n + 511) / 512
				continue
			}
		} else {
			typ := binary.LittleEndian.Uint32(buf[12:])
			switch {
			case typ == markerEOS && lba == 0:
				sector = f.size // end of stream
				continue
			case typ >= markerGT && typ <= 4 && lba < uint64(f.size/512):
				sector += 1 + int64(lba)
				continue
			}
		}
		skipped++
		sector++
	}
	warn(fmt.Sprintf("%s: %v; grain map rebuilt from %d grain markers (%d unreadable sectors skipped)", f.name, cause, len(e.scan), skipped))
	e.grains = blockcache.NewLRU[int64, []byte](int(max(1, (4<<20)/e.grainBytes)))
	return e, nil
}
