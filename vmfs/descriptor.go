package vmfs

import (
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

const (
	fsDescriptorOffset = layout.FSDescOffset
	fsMagicVMFS        = layout.FSMagic
	fsMagicVMFSL       = layout.FSMagicL
)

// Descriptor is the file-system descriptor (vmfs.md: "File-system descriptor"; FS3_Descriptor).
type Descriptor struct {
	Magic         uint32
	Major         uint32 // 4 VMFS3, 14 VMFS5, 24 VMFS6 on the samples
	Minor         uint8
	UUID          UUID
	Config        uint32
	Label         string
	DiskBlockSize uint32
	BlockSize     int64 // file block (VMFS6: small file block) size
	CreationTime  uint32
	VolumeUUID    UUID // must match the LVM volume UUID
	FDCGroupOff   uint32
	FDCPerGroup   uint32
	SubBlockSize  int64
	PB2VolAddr    uint64
	SDDVolAddr    uint64
	MDAlignment   int64 // metadata block size; 512 before VMFS6
	LFBShift      uint16
}

// Version is the VMFS generation: 3, 5 or 6.
func (d *Descriptor) Version() int {
	switch {
	case d.Major >= 24:
		return 6
	case d.Major >= 14:
		return 5
	default:
		return 3
	}
}

// IsVMFSL reports an ESXi OSDATA (VMFS-L) volume.
func (d *Descriptor) IsVMFSL() bool { return d.Magic == fsMagicVMFSL }

// fdcStart is the volume offset of .fdc.sf (vmfs.md: "Volume layout").
func (d *Descriptor) fdcStart() int64 {
	if d.Version() >= 6 {
		return roundUp(3<<20+1024*d.MDAlignment, 1<<20)
	}
	return roundUp(4<<20, d.BlockSize)
}

// LargeBlockSize is the VMFS6 large file block size (0 before VMFS6).
func (d *Descriptor) LargeBlockSize() int64 {
	if d.Version() < 6 {
		return 0
	}
	return d.BlockSize << d.LFBShift
}

func roundUp(x, to int64) int64 { return (x + to - 1) / to * to }

func isPow2(x int64) bool { return x > 0 && x&(x-1) == 0 }

// readDescriptor decodes the descriptor at volume offset 2 MiB.
func readDescriptor(r io.ReaderAt) (*Descriptor, error) {
	const where = "file-system descriptor"
	buf := make([]byte, layout.FSDescSize)
	if _, err := readFull(r, buf, fsDescriptorOffset); err != nil {
		return nil, fmt.Errorf("vmfs: reading %s at volume offset %#x: %w", where, fsDescriptorOffset, err)
	}
	return ParseDescriptor(buf)
}

// ParseDescriptor decodes a file-system descriptor from its first 0x200
// bytes (as a deep scan finds it anywhere on a disk), through
// layout.FSDesc.
func ParseDescriptor(buf []byte) (*Descriptor, error) {
	const where = "file-system descriptor"
	f := layout.FSDesc
	label := f.Label.Bytes(buf)
	d := &Descriptor{
		Magic:         f.Magic.Get32(buf),
		Major:         f.Major.Get32(buf),
		Minor:         uint8(f.Minor.Get(buf)),
		Config:        f.Config.Get32(buf),
		Label:         string(label[:clen(label)]),
		DiskBlockSize: f.DiskBlockSize.Get32(buf),
		BlockSize:     int64(f.BlockSize.Get(buf)),
		CreationTime:  f.CreationTime.Get32(buf),
		FDCGroupOff:   f.FDCGroupOffset.Get32(buf),
		FDCPerGroup:   f.FDCPerGroup.Get32(buf),
		SubBlockSize:  int64(f.SubBlockSize.Get(buf)),
		PB2VolAddr:    f.PB2VolAddr.Get(buf),
		SDDVolAddr:    f.SDDVolAddr.Get(buf),
		MDAlignment:   int64(f.MDAlignment.Get(buf)),
		LFBShift:      uint16(f.LFBShift.Get(buf)),
	}
	copy(d.UUID[:], f.UUID.Bytes(buf))
	copy(d.VolumeUUID[:], f.LVMUUID.Bytes(buf))
	d.Label = strings.ToValidUTF8(d.Label, "?")
	if d.Magic != fsMagicVMFS && d.Magic != fsMagicVMFSL {
		return nil, fmt.Errorf("%w: no file-system descriptor magic at volume offset %#x", ErrNotVMFS, fsDescriptorOffset)
	}
	bad := func(format string, args ...any) error {
		return corrupt(where, fsDescriptorOffset, format, args...)
	}
	if d.Version() < 6 || d.MDAlignment == 0 {
		d.MDAlignment = 512
	}
	switch {
	case !isPow2(d.BlockSize) || d.BlockSize < 64<<10 || d.BlockSize > 1<<30:
		return nil, bad("file block size %d", d.BlockSize)
	case !isPow2(d.SubBlockSize) || d.SubBlockSize < 512 || d.SubBlockSize > d.BlockSize:
		return nil, bad("sub-block size %d", d.SubBlockSize)
	case !isPow2(d.MDAlignment) || d.MDAlignment > 1<<20:
		return nil, bad("metadata alignment %d", d.MDAlignment)
	case d.FDCPerGroup == 0 || d.FDCPerGroup > 1<<16 || d.FDCGroupOff > 1<<30:
		return nil, bad("FDC clusters per group %d, group offset %#x", d.FDCPerGroup, d.FDCGroupOff)
	case d.Version() >= 6 && (d.LFBShift > 20 || bits.Len64(uint64(d.BlockSize))+int(d.LFBShift) > 40):
		return nil, bad("large-block shift %d", d.LFBShift)
	}
	return d, nil
}
