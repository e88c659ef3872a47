package vmfstest

import (
	"encoding/binary"
	"fmt"
)

// VMFS6 hashed directories (vmfs.md: "Directories (VMFS6)").
const (
	dirHeaderSize   = 0x10000
	dirVersion      = 0xF50001
	direntSize      = 0x120
	linkGroupSize   = 0x54
	linksPerGroup   = 12
	hashTableOff    = 0x5F8
	hashEntries     = 16001
	hashEntriesRoot = 15973 // 28 slots are reserved for system files
	dirBlockHdr     = 64
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
	le32(buf, 0x00, dirVersion)
	le32(buf, 0x04, uint32(live))
	le32(buf, 0x08, uint32(live))
	le32(buf, 0x0C, 1) // one allocation map block: block 0
	parent := n.parent
	if parent == nil {
		parent = n
	}
	dirent := func(off int, c *node, name string, h uint64, linked bool) {
		e := buf[off : off+direntSize]
		le32(e, 0x00, c.fdType())
		le32(e, 0x04, c.fd)
		le32(e, 0x08, c.gen)
		if linked {
			le16(e, 0x0C, uint16(h))
			le16(e, 0x0E, uint16(h>>16))
		}
		le64(e, 0x10, uint64(off))
		copy(e[0x18:0x118], name)
	}
	dirent(0x3B8, n, ".", 0, false)
	dirent(0x4D8, parent, "..", 0, false)
	// Allocation map.
	amap := buf[dirHeaderSize:]
	le16(amap, 2, 3)
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
		le16(blk, 0, 1)
		le16(blk, 2, 1)
		for s := 0; s < total; s++ {
			i := b*perBlock + s
			if i >= len(slots) || slots[i].Deleted {
				free++
				blk[8+s/8] |= 1 << (s % 8)
				continue
			}
			c := slots[i]
			dirent(dirHeaderSize+(1+b)*md+dirBlockHdr+s*direntSize, c, c.name, hashes[i], !c.sys)
		}
		le16(blk, 4, uint16(total))
		le16(blk, 6, uint16(free))
		v := byte(1)
		if free > 0 {
			v = 5
		}
		nib(1+b, v)
	}
	// Hash table and link groups.
	g := 0
	for _, idx := range order {
		links := buckets[idx]
		if len(links) == 1 {
			le32(buf, hashTableOff+4*idx, links[0].loc)
			continue
		}
		loc := func(g int) uint32 { return dirLocation(2, 1+nDirent+g/groupsPerBlock, g%groupsPerBlock) }
		le32(buf, hashTableOff+4*idx, loc(g))
		for len(links) > 0 {
			k := min(len(links), linksPerGroup)
			off := dirHeaderSize + (1+nDirent+g/groupsPerBlock)*md + dirBlockHdr + (g%groupsPerBlock)*linkGroupSize
			grp := buf[off : off+linkGroupSize]
			le16(grp, 0, uint16(idx))
			grp[2], grp[3], grp[4] = linksPerGroup, byte(linksPerGroup-k), byte(k%linksPerGroup)
			for j, l := range links[:k] {
				le32(grp, 6+6*j, l.loc)
				le16(grp, 10+6*j, l.hash)
			}
			links = links[k:]
			g++
			if len(links) > 0 {
				le32(grp, 0x4E, loc(g))
			}
		}
	}
	for b := 0; b < nLink; b++ {
		blk := buf[dirHeaderSize+(1+nDirent+b)*md:]
		le16(blk, 0, 1)
		le16(blk, 2, 2)
		used := min(groupsPerBlock, nGroups-b*groupsPerBlock)
		for s := used; s < groupsPerBlock; s++ {
			blk[8+s/8] |= 1 << (s % 8)
		}
		le16(blk, 4, uint16(groupsPerBlock))
		le16(blk, 6, uint16(groupsPerBlock-used))
		v := byte(2)
		if used < groupsPerBlock {
			v = 6
		}
		nib(1+nDirent+b, v)
	}
	return buf, nil
}
