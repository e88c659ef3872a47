package vmfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// Device is one disk or partition that may carry a VMFS extent: the LVM
// header sits at +1 MiB from its start (vmfs.md: "Where a volume starts").
type Device interface {
	io.ReaderAt
	Size() int64
}

const (
	lvmHeaderOffset = layout.LVMHeaderOffset
	lvmMagic        = layout.LVMMagic
	peUnit          = 256 << 20 // VMFS3/5 PE granularity
	peEntrySize     = layout.PEEntrySize
	peTableEntries  = 8192
	maxPEMaps       = 8  // bitmap/table pairs per metadata region (dissect.vmfs)
	maxExtRegions   = 64 // chained extended metadata regions we follow
)

// LVMHeader is the device header (vmfs.md: "LVM device header"; LVM_DevMetadata) plus the volume
// descriptor (vmfs.md: "Volume descriptor") and physical-extent entries
// (vmfs.md: "PE table and spanned volumes") that follow it.
type LVMHeader struct {
	Major, Minor  uint32
	DiskBlockSize uint32
	TotalBytes    uint64
	NumVolumes    uint32
	NumPEs        uint32
	DataOffset    uint64
	DeviceUUID    UUID
	NumPEMaps     uint32
	ExtMetaOffset uint64
	MDAlignment   uint32
	Flags         uint32

	LogicalSize uint64 // size of the whole logical volume
	State       uint32
	VolumeUUID  UUID // lvID: shared by every extent of one volume
	SnapID      uint32
	FirstPE     uint64 // 256 MiB units of the volume this device holds
	LastPE      uint64
	NumDevs     uint32
	DeviceName  string // from the SD table (LVM5+), e.g. "mpx.vmhba0:C0:T4:L0:1"

	PEs []PE
}

// PE maps Length bytes of the logical volume at Logical onto this device
// at Physical (an absolute device offset).
type PE struct {
	ID       uint32 `json:"id"`
	Physical int64  `json:"physical"`
	Logical  int64  `json:"logical"`
	Length   int64  `json:"length"`
}

// devMetaSize is the size of the header area (D in vmfs.md: "LVM device
// header").
func (h *LVMHeader) devMetaSize() int64 {
	if h.Major >= 6 && h.MDAlignment > 0 {
		return int64(h.MDAlignment)
	}
	return 512
}

func (h *LVMHeader) volumeSlots() int64 {
	if h.Major >= 6 {
		return 1
	}
	return 512
}

// ReadLVMHeader decodes the LVM header of dev, found at +1 MiB.
func ReadLVMHeader(dev Device) (*LVMHeader, error) {
	return readLVMHeaderAt(dev, 0)
}

// readLVMHeaderAt decodes an LVM header for a device starting at base.
func readLVMHeaderAt(r io.ReaderAt, base int64) (*LVMHeader, error) {
	const where = "LVM header"
	buf := make([]byte, 0x200)
	if _, err := r.ReadAt(buf, base+lvmHeaderOffset); err != nil {
		return nil, fmt.Errorf("vmfs: reading %s at %#x: %w", where, base+lvmHeaderOffset, err)
	}
	l := layout.LVM
	if l.Magic.Get32(buf) != lvmMagic {
		return nil, fmt.Errorf("%w: no LVM magic at %#x", ErrNotVMFS, base+lvmHeaderOffset)
	}
	h := &LVMHeader{
		Major:         l.Major.Get32(buf),
		Minor:         l.Minor.Get32(buf),
		DiskBlockSize: l.SectorSize.Get32(buf),
		TotalBytes:    l.DeviceBytes.Get(buf),
		NumVolumes:    l.Volumes.Get32(buf),
		NumPEs:        l.PEs.Get32(buf),
		DataOffset:    l.DataOffset.Get(buf),
		NumPEMaps:     l.PEMaps.Get32(buf),
		ExtMetaOffset: l.ExtMeta.Get(buf),
		MDAlignment:   l.MDAlignment.Get32(buf),
		Flags:         l.Flags.Get32(buf),
	}
	copy(h.DeviceUUID[:], l.DeviceUUID.Bytes(buf))
	if h.Major < 3 || h.Major > 6 {
		return nil, corrupt(where, base+lvmHeaderOffset, "LVM version %d.%d: %v", h.Major, h.Minor, ErrUnsupported)
	}
	if h.Major >= 6 && (h.MDAlignment < 512 || h.MDAlignment > 1<<20 || h.MDAlignment&(h.MDAlignment-1) != 0) {
		return nil, corrupt(where, base+lvmHeaderOffset, "metadata alignment %d is not a power of two in [512, 1 MiB]", h.MDAlignment)
	}

	// Volume descriptor: first slot of the volume table.
	vd := make([]byte, 512)
	vdOff := base + lvmHeaderOffset + h.devMetaSize()
	if _, err := r.ReadAt(vd, vdOff); err != nil {
		return nil, fmt.Errorf("vmfs: reading LVM volume descriptor at %#x: %w", vdOff, err)
	}
	d := layout.VolumeDesc
	h.LogicalSize = d.Size.Get(vd)
	h.State = d.State.Get32(vd)
	copy(h.VolumeUUID[:], d.UUID.Bytes(vd))
	h.SnapID = d.SnapID.Get32(vd)
	h.FirstPE = d.FirstPE.Get(vd)
	h.LastPE = d.LastPE.Get(vd)
	h.NumDevs = d.Devices.Get32(vd)
	if h.LogicalSize == 0 || h.LogicalSize > 1<<50 {
		return nil, corrupt("LVM volume descriptor", vdOff, "logical size %d out of range", h.LogicalSize)
	}

	sdOff := vdOff + h.volumeSlots()*512 + (1024-h.volumeSlots())*512 - 32*256
	if h.Major >= 5 {
		name := make([]byte, 256)
		if _, err := r.ReadAt(name, sdOff); err == nil {
			h.DeviceName = strings.TrimRight(string(name[:clen(name)]), " ")
		}
	}
	pes, err := readPETables(r, base, h, sdOff+0x2000)
	if err != nil {
		return nil, err
	}
	h.PEs = pes
	return h, nil
}

// readPETables collects the used PE entries of every bitmap/table pair in
// the main metadata region and in chained extended regions (vmfs.md: "LVM
// device header", "PE table and spanned volumes").
func readPETables(r io.ReaderAt, base int64, h *LVMHeader, firstBitmap int64) ([]PE, error) {
	le := binary.LittleEndian
	bitmapSize := int64(1024)
	if h.Major >= 6 && int64(h.MDAlignment) > bitmapSize {
		bitmapSize = int64(h.MDAlignment)
	}
	// A 16 TiB LVM5 device has 8 maps of 8192 entries; each 1 MiB table
	// is read a slice at a time into one small buffer (a volume is opened
	// at every command's start: a fresh 1 MiB buffer per table cost more
	// in page faults and garbage collection than the reading).
	var pes []PE
	bm := make([]byte, bitmapSize)
	const sliceEntries = 512
	slice := make([]byte, sliceEntries*peEntrySize)
	readTable := func(tableOff int64) error {
		for first := 0; first < peTableEntries; first += sliceEntries {
			off := tableOff + int64(first*peEntrySize)
			clear(slice)
			n, err := r.ReadAt(slice, off)
			if err != nil && err != io.EOF {
				return fmt.Errorf("vmfs: reading PE table at %#x: %w", off, err)
			}
			for k := 0; k < sliceEntries; k++ {
				e, f := slice[k*peEntrySize:], layout.PEEntry
				if f.Used.Get(e) == 0 {
					continue
				}
				pe := PE{
					ID:       f.ID.Get32(e),
					Physical: int64(f.Physical.Get(e)),
					Logical:  int64(f.Logical.Get(e)),
					Length:   int64(f.Length.Get(e)),
				}
				if pe.Physical < 0 || pe.Logical < 0 || pe.Length <= 0 || pe.Logical+pe.Length < 0 || pe.Physical+pe.Length < 0 {
					return corrupt("PE table entry", off+int64(k*peEntrySize), "offsets out of range")
				}
				pes = append(pes, pe)
			}
			if n < len(slice) { // the device ends inside the table
				return nil
			}
		}
		return nil
	}
	readRegion := func(bitmapOff int64, maps uint32) error {
		if maps == 0 {
			maps = 1
		}
		if maps > maxPEMaps {
			return corrupt("LVM header", bitmapOff, "%d PE maps in one region (at most %d)", maps, maxPEMaps)
		}
		for i := int64(0); i < int64(maps); i++ {
			bmOff := bitmapOff + i*(bitmapSize+0x100000)
			if _, err := r.ReadAt(bm, bmOff); err != nil {
				return fmt.Errorf("vmfs: reading PE bitmap at %#x: %w", bmOff, err)
			}
			if err := readTable(bmOff + bitmapSize); err != nil {
				return err
			}
		}
		return nil
	}
	if err := readRegion(firstBitmap, h.NumPEMaps); err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	for next := h.ExtMetaOffset; next != 0; {
		if seen[next] || len(seen) >= maxExtRegions {
			return nil, corrupt("LVM extended metadata", int64(next), "chain loops or exceeds %d regions", maxExtRegions)
		}
		seen[next] = true
		hdr := make([]byte, 0x18)
		off := base + int64(next)
		if _, err := r.ReadAt(hdr, off); err != nil {
			return nil, fmt.Errorf("vmfs: reading LVM extended metadata at %#x: %w", off, err)
		}
		if le.Uint32(hdr) != lvmMagic {
			return nil, corrupt("LVM extended metadata", off, "bad magic")
		}
		// The bitmap/table pairs sit at the same relative offsets as in
		// the main region.
		if err := readRegion(off+(firstBitmap-base-lvmHeaderOffset), le.Uint32(hdr[4:])); err != nil {
			return nil, err
		}
		next = le.Uint64(hdr[0x10:])
	}
	return pes, nil
}

// clen is the length of a NUL-terminated string in b.
func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// segment maps a run of the logical volume onto a device.
type segment struct {
	logical, length, physical int64
	dev                       Device // nil: missing extent, reads as zeros in tolerant mode
	devIndex                  int    // of dev among the devices assembled
}

// logicalVolume is the LVM volume: the concatenation of PEs of one or more
// devices, read through io.ReaderAt.
type logicalVolume struct {
	size     int64
	segments []segment // sorted by logical offset, covering [0, size)
}

// assemble builds the logical volume from the devices that carry one
// volume's extents. Gaps are ErrExtentMissing unless tolerant, in which
// case they become zero-reading segments and are returned as anomalies.
func assemble(devs []Device, headers []*LVMHeader, tolerant bool) (*logicalVolume, []string, error) {
	var zero *LVMHeader
	for _, h := range headers {
		if h.FirstPE == 0 {
			zero = h
		}
	}
	if zero == nil {
		zero = headers[0]
		if !tolerant {
			return nil, nil, fmt.Errorf("%w: the device holding the start of volume %s (first PE 0) was not given", ErrExtentMissing, headers[0].VolumeUUID)
		}
	}
	size := int64(zero.LogicalSize)
	var segs []segment
	lastDev := -1 // the device of segs' last entry
	for i, h := range headers {
		if len(h.PEs) == 0 {
			// No PE table: fall back to the fixed layout VT/V6 use (vmfs.md:
			// "PE table and spanned volumes").
			segs = append(segs, segment{
				logical: int64(h.FirstPE) * peUnit, length: int64(h.LastPE-h.FirstPE+1) * peUnit,
				physical: int64(h.DataOffset), dev: devs[i], devIndex: i,
			})
			lastDev = -1
			continue
		}
		for _, pe := range h.PEs {
			// LVM5 lists every 256 MiB PE: a 64 TiB volume has 262,144.
			// Runs that continue the previous one on both sides merge.
			if k := len(segs) - 1; k >= 0 && lastDev == i &&
				segs[k].logical+segs[k].length == pe.Logical && segs[k].physical+segs[k].length == pe.Physical {
				segs[k].length += pe.Length
				continue
			}
			segs = append(segs, segment{logical: pe.Logical, length: pe.Length, physical: pe.Physical, dev: devs[i], devIndex: i})
			lastDev = i
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].logical < segs[j].logical })
	var out []segment
	var anomalies []string
	pos := int64(0)
	for _, s := range segs {
		if s.logical >= size {
			break
		}
		if s.logical < pos { // overlap: keep the first mapping
			cut := pos - s.logical
			if cut >= s.length {
				continue
			}
			s.logical, s.physical, s.length = pos, s.physical+cut, s.length-cut
		}
		if s.logical > pos {
			if !tolerant {
				return nil, nil, fmt.Errorf("%w: volume %s has no device for bytes %#x-%#x (%d devices expected, %d given)",
					ErrExtentMissing, zero.VolumeUUID, pos, s.logical, zero.NumDevs, len(devs))
			}
			anomalies = append(anomalies, fmt.Sprintf("volume bytes %#x-%#x: extent missing, read as zeros", pos, s.logical))
			out = append(out, segment{logical: pos, length: s.logical - pos})
		}
		if s.logical+s.length > size {
			s.length = size - s.logical
		}
		out = append(out, s)
		pos = s.logical + s.length
	}
	if pos < size {
		if !tolerant {
			return nil, nil, fmt.Errorf("%w: volume %s has no device for bytes %#x-%#x (%d devices expected, %d given)",
				ErrExtentMissing, zero.VolumeUUID, pos, size, zero.NumDevs, len(devs))
		}
		anomalies = append(anomalies, fmt.Sprintf("volume bytes %#x-%#x: extent missing, read as zeros", pos, size))
		out = append(out, segment{logical: pos, length: size - pos})
	}
	return &logicalVolume{size: size, segments: out}, anomalies, nil
}

func (lv *logicalVolume) Size() int64 { return lv.size }

// ReadAt reads across segments; missing extents and bytes past a
// truncated device's end read as zeros (the latter only in tolerant
// assembly, where it is recorded; strictly, a short device is an error).
func (lv *logicalVolume) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vmfs: negative volume offset %d", off)
	}
	n := 0
	for len(p) > 0 {
		if off >= lv.size {
			return n, io.EOF
		}
		s := lv.segments[lv.segmentAt(off)]
		within := off - s.logical
		chunk := min(int64(len(p)), s.length-within)
		if s.dev == nil {
			clear(p[:chunk])
		} else if _, err := readFull(s.dev, p[:chunk], s.physical+within); err != nil {
			return n, fmt.Errorf("vmfs: volume offset %#x (device offset %#x): %w", off, s.physical+within, err)
		}
		n += int(chunk)
		p = p[chunk:]
		off += chunk
	}
	return n, nil
}

// readFull is ReadAt that treats a full read ending at EOF as success.
func readFull(r io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
