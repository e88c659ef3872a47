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
}

const (
	ddfMPPE   = 16 // max primary element entries
	ddfRecLen = 2  // config record blocks: 1 + ceil(16·12/512)
)

// WriteDDF writes DDF metadata for member d.Slot at the end of the image
// at path: the anchor in the last block (less FromEnd), the primary
// header and its sections in the 32 KiB before it.
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
	be := binary.BigEndian
	last := (st.Size()-d.FromEnd)/512 - 1 // anchor LBA
	primary := last - 64
	ref := func(i int) uint32 { return 0x10000 + uint32(i) }
	guid := func(kind byte, i int) []byte {
		g := []byte("VMFSRECOVERTEST         ")
		g[20], g[21] = kind, byte(i)
		return g
	}
	// Sections, in blocks from the primary header.
	type sec struct{ off, n int64 }
	controller, phys, virt, conf, data := sec{1, 1}, sec{2, 4}, sec{6, 2}, sec{8, ddfRecLen}, sec{8 + ddfRecLen, 1}
	header := func(typ byte) []byte {
		h := make([]byte, 512)
		for i := range h {
			h[i] = 0xff
		}
		be.PutUint32(h[0:], 0xDE11DE11)
		copy(h[8:], guid('H', 0))
		copy(h[0x20:], "01.02.00")
		be.PutUint32(h[0x28:], 1)          // sequence
		be.PutUint32(h[0x2C:], 0x12345678) // timestamp
		h[0x30], h[0x31], h[0x32] = 0, 0, 0
		be.PutUint64(h[0x60:], uint64(primary))
		be.PutUint64(h[0x68:], ^uint64(0)) // no secondary
		h[0x70] = typ
		be.PutUint32(h[0x74:], 32768)
		be.PutUint64(h[0x78:], uint64(primary+16))
		be.PutUint16(h[0x80:], 15)
		be.PutUint16(h[0x82:], 15)
		be.PutUint16(h[0x84:], 1)
		be.PutUint16(h[0x86:], ddfRecLen)
		be.PutUint16(h[0x88:], ddfMPPE)
		for i, s := range []sec{controller, phys, virt, conf, data} {
			be.PutUint32(h[0xC0+8*i:], uint32(s.off))
			be.PutUint32(h[0xC4+8*i:], uint32(s.n))
		}
		for i := 5; i < 8; i++ {
			be.PutUint32(h[0xC0+8*i:], 0xFFFFFFFF)
			be.PutUint32(h[0xC4+8*i:], 0)
		}
		return h
	}
	sum := func(b []byte) {
		be.PutUint32(b[4:], 0xFFFFFFFF)
		be.PutUint32(b[4:], crc32.ChecksumIEEE(b))
	}
	area := make([]byte, (data.off+data.n)*512)
	hdr := header(1)
	sum(hdr)
	copy(area, hdr)
	c := area[controller.off*512:][:512]
	be.PutUint32(c, 0xAD111111)
	copy(c[8:], guid('C', 0))
	copy(c[0x28:], "vmfsrecover test")
	sum(c)
	p := area[phys.off*512:][:phys.n*512]
	be.PutUint32(p, 0x22222222)
	be.PutUint16(p[8:], uint16(d.Members))
	be.PutUint16(p[10:], 15)
	for i := range d.Members {
		e := p[64+64*i:]
		copy(e, guid('P', i))
		be.PutUint32(e[24:], ref(i))
		be.PutUint16(e[28:], 2) // active in a VD
		be.PutUint16(e[30:], 1) // online
		be.PutUint64(e[32:], uint64(primary))
	}
	for i := d.Members; i < 15; i++ {
		e := p[64+64*i:][:64]
		for k := range e {
			e[k] = 0xff
		}
	}
	sum(p)
	v := area[virt.off*512:][:virt.n*512]
	be.PutUint32(v, 0xDDDDDDDD)
	be.PutUint16(v[8:], 1)
	be.PutUint16(v[10:], 15)
	copy(v[64:], guid('V', 0))
	copy(v[64+48:], "test-vd")
	for i := 1; i < 15; i++ {
		e := v[64+64*i:][:64]
		for k := range e {
			e[k] = 0xff
		}
	}
	sum(v)
	r := area[conf.off*512:][:conf.n*512]
	for i := range r {
		r[i] = 0xff
	}
	be.PutUint32(r, 0xEEEEEEEE)
	copy(r[8:], guid('V', 0))
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
		be.PutUint32(r[0x200+4*i:], ref(i))
		be.PutUint64(r[0x200+4*ddfMPPE+8*i:], uint64(d.StartBlock))
	}
	sum(r)
	dd := area[data.off*512:][:512]
	be.PutUint32(dd, 0x33333333)
	copy(dd[8:], guid('P', d.Slot))
	be.PutUint32(dd[0x20:], ref(d.Slot))
	sum(dd)
	if _, err := f.WriteAt(area, primary*512); err != nil {
		return err
	}
	anchor := header(0)
	sum(anchor)
	_, err = f.WriteAt(anchor, last*512)
	return err
}
