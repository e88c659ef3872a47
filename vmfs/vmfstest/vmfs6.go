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
	d := newDir6(w, n)
	d.hashChildren()
	if err := d.allocate(); err != nil {
		return nil, err
	}
	d.header()
	d.allocationMap()
	d.direntBlocks()
	d.hashTable()
	d.linkBlocks()
	return d.buf, nil
}

// dir6 is a VMFS6 directory being rendered.
type dir6 struct {
	n              *node
	md             int
	perBlock       int     // dirent slots per block
	groupsPerBlock int     // link groups per block
	slots          []*node // children in slot order; deleted ones keep a (zeroed) slot
	hashes         []uint64
	buckets        map[int][]dirLink // live entries by hash-table index
	order          []int             // the indices, in the order first used
	nDirent        int               // dirent blocks
	nGroups        int               // link groups
	nLink          int               // link blocks
	buf            []byte
}

// dirLink is an entry's place in the directory and its hash's high half.
type dirLink struct {
	loc  uint32
	hash uint16
}

func newDir6(w *writer, n *node) *dir6 {
	md := int(w.md)
	d := &dir6{n: n, md: md, perBlock: (md - dirBlockHdr) / direntSize,
		groupsPerBlock: (md - dirBlockHdr) / linkGroupSize, buckets: map[int][]dirLink{}}
	d.slots = append(d.slots, n.children...)
	d.hashes = make([]uint64, len(d.slots))
	d.nDirent = (len(d.slots) + d.perBlock - 1) / d.perBlock
	return d
}

// hashChildren puts every live child in the bucket of its name's hash;
// the root's system files have fixed buckets.
func (d *dir6) hashChildren() {
	isRoot := d.n.parent == nil
	mod := hashEntries
	if isRoot {
		mod = hashEntriesRoot
	}
	for i, c := range d.slots {
		blk, slot := 1+i/d.perBlock, i%d.perBlock
		if c.Deleted {
			continue
		}
		idx, lh := 0, uint16(0)
		if r, ok := rootSysHash[c.name]; ok && isRoot && c.sys {
			idx = r
		} else {
			h := nameHash(c.name)
			d.hashes[i] = h
			idx, lh = int(h%uint64(mod)), uint16(h>>16)
		}
		if d.buckets[idx] == nil {
			d.order = append(d.order, idx)
		}
		d.buckets[idx] = append(d.buckets[idx], dirLink{dirLocation(1, blk, slot), lh})
	}
}

// allocate counts the link groups and blocks and makes the buffer.
func (d *dir6) allocate() error {
	for _, idx := range d.order {
		if k := len(d.buckets[idx]); k > 1 {
			d.nGroups += (k + linksPerGroup - 1) / linksPerGroup
		}
	}
	d.nLink = (d.nGroups + d.groupsPerBlock - 1) / d.groupsPerBlock
	nBlocks := 1 + d.nDirent + d.nLink
	if nBlocks > 2*d.md-2*dirBlockHdr {
		return fmt.Errorf("%w: directory %s needs %d blocks, more than one allocation map covers", ErrTooBig, d.n.fullPath(), nBlocks)
	}
	d.buf = make([]byte, dirHeaderSize+nBlocks*d.md)
	return nil
}

// block is directory block b (0: the allocation map).
func (d *dir6) block(b int) []byte { return d.buf[dirHeaderSize+b*d.md:] }

// dirent writes the entry of c under name at directory offset off; the
// hash goes in only for entries reached through the hash table's links.
func (d *dir6) dirent(off int, c *node, name string, h uint64, linked bool) {
	e, f := d.buf[off:off+direntSize], layout.Dirent6
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

// header writes the counts and the "." and ".." entries.
func (d *dir6) header() {
	live := 2
	for _, c := range d.slots {
		if !c.Deleted {
			live++
		}
	}
	dh := layout.Dir6Header
	dh.Version.Put(d.buf, layout.Dir6Version)
	dh.Entries.Put(d.buf, uint64(live))
	dh.Allocated.Put(d.buf, uint64(live))
	dh.MapBlocks.Put(d.buf, 1) // one allocation map block: block 0
	parent := d.n.parent
	if parent == nil {
		parent = d.n
	}
	d.dirent(dh.Dot.Off, d.n, ".", 0, false)
	d.dirent(dh.DotDot.Off, parent, "..", 0, false)
}

// allocationMap starts block 0: every block not written, block 0 the map.
func (d *dir6) allocationMap() {
	layout.DirBlock.Type.Put(d.block(0), layout.DirBlockMap)
	for b := 0; b < 2*(d.md-dirBlockHdr); b++ {
		d.mapBlock(b, 8) // not written
	}
	d.mapBlock(0, 3)
}

// mapBlock sets block's 4-bit entry in the allocation map, high nibble
// first.
func (d *dir6) mapBlock(block int, v byte) {
	p := &d.block(0)[dirBlockHdr+block/2]
	if block%2 == 0 {
		*p = *p&0x0F | v<<4
	} else {
		*p = *p&0xF0 | v
	}
}

// direntBlocks writes the entries in their slots; deleted children and
// the slots past the last child are marked free.
func (d *dir6) direntBlocks() {
	bh := layout.DirBlock
	for b := 0; b < d.nDirent; b++ {
		blk := d.block(1 + b)
		free := 0
		bh.Version.Put(blk, 1)
		bh.Type.Put(blk, layout.DirBlockEntries)
		for s := 0; s < d.perBlock; s++ {
			i := b*d.perBlock + s
			if i >= len(d.slots) || d.slots[i].Deleted {
				free++
				bh.Bitmap.Bytes(blk)[s/8] |= 1 << (s % 8)
				continue
			}
			c := d.slots[i]
			d.dirent(dirHeaderSize+(1+b)*d.md+dirBlockHdr+s*direntSize, c, c.name, d.hashes[i], !c.sys)
		}
		bh.Total.Put(blk, uint64(d.perBlock))
		bh.Free.Put(blk, uint64(free))
		v := byte(1)
		if free > 0 {
			v = 5
		}
		d.mapBlock(1+b, v)
	}
}

// hashTable points each used index at its entry, or at the first of the
// link groups that list its colliding entries.
func (d *dir6) hashTable() {
	table, g := layout.Dir6Header.HashTable.Bytes(d.buf), 0
	loc := func(g int) uint32 { return dirLocation(2, 1+d.nDirent+g/d.groupsPerBlock, g%d.groupsPerBlock) }
	for _, idx := range d.order {
		links := d.buckets[idx]
		if len(links) == 1 {
			putWord(table, idx, links[0].loc)
			continue
		}
		putWord(table, idx, loc(g))
		for len(links) > 0 {
			k := min(len(links), linksPerGroup)
			off := dirHeaderSize + (1+d.nDirent+g/d.groupsPerBlock)*d.md + dirBlockHdr + (g%d.groupsPerBlock)*linkGroupSize
			grp, f := d.buf[off:off+linkGroupSize], layout.LinkGroup
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
}

// linkBlocks writes the headers of the blocks that hold link groups.
func (d *dir6) linkBlocks() {
	bh := layout.DirBlock
	for b := 0; b < d.nLink; b++ {
		blk := d.block(1 + d.nDirent + b)
		bh.Version.Put(blk, 1)
		bh.Type.Put(blk, layout.DirBlockLinks)
		used := min(d.groupsPerBlock, d.nGroups-b*d.groupsPerBlock)
		for s := used; s < d.groupsPerBlock; s++ {
			bh.Bitmap.Bytes(blk)[s/8] |= 1 << (s % 8)
		}
		bh.Total.Put(blk, uint64(d.groupsPerBlock))
		bh.Free.Put(blk, uint64(d.groupsPerBlock-used))
		v := byte(2)
		if used < d.groupsPerBlock {
			v = 6
		}
		d.mapBlock(1+d.nDirent+b, v)
	}
}
