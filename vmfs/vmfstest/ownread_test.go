package vmfstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
)

// miniReader reads files of a generated volume by the rules of
// docs/formats/vmfs.md alone ("File-system descriptor" to "Directories
// (VMFS6)"): it is what the tests use where the
// independent readers cannot go (vmfs-tools has no double-indirect
// addressing; streaming 300 GiB through debugvmfs6 takes too long). It
// shares no code with the writer's layout.
type miniReader struct {
	f        *os.File
	base     int64 // image offset of volume byte 0
	v6       bool
	bs, md   int64
	fdcStart int64
	fdc      resHdr
	sys      map[int]*fdInfo // resource index in FDC cluster 0 -> system FD
}

// The format's constants as docs/formats/vmfs.md gives them, kept here
// rather than taken from vmfs/layout, which the writer uses: a wrong
// value there must not pass because both sides share it.
const (
	docZLAFB        = 1
	docZLASB        = 2
	docZLAPB        = 3
	docZLAPB2       = 5
	docZLADouble    = 0x10D0
	docZLAInline    = 0x10D1
	docLockFD       = 0x10C00001
	docDirVersion   = 0xF50001
	docHashTableOff = 0x5F8
)

type resHdr struct{ rpc, cpg, cgo, rs, cgs int64 }

type fdInfo struct {
	typ, zla uint32
	size     int64
	bsize    int64
	shift    uint8
	ptrs     []uint64
	slot     int64 // vol offset
}

func u32(b []byte, o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }
func u64(b []byte, o int) uint64 { return binary.LittleEndian.Uint64(b[o:]) }

func openMini(image string, partition int64) (*miniReader, error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, err
	}
	m := &miniReader{f: f, base: partition + 0x1100000, sys: map[int]*fdInfo{}}
	d := m.read(0x200000, 0x200)
	if u32(d, 0) != 0x2FABF15E {
		return nil, fmt.Errorf("no FS descriptor")
	}
	m.v6 = u32(d, 4) >= 24
	m.bs = int64(u64(d, 0xA1))
	m.md = 512
	m.fdcStart = (4*mib + m.bs - 1) / m.bs * m.bs
	if m.v6 {
		m.md = int64(u32(d, 0x134))
		m.fdcStart = (3*mib + 1024*m.md + mib - 1) / mib * mib
	}
	h := m.read(m.fdcStart, 0x20)
	m.fdc = resHdr{int64(u32(h, 0)), int64(u32(h, 4)), int64(u32(h, 8)), int64(u32(h, 12)), int64(u32(h, 16))}
	// Bootstrap (vmfs.md: "Resource files"): the system FDs (cluster 0) lie in the
	// FDC's first block; .fdc.sf itself may need .pb2.sf to be mapped.
	for _, r := range []int{2, 3, 4, 6} {
		m.sys[r] = m.parseFD(m.fdcStart + m.fdc.itemOff(0, int64(r)))
	}
	return m, nil
}

func (h resHdr) itemOff(c, r int64) int64 {
	hdr := int64(1024)
	if h.cgs != h.cpg*1024+h.cpg*h.rpc*h.rs {
		hdr = (h.cgs - h.cpg*h.rpc*h.rs) / h.cpg
	}
	return h.cgo + c/h.cpg*h.cgs + h.cpg*hdr + c%h.cpg*h.rpc*h.rs + r*h.rs
}

func (m *miniReader) read(vol, n int64) []byte {
	b := make([]byte, n)
	m.f.ReadAt(b, m.base+vol)
	return b
}

func (m *miniReader) parseFD(slot int64) *fdInfo {
	b := m.read(slot, 2*m.md+0x1000)
	meta := b[m.md:]
	fd := &fdInfo{typ: u32(meta, 0xC), size: int64(u64(meta, 0x14)), bsize: int64(u64(meta, 0x1C)),
		zla: u32(meta, 0x44), shift: meta[0x89], slot: slot}
	if m.v6 {
		arr := b[m.md+m.md/2+0x200 : 2*m.md] // pointer array: the last md/2+... bytes, 320 u64 at +0x600 for 4 KiB md
		arr = b[m.md+0x600 : 2*m.md]
		for i := 0; i+8 <= len(arr); i += 8 {
			fd.ptrs = append(fd.ptrs, u64(arr, i))
		}
	} else {
		arr := meta[0x200:0x600]
		for i := 0; i < len(arr); i += 4 {
			fd.ptrs = append(fd.ptrs, uint64(u32(arr, i)))
		}
	}
	return fd
}

// fd reads the FD at address a through .fdc.sf's block list.
func (m *miniReader) fd(a uint32) (*fdInfo, error) {
	if a&7 != 4 {
		return nil, fmt.Errorf("%#x is not an FD address", a)
	}
	c, r := int64(a>>6&0xFFFF), int64(a>>22)
	vol, err := m.fileVol(m.sys[2], m.fdc.itemOff(c, r))
	if err != nil {
		return nil, err
	}
	return m.parseFD(vol), nil
}

// blockVol decodes a file-block address.
func (m *miniReader) blockVol(a uint64) int64 {
	if m.v6 {
		return (int64(a>>15&(1<<31-1))*512 + int64(a>>51&0x1FFF)) * m.bs
	}
	return int64(a>>6) * m.bs
}

// fileVol maps an offset of a system file (direct file blocks) to the volume.
func (m *miniReader) fileVol(fd *fdInfo, off int64) (int64, error) {
	i := off / fd.bsize
	e := uint64(0)
	if fd.zla == docZLAPB || fd.zla == docZLAPB2 {
		per := int64(1024)
		if m.v6 {
			per = 8192
		}
		if pb := fd.ptrs[i/per]; pb != 0 {
			b, err := m.resource(pb)
			if err != nil {
				return 0, err
			}
			e = m.ptr(b, i%per)
		}
	} else if i < int64(len(fd.ptrs)) {
		e = fd.ptrs[i]
	}
	if e == 0 {
		return 0, fmt.Errorf("offset %#x of a system file is not mapped", off)
	}
	return m.blockVol(e) + off%fd.bsize, nil
}

// resource returns the bytes of an SB/PB/PB2 resource, chosen by the
// address's own type bits.
func (m *miniReader) resource(a uint64) ([]byte, error) {
	sys := map[uint64]int{2: 4, 3: 3, 5: 6}[a&7]
	fd := m.sys[sys]
	if fd == nil {
		return nil, fmt.Errorf("address %#x has no resource file", a)
	}
	hv, err := m.fileVol(fd, 0)
	if err != nil {
		return nil, err
	}
	h := m.read(hv, 0x20)
	rh := resHdr{int64(u32(h, 0)), int64(u32(h, 4)), int64(u32(h, 8)), int64(u32(h, 12)), int64(u32(h, 16))}
	c, r := int64(a>>6&0x3FFFFF), int64(a>>28)
	if m.v6 {
		c, r = int64(a>>6&(1<<36-1)), int64(a>>56)
	}
	vol, err := m.fileVol(fd, rh.itemOff(c, r))
	if err != nil {
		return nil, err
	}
	return m.read(vol, rh.rs), nil
}

func (m *miniReader) ptr(pb []byte, i int64) uint64 {
	if m.v6 {
		return u64(pb, int(8*i))
	}
	return uint64(u32(pb, int(4*i)))
}

// readAt reads len(p) bytes at off of the file whose FD is fd (vmfs.md:
// "Mapping a file offset").
func (m *miniReader) readAt(fd *fdInfo, p []byte, off int64) error {
	shift := int64(fd.shift)
	if shift == 0 {
		shift = int64(log2(fd.bsize))
	}
	per := int64(1024)
	if m.v6 {
		per = 8192
	}
	for len(p) > 0 {
		unit := int64(1) << shift
		n := off >> shift
		k := min(int64(len(p)), unit-off%unit)
		var e uint64
		switch fd.zla {
		case docZLAInline:
			b := m.read(fd.slot+m.md+0x200, fd.size)
			copy(p[:k], b[off:])
			p, off = p[k:], off+k
			continue
		case docZLAFB, docZLASB:
			e = fd.ptrs[n]
		case docZLAPB, docZLAPB2:
			if pb := fd.ptrs[n/per]; pb != 0 {
				b, err := m.resource(pb)
				if err != nil {
					return err
				}
				e = m.ptr(b, n%per)
			}
		case docZLADouble:
			if p1 := fd.ptrs[n/(per*per)]; p1 != 0 {
				b, err := m.resource(p1)
				if err != nil {
					return err
				}
				if p2 := m.ptr(b, n/per%per); p2 != 0 {
					if b, err = m.resource(p2); err != nil {
						return err
					}
					e = m.ptr(b, n%per)
				}
			}
		default:
			return fmt.Errorf("zla %#x", fd.zla)
		}
		tbz := e&7 == 1 && (!m.v6 && e&0x20 != 0 || m.v6 && e>>7&0xFF != 0) || e&7 == 7 && e>>7&0xFF != 0
		switch {
		case e == 0 || tbz:
			clear(p[:k])
		case e&7 == 7: // large file block: fileBlockSize << sfbToLfbShift (9)
			copy(p[:k], m.read(int64(e>>15&(1<<31-1))*(m.bs<<9)+off%unit, k))
		case e&7 == 1:
			copy(p[:k], m.read(m.blockVol(e)+off%unit, k))
		case e&7 == 2:
			b, err := m.resource(e)
			if err != nil {
				return err
			}
			copy(p[:k], b[off%unit:])
		default:
			return fmt.Errorf("unexpected data address %#x", e)
		}
		p, off = p[k:], off+k
	}
	return nil
}

// lookup resolves an absolute path by walking directories (VMFS5 arrays;
// VMFS6 dirent blocks through the allocation map).
func (m *miniReader) lookup(p string) (*fdInfo, error) {
	fd, err := m.fd(4)
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		data := make([]byte, fd.size)
		if err := m.readAt(fd, data, 0); err != nil {
			return nil, err
		}
		var addr uint32
		if m.v6 {
			for b := int64(1); 0x10000+(b+1)*m.md <= int64(len(data)); b++ {
				blk := data[0x10000+b*m.md:]
				if binary.LittleEndian.Uint16(blk[2:]) != 1 {
					continue
				}
				for s := int64(0); s < (m.md-64)/0x120; s++ {
					if blk[8+s/8]&(1<<(s%8)) != 0 {
						continue
					}
					e := blk[64+s*0x120:]
					if string(bytes.TrimRight(e[0x18:0x118], "\x00")) == name {
						addr = u32(e, 4)
					}
				}
			}
		} else {
			for i := 0; i+140 <= len(data); i += 140 {
				if string(bytes.TrimRight(data[i+12:i+140], "\x00")) == name {
					addr = u32(data, i+4)
				}
			}
		}
		if addr == 0 {
			return nil, fmt.Errorf("%s: %q not found", p, name)
		}
		if fd, err = m.fd(addr); err != nil {
			return nil, err
		}
	}
	return fd, nil
}

// checkOwnReading compares ranges of e read by miniReader with the intended
// content: the start, every allocated range's edges, and points in holes.
func checkOwnReading(t *testing.T, image string, r *Result, e *Expect, extra []int64) {
	t.Helper()
	m, err := openMini(image, partitionOf(image, r))
	if err != nil {
		t.Fatalf("%s: %v", e.Path, err)
	}
	defer m.f.Close()
	fd, err := m.lookup(e.Path)
	if err != nil {
		t.Fatalf("lookup %s: %v", e.Path, err)
	}
	if fd.size != e.Size {
		t.Errorf("%s: FD length %d, want %d", e.Path, fd.size, e.Size)
	}
	offs := append([]int64{0, e.Size / 2, e.Size - 1}, extra...)
	for _, a := range e.Allocated {
		offs = append(offs, a.Off, a.Off+a.Len-1, a.Off+a.Len)
	}
	const win = 8192
	for _, off := range offs {
		off = max(0, min(off-win/2, e.Size-win))
		n := min(int64(win), e.Size-off)
		got, want := make([]byte, n), make([]byte, n)
		if err := m.readAt(fd, got, off); err != nil {
			t.Errorf("%s at %#x: %v", e.Path, off, err)
			continue
		}
		e.ReadAt(want, off)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: bytes at %#x differ from the intended content", e.Path, off)
		}
	}
}

// partitionOf is 0 for tool images cut out of a GPT image, else the
// partition offset of the written image.
func partitionOf(image string, r *Result) int64 {
	if path.Ext(image) == ".part" {
		return 0
	}
	return r.PartitionOffset
}
