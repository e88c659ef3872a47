package raidtest

import (
	"encoding/binary"
	"hash/crc32"
	"os"
)

// DDF describes SNIA DDF metadata to write on a member, as a controller
// would (SNIA "Common RAID Disk Data Format" 2.0; the structures as
// mdadm's super-ddf.c declares them).
type DDF struct {
	PRL, RLQ   byte // primary RAID level and qualifier
	StripShift byte // strip size 2^n blocks
	Members    int
	Slot       int
	StartBlock int64 // where data starts on every member, in blocks
	Blocks     int64 // data blocks on each member
	// FromEnd moves the whole DDF area (anchor included) this many bytes
	// before the end of the disk, as PERC controllers do.
	FromEnd int64
	// StandardCRC sums the structures with the standard CRC-32 (register
	// starting at all ones, result inverted), as FreeBSD's graid and
	// dmraid do; else as mdadm does and accepts (register starting at
	// zero, result not inverted: its zlib crc32 has both inversions
	// commented out).
	StandardCRC bool
	// BlockSize is the block every LBA, length and strip size counts: 512
	// (0 says so too), or 4096 as on 4Kn disks, where each structure is
	// padded to its block with 0xFF and its CRC covers the block.
	BlockSize int64
}

const (
	ddfMPPE   = 16 // max primary element entries
	ddfRecLen = 2  // config record blocks: 1 + ceil(16·12/512)
)

// WriteDDF writes DDF metadata for member d.Slot at the end of the image
// at path: the anchor in the last block (less FromEnd), the primary
// header and its sections in the 64 blocks before it.
func WriteDDF(path string, d DDF) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if d.BlockSize == 0 {
		d.BlockSize = 512
	}
	bs := d.BlockSize
	last := (st.Size()-d.FromEnd)/bs - 1 // anchor LBA
	w := ddfWriter{d: d, primary: last - 64}
	w.area = make([]byte, (w.data().off+w.data().n)*bs)
	copy(w.area, w.header(1))
	w.controller()
	w.physical()
	w.virtual()
	w.config()
	w.diskData()
	if _, err := f.WriteAt(w.area, w.primary*bs); err != nil {
		return err
	}
	_, err = f.WriteAt(w.header(0), last*bs)
	return err
}

var be = binary.BigEndian

// ddfWriter renders the DDF area of one member: the primary header and
// its sections, in blocks from the header.
type ddfWriter struct {
	d       DDF
	primary int64 // LBA of the primary header
	area    []byte
}

// ddfSection is a section of the DDF area: off and n in blocks from the
// primary header.
type ddfSection struct{ off, n int64 }

// sections: the physical and virtual disk sections hold a 64-byte header
// and 15 entries of 64 bytes, 2 blocks each (mdadm refuses these sections
// unless they are 2, 8, 32, 128 or 512 blocks long, the sizes for 15, 63,
// 255, 1023 and 4095 entries).
func (ddfWriter) sections() []ddfSection {
	return []ddfSection{{1, 1}, {2, 2}, {4, 2}, {6, ddfRecLen}, {6 + ddfRecLen, 1}}
}

func (w ddfWriter) data() ddfSection { return w.sections()[4] }

// section is the bytes of section k (controller, physical disks, virtual
// disks, configuration, disk data).
func (w ddfWriter) section(k int) []byte {
	s := w.sections()[k]
	return w.area[s.off*w.d.BlockSize:][:s.n*w.d.BlockSize]
}

func ddfRef(i int) uint32 { return 0x10000 + uint32(i) }

func ddfGUID(kind byte, i int) []byte {
	g := []byte("VMFSRECOVERTEST         ")
	g[20], g[21] = kind, byte(i)
	return g
}

// sum sets a structure's CRC, computed with the CRC field all ones.
func (w ddfWriter) sum(b []byte) {
	be.PutUint32(b[4:], 0xFFFFFFFF)
	c := crc32.ChecksumIEEE(b)
	if !w.d.StandardCRC {
		// ChecksumIEEE inverts the register before and after; undo both
		// by hand, bit by bit, as the register runs from zero.
		c = 0
		for _, x := range b {
			c ^= uint32(x)
			for range 8 {
				c = c>>1 ^ 0xEDB88320&-(c&1)
			}
		}
	}
	be.PutUint32(b[4:], c)
}

// fill sets every byte of b to 0xff (unused entries).
func fill(b []byte) {
	for i := range b {
		b[i] = 0xff
	}
}

// header renders the anchor (typ 0) or the primary header (typ 1).
func (w ddfWriter) header(typ byte) []byte {
	h := make([]byte, w.d.BlockSize)
	fill(h)
	be.PutUint32(h[0:], 0xDE11DE11)
	copy(h[8:], ddfGUID('H', 0))
	copy(h[0x20:], "01.02.00")
	be.PutUint32(h[0x28:], 1)          // sequence
	be.PutUint32(h[0x2C:], 0x12345678) // timestamp
	h[0x30], h[0x31], h[0x32] = 0, 0, 0
	be.PutUint64(h[0x60:], uint64(w.primary))
	be.PutUint64(h[0x68:], ^uint64(0)) // no secondary
	h[0x70] = typ
	be.PutUint32(h[0x74:], 32768)
	be.PutUint64(h[0x78:], uint64(w.primary+16))
	be.PutUint16(h[0x80:], 15)
	be.PutUint16(h[0x82:], 15)
	be.PutUint16(h[0x84:], 1)
	be.PutUint16(h[0x86:], ddfRecLen)
	be.PutUint16(h[0x88:], ddfMPPE)
	for i, s := range w.sections() {
		be.PutUint32(h[0xC0+8*i:], uint32(s.off))
		be.PutUint32(h[0xC4+8*i:], uint32(s.n))
	}
	for i := 5; i < 8; i++ {
		be.PutUint32(h[0xC0+8*i:], 0xFFFFFFFF)
		be.PutUint32(h[0xC4+8*i:], 0)
	}
	w.sum(h)
	return h
}

func (w ddfWriter) controller() {
	c := w.section(0)
	fill(c[512:]) // a 4 KiB block past the structure
	be.PutUint32(c, 0xAD111111)
	copy(c[8:], ddfGUID('C', 0))
	copy(c[0x28:], "vmfsrecover test")
	w.sum(c)
}

// physical lists the members, every one online in the virtual disk.
func (w ddfWriter) physical() {
	p := w.section(1)
	be.PutUint32(p, 0x22222222)
	be.PutUint16(p[8:], uint16(w.d.Members))
	be.PutUint16(p[10:], 15)
	for i := range w.d.Members {
		e := p[64+64*i:]
		copy(e, ddfGUID('P', i))
		be.PutUint32(e[24:], ddfRef(i))
		be.PutUint16(e[28:], 2) // active in a VD
		be.PutUint16(e[30:], 1) // online
		be.PutUint64(e[32:], uint64(w.primary))
	}
	for i := w.d.Members; i < 15; i++ {
		fill(p[64+64*i:][:64])
	}
	w.sum(p)
}

// virtual lists the one virtual disk.
func (w ddfWriter) virtual() {
	v := w.section(2)
	be.PutUint32(v, 0xDDDDDDDD)
	be.PutUint16(v[8:], 1)
	be.PutUint16(v[10:], 15)
	copy(v[64:], ddfGUID('V', 0))
	copy(v[64+48:], "test-vd")
	for i := 1; i < 15; i++ {
		fill(v[64+64*i:][:64])
	}
	w.sum(v)
}

// config is the virtual disk's configuration record: level, strip size,
// sizes and every member with where its data starts.
func (w ddfWriter) config() {
	d, r := w.d, w.section(3)
	fill(r)
	be.PutUint32(r, 0xEEEEEEEE)
	copy(r[8:], ddfGUID('V', 0))
	be.PutUint32(r[0x20:], 0x12345678)
	be.PutUint32(r[0x24:], 1)
	be.PutUint16(r[0x40:], uint16(d.Members))
	r[0x42], r[0x43], r[0x44], r[0x45], r[0x46], r[0x47] = d.StripShift, d.PRL, d.RLQ, 1, 0, 0
	be.PutUint64(r[0x48:], uint64(d.Blocks))
	dataDisks := int64(d.Members - map[byte]int{5: 1, 6: 2}[d.PRL])
	if d.PRL == 1 {
		dataDisks = 1
	}
	be.PutUint64(r[0x50:], uint64(d.Blocks*dataDisks))
	for i := range d.Members {
		be.PutUint32(r[0x200+4*i:], ddfRef(i))
		be.PutUint64(r[0x200+4*ddfMPPE+8*i:], uint64(d.StartBlock))
	}
	w.sum(r)
}

// diskData says which member this disk is.
func (w ddfWriter) diskData() {
	dd := w.section(4)
	fill(dd[512:])
	be.PutUint32(dd, 0x33333333)
	copy(dd[8:], ddfGUID('P', w.d.Slot))
	be.PutUint32(dd[0x20:], ddfRef(w.d.Slot))
	w.sum(dd)
}
