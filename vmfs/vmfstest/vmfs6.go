package vmfstest

import (
	"encoding/binary"
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// VMFS6 hashed directories (vmfs.md: "Directories (VMFS6)").
const (
	dirHeaderSize   = layout.Dir6HeaderSize
	direntSize      = layout.Dirent6Size
	linkGroupSize   = layout.LinkGroupSize
	linksPerGroup   = layout.LinksPerGroup
	hashEntries     = layout.DirHashEntries
	hashEntriesRoot = layout.DirHashRoot
	dirBlockHdr     = layout.DirBlockHdrSize
	vmfs6Ready      = true
)

// rootSysHash are the fixed hash-table slots of the root's system files.
var rootSysHash = map[string]int{".fbb.sf": 0x3E66, ".fdc.sf": 0x3E67, ".pbc.sf": 0x3E68,
	".sbc.sf": 0x3E69, ".vh.sf": 0x3E6A, ".pb2.sf": 0x3E6B, ".sdd.sf": 0x3E6C, ".jbc.sf": 0x3E6D}

// nameHash is the VMFS6 directory-name hash: Bob Jenkins' lookup8 over a
// 256-byte key holding the name, salted after it up to byte 127.
func nameHash(name string) uint64 {
	var key [256]byte
	copy(key[:], name)
	for i := (len(name) + 8) &^ 7; i < 127; i += 8 {
		binary.LittleEndian.PutUint64(key[i:], 0x739A75C28E61B017)
	}
	var wd [32]uint64
	for i := range wd {
		wd[i] = binary.LittleEndian.Uint64(key[8*i:])
	}
	a, b, c := uint64(42), uint64(42), uint64(0x9E3779B97F4A7C13)
	for j := 0; j < 10; j++ {
		a += wd[3*j]
		b += wd[3*j+1]
		c += wd[3*j+2]
		a, b, c = mix64(a, b, c)
	}
	c += 32
	a += wd[30]
	b += wd[31]
	_, _, c = mix64(a, b, c)
	return c
}

func mix64(a, b, c uint64) (uint64, uint64, uint64) {
	a = (a - b - c) ^ (c >> 43)
	b = (b - c - a) ^ (a << 9)
	c = (c - a - b) ^ (b >> 8)
	a = (a - b - c) ^ (c >> 38)
	b = (b - c - a) ^ (a << 23)
	c = (c - a - b) ^ (b >> 5)
	a = (a - b - c) ^ (c >> 35)
	b = (b - c - a) ^ (a << 49)
	c = (c - a - b) ^ (b >> 11)
	a = (a - b - c) ^ (c >> 12)
	b = (b - c - a) ^ (a << 18)
	c = (c - a - b) ^ (b >> 22)
	return a, b, c
}

// putWord writes the hash-table word of index idx.
func putWord(table []byte, idx int, loc uint32) {
	binary.LittleEndian.PutUint32(table[4*idx:], loc)
}

func dirLocation(typ, block, slot int) uint32 {
	return uint32(typ) | uint32(block)<<2 | uint32(slot)<<24
}

// dirData6 renders a VMFS6 directory: a 64 KiB header with "." and ".."
// and the hash table, then 4 KiB blocks: the allocation map (block 0),
// dirent blocks (blocks 1…, contiguous: vmfs6-tools assumes it) and link
// blocks for hash collisions.
func (w *writer) dirData6(n *node) ([]byte, error) {
	md := int(w.md)
	perBlock := (md - dirBlockHdr) / direntSize
	groupsPerBlock := (md - dirBlockHdr) / linkGroupSize
	var slots []*node // children in slot order; deleted ones keep a (zeroed) slot
	for _, c := range n.children {
		slots = append(slots, c)
	}
	nDirent := (len(slots) + perBlock - 1) / perBlock
	isRoot := n.parent == nil
	mod := hashEntries
	if isRoot {
		mod = hashEntriesRoot
	}
	// Buckets of live entries.
	type link struct {
		loc  uint32
		hash uint16
	}
	buckets := map[int][]link{}
	var order []int
	hashes := make([]uint64, len(slots))
	for i, c := range slots {
		blk, slot := 1+i/perBlock, i%perBlock
		if c.Deleted {
			continue
		}
		idx, lh := 0, uint16(0)
		if r, ok := rootSysHash[c.name]; ok && isRoot && c.sys {
			idx = r
		} else {
			h := nameHash(c.name)
			hashes[i] = h
			idx, lh = int(h%uint64(mod)), uint16(h>>16)
		}
		if buckets[idx] == nil {
			order = append(order, idx)
		}
		buckets[idx] = append(buckets[idx], link{dirLocation(1, blk, slot), lh})
	}
	nGroups := 0
	for _, idx := range order {
		if k := len(buckets[idx]); k > 1 {
			nGroups += (k + linksPerGroup - 1) / linksPerGroup
		}
	}
	nLink := (nGroups + groupsPerBlock - 1) / groupsPerBlock
	nBlocks := 1 + nDirent + nLink
	if nBlocks > 2*md-2*dirBlockHdr {
		return nil, fmt.Errorf("%w: directory %s needs %d blocks, more than one allocation map covers", ErrTooBig, n.fullPath(), nBlocks)
	}
	buf := make([]byte, dirHeaderSize+nBlocks*md)
	live := 2
	for _, c := range slots {
		if !c.Deleted {
			live++
		}
	}
	dh, bh := layout.Dir6Header, layout.DirBlock
	dh.Version.Put(buf, layout.Dir6Version)
	dh.Entries.Put(buf, uint64(live))
	dh.Allocated.Put(buf, uint64(live))
	dh.MapBlocks.Put(buf, 1) // one allocation map block: block 0
	parent := n.parent
	if parent == nil {
		parent = n
	}
	dirent := func(off int, c *node, name string, h uint64, linked bool) {
		e, f := buf[off:off+direntSize], layout.Dirent6
		f.Type.Put(e, uint64(c.fdType()))
		f.Addr.Put(e, uint64(c.fd))
		f.Generation.Put(e, uint64(c.gen))
		if linked {
			f.HashLow.Put(e, h)
			f.HashHigh.Put(e, h>>16)
		}
		f.Self.Put(e, uint64(off))
		copy(f.Name.Bytes(e), name)
	}
	dirent(dh.Dot.Off, n, ".", 0, false)
	dirent(dh.DotDot.Off, parent, "..", 0, false)
	// Allocation map.
	amap := buf[dirHeaderSize:]
	bh.Type.Put(amap, layout.DirBlockMap)
	nib := func(block int, v byte) {
		p := &amap[dirBlockHdr+block/2]
		if block%2 == 0 {
			*p = *p&0x0F | v<<4
		} else {
			*p = *p&0xF0 | v
		}
	}
	for b := 0; b < 2*(md-dirBlockHdr); b++ {
		nib(b, 8) // not written
	}
	nib(0, 3)
	// Dirent blocks.
	for b := 0; b < nDirent; b++ {
		blk := buf[dirHeaderSize+(1+b)*md:]
		total := perBlock
		free := 0
		bh.Version.Put(blk, 1)
		bh.Type.Put(blk, layout.DirBlockEntries)
		for s := 0; s < total; s++ {
			i := b*perBlock + s
			if i >= len(slots) || slots[i].Deleted {
				free++
				bh.Bitmap.Bytes(blk)[s/8] |= 1 << (s % 8)
				continue
			}
			c := slots[i]
			dirent(dirHeaderSize+(1+b)*md+dirBlockHdr+s*direntSize, c, c.name, hashes[i], !c.sys)
		}
		bh.Total.Put(blk, uint64(total))
		bh.Free.Put(blk, uint64(free))
		v := byte(1)
		if free > 0 {
			v = 5
		}
		nib(1+b, v)
	}
	// Hash table and link groups.
	table, g := dh.HashTable.Bytes(buf), 0
	for _, idx := range order {
		links := buckets[idx]
		if len(links) == 1 {
			putWord(table, idx, links[0].loc)
			continue
		}
		loc := func(g int) uint32 { return dirLocation(2, 1+nDirent+g/groupsPerBlock, g%groupsPerBlock) }
		putWord(table, idx, loc(g))
		for len(links) > 0 {
			k := min(len(links), linksPerGroup)
			off := dirHeaderSize + (1+nDirent+g/groupsPerBlock)*md + dirBlockHdr + (g%groupsPerBlock)*linkGroupSize
			grp, f := buf[off:off+linkGroupSize], layout.LinkGroup
			f.Index.Put(grp, uint64(idx))
			f.Capacity.Put(grp, linksPerGroup)
			f.Free.Put(grp, uint64(linksPerGroup-k))
			f.Count.Put(grp, uint64(k%linksPerGroup))
			for j, l := range links[:k] {
				link := f.Links.Bytes(grp)[j*layout.LinkSize:]
				layout.Link.Location.Put(link, uint64(l.loc))
				layout.Link.Hash.Put(link, uint64(l.hash))
			}
			links = links[k:]
			g++
			if len(links) > 0 {
				f.Next.Put(grp, uint64(loc(g)))
			}
		}
	}
	for b := 0; b < nLink; b++ {
		blk := buf[dirHeaderSize+(1+nDirent+b)*md:]
		bh.Version.Put(blk, 1)
		bh.Type.Put(blk, layout.DirBlockLinks)
		used := min(groupsPerBlock, nGroups-b*groupsPerBlock)
		for s := used; s < groupsPerBlock; s++ {
			bh.Bitmap.Bytes(blk)[s/8] |= 1 << (s % 8)
		}
		bh.Total.Put(blk, uint64(groupsPerBlock))
		bh.Free.Put(blk, uint64(groupsPerBlock-used))
		v := byte(2)
		if used < groupsPerBlock {
			v = 6
		}
		nib(1+nDirent+b, v)
	}
	return buf, nil
}
