package layout

// Dirent5 is one entry of a VMFS3/5 directory, an array of Dirent5Size
// entries ("." and ".." first) (vmfs.md: "Directories (VMFS3/5)"). A
// 128-byte name has no NUL.
var Dirent5 = struct{ Type, Addr, Generation, Name Field }{
	Type: Field{0x00, 4}, Addr: Field{0x04, 4}, Generation: Field{0x08, 4}, Name: Field{0x0C, 128},
}

// Dirent5Size is the size of a VMFS3/5 directory entry.
const Dirent5Size = 140

// VMFS6 hashed directories (vmfs.md: "Directories (VMFS6)"): a header of
// Dir6HeaderSize bytes, then blocks of one metadata block each, every
// block starting with a DirBlock header.
const (
	Dir6HeaderSize   = 0x10000
	Dir6Version      = 0xF50001
	Dir6DebugVersion = 0xFDC001
	Dirent6Size      = 0x120
	DirBlockHdrSize  = 64
	LinkGroupSize    = 0x54
	LinksPerGroup    = 12
	DirHashEntries   = 16001 // hash-table words
	DirHashRoot      = 15973 // the root's modulus: 28 words are kept for system files
)

// Directory block types (DirBlock.Type).
const (
	DirBlockEntries = 1
	DirBlockLinks   = 2
	DirBlockMap     = 3
)

// Dir6Header is the start of a VMFS6 directory: counts, the "." and ".."
// entries and the hash table of location words.
var Dir6Header = struct {
	Version, Entries, Allocated, MapBlocks, Dot, DotDot, HashTable Field
}{
	Version: Field{0x00, 4}, Entries: Field{0x04, 4}, Allocated: Field{0x08, 4},
	MapBlocks: Field{0x0C, 4}, Dot: Field{0x3B8, Dirent6Size},
	DotDot: Field{0x4D8, Dirent6Size}, HashTable: Field{0x5F8, 4 * DirHashEntries},
}

// Dirent6 is one VMFS6 directory entry: the name hash's two halves, the
// entry's own offset in the directory file, a 256-byte name (ESXi limits
// names to 127 bytes).
var Dirent6 = struct {
	Type, Addr, Generation, HashLow, HashHigh, Self, Name Field
}{
	Type: Field{0x00, 4}, Addr: Field{0x04, 4}, Generation: Field{0x08, 4},
	HashLow: Field{0x0C, 2}, HashHigh: Field{0x0E, 2}, Self: Field{0x10, 8},
	Name: Field{0x18, 256},
}

// DirBlock is the header of every VMFS6 directory block; in its slot
// bitmap a set bit is a free slot.
var DirBlock = struct{ Version, Type, Total, Free, Bitmap Field }{
	Version: Field{0x00, 2}, Type: Field{0x02, 2}, Total: Field{0x04, 2},
	Free: Field{0x06, 2}, Bitmap: Field{0x08, DirBlockHdrSize - 8},
}

// LinkGroup holds the entries of one hash-table index that collide:
// LinksPerGroup links of a location word and the hash's low half, then
// the next group's location.
var LinkGroup = struct{ Index, Capacity, Free, Count, Links, Next Field }{
	Index: Field{0x00, 2}, Capacity: Field{0x02, 1}, Free: Field{0x03, 1},
	Count: Field{0x04, 1}, Links: Field{0x06, 6 * LinksPerGroup}, Next: Field{0x4E, 4},
}

// Link is one link of a LinkGroup, from LinkGroup.Links.
var Link = struct{ Location, Hash Field }{Location: Field{0x00, 4}, Hash: Field{0x04, 2}}

// LinkSize is the size of one Link.
const LinkSize = 6
