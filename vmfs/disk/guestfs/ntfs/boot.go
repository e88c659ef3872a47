package ntfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// bootSector is the part of the NTFS boot sector (sector 0 of the volume,
// copied to the volume's last sector) the reader needs. Layout:
//
//	0x03  8  OEM id "NTFS    "
//	0x0B  2  bytes per sector
//	0x0D  1  sectors per cluster (values above 0x80: 2^(256-v))
//	0x28  8  sectors in the volume (the backup sector excluded)
//	0x30  8  first cluster of $MFT
//	0x38  8  first cluster of $MFTMirr
//	0x40  1  MFT record size: clusters, or 2^-v bytes when negative
//	0x44  1  index block size, coded the same way
//	0x1FE 2  0x55 0xAA
type bootSector struct {
	off         int64 // where it was read
	sectorSize  int64
	clusterSize int64
	sectors     int64
	mftCluster  int64
	mirrCluster int64
	recordSize  int64
	indexSize   int64
}

func decodeBoot(b []byte, off int64) (bootSector, error) {
	bad := func(format string, args ...any) error {
		return &ondisk.FormatError{Path: "ntfs", Struct: "boot sector", Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrNotNTFS}
	}
	if len(b) < 512 || string(b[3:11]) != "NTFS    " {
		return bootSector{}, bad("no NTFS signature")
	}
	if b[0x1FE] != 0x55 || b[0x1FF] != 0xAA {
		return bootSector{}, bad("no 0x55AA end marker")
	}
	bs := bootSector{off: off}
	bs.sectorSize = int64(binary.LittleEndian.Uint16(b[0x0B:]))
	if bs.sectorSize < 256 || bs.sectorSize > 4096 || bits.OnesCount64(uint64(bs.sectorSize)) != 1 {
		return bootSector{}, bad("sector size %d", bs.sectorSize)
	}
	// Above 0x80 the count is a power of two: up to 2^12 sectors, for
	// clusters of 2 MiB (FuzzOpen found 0x81, whose 2^127 overflows).
	spc := int64(b[0x0D])
	if spc > 0x80 && spc >= 256-12 {
		spc = 1 << (256 - spc)
	} else if spc > 0x80 {
		spc = 0
	}
	bs.clusterSize = spc * bs.sectorSize
	if spc == 0 || bits.OnesCount64(uint64(spc)) != 1 || bs.clusterSize > 2<<20 {
		return bootSector{}, bad("sectors per cluster %#x", b[0x0D])
	}
	bs.sectors = int64(binary.LittleEndian.Uint64(b[0x28:]))
	if bs.sectors <= 0 || bs.sectors > 1<<50/bs.sectorSize {
		return bootSector{}, bad("volume of %d sectors", bs.sectors)
	}
	clusters := bs.clusters()
	bs.mftCluster = int64(binary.LittleEndian.Uint64(b[0x30:]))
	bs.mirrCluster = int64(binary.LittleEndian.Uint64(b[0x38:]))
	if bs.mftCluster <= 0 || bs.mftCluster >= clusters {
		return bootSector{}, bad("$MFT at cluster %d of %d", bs.mftCluster, clusters)
	}
	if bs.mirrCluster <= 0 || bs.mirrCluster >= clusters {
		return bootSector{}, bad("$MFTMirr at cluster %d of %d", bs.mirrCluster, clusters)
	}
	var ok bool
	if bs.recordSize, ok = codedSize(int8(b[0x40]), bs.clusterSize); !ok || bs.recordSize < 256 || bs.recordSize > 64<<10 {
		return bootSector{}, bad("MFT record size code %#x", b[0x40])
	}
	if bs.indexSize, ok = codedSize(int8(b[0x44]), bs.clusterSize); !ok || bs.indexSize < 256 || bs.indexSize > 64<<10 {
		return bootSector{}, bad("index block size code %#x", b[0x44])
	}
	return bs, nil
}

// codedSize decodes the size of an MFT record or index block: a number of
// clusters, or, when negative, the power of two of a byte count.
func codedSize(v int8, clusterSize int64) (int64, bool) {
	if v > 0 {
		return int64(v) * clusterSize, true
	}
	if v < -30 || v == 0 {
		return 0, false
	}
	return 1 << -v, true
}

func (bs bootSector) clusters() int64 { return bs.sectors * bs.sectorSize / bs.clusterSize }

// findBoot reads the boot sector, or, when it is destroyed, its backup in
// the last sector of the volume (which, for a partition, is the last
// sector of the reader). The warning says which copy was used.
func findBoot(r io.ReaderAt, size int64) (bootSector, string, error) {
	b := make([]byte, 512)
	var primary error
	if _, err := r.ReadAt(b, 0); err != nil {
		primary = &ondisk.FormatError{Path: "ntfs", Struct: "boot sector", Off: 0, Msg: err.Error(), Err: ErrNotNTFS}
	} else if bs, err := decodeBoot(b, 0); err == nil {
		return bs, "", nil
	} else {
		primary = err
	}
	// The backup sits in the volume's last sector; a 4Kn disk has 4096-byte
	// sectors.
	for _, ss := range []int64{512, 4096} {
		off := size - ss
		if off <= 0 {
			continue
		}
		if _, err := r.ReadAt(b, off); err != nil {
			continue
		}
		// The backup counts the sectors before it: one that does not is a
		// partition's backup at the end of a larger reader (a whole disk),
		// whose clusters count from elsewhere.
		bs, err := decodeBoot(b, off)
		if err != nil || bs.sectorSize != ss || bs.sectors*ss != off {
			continue
		}
		return bs, fmt.Sprintf("boot sector unreadable (%v); opened from its backup at offset %#x", primary, off), nil
	}
	return bootSector{}, "", primary
}
