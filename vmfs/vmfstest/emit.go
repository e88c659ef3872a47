package vmfstest

import (
	"encoding/binary"
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

// makeUUIDs makes the volume's LVM and file-system UUIDs.
func (w *writer) makeUUIDs() {
	t := uint32(w.s.Time.Unix())
	w.lvmUUID = makeUUID(t, w.s.Seed, 2)
	w.fsUUID = makeUUID(t, w.s.Seed, 3)
}

// devName is the device name of extent k in the LVM device-name table.
func devName(k int) string { return fmt.Sprintf("mpx.vmhba0:C0:T%d:L0:1", k) }

// writeLVM writes the LVM device header, volume descriptor, device-name
// table, PE bitmap and PE table (vmfs.md: "LVM device header").
func (w *writer) writeLVM() error {
	g := w.lvmGeometry()
	if err := w.devWrite(lvmHeaderOff, w.lvmHeader(g)); err != nil {
		return err
	}
	if err := w.devWrite(lvmHeaderOff+g.volOff, w.volumeDesc()); err != nil {
		return err
	}
	if w.exts[w.cur].first == 0 {
		sd := make([]byte, 256*len(w.exts))
		for k := range w.exts {
			copy(sd[256*k:], devName(k))
		}
		if err := w.devWrite(lvmHeaderOff+g.sdOff, sd); err != nil {
			return err
		}
	}
	return w.writePEMaps(g)
}

// lvmGeometry is where the parts of the LVM metadata lie, from the
// header (vmfs.md: "LVM device header"), and how many PE entries the
// device has: one per unit on LVM5, one run covering every unit on LVM6,
// as on I6.
type lvmGeometry struct {
	volOff, sdOff, bmOff, peOff int64
	nPE                         int64
}

func (w *writer) lvmGeometry() lvmGeometry {
	if w.v6 {
		return lvmGeometry{volOff: 0x1000, sdOff: 0x7F000, bmOff: 0x81000, peOff: 0x82000, nPE: 1}
	}
	return lvmGeometry{volOff: 0x200, sdOff: 0x7E200, bmOff: 0x80200, peOff: 0x80600, nPE: w.exts[w.cur].count}
}

// lvmHeader renders the LVM device header of the current extent.
func (w *writer) lvmHeader(g lvmGeometry) []byte {
	x := w.exts[w.cur]
	us := uint64(w.s.Time.UnixMicro())
	h, l := make([]byte, 0x200), layout.LVM
	l.Magic.Put(h, layout.LVMMagic)
	l.Major.Put(h, 5)
	if w.v6 {
		l.Major.Put(h, 6)
	}
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
	l.PEs.Put(h, uint64(g.nPE))
	l.LastPE.Put(h, uint64(g.nPE-1))
	l.Generation.Put(h, 3)
	l.DataOffset.Put(h, dataOffset)
	copy(l.DeviceUUID.Bytes(h), w.devUUID[:])
	l.InitTime.Put(h, us)
	l.ModTime.Put(h, us)
	// An LVM5 PE map (a 1 KiB bitmap, then a table of 8192 entries of
	// 256 MiB) covers 2 TiB; a device holds up to 8 maps, 1 MiB + 1 KiB
	// apart, and numPEMaps says how many (vmfs.md: "LVM device header").
	l.PEMaps.Put(h, uint64((x.count+peMapEntries-1)/peMapEntries))
	if w.v6 {
		l.PEMaps.Put(h, 0)
		l.MDAlignment.Put(h, uint64(w.md))
		l.Units6.Put(h, uint64(x.count))
	}
	return h
}

// volumeDesc renders the volume descriptor the current extent carries
// (vmfs.md: "Volume descriptor").
func (w *writer) volumeDesc() []byte {
	x := w.exts[w.cur]
	us := uint64(w.s.Time.UnixMicro())
	v, d := make([]byte, 0x200), layout.VolumeDesc
	d.Size.Put(v, uint64(w.volSize))
	d.Generation.Put(v, 2)
	d.State.Put(v, 1)
	copy(d.Name.Bytes(v), uuidString(w.lvmUUID))
	copy(d.UUID.Bytes(v), w.lvmUUID[:])
	d.SnapID.Put(v, 1)
	d.CreateTime.Put(v, us)
	d.Units.Put(v, uint64(x.count))
	d.FirstPE.Put(v, uint64(x.first))
	d.LastPE.Put(v, uint64(x.first+x.count-1))
	d.ModTime.Put(v, us)
	d.Devices.Put(v, uint64(len(w.exts)))
	if w.v6 {
		d.ConsumedPEs.Put(v, 1)
	}
	return v
}

// writePEMaps writes the PE bitmaps and tables of the current extent
// (vmfs.md: "PE table and spanned volumes").
func (w *writer) writePEMaps(g lvmGeometry) error {
	x := w.exts[w.cur]
	for m := int64(0); m*peMapEntries < g.nPE; m++ {
		k := min(g.nPE-m*peMapEntries, peMapEntries) // entries of map m
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
		step := m * (g.peOff - g.bmOff + 0x100000)
		if err := w.devWrite(lvmHeaderOff+g.bmOff+step, bm); err != nil {
			return err
		}
		if err := w.devWrite(lvmHeaderOff+g.peOff+step, pe); err != nil {
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

// writeFSDesc writes the file-system descriptor (vmfs.md: "File-system
// descriptor"), with what the samples hold in the fields no reader uses.
func (w *writer) writeFSDesc() error {
	d, f := make([]byte, layout.FSDescSize), layout.FSDesc
	f.Magic.Put(d, layout.FSMagic)
	if w.v6 {
		f.Major.Put(d, 24)
		f.Minor.Put(d, 82)
	} else {
		f.Major.Put(d, 14)
		f.Minor.Put(d, 81)
	}
	copy(f.UUID.Bytes(d), w.fsUUID[:])
	f.Config.Put(d, 6)
	copy(f.Label.Bytes(d), w.s.Label)
	f.DiskBlockSize.Put(d, 512)
	f.BlockSize.Put(d, uint64(w.bs))
	f.CreationTime.Put(d, uint64(w.s.Time.Unix()))
	f.SnapID.Put(d, 1)
	copy(f.LVMUUID.Bytes(d), w.lvmUUID[:])
	f.VolInfoWord.Put(d, 1)
	f.FDCGroupOffset.Put(d, uint64(w.fdc.cgo))
	f.FDCPerGroup.Put(d, uint64(w.fdc.cpg))
	f.SubBlockSize.Put(d, uint64(w.sbs))
	f.JournalSlots.Put(d, 8)
	pb2, sdd := w.sys[".pb2.sf"], w.sys[".sdd.sf"]
	f.PB2VolAddr.Put(d, uint64(pb2.fdSlot))
	f.PB2FD.Put(d, uint64(pb2.fd))
	f.Generation.Put(d, 1)
	f.SDDVolAddr.Put(d, uint64(sdd.fdSlot))
	f.SDDFD.Put(d, uint64(sdd.fd))
	if w.v6 {
		f.UnmapPriority.Put(d, 1)
		f.PhysBlockSize.Put(d, 512)
		f.JournalSlots.Put(d, 64)
		f.MDAlignment.Put(d, uint64(w.md))
		f.LFBShift.Put(d, 9)
		f.PtrBlockShift.Put(d, 16)
		f.SFBAddrBits.Put(d, 44)
		f.TBZGranularity.Put(d, uint64(mib))
		f.JournalBlockSize.Put(d, uint64(2*mib))
		f.LeaseMillis.Put(d, 16000)
		f.ReclaimMillis.Put(d, 4000)
	}
	return w.writeVol(fsDescOff, d)
}

// writeHeartbeats fills the heartbeat region with free slots, each naming
// its own volume offset.
func (w *writer) writeHeartbeats() error {
	n, size := layout.HeartbeatSlots(w.v6, w.md)
	buf, f := make([]byte, n*size), layout.Heartbeat
	for i := range n {
		slot := buf[i*size:]
		f.State.Put(slot, layout.HeartbeatFree)
		f.Self.Put(slot, uint64(hbOff+i*size))
	}
	return w.writeVol(hbOff, buf)
}

// resHeader renders a resource file header (vmfs.md: "Resource files").
func (w *writer) resHeader(r *resFile, b []byte) {
	f := layout.ResHeader
	f.PerCluster.Put(b, uint64(r.rpc))
	f.PerGroup.Put(b, uint64(r.cpg))
	f.GroupOffset.Put(b, uint64(r.cgo))
	f.ResSize.Put(b, uint64(r.rs))
	f.GroupSize.Put(b, uint64(r.cgs()))
	f.ResourcesLo.Put(b, uint64(r.total))
	f.Groups.Put(b, uint64(r.groups()))
	f.ResourcesHi.Put(b, uint64(r.total>>32))
	if w.v6 {
		f.Signature.Put(b, layout.ResSignature)
		f.Version.Put(b, 1)
		f.BitsPerResource.Put(b, 1)
	}
}

// clusterHeader renders cluster c's lock and metadata (vmfs.md: "Cluster
// metadata").
func (w *writer) clusterHeader(r *resFile, c int64, volOff int64) []byte {
	b := make([]byte, r.hdr)
	layout.Lock.Magic.Put(b, uint64(r.lock))
	layout.Lock.Self.Put(b, uint64(volOff))
	bm, total, free := r.bitmap(c)
	m := b[layout.ClusterMetaOffset(w.v6, w.md):]
	if w.v6 {
		f := layout.ClusterMeta6
		f.Signature.Put(m, layout.ClusterSig)
		f.Cluster.Put(m, uint64(c))
		f.Total.Put(m, uint64(total))
		f.Free.Put(m, uint64(free))
		copy(f.Bitmap.Bytes(m), bm)
		return b
	}
	next := uint32(0)
	for i := range total {
		if bm[i/8]&(1<<(i%8)) != 0 {
			next = uint32(i)
			break
		}
	}
	f := layout.ClusterMeta5
	f.Cluster.Put(m, uint64(c))
	f.Total.Put(m, uint64(total))
	f.Free.Put(m, uint64(free))
	f.NextFree.Put(m, uint64(next))
	copy(f.Bitmap.Bytes(m), bm)
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
		hdr := make([]byte, layout.ResHeaderSize)
		w.resHeader(r, hdr)
		if w.v6 && r == w.fbb {
			// LFB header at 0, SFB header as its child at 0x1000.
			f := layout.ResHeader
			lh := make([]byte, layout.ResHeaderSize)
			w.resHeader(w.lfb, lh)
			f.Flags.Put(lh, 0x35)
			f.BitsPerResource.Put(lh, 3)
			f.ChildOffset.Put(lh, 0x1000)
			if err := w.writeVol(w.resVol(r, 0), lh); err != nil {
				return err
			}
			f.Flags.Put(hdr, 0x2A) // 0x2: a child header
			f.BitsPerResource.Put(hdr, 2)
			f.ParentPerCluster.Put(hdr, uint64(w.lfb.rpc))
			f.ParentPerGroup.Put(hdr, uint64(w.lfb.cpg))
			f.ParentGroupSize.Put(hdr, uint64(w.lfb.cgs()))
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
			layout.ResHeader.Flags.Put(hdr, 4)
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
	lay, f := w.fdSlot, layout.FDMeta
	for _, n := range w.nodes {
		b := make([]byte, lay.Size)
		layout.Lock.Magic.Put(b, lockFD)
		layout.Lock.Self.Put(b, uint64(n.fdSlot))
		m := b[lay.Meta:]
		f.Addr.Put(m, uint64(n.fd))
		f.Generation.Put(m, uint64(n.gen))
		f.Links.Put(m, uint64(n.nlink))
		f.Type.Put(m, uint64(n.fdType()))
		f.Length.Put(m, uint64(n.size()))
		f.BlockSize.Put(m, uint64(n.bsize))
		f.Blocks.Put(m, uint64(n.nblk))
		t := uint64(w.mtime(n))
		f.MTime.Put(m, t)
		f.CTime.Put(m, t)
		f.ATime.Put(m, t)
		f.Mode.Put(m, uint64(n.mode()))
		f.ZLA.Put(m, uint64(n.zla))
		f.TBZLo.Put(m, uint64(uint32(n.numTBZ)))
		f.TBZHi.Put(m, uint64(n.numTBZ)>>32)
		f.NewSinceEpoch.Put(m, 1)
		if p := w.plans[n]; p != nil {
			f.PointerBlocks.Put(m, uint64(len(p.pbs)))
		}
		f.AffinityFD.Put(m, uint64(n.fd))
		f.TBZShift.Put(m, 20)
		f.BlockShift.Put(m, uint64(log2(n.bsize)))
		if w.v6 {
			f.Signature.Put(m, layout.FDSignature)
			if n.parent != nil {
				f.ParentFD.Put(m, uint64(n.parent.fd))
			}
		}
		if n.Deleted {
			f.Links.Put(m, 0)
		}
		if n.zla == zlaInline {
			var data []byte
			if n.size() > 0 {
				data = make([]byte, n.size())
				n.ReadAt(data, 0)
			}
			copy(b[lay.Data:], data)
		} else {
			putPointers(b[lay.Ptrs:], n.ptrs, lay.PtrSize)
		}
		if err := w.writeVol(n.fdSlot, b); err != nil {
			return fmt.Errorf("FD %#x of %s: %w", n.fd, n.fullPath(), err)
		}
	}
	return nil
}

// putPointers writes the pointers p, size bytes each (4 or 8), into b:
// an FD's pointer array or a pointer block.
func putPointers(b []byte, p []uint64, size int64) {
	for i, a := range p {
		if size == 8 {
			binary.LittleEndian.PutUint64(b[8*i:], a)
		} else {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(a))
		}
	}
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
			putPointers(b, pb.ptrs, w.pbSize/w.ppb)
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
		e, f := make([]byte, layout.Dirent5Size), layout.Dirent5
		f.Type.Put(e, uint64(c.fdType()))
		f.Addr.Put(e, uint64(c.fd))
		f.Generation.Put(e, uint64(c.gen))
		copy(f.Name.Bytes(e), name)
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
