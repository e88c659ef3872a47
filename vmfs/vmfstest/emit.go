package vmfstest

import (
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// newFBB sizes the file-block bitmap for w.nblocks blocks. VMFS5: 200
// blocks per cluster as on I5. VMFS6: the small-file-block level (512 per
// cluster, one cluster per 512 MiB large file block) nested in the LFB level.
func (w *writer) newFBB() *resFile {
	if !w.v6 {
		r := newResFile(".fbb.sf", 200, 64, 0, 1024, lockFBB, w.nblocks)
		r.total = w.nblocks
		return r
	}
	sfb := newResFile(".fbb.sf", 512, 8, 0, 2*w.md, lockFBB, w.nblocks)
	sfb.total = w.nblocks
	w.lfb = newResFile(".fbb.sf(LFB)", 16, 8, 2*w.md, 2*w.md, lockLFB, sfb.clusters)
	w.lfb.total = sfb.clusters
	return sfb
}

func (w *writer) fbbLength() int64 {
	if !w.v6 {
		return w.fbb.length()
	}
	return w.lfb.itemOff(w.lfb.total-1) + w.lfb.rs
}

// sfbClusterOff is the .fbb.sf offset of SFB cluster c's header: it is LFB
// resource c (vmfs.md: "Cluster metadata"; nesting observed on I6).
func (w *writer) sfbClusterOff(c int64) int64 { return w.lfb.itemOff(c) }

func (w *writer) write() error {
	w.makeUUIDs()
	for k, x := range w.exts {
		w.f, w.cur = x.f, k
		w.devUUID = makeUUID(uint32(w.s.Time.Unix()), w.s.Seed+uint64(k)*1000, 1)
		if err := w.f.Truncate(w.base + dataOffset + x.count*peSize); err != nil {
			return err
		}
		if err := w.writePartition(); err != nil {
			return err
		}
		if err := w.writeLVM(); err != nil {
			return err
		}
	}
	steps := []func() error{w.writeFSDesc, w.writeHeartbeats,
		w.writeResFiles, w.writeFDs, w.writeData}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) devWrite(off int64, p []byte) error {
	_, err := w.f.WriteAt(p, w.base+off)
	return err
}

// writeLVM writes the LVM device header, volume descriptor, device-name
// table, PE bitmap and PE table (vmfs.md: "LVM device header").
func (w *writer) makeUUIDs() {
	t := uint32(w.s.Time.Unix())
	w.lvmUUID = makeUUID(t, w.s.Seed, 2)
	w.fsUUID = makeUUID(t, w.s.Seed, 3)
}

// devName is the device name of extent k in the LVM device-name table.
func devName(k int) string { return fmt.Sprintf("mpx.vmhba0:C0:T%d:L0:1", k) }

func (w *writer) writeLVM() error {
	x := w.exts[w.cur]
	us := uint64(w.s.Time.UnixMicro())
	units := x.count
	h, l := make([]byte, 0x200), layout.LVM
	l.Magic.Put(h, magicLVM)
	major, mdAlign := uint32(5), uint32(0)
	volOff, sdOff, bmOff, peOff := int64(0x200), int64(0x7E200), int64(0x80200), int64(0x80600)
	if w.v6 {
		major, mdAlign = 6, uint32(w.md)
		volOff, sdOff, bmOff, peOff = 0x1000, 0x7F000, 0x81000, 0x82000
	}
	l.Major.Put(h, uint64(major))
	l.Minor.Put(h, 21)
	h[0x0C] = 0 // SCSI id: type
	id := "vmfstest:0:0"
	h[0x0D] = byte(len(id))
	copy(h[0x12:], "VMware  ")
	copy(h[0x1A:], "Virtual disk    ")
	copy(h[0x2A:], "1.0 ")
	copy(h[0x2E:], id)
	l.SectorSize.Put(h, 512)
	l.DeviceBytes.Put(h, uint64(dataOffset+x.count*peSize))
	l.Volumes.Put(h, 1)
	nPE := units
	if w.v6 {
		nPE = 1 // one run covering every unit, as on I6
	}
	l.PEs.Put(h, uint64(nPE))
	l.LastPE.Put(h, uint64(nPE-1))
	l.Generation.Put(h, 3)
	l.DataOffset.Put(h, dataOffset)
	copy(l.DeviceUUID.Bytes(h), w.devUUID[:])
	l.InitTime.Put(h, us)
	l.ModTime.Put(h, us)
	// An LVM5 PE map (a 1 KiB bitmap, then a table of 8192 entries of
	// 256 MiB) covers 2 TiB; a device holds up to 8 maps, 1 MiB + 1 KiB
	// apart, and numPEMaps says how many (vmfs.md: "LVM device header").
	l.PEMaps.Put(h, uint64((units+peMapEntries-1)/peMapEntries))
	if w.v6 {
		l.PEMaps.Put(h, 0)
		l.MDAlignment.Put(h, uint64(mdAlign))
		l.Units6.Put(h, uint64(units))
	}
	if err := w.devWrite(lvmHeaderOff, h); err != nil {
		return err
	}
	v, d := make([]byte, 0x200), layout.VolumeDesc
	d.Size.Put(v, uint64(w.volSize))
	d.Generation.Put(v, 2)
	d.State.Put(v, 1)
	copy(d.Name.Bytes(v), uuidString(w.lvmUUID))
	copy(d.UUID.Bytes(v), w.lvmUUID[:])
	d.SnapID.Put(v, 1)
	d.CreateTime.Put(v, us)
	d.Units.Put(v, uint64(units))
	d.FirstPE.Put(v, uint64(x.first))
	d.LastPE.Put(v, uint64(x.first+units-1))
	d.ModTime.Put(v, us)
	d.Devices.Put(v, uint64(len(w.exts)))
	if w.v6 {
		d.ConsumedPEs.Put(v, 1)
	}
	if err := w.devWrite(lvmHeaderOff+volOff, v); err != nil {
		return err
	}
	if x.first == 0 {
		sd := make([]byte, 256*len(w.exts))
		for k := range w.exts {
			copy(sd[256*k:], devName(k))
		}
		if err := w.devWrite(lvmHeaderOff+sdOff, sd); err != nil {
			return err
		}
	}
	for m := int64(0); m*peMapEntries < nPE; m++ {
		k := min(nPE-m*peMapEntries, peMapEntries) // entries of map m
		bm := make([]byte, (k+7)/8)
		pe, f := make([]byte, layout.PEEntrySize*k), layout.PEEntry
		for j := range k {
			bm[j/8] |= 1 << (j % 8)
			i := m*peMapEntries + j
			e := pe[j*layout.PEEntrySize:]
			f.Used.Put(e, 1)
			f.ID.Put(e, uint64(x.first+i))
			length := uint64(peSize)
			if w.v6 {
				length = uint64(x.count * peSize)
			}
			f.Physical.Put(e, uint64(dataOffset+i*peSize))
			f.Logical.Put(e, uint64((x.first+i)*peSize))
			f.Length.Put(e, length)
			f.Version.Put(e, 1)
		}
		step := m * (peOff - bmOff + 0x100000)
		if err := w.devWrite(lvmHeaderOff+bmOff+step, bm); err != nil {
			return err
		}
		if err := w.devWrite(lvmHeaderOff+peOff+step, pe); err != nil {
			return err
		}
	}
	return nil
}

// PE maps of an LVM device (vmfs.md: "LVM device header").
const (
	peMapEntries = 8192
	maxPEMaps    = 8
)

func uuidString(u [16]byte) string {
	return fmt.Sprintf("%08x-%08x-%04x-%x", le32r(u[0:]), le32r(u[4:]), uint16(u[8])|uint16(u[9])<<8, u[10:])
}

func le32r(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// writeFSDesc writes the file-system descriptor (vmfs.md: "File-system descriptor").
func (w *writer) writeFSDesc() error {
	d := make([]byte, 0x200)
	le32(d, 0x00, magicFS)
	if w.v6 {
		le32(d, 0x04, 24)
		d[0x08] = 82
	} else {
		le32(d, 0x04, 14)
		d[0x08] = 81
	}
	copy(d[0x09:], w.fsUUID[:])
	le32(d, 0x19, 6)
	copy(d[0x1D:0x9D], w.s.Label)
	le32(d, 0x9D, 512)
	le64(d, 0xA1, uint64(w.bs))
	le32(d, 0xA9, uint32(w.s.Time.Unix()))
	le32(d, 0xAD, 1)
	copy(d[0xB1:], w.lvmUUID[:])
	le32(d, 0xC1, 1)
	le32(d, 0xD1, uint32(w.fdc.cgo))
	le32(d, 0xD5, uint32(w.fdc.cpg))
	le32(d, 0xD9, uint32(w.sbs))
	le32(d, 0xDD, 8)
	pb2, sdd := w.sys[".pb2.sf"], w.sys[".sdd.sf"]
	le64(d, 0xE1, uint64(pb2.fdSlot))
	le32(d, 0xE9, pb2.fd)
	le64(d, 0xFD, 1)
	le64(d, 0x105, uint64(sdd.fdSlot))
	le32(d, 0x10D, sdd.fd)
	if w.v6 {
		le16(d, 0x112, 1)
		le32(d, 0x130, 512)
		le32(d, 0xDD, 64)
		le32(d, 0x134, uint32(w.md))
		le16(d, 0x138, 9)
		le16(d, 0x13E, 16)
		le16(d, 0x140, 44)
		le32(d, 0x144, uint32(mib))
		le32(d, 0x148, uint32(2*mib))
		le32(d, 0x14C, 16000)
		le32(d, 0x150, 4000)
	}
	return w.writeVol(fsDescOff, d)
}

// writeHeartbeats fills the heartbeat region with free slots, each naming
// its own volume offset.
func (w *writer) writeHeartbeats() error {
	n, size := int64(2048), int64(512)
	if w.v6 {
		n, size = 1024, w.md
	}
	buf := make([]byte, n*size)
	for i := range n {
		le32(buf, int(i*size), hbFree)
		le64(buf, int(i*size+4), uint64(hbOff+i*size))
	}
	return w.writeVol(hbOff, buf)
}

// resHeader renders a resource file header (vmfs.md: "Resource files").
func (w *writer) resHeader(r *resFile, b []byte) {
	le32(b, 0x00, uint32(r.rpc))
	le32(b, 0x04, uint32(r.cpg))
	le32(b, 0x08, uint32(r.cgo))
	le32(b, 0x0C, uint32(r.rs))
	le32(b, 0x10, uint32(r.cgs()))
	le32(b, 0x14, uint32(r.total))
	le32(b, 0x18, uint32(r.groups()))
	le32(b, 0x1C, uint32(r.total>>32))
	if w.v6 {
		le32(b, 0x20, 0x72666D64)
		le32(b, 0x24, 1)
		le32(b, 0x30, 1)
	}
}

// clusterHeader renders cluster c's lock and metadata.
func (w *writer) clusterHeader(r *resFile, c int64, volOff int64) []byte {
	b := make([]byte, r.hdr)
	le32(b, 0, r.lock)
	le64(b, 4, uint64(volOff))
	bm, total, free := r.bitmap(c)
	m := b[w.md:]
	if w.v6 {
		le32(m, 0x10, 0x72636D64)
		le64(m, 0x18, uint64(c))
		le16(m, 0x20, uint16(total))
		le16(m, 0x22, uint16(free))
		copy(m[0x80:], bm)
		return b
	}
	next := uint32(0)
	for i := range total {
		if bm[i/8]&(1<<(i%8)) != 0 {
			next = uint32(i)
			break
		}
	}
	le32(m, 0x00, uint32(c))
	le32(m, 0x04, uint32(total))
	le32(m, 0x08, uint32(free))
	le32(m, 0x0C, next)
	copy(m[0x10:], bm)
	return b
}

func (w *writer) writeResFiles() error {
	// The block bitmap mirrors the final allocation.
	copy(w.fbb.used, w.blkUsed)
	files := []*resFile{w.fdc, w.sbc, w.pbc, w.pb2, w.fbb}
	if w.v6 {
		files = append(files, w.jbc)
	}
	for _, r := range files {
		hdr := make([]byte, 0x200)
		w.resHeader(r, hdr)
		if w.v6 && r == w.fbb {
			// LFB header at 0, SFB header as its child at 0x1000.
			lh := make([]byte, 0x200)
			w.resHeader(w.lfb, lh)
			le32(lh, 0x28, 0x35)
			le32(lh, 0x30, 3)
			le32(lh, 0x34, 0x1000)
			if err := w.writeVol(w.resVol(r, 0), lh); err != nil {
				return err
			}
			le32(hdr, 0x28, 0x2A)
			le32(hdr, 0x30, 2)
			le32(hdr, 0x38, uint32(w.lfb.rpc))
			le32(hdr, 0x3C, uint32(w.lfb.cpg))
			le32(hdr, 0x40, uint32(w.lfb.cgs()))
			if err := w.writeVol(w.resVol(r, 0x1000), hdr); err != nil {
				return err
			}
			for c := range w.lfb.clusters {
				off := w.resVol(r, w.lfb.clusterOff(c))
				for i := range w.lfb.rpc {
					w.lfb.used[c*w.lfb.rpc+i] = c*w.lfb.rpc+i < w.lfb.total && w.lfbUsed(c*w.lfb.rpc+i)
				}
				if err := w.writeVol(off, w.clusterHeader(w.lfb, c, off)); err != nil {
					return err
				}
			}
			for c := range r.clusters {
				if !w.lfbUsed(c) {
					// A wholly free large file block was never split
					// into small ones: its SFB cluster header stays
					// uninitialised (zeros), which keeps a 60 TiB
					// image's 960 MiB of SFB headers off the disk.
					continue
				}
				off := w.resVol(r, w.sfbClusterOff(c))
				if err := w.writeVol(off, w.clusterHeader(r, c, off)); err != nil {
					return err
				}
			}
			continue
		}
		if w.v6 && r == w.pbc {
			if err := w.writeVol(w.resVol(r, 0), hdr); err != nil {
				return err
			}
			continue
		}
		if w.v6 && r == w.fdc {
			le32(hdr, 0x28, 4)
		}
		if err := w.writeVol(w.resVol(r, 0), hdr); err != nil {
			return err
		}
		for c := range r.clusters {
			off := w.resVol(r, r.clusterOff(c))
			if err := w.writeVol(off, w.clusterHeader(r, c, off)); err != nil {
				return err
			}
		}
	}
	return nil
}

// lfbUsed: a large file block counts as used when any of its small blocks is.
func (w *writer) lfbUsed(i int64) bool {
	for b := i * 512; b < min((i+1)*512, w.nblocks); b++ {
		if w.blkUsed[b] {
			return true
		}
	}
	return false
}

// fdType is the FD/dirent type of a node.
func (n *node) fdType() uint32 {
	switch {
	case n.parent == nil:
		return typeDir
	case n.sys:
		return typeSystem
	case n.Kind == Dir:
		return typeDir
	case n.Kind == Symlink:
		return typeLink
	}
	return typeFile
}

func (n *node) mode() uint32 {
	m := uint32(n.Mode.Perm())
	if n.Mode&(1<<9) != 0 || n.parent == nil { // sticky root, as on the samples
		m |= 0o1000
	}
	if m == 0 {
		switch n.Kind {
		case Dir:
			m = 0o755
		case Symlink:
			m = 0o777
		default:
			m = 0o644
		}
	}
	if n.sys && n.Kind == Dir {
		m |= 0o40000 // .sdd.sf carries S_IFDIR on the samples
	}
	return m
}

func (w *writer) mtime(n *node) uint32 {
	if n.MTime.IsZero() {
		return uint32(w.s.Time.Unix())
	}
	return uint32(n.MTime.Unix())
}

// writeFDs writes every file descriptor (vmfs.md: "File descriptors").
func (w *writer) writeFDs() error {
	for _, n := range w.nodes {
		b := make([]byte, w.slot)
		le32(b, 0, lockFD)
		le64(b, 4, uint64(n.fdSlot))
		m := b[w.md:]
		le32(m, 0x00, n.fd)
		le32(m, 0x04, n.gen)
		le32(m, 0x08, n.nlink)
		le32(m, 0x0C, n.fdType())
		le64(m, 0x14, uint64(n.size()))
		le64(m, 0x1C, uint64(n.bsize))
		le64(m, 0x24, uint64(n.nblk))
		t := w.mtime(n)
		le32(m, 0x2C, t)
		le32(m, 0x30, t)
		le32(m, 0x34, t)
		le32(m, 0x40, n.mode())
		le32(m, 0x44, n.zla)
		le32(m, 0x48, uint32(n.numTBZ))
		le32(m, 0x54, uint32(n.numTBZ>>32))
		le32(m, 0x50, 1)
		if p := w.plans[n]; p != nil {
			le32(m, 0x5C, uint32(len(p.pbs)))
		}
		le32(m, 0x68, n.fd)
		le32(m, 0x6C, 20)
		m[0x89] = log2(n.bsize)
		if w.v6 {
			le32(m, 0x64, 0x66646D64)
			if n.parent != nil {
				le32(m, 0x70, n.parent.fd)
			}
		}
		if n.Deleted {
			le32(m, 0x08, 0)
		}
		if n.zla == zlaInline {
			var data []byte
			if n.size() > 0 {
				data = make([]byte, n.size())
				n.ReadAt(data, 0)
			}
			copy(m[0x200:], data)
		} else if w.v6 {
			for i, a := range n.ptrs {
				le64(m, 0x600+8*i, a)
			}
		} else {
			for i, a := range n.ptrs {
				le32(m, 0x200+4*i, uint32(a))
			}
		}
		if err := w.writeVol(n.fdSlot, b); err != nil {
			return fmt.Errorf("FD %#x of %s: %w", n.fd, n.fullPath(), err)
		}
	}
	return nil
}

// writeData writes the content of every non-resident node and its pointer
// blocks.
func (w *writer) writeData() error {
	buf := make([]byte, w.bs)
	var stale []byte
	for _, n := range w.nodes {
		p := w.plans[n]
		if p == nil || n.zla == zlaInline {
			continue
		}
		size := n.size()
		for i, off := range p.vol {
			if off < 0 {
				continue
			}
			pos := int64(i) * p.unit
			ln := min(p.unit, size-pos)
			if p.tbz != nil && p.tbz[i] {
				// stale bytes a reader must not show
				if stale == nil {
					stale = make([]byte, w.bs)
					genAt(0x7B2, stale, 0)
				}
				if err := w.writeVol(off, stale[:p.unit]); err != nil {
					return err
				}
				continue
			}
			if n.inHoles(pos, ln) && n.slack == nil {
				continue
			}
			if p.unit > w.bs { // a large file block: write it 1 MiB at a time
				for sub := int64(0); sub < ln; sub += w.bs {
					k := min(w.bs, ln-sub)
					if n.inHoles(pos+sub, k) {
						continue
					}
					n.ReadAt(buf[:k], pos+sub)
					if err := w.writeVol(off+sub, buf[:k]); err != nil {
						return err
					}
				}
				continue
			}
			b := buf[:p.unit]
			n.ReadAt(b, pos)
			if n.slack != nil && pos+p.unit > size {
				// stale bytes of removed entries, past the end of the file
				s := max(size-pos, 0)
				copy(b[s:], n.slack[max(pos-size, 0):])
			}
			if err := w.writeVol(off, b); err != nil {
				return err
			}
		}
		for _, pb := range p.pbs {
			b := make([]byte, w.pbSize)
			for i, a := range pb.ptrs {
				if w.v6 {
					le64(b, 8*i, a)
				} else {
					le32(b, 4*i, uint32(a))
				}
			}
			if err := w.writeVol(w.resVol(pb.res, pb.res.itemOff(pb.idx)), b); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirData5 renders a VMFS5 directory: 140-byte entries, "." and ".."
// first (vmfs.md: "Directories (VMFS3/5)"). Entries of deleted children are kept as slack.
func (w *writer) dirData5(n *node) []byte {
	ent := func(c *node, name string) []byte {
		e := make([]byte, 140)
		le32(e, 0, c.fdType())
		le32(e, 4, c.fd)
		le32(e, 8, c.gen)
		copy(e[12:], name)
		return e
	}
	parent := n.parent
	if parent == nil {
		parent = n
	}
	out := append(ent(n, "."), ent(parent, "..")...)
	for _, c := range n.children {
		if c.Deleted {
			n.slack = append(n.slack, ent(c, c.name)...)
			continue
		}
		out = append(out, ent(c, c.name)...)
	}
	return out
}
