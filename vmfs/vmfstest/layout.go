package vmfstest

import (
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// unit plan of one node's data.
type dataPlan struct {
	unit  int64   // allocation unit: sub-block or file block
	vol   []int64 // volume offset of each unit, -1 = hole
	tbz   []bool  // unit allocated but flagged to-be-zeroed
	pbs   []pbPlan
	top   []uint64 // FD pointer array
	freed bool
}

// pbPlan is one pointer block: where it lives and what it holds.
type pbPlan struct {
	res  *resFile
	idx  int64
	ptrs []uint64
}

var sysNames5 = []string{".fbb.sf", ".fdc.sf", ".pbc.sf", ".sbc.sf", ".vh.sf", ".pb2.sf", ".sdd.sf"}
var sysNames6 = append(append([]string{}, sysNames5...), ".jbc.sf")

func plan(s Spec) (*writer, error) {
	w, err := newWriter(s)
	if err != nil {
		return nil, err
	}
	if err := w.planTree(); err != nil {
		return nil, err
	}
	plans, needSB, needPB, needBlk, err := w.planStorage()
	if err != nil {
		return nil, err
	}
	sysLen, vhBlocks, err := w.sizeVolume(needSB, needPB, needBlk)
	if err != nil {
		return nil, err
	}
	if err := w.placeSystemFiles(plans, sysLen, vhBlocks); err != nil {
		return nil, err
	}
	if err := w.placeUserData(plans); err != nil {
		return nil, err
	}
	return w, nil
}

// newWriter checks the spec's geometry and fills in its defaults.
func newWriter(s Spec) (*writer, error) {
	if s.BlockSize == 0 {
		s.BlockSize = mib
	}
	if s.Time.IsZero() {
		s.Time = DefaultTime
	}
	if s.Label == "" {
		s.Label = fmt.Sprintf("vmfstest%d", s.Version)
	}
	if len(s.Label) > 127 {
		return nil, fmt.Errorf("vmfstest: label longer than 127 bytes")
	}
	w := &writer{s: s, sys: map[string]*node{}}
	switch s.Version {
	case 5:
		switch s.BlockSize {
		case mib, 2 * mib, 4 * mib, 8 * mib:
		default:
			return nil, fmt.Errorf("vmfstest: VMFS5 block size %d is not 1, 2, 4 or 8 MiB", s.BlockSize)
		}
		w.sbs, w.md = 8*kib, 512
	case 6:
		if s.BlockSize != mib {
			return nil, fmt.Errorf("vmfstest: VMFS6 block size must be 1 MiB (vmfs6-tools hard-codes it)")
		}
		w.v6 = true
		w.sbs, w.md = 64*kib, 4096
	default:
		return nil, fmt.Errorf("vmfstest: unsupported VMFS version %d (want 5 or 6)", s.Version)
	}
	w.fdSlot = layout.FDSlotOf(w.v6, w.md)
	w.slot, w.nptr, w.resMax = w.fdSlot.Size, w.fdSlot.PtrCount, w.fdSlot.DataCap
	var ptrSize int64
	w.ppb, ptrSize = layout.PointerBlock(w.v6, w.md)
	w.pbSize = w.ppb * ptrSize
	w.bs = s.BlockSize
	switch s.Partition {
	case "":
	case "mbr", "gpt":
		if s.StartSector == 0 {
			s.StartSector = 2048
		}
		w.base = s.StartSector * 512
		w.s = s
	default:
		return nil, fmt.Errorf("vmfstest: unknown partition scheme %q", s.Partition)
	}
	return w, nil
}

// planTree adds the system files to the tree, orders the file descriptors
// (root, system files, then the tree in pre-order), gives each its FD slot
// and link count, and renders the directories.
func (w *writer) planTree() error {
	maxName := 128 // VMFS5 dirent name field
	if w.v6 {
		maxName = 255 // VMFS6 field (ESXi itself stops at 127)
	}
	root, err := buildTree(&w.s)
	if err != nil {
		return err
	}
	w.root = root
	names := sysNames5
	if w.v6 {
		names = sysNames6
	}
	var sysNodes []*node
	for _, name := range names {
		n := &node{Entry: Entry{Path: name, Kind: File, Mode: 0o400}, name: name, parent: root, sys: true}
		if name == ".sdd.sf" {
			n.Kind, n.Mode = Dir, 0o700
		}
		sysNodes = append(sysNodes, n)
		w.sys[name] = n
	}
	root.children = append(sysNodes, root.children...)

	// File descriptors: root, system files, then the tree in pre-order.
	w.nodes = append([]*node{root}, sysNodes...)
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			if c.sys {
				continue
			}
			w.nodes = append(w.nodes, c)
			walk(c)
		}
	}
	walk(root)
	for _, n := range w.nodes {
		if len(n.name) > maxName {
			return fmt.Errorf("%w: name %q is longer than %d bytes", ErrTooBig, n.name, maxName)
		}
	}
	if w.v6 {
		w.fdc = newResFile(".fdc.sf", 256, 8, 2*w.md, 2*w.md, lockFDC, int64(len(w.nodes)))
	} else {
		w.fdc = newResFile(".fdc.sf", 32, 64, 2048, 1024, lockFDC, int64(len(w.nodes)))
	}
	for _, n := range w.nodes {
		idx, err := w.fdc.alloc()
		if err != nil {
			return err
		}
		w.gen++
		n.gen = w.gen
		n.fd = layout.FDAddr(uint64(idx/w.fdc.rpc), uint64(idx%w.fdc.rpc))
		n.fdSlot = w.fdc.itemOff(idx) // file offset for now
		n.nlink = 1
		if n.Kind == Dir {
			n.nlink = 2
		}
	}
	for _, n := range w.nodes {
		if n.Kind == Dir && n.parent != nil && !n.Deleted {
			n.parent.nlink++
		}
	}
	root.nlink += 2 // root's ".." and the parent link of .sdd.sf, as on I5
	for _, n := range w.nodes {
		if n.Kind == Dir {
			if w.v6 {
				n.data, err = w.dirData6(n)
			} else {
				n.data = w.dirData5(n)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// planStorage picks each file's addressing mode and counts the sub-blocks,
// pointer blocks and file blocks the files need.
func (w *writer) planStorage() (plans map[*node]*dataPlan, needSB, needPB, needBlk int64, err error) {
	// Storage modes and resource counts.
	plans = map[*node]*dataPlan{}
	for _, n := range w.nodes {
		if n.sys && n != w.root && n.name != ".sdd.sf" {
			continue // sized below
		}
		p, err := w.choose(n)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		plans[n] = p
		units := int64(len(p.vol))
		switch {
		case n.zla == zlaSB:
			needSB += units
		case n.zla == zlaInline:
		case p.unit == lfbBlocks*w.bs:
			needBlk += units*lfbBlocks + lfbBlocks
		default:
			for i := int64(0); i < units; i++ {
				if !(n.Thin && n.inHoles(i*p.unit, p.unit)) {
					needBlk++
					if n.Fragmented {
						needBlk++
					}
				}
			}
			switch n.zla {
			case zlaPB, zlaPB2:
				needPB += (units + w.ppb - 1) / w.ppb
			case zlaDouble:
				needPB += (units+w.ppb*w.ppb-1)/(w.ppb*w.ppb) + (units+w.ppb-1)/w.ppb
			}
		}
	}
	return plans, needSB, needPB, needBlk, nil
}

// sizeVolume sizes the resource files and the volume, which must hold them
// all; it returns the system files' lengths and the blocks of .vh.sf.
func (w *writer) sizeVolume(needSB, needPB, needBlk int64) (sysLen map[string]int64, vhBlocks int64, err error) {
	if w.v6 {
		w.sbc = newResFile(".sbc.sf", 256, 8, w.sbs, 2*w.md, lockSBC, needSB)
		w.jbc = newResFile(".jbc.sf", 8, 4, 2*mib, 2*w.md, lockJBC, 8)
		if w.sbc.clusters > 256 {
			return nil, 0, fmt.Errorf("%w: %d sub-blocks need more than 256 clusters (vmfs6-tools limit)", ErrTooBig, needSB)
		}
	} else {
		w.sbc = newResFile(".sbc.sf", 16, 64, w.sbs, 1024, lockSBC, needSB)
	}
	// Resource files past nptr blocks are addressed through pointer blocks
	// (I6's .sbc.sf uses a PB2 the same way).
	for _, l := range []int64{roundUp(w.fdc.length(), w.bs), w.sbc.length()} {
		needPB += w.sysPBs(l)
	}
	sysLen = map[string]int64{
		".fdc.sf": roundUp(w.fdc.length(), w.bs),
		".sbc.sf": w.sbc.length(),
	}
	if w.v6 {
		sysLen[".jbc.sf"] = w.jbc.length()
		sysLen[".vh.sf"] = 7 * mib
	} else {
		sysLen[".vh.sf"] = roundUp(4*mib, w.bs)
	}
	vhBlocks = sysLen[".vh.sf"] / w.bs
	need := vhBlocks + needBlk + 2*int64(len(w.nodes))/1000 + 8
	for _, name := range []string{".fdc.sf", ".sbc.sf", ".jbc.sf"} {
		need += (sysLen[name] + w.bs - 1) / w.bs
	}
	need += (int64(len(w.root.data)) + w.bs - 1) / w.bs
	need += (int64(len(w.sys[".sdd.sf"].data)) + w.bs - 1) / w.bs
	if w.s.Extents < 0 || w.s.Extents > 32 {
		return nil, 0, fmt.Errorf("vmfstest: %d extents (want 1 to 32)", w.s.Extents)
	}
	// Volume size: grow until the block bitmap and the pointer-block files
	// fit too. .fbb.sf grows with the volume (VMFS6: 17 bytes per block,
	// past nptr blocks from about 19 TiB; VMFS5: 5 bytes per block, from
	// about 50 TiB), and then its FD maps it through pointer blocks, which
	// .pbc.sf / .pb2.sf must hold: their size depends on the volume's.
	w.volSize = max(w.s.Size, int64(max(w.s.Extents, 1))*peSize)
	for {
		w.volSize = roundUp(max(w.volSize, 1), peSize)
		w.nblocks = w.volSize / w.bs
		w.fbb = w.newFBB()
		fbbBlocks := (w.fbbLength() + w.bs - 1) / w.bs
		w.sizePBFiles(needPB + w.sysPBs(w.fbbLength()))
		total := need + fbbBlocks + w.sysBlocks(".pbc.sf", w.pbcLength()) + w.sysBlocks(".pb2.sf", w.pb2.length())
		if total <= w.nblocks {
			break
		}
		w.volSize = total * w.bs
	}
	if units := (w.volSize/peSize + int64(max(w.s.Extents, 1)) - 1) / int64(max(w.s.Extents, 1)); !w.v6 && units > maxPEMaps*peMapEntries {
		return nil, 0, fmt.Errorf("%w: a device of %d physical extents needs more than %d LVM5 PE maps (16 TiB); the generator writes no extended LVM regions: use more Extents", ErrTooBig, units, maxPEMaps)
	}
	sysLen[".fbb.sf"] = w.fbbLength()
	sysLen[".pbc.sf"] = w.pbcLength()
	sysLen[".pb2.sf"] = w.pb2.length()
	w.blkUsed = make([]bool, w.nblocks)
	w.endBlk = w.nblocks

	return sysLen, vhBlocks, nil
}

// placeSystemFiles puts .vh.sf at the volume's start, then the other system
// files, each a contiguous run of blocks, mapped through pointer blocks
// when their FD's array is too short.
func (w *writer) placeSystemFiles(plans map[*node]*dataPlan, sysLen map[string]int64, vhBlocks int64) error {
	// Fixed-place blocks: .vh.sf, then .fdc.sf right after (both readers
	// bootstrap the FDC from this position).
	for i := int64(0); i < vhBlocks; i++ {
		w.blkUsed[i] = true
	}
	w.nextBlk = vhBlocks
	order := []string{".fdc.sf", "/", ".fbb.sf", ".pbc.sf", ".sbc.sf", ".pb2.sf", ".sdd.sf", ".jbc.sf"}
	res := map[string]*resFile{".fdc.sf": w.fdc, ".fbb.sf": w.fbb, ".pbc.sf": w.pbc, ".sbc.sf": w.sbc, ".pb2.sf": w.pb2, ".jbc.sf": w.jbc}
	for _, name := range order {
		n := w.sys[name]
		if name == "/" {
			n = w.root
		}
		if n == nil {
			continue
		}
		var length int64
		switch name {
		case "/", ".sdd.sf":
			length = int64(len(n.data))
		default:
			length = sysLen[name]
		}
		nb := (length + w.bs - 1) / w.bs
		if w.lfbMapped(name, nb) {
			if err := w.placeLFBSys(n, res[name], length); err != nil {
				return err
			}
			continue
		}
		start, err := w.allocBlocks(nb)
		if err != nil {
			return err
		}
		if r := res[name]; r != nil {
			r.start, r.node = start, n
		}
		n.Size, n.zla, n.bsize = length, zlaFB, w.bs
		n.ptrs = make([]uint64, nb)
		for i := range nb {
			n.ptrs[i] = w.fbAddr(start + i)
		}
		n.nblk = nb
		for i := range nb {
			n.sysVol = append(n.sysVol, (start+i)*w.bs)
		}
		if p := plans[n]; p != nil {
			for i := range p.vol {
				p.vol[i] = (start + int64(i)) * w.bs
			}
		}
		if nb > w.nptr && res[name] != nil {
			pbRes, pbType := w.pbc, uint64(zlaPB)
			n.zla = zlaPB
			if w.v6 {
				pbRes, pbType, n.zla = w.pb2, zlaPB2, zlaPB2
			}
			if pbRes == res[name] {
				// No reader could bootstrap it: the blocks that map the
				// file would lie in the file itself.
				return fmt.Errorf("%w: %s needs %d blocks, more than its FD maps without pointer blocks of its own", ErrTooBig, name, nb)
			}
			p := &dataPlan{unit: w.bs}
			var top []uint64
			for k := int64(0); k < nb; k += w.ppb {
				idx, err := pbRes.alloc()
				if err != nil {
					return err
				}
				p.pbs = append(p.pbs, pbPlan{res: pbRes, idx: idx, ptrs: n.ptrs[k:min(nb, k+w.ppb)]})
				top = append(top, w.resAddr(pbRes, idx, pbType))
			}
			if int64(len(top)) > w.nptr {
				return fmt.Errorf("%w: %s needs %d blocks", ErrTooBig, name, nb)
			}
			n.ptrs = top
			plans[n] = p
		}
	}
	vh := w.sys[".vh.sf"]
	vh.Size, vh.zla, vh.bsize, vh.nblk = sysLen[".vh.sf"], zlaFB, w.bs, vhBlocks
	for i := range vhBlocks {
		vh.ptrs = append(vh.ptrs, w.fbAddr(i))
		vh.sysVol = append(vh.sysVol, i*w.bs)
	}
	for _, n := range w.nodes {
		n.fdSlot = w.resVol(w.fdc, n.fdSlot)
	}

	return nil
}

// placeUserData places the files' data; deleted entries then give their
// resources back, their bytes staying.
func (w *writer) placeUserData(plans map[*node]*dataPlan) error {
	// User data.
	for _, n := range w.nodes {
		p := plans[n]
		if p == nil || n.sys {
			continue
		}
		if err := w.place(n, p); err != nil {
			return err
		}
	}
	w.plans = plans
	// Deleted entries give their resources back; their bytes stay.
	for _, n := range w.nodes {
		if n.Deleted {
			w.free(n, plans[n])
		}
	}
	return nil
}

// sysPBs is the number of pointer blocks that map a resource file of
// length bytes: none while the FD's own array holds its blocks.
func (w *writer) sysPBs(length int64) int64 {
	if nb := (length + w.bs - 1) / w.bs; nb > w.nptr {
		return (nb + w.ppb - 1) / w.ppb
	}
	return 0
}

// sizePBFiles sizes .pbc.sf and .pb2.sf for n pointer blocks. VMFS6 keeps
// .pbc.sf empty, as on I6, and hands out only resource 0 of each .pb2.sf
// cluster (see resFile.firstOnly): n PB2s cost n clusters of 2 MiB.
func (w *writer) sizePBFiles(n int64) {
	if w.v6 {
		w.pbc = &resFile{name: ".pbc.sf", cpg: 8, rs: w.pbSize, hdr: 2 * w.md, cgo: 0x10000, lock: lockPBC}
		w.pb2 = newResFile(".pb2.sf", 32, 8, w.pbSize, 2*w.md, lockPB2, n*32)
		w.pb2.firstOnly = true
		return
	}
	w.pbc = newResFile(".pbc.sf", 16, 64, w.pbSize, 1024, lockPBC, n)
	w.pb2 = newResFile(".pb2.sf", 16, 64, w.pbSize, 1024, lockPB2, 1)
}

func (w *writer) pbcLength() int64 {
	if w.v6 {
		return 0x10000
	}
	return w.pbc.length()
}

// lfbMapped reports whether system file name, nb blocks long, is mapped
// with large file blocks. A VMFS6 .pb2.sf past the FD's 320 pointers
// (about 155 PB2s, since each takes a 2 MiB cluster) cannot go through
// PB2s, which would lie in itself: it takes 512 MiB large file blocks
// (zla 1, type-7 addresses), the one other mapping VMFS6 has. What ESXi
// does there is UNCERTAIN (no sample is that large).
func (w *writer) lfbMapped(name string, nb int64) bool {
	return w.v6 && name == ".pb2.sf" && nb > w.nptr
}

// sysBlocks is the number of volume blocks system file name of length
// bytes takes, alignment of large file blocks included.
func (w *writer) sysBlocks(name string, length int64) int64 {
	nb := (length + w.bs - 1) / w.bs
	if w.lfbMapped(name, nb) {
		return roundUp(nb, lfbBlocks) + lfbBlocks - 1
	}
	return nb
}

// placeLFBSys allocates system file n (resource file r, length bytes) as
// a run of 512 MiB-aligned large file blocks and points its FD at them.
func (w *writer) placeLFBSys(n *node, r *resFile, length int64) error {
	nl := (length + lfbBlocks*w.bs - 1) / (lfbBlocks * w.bs)
	if nl > w.nptr {
		return fmt.Errorf("%w: %s needs %d large file blocks", ErrTooBig, n.name, nl)
	}
	start := roundUp(w.nextBlk, lfbBlocks)
	for b := start; b < start+nl*lfbBlocks; b++ {
		if b >= w.endBlk || w.blkUsed[b] {
			return fmt.Errorf("%w: no free large file block for %s", ErrTooBig, n.name)
		}
		w.blkUsed[b] = true
	}
	w.nextBlk = start + nl*lfbBlocks
	r.start, r.node = start, n
	n.Size, n.zla, n.bsize, n.nblk = length, zlaFB, lfbBlocks*w.bs, nl
	for i := range nl {
		n.ptrs = append(n.ptrs, uint64(start/lfbBlocks+i)<<15|7)
		n.sysVol = append(n.sysVol, (start+i*lfbBlocks)*w.bs)
	}
	return nil
}

// lfbBlocks is the number of small file blocks in a VMFS6 large file
// block (sfbToLfbShift 9: 512 MiB with 1 MiB blocks).
const lfbBlocks = 512

func roundUp(x, m int64) int64 { return (x + m - 1) / m * m }

// tbzFlag marks a file-block address to-be-zeroed: bit 5 on VMFS5, the
// 8-bit TBZ bitmap (bits 7–14, all sub-ranges) on VMFS6 (vmfs.md: "Addresses").
func (w *writer) tbzFlag() uint64 {
	if w.v6 {
		return 0xFF << 7
	}
	return 0x20
}

func (w *writer) fbAddr(b int64) uint64 {
	if w.v6 {
		return uint64(b/512)<<15 | uint64(b%512)<<51 | 1
	}
	return uint64(b)<<6 | 1
}

// resAddr encodes a sub-block / pointer-block address of resource idx.
func (w *writer) resAddr(r *resFile, idx int64, typ uint64) uint64 {
	return layout.ResAddr(w.v6, typ, uint64(idx/r.rpc), uint64(idx%r.rpc))
}

// choose picks the addressing of n and sizes its unit list.
func (w *writer) choose(n *node) (*dataPlan, error) {
	size := n.size()
	mode := n.Addressing
	if n.Kind == Dir && mode == Auto {
		mode = SubBlocks
		if n == w.root || n.name == ".sdd.sf" || size > w.nptr*w.sbs {
			mode = Blocks
		}
	}
	if mode == Auto {
		switch {
		case size <= w.resMax && !(n.Kind == Symlink && !w.v6):
			mode = Resident
		case size <= w.sbs:
			mode = SubBlocks
		case size <= w.nptr*w.bs && !(w.v6 && n.Thin && len(n.Holes) > 0):
			// vmfs6-tools stops reading an FD's pointer array at its first
			// null entry, so thin VMFS6 files with holes go through PB2s.
			mode = Blocks
		case size <= w.nptr*w.ppb*w.bs:
			mode = Pointers
		default:
			mode = Double
		}
	}
	if mode == LargeBlocks && !w.v6 {
		return nil, fmt.Errorf("vmfstest: %s: large file blocks exist on VMFS6 only", n.Path)
	}
	limit := map[Addressing]int64{Resident: w.resMax, SubBlocks: w.nptr * w.sbs, Blocks: w.nptr * w.bs,
		Pointers: w.nptr * w.ppb * w.bs, Double: w.nptr * w.ppb * w.ppb * w.bs, LargeBlocks: w.nptr * lfbBlocks * w.bs}[mode]
	if mode == Resident && n.Kind == Dir {
		return nil, fmt.Errorf("vmfstest: %s: a directory cannot be resident", n.Path)
	}
	if size > limit {
		return nil, fmt.Errorf("%w: %s: %d bytes do not fit %s addressing (max %d)", ErrTooBig, n.Path, size, mode, limit)
	}
	p := &dataPlan{unit: w.bs}
	n.bsize = w.bs
	switch mode {
	case Resident:
		n.zla, n.bsize, p.unit = zlaInline, w.sbs, 0
		if !w.v6 {
			n.bsize = w.sbs
		}
		return p, nil
	case SubBlocks:
		n.zla, n.bsize, p.unit = zlaSB, w.sbs, w.sbs
	case Blocks:
		n.zla = zlaFB
	case Pointers:
		n.zla = zlaPB
		if w.v6 {
			n.zla = zlaPB2
		}
	case Double:
		n.zla = zlaDouble
	case LargeBlocks:
		n.zla, n.bsize, p.unit = zlaFB, lfbBlocks*w.bs, lfbBlocks*w.bs
	}
	p.vol = make([]int64, (size+p.unit-1)/p.unit)
	return p, nil
}

// place allocates n's data units and pointer blocks and fills its FD
// pointer array.
func (w *writer) place(n *node, p *dataPlan) error {
	switch {
	case n.zla == zlaInline:
		return nil
	case n.zla == zlaSB:
		return w.placeSubBlocks(n, p)
	case p.unit == lfbBlocks*w.bs:
		return w.placeLargeBlocks(n, p)
	}
	addrs, err := w.placeBlocks(n, p)
	if err != nil {
		return err
	}
	switch n.zla {
	case zlaFB:
		n.ptrs = addrs
	case zlaPB, zlaPB2:
		n.ptrs, err = w.pointerBlocks(p, addrs, true)
	case zlaDouble:
		var mid []uint64
		if mid, err = w.pointerBlocks(p, addrs, false); err == nil {
			n.ptrs, err = w.pointerBlocks(p, mid, true)
		}
	}
	return err
}

// placeSubBlocks gives each unit of n a sub-block.
func (w *writer) placeSubBlocks(n *node, p *dataPlan) error {
	addrs := make([]uint64, len(p.vol))
	for i := range p.vol {
		idx, err := w.sbc.alloc()
		if err != nil {
			return err
		}
		p.vol[i] = w.resVol(w.sbc, w.sbc.itemOff(idx))
		addrs[i] = w.resAddr(w.sbc, idx, zlaSB)
	}
	n.ptrs, n.nblk = addrs, int64(len(addrs))
	return nil
}

// placeLargeBlocks gives each unit of n a large file block: a run of 512
// blocks aligned on 512 blocks.
func (w *writer) placeLargeBlocks(n *node, p *dataPlan) error {
	addrs := make([]uint64, len(p.vol))
	for i := range p.vol {
		start := roundUp(w.nextBlk, lfbBlocks)
		for b := start; b < start+lfbBlocks; b++ {
			if b >= w.nblocks || w.blkUsed[b] {
				return fmt.Errorf("%w: no free large file block for %s", ErrTooBig, n.Path)
			}
			w.blkUsed[b] = true
		}
		w.nextBlk = start + lfbBlocks
		p.vol[i] = start * w.bs
		addrs[i] = uint64(start/lfbBlocks)<<15 | 7
	}
	n.ptrs, n.nblk = addrs, int64(len(addrs))
	return nil
}

// placeBlocks gives the units of n that are not wholly in holes of a thin
// file a file block each (in reverse order with a free block between
// each two for a fragmented file, at the volume's end for AtEnd) and
// returns their addresses, to-be-zeroed where a zeroed-thick file has
// holes.
func (w *writer) placeBlocks(n *node, p *dataPlan) ([]uint64, error) {
	units := int64(len(p.vol))
	addrs := make([]uint64, units)
	var live []int64
	for i := range units {
		p.vol[i] = -1
		if !(n.Thin && n.inHoles(i*p.unit, p.unit)) {
			live = append(live, i)
		}
	}
	m := int64(len(live))
	alloc := w.allocBlocks
	if n.AtEnd {
		alloc = w.allocBlocksEnd
	}
	if n.Fragmented && m > 1 {
		start, err := alloc(2 * m)
		if err != nil {
			return nil, err
		}
		for j, i := range live {
			b := start + 2*(m-1-int64(j)) + 1
			w.blkUsed[b-1] = false
			p.vol[i] = b * w.bs
			addrs[i] = w.fbAddr(b)
		}
	} else if m > 0 {
		start, err := alloc(m)
		if err != nil {
			return nil, err
		}
		for j, i := range live {
			p.vol[i] = (start + int64(j)) * w.bs
			addrs[i] = w.fbAddr(start + int64(j))
		}
	}
	n.nblk = m
	if n.ZeroedThick {
		p.tbz = make([]bool, units)
		for _, i := range live {
			if n.inHoles(i*p.unit, p.unit) {
				p.tbz[i] = true
				addrs[i] |= w.tbzFlag()
				n.numTBZ++
			}
		}
	}
	return addrs, nil
}

// pointerBlocks builds pointer blocks over ptrs, w.ppb entries each, and
// returns their addresses; all-null ones stay unallocated, except on
// VMFS6 before live data at the FD's level (top).
func (w *writer) pointerBlocks(p *dataPlan, ptrs []uint64, top bool) ([]uint64, error) {
	pbRes, pbType := w.pbc, uint64(zlaPB)
	if w.v6 {
		pbRes, pbType = w.pb2, zlaPB2
	}
	out := make([]uint64, (int64(len(ptrs))+w.ppb-1)/w.ppb)
	chunk := func(k int) []uint64 { return ptrs[int64(k)*w.ppb : min(int64(len(ptrs)), int64(k+1)*w.ppb)] }
	lastLive := -1
	for k := range out {
		if !allNull(chunk(k)) {
			lastLive = k
		}
	}
	for k := range out {
		// On VMFS6 an FD-level hole before live data would end
		// vmfs6-tools' read of the array: keep an all-null PB there.
		if allNull(chunk(k)) && !(w.v6 && top && k < lastLive) {
			continue
		}
		idx, err := pbRes.alloc()
		if err != nil {
			return nil, err
		}
		p.pbs = append(p.pbs, pbPlan{res: pbRes, idx: idx, ptrs: chunk(k)})
		out[k] = w.resAddr(pbRes, idx, pbType)
	}
	return out, nil
}

func allNull(p []uint64) bool {
	for _, x := range p {
		if x != 0 {
			return false
		}
	}
	return true
}

// free returns a deleted node's resources to the bitmaps.
func (w *writer) free(n *node, p *dataPlan) {
	idx := int64(n.fd>>6&0xFFFF)*w.fdc.rpc + int64(n.fd>>22)
	w.fdc.used[idx] = false
	if p == nil {
		return
	}
	for _, pb := range p.pbs {
		pb.res.used[pb.idx] = false
	}
	if n.zla == zlaSB {
		for _, a := range n.ptrs {
			w.sbc.used[w.resIndex(w.sbc, a)] = false
		}
		return
	}
	for _, off := range p.vol {
		if off >= 0 {
			w.blkUsed[off/w.bs] = false
		}
	}
}

func (w *writer) resIndex(r *resFile, a uint64) int64 {
	c, k := layout.SplitResAddr(w.v6, false, a)
	return int64(c)*r.rpc + int64(k)
}
