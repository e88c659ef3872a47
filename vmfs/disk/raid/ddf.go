package raid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// SNIA DDF (Common RAID Disk Data Format), as LSI/Dell PERC, Adaptec and
// mdadm's external metadata write it; every number is big-endian, every
// offset in 512-byte blocks (4 KiB ones on 4Kn disks: ddfBlockSizes).
//
// The anchor header (type 0x00) is specified to sit in the last block of
// the disk, but some controllers (PERC) put the DDF area well before the
// end, so ReadDDF searches the last ddfSearch bytes for it. A header:
//
//	0x00 signature 0xDE11DE11  0x04 CRC-32 (over the 512 bytes, this field 0xFFFFFFFF; see ddfCRCOK)
//	0x08 GUID[24]  0x20 revision[8]  0x60 primary_lba  0x68 secondary_lba
//	0x70 type (0 anchor, 1 primary, 2 secondary)
//	0x80 max PD entries  0x82 max VD entries  0x84 max partitions
//	0x86 configuration record length (blocks)  0x88 max primary elements
//	0xC0 … 0xFC section offsets and lengths (blocks, from the primary
//	header): controller, physical disks, virtual disks, configuration,
//	this disk's data, bad blocks, diagnostics, vendor.
//
// A virtual disk configuration record (0xEEEEEEEE) in the configuration
// section: 0x08 VD GUID[24], 0x40 primary element count, 0x42 strip size
// (2^n blocks), 0x43 primary RAID level, 0x44 level qualifier, 0x45
// secondary element count, 0x48 blocks per member, 0x200 the PD
// references of the members in order (max primary elements of them),
// then each member's starting block (u64). The disk data section
// (0x33333333) holds this disk's PD reference at 0x20.
const (
	ddfSignature  = 0xDE11DE11
	ddfVDConfig   = 0xEEEEEEEE
	ddfDiskData   = 0x33333333
	ddfSearch     = 32 << 20
	ddfMaxConfigs = 256
)

// DDF is what a disk's DDF metadata says about the first array it is a
// member of.
type DDF struct {
	Anchor  int64 // byte offset of the anchor header
	Primary int64 // byte offset of the primary header
	VDGUID  [24]byte
	Level   Level
	Layout  Layout
	Chunk   int64
	Members int
	Slot    int   // this disk's place, -1 when it is not in the array
	Offset  int64 // where the array's data starts on this disk
	Size    int64 // data bytes on each member
	// CRCOK reports whether the anchor's CRC checks (a mismatch is kept:
	// the geometry may still be right).
	CRCOK bool
}

// ErrNoDDF means no DDF anchor header was found.
var ErrNoDDF = errors.New("raid: no DDF anchor header")

// ReadDDF searches the end of a member for a DDF anchor and decodes the
// geometry of the first virtual disk the member belongs to.
func ReadDDF(r io.ReaderAt, size int64) (*DDF, error) {
	start := max(0, size-ddfSearch)
	start -= start % 512
	buf := make([]byte, size-start)
	if n, err := r.ReadAt(buf, start); n < len(buf) {
		return nil, fmt.Errorf("raid: reading the last %d bytes for DDF: %w", len(buf), err)
	}
	// The last anchor wins: the specified place, or the nearest to it.
	for at := int64(len(buf)) - 512; at >= 0; at -= 512 {
		b := buf[at : at+512]
		if binary.BigEndian.Uint32(b) != ddfSignature || b[0x70] != 0 {
			continue
		}
		d, err := parseDDF(r, size, b, start+at)
		if err != nil {
			return nil, fmt.Errorf("DDF anchor at %#x: %w", start+at, err)
		}
		return d, nil
	}
	return nil, ErrNoDDF
}

// ddfCRCOK reports whether a DDF structure's stored CRC checks. The
// structures are summed with CRC-32 (IEEE, reflected) over their bytes
// with the CRC field set to all ones, but two conventions exist. mdadm's
// bundled zlib crc32 has its initial and final inversions commented out:
// the register starts at zero and the result is stored as it comes, and
// mdadm refuses any other anchor ("bad CRC on anchor"); mdadm issue 135
// read a Dell PERC H710's anchor that way. FreeBSD's graid and dmraid use
// the standard CRC-32 (all ones in, inverted out). Either is a valid
// structure.
func ddfCRCOK(b []byte) bool {
	stored := binary.BigEndian.Uint32(b[4:])
	c := bytes.Clone(b)
	binary.BigEndian.PutUint32(c[4:], 0xFFFFFFFF)
	// crc32.Update inverts before and after: starting it from all ones
	// makes the register start at zero, and inverting its result undoes
	// the final inversion.
	return stored == ^crc32.Update(0xFFFFFFFF, crc32.IEEETable, c) || stored == crc32.ChecksumIEEE(c)
}

func parseDDF(r io.ReaderAt, size int64, anchor []byte, at int64) (*DDF, error) {
	be := binary.BigEndian
	d := &DDF{Anchor: at, Slot: -1}
	primary := int64(be.Uint64(anchor[0x60:]))
	if primary <= 0 || primary > size/512-1 {
		return nil, fmt.Errorf("%w: primary header LBA %d outside the disk", ErrUnsupported, primary)
	}
	hdr, bs := primaryHeader(r, size, primary)
	if hdr == nil {
		hdr = anchor // the anchor carries the same section table
	}
	d.Primary = primary * bs
	// On 4Kn disks a structure fills its block: its CRC may cover the block.
	block := make([]byte, min(bs, size-at))
	_, err := r.ReadAt(block, at)
	d.CRCOK = ddfCRCOK(anchor) || bs > 512 && err == nil && ddfCRCOK(block)
	recLen := int64(be.Uint16(hdr[0x86:]))
	mppe := int64(be.Uint16(hdr[0x88:]))
	section := func(i int) (int64, int64) {
		return int64(be.Uint32(hdr[0xC0+8*i:])), int64(be.Uint32(hdr[0xC4+8*i:]))
	}
	readSection := func(i int, what string) ([]byte, error) {
		off, n := section(i)
		if n <= 0 || n > 1<<16 || d.Primary+(off+n)*bs > size {
			return nil, fmt.Errorf("%w: %s section (%d blocks at +%d) outside the disk", ErrUnsupported, what, n, off)
		}
		b := make([]byte, n*bs)
		if _, err := r.ReadAt(b, d.Primary+off*bs); err != nil {
			return nil, fmt.Errorf("reading %s section: %w", what, err)
		}
		return b, nil
	}
	data, err := readSection(4, "disk data")
	if err != nil {
		return nil, err
	}
	if be.Uint32(data) != ddfDiskData {
		return nil, fmt.Errorf("%w: no disk data record", ErrUnsupported)
	}
	ref := be.Uint32(data[0x20:])
	conf, err := readSection(3, "configuration")
	if err != nil {
		return nil, err
	}
	if recLen < 1 || mppe < 1 || mppe > 4096 || 0x200+mppe*12 > recLen*bs {
		return nil, fmt.Errorf("%w: configuration records of %d blocks for %d elements", ErrUnsupported, recLen, mppe)
	}
	for i := int64(0); i < ddfMaxConfigs && (i+1)*recLen*bs <= int64(len(conf)); i++ {
		rec := conf[i*recLen*bs:][:recLen*bs]
		if be.Uint32(rec) != ddfVDConfig {
			continue
		}
		for k := range mppe {
			if be.Uint32(rec[0x200+4*k:]) != ref {
				continue
			}
			copy(d.VDGUID[:], rec[0x08:0x20])
			d.Slot = int(k)
			start, blocks := be.Uint64(rec[0x200+4*mppe+8*k:])&(1<<54-1), be.Uint64(rec[0x48:])&(1<<54-1)
			if start > uint64(size/bs) || blocks > uint64(size/bs) {
				return nil, fmt.Errorf("%w: data at block %d, %d blocks a member, past the end of the disk", ErrUnsupported, start, blocks)
			}
			d.Offset, d.Size = int64(start)*bs, int64(blocks)*bs
			d.Members = int(be.Uint16(rec[0x40:]))
			shift := rec[0x42]
			if shift > 21 || bs<<shift > 1<<30 {
				return nil, fmt.Errorf("%w: strip size 2^%d blocks of %d bytes", ErrUnsupported, shift, bs)
			}
			d.Chunk = bs << shift
			if err := ddfLevel(rec[0x43], rec[0x44], rec[0x45], d); err != nil {
				return nil, err
			}
			if d.Members < d.Level.minMembers() || d.Members > maxMembers || d.Slot >= d.Members {
				return nil, fmt.Errorf("%w: %d members, this disk in slot %d", ErrUnsupported, d.Members, d.Slot)
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: no virtual disk names this disk (reference %#x)", ErrUnsupported, ref)
}

// ddfBlockSizes are the block sizes DDF metadata may count in: 512 bytes,
// and 4 KiB on 4Kn disks, where every LBA, section length and strip size
// counts 4 KiB blocks and each structure is padded to its block (FreeBSD's
// graid reads DDF in the disk's sector size; a PERC H730 writes it so on
// 4Kn disks, mdadm issue 281, which mdadm cannot read).
var ddfBlockSizes = []int64{512, 4096}

// primaryHeader reads the primary header at lba, and says which block
// size the LBA counts in: the one at which a primary header is found
// there. It returns nil when there is none.
func primaryHeader(r io.ReaderAt, size, lba int64) (hdr []byte, bs int64) {
	for _, bs := range ddfBlockSizes {
		h := make([]byte, 512)
		if lba > size/bs-1 {
			break
		}
		if _, err := r.ReadAt(h, lba*bs); err == nil && binary.BigEndian.Uint32(h) == ddfSignature && h[0x70] == 1 {
			return h, bs
		}
	}
	return nil, 512
}

// ddfLevel converts DDF's level and qualifier as mdadm does.
func ddfLevel(prl, rlq, secondary byte, d *DDF) error {
	if secondary > 1 {
		return fmt.Errorf("%w: DDF secondary level over %d arrays (RAID 50/60 spans)", ErrUnsupported, secondary)
	}
	switch prl {
	case 0x00:
		d.Level = RAID0
	case 0x01:
		d.Level = RAID1
	case 0x0F, 0x1F:
		d.Level = Linear
	case 0x05:
		d.Level = RAID5
		layouts := map[byte]Layout{0: RightAsymmetric, 2: LeftAsymmetric, 3: LeftSymmetric}
		l, ok := layouts[rlq]
		if !ok {
			return fmt.Errorf("%w: DDF RAID 5 qualifier %d", ErrUnsupported, rlq)
		}
		d.Layout = l
	case 0x06:
		d.Level = RAID6
		layouts := map[byte]Layout{1: DDFZeroRestart, 2: DDFNRestart, 3: DDFNContinue}
		l, ok := layouts[rlq]
		if !ok {
			return fmt.Errorf("%w: DDF RAID 6 qualifier %d", ErrUnsupported, rlq)
		}
		d.Layout = l
	case 0x11:
		if rlq != 0 {
			return fmt.Errorf("%w: DDF RAID 1E qualifier %d", ErrUnsupported, rlq)
		}
		d.Level = RAID10 // adjacent copies: md's near 2
	default:
		return fmt.Errorf("%w: DDF level %#x", ErrUnsupported, prl)
	}
	return nil
}

// Geometry is the array geometry the DDF record describes.
func (d *DDF) Geometry() Geometry {
	return Geometry{Level: d.Level, Layout: d.Layout, Chunk: d.Chunk, Offset: d.Offset, Size: d.Size}.normal()
}
