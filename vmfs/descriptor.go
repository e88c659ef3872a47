package vmfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strings"
)

const (
	fsDescriptorOffset = 0x200000 // volume offset (vmfs.md: "Volume layout")
	fsMagicVMFS        = 0x2FABF15E
	fsMagicVMFSL       = 0x2FABF15F // ESXi 7+ OSDATA
	heartbeatOffset    = 0x300000
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
	buf := make([]byte, 0x200)
	if _, err := readFull(r, buf, fsDescriptorOffset); err != nil {
		return nil, fmt.Errorf("vmfs: reading %s at volume offset %#x: %w", where, fsDescriptorOffset, err)
	}
	return ParseDescriptor(buf)
}

// ParseDescriptor decodes a file-system descriptor from its first 0x200
// bytes (as a deep scan finds it anywhere on a disk).
func ParseDescriptor(buf []byte) (*Descriptor, error) {
	const where = "file-system descriptor"
	le := binary.LittleEndian
	d := &Descriptor{
		Magic:         le.Uint32(buf[0x00:]),
		Major:         le.Uint32(buf[0x04:]),
		Minor:         buf[0x08],
		Config:        le.Uint32(buf[0x19:]),
		Label:         string(buf[0x1D : 0x1D+clen(buf[0x1D:0x9D])]),
		DiskBlockSize: le.Uint32(buf[0x9D:]),
		BlockSize:     int64(le.Uint64(buf[0xA1:])),
		CreationTime:  le.Uint32(buf[0xA9:]),
		FDCGroupOff:   le.Uint32(buf[0xD1:]),
		FDCPerGroup:   le.Uint32(buf[0xD5:]),
		SubBlockSize:  int64(le.Uint32(buf[0xD9:])),
		PB2VolAddr:    le.Uint64(buf[0xE1:]),
		SDDVolAddr:    le.Uint64(buf[0x105:]),
		MDAlignment:   int64(le.Uint32(buf[0x134:])),
		LFBShift:      le.Uint16(buf[0x138:]),
	}
	copy(d.UUID[:], buf[0x09:])
	copy(d.VolumeUUID[:], buf[0xB1:])
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
