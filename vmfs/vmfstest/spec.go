package vmfstest

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Kind is what a directory entry is.
type Kind int

// Entry kinds.
const (
	File Kind = iota
	Dir
	Symlink
)

func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Addressing forces how a file's data is addressed on disk. Auto picks what
// ESXi would: resident for tiny files, sub-blocks for small ones, then file
// blocks, pointer blocks and (VMFS5 past 256 GiB) double-indirect pointers.
type Addressing int

// Addressing modes (vmfs.md: "Addressing modes"; the FD's zero-level address type).
const (
	Auto      Addressing = iota
	Resident             // zla 0x10D1: data inside the file descriptor
	SubBlocks            // zla 2: direct sub-block pointers
	Blocks               // zla 1: direct file-block (VMFS6: small-file-block) pointers
	Pointers             // zla 3 (VMFS5) / 5 (VMFS6): one level of pointer blocks
	Double               // zla 0x10D0: two levels of pointer blocks
	// LargeBlocks (VMFS6 only): zla 1 with large-file-block addresses
	// (type 7), 512 MiB each (fileBlockSize << sfbToLfbShift), every block
	// allocated; the FD's blockSize and blockOffsetShift are the LFB's.
	LargeBlocks
)

func (a Addressing) String() string {
	return [...]string{"auto", "resident", "subblocks", "blocks", "pointers", "double", "largeblocks"}[a]
}

// Range is a run of bytes: Len bytes from Off.
type Range struct {
	Off, Len int64
}

// Entry is one path of the tree to build. Parent directories that are not
// listed are created with default attributes.
type Entry struct {
	// Path is slash-separated, relative to the volume root ("a/b/c").
	Path string
	Kind Kind
	// Data is the content of a small file. When nil, the content is Size
	// bytes of a deterministic pseudo-random stream chosen by Seed, so that
	// huge files need no memory.
	Data []byte
	Size int64
	Seed uint64
	// Holes are byte ranges that read as zeros. With Thin set, every file
	// block that lies wholly in holes is left unallocated (a null pointer),
	// as on a thin-provisioned VMDK; without it the blocks are allocated and
	// hold zeros.
	Holes []Range
	Thin  bool
	// ZeroedThick allocates the blocks that lie wholly in holes but flags
	// them to-be-zeroed (TBZ), as a lazily zeroed thick VMDK: they read as
	// zeros, while the generator fills them with stale pseudo-random bytes
	// so that a reader ignoring the flag is caught. Exclusive with Thin.
	ZeroedThick bool
	// Fragmented scatters the file's blocks over the volume in reverse order
	// with free blocks between them, instead of one contiguous run.
	Fragmented bool
	// Deleted writes the file descriptor, pointer blocks and data as if the
	// file had existed, then deletes it the way the format does: its
	// resources are freed in the bitmaps and its directory entry removed
	// (VMFS5: the array is compacted, the stale 140 bytes stay as slack past
	// the directory's length; VMFS6: the slot is zeroed and marked free).
	Deleted bool
	// AtEnd places the file's blocks at the far end of the volume, in the
	// last free blocks (on a spanned volume: in the last extent), as on a
	// datastore filled over years, so that a reader must address all of
	// it. It applies to data in file blocks (not resident, sub-block or
	// large-file-block data); pointer blocks stay in .pbc.sf / .pb2.sf.
	AtEnd bool
	// Addressing forces a storage mode; Auto chooses like ESXi.
	Addressing Addressing
	// Mode holds permission bits only (0 = 0644 files, 0755 dirs, 0777 links).
	Mode fs.FileMode
	// MTime is the modification (and change/access) time; zero = Spec.Time.
	MTime time.Time
	// Target is a symlink's target, stored as its content.
	Target string
}

// Spec declares a volume to build.
type Spec struct {
	// Version is 5 (VMFS5: LVM 5, FS 14.81) or 6 (VMFS6: LVM 6, FS 24.82).
	Version int
	Label   string
	// BlockSize is the file block size; 0 = 1 MiB. VMFS5 accepts 1, 2, 4 or
	// 8 MiB; VMFS6 only 1 MiB (vmfs6-tools hard-codes it).
	BlockSize int64
	// Size is the minimum logical volume size; the writer grows it to hold
	// the tree and rounds it up to 256 MiB physical extents.
	Size int64
	// Time stamps every entry without its own MTime and the volume itself;
	// zero = 2024-01-02 03:04:05 UTC.
	Time time.Time
	// Seed makes UUIDs (and nothing else) differ between volumes.
	Seed uint64
	// Partition wraps the volume in a partition table: "" (a bare partition
	// image, as the real samples), "mbr" (type 0xFB) or "gpt" (VMFS GUID).
	Partition string
	// StartSector is the partition's first 512-byte sector (default 2048).
	StartSector int64
	// Extents spans the volume over that many devices (0 = 1): Write then
	// writes NAME.img plus NAME-ext1.img, NAME-ext2.img, … each with its
	// own LVM header and a share of the 256 MiB physical extents.
	Extents int
	Files   []Entry
}

// DefaultTime is the time stamp of entries that set none.
var DefaultTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// node is an entry of the resolved tree.
type node struct {
	Entry
	name     string
	parent   *node
	children []*node // sorted by name; deleted ones included
	sys      bool    // a system file or the root
	// set by the layout
	fd     uint32 // FD address
	gen    uint32
	fdSlot int64 // vol offset of the FD slot
	zla    uint32
	bsize  int64 // per-file allocation unit recorded in the FD
	ptrs   []uint64
	nblk   int64
	data   []byte // materialised content of directories and symlinks
	nlink  uint32
	slack  []byte  // VMFS5 directories: entries of deleted children, past the end
	sysVol []int64 // system files: volume offset of each block
	numTBZ int64
}

func (n *node) fullPath() string {
	if n.parent == nil {
		return "/"
	}
	if n.parent.parent == nil {
		return "/" + n.name
	}
	return n.parent.fullPath() + "/" + n.name
}

// size is the file length.
func (n *node) size() int64 {
	switch {
	case n.Kind == Symlink:
		return int64(len(n.Target))
	case n.data != nil:
		return int64(len(n.data))
	case n.Entry.Data != nil:
		return int64(len(n.Entry.Data))
	}
	return n.Size
}

// ReadAt fills p with the content at off (past the end: zeros).
func (n *node) ReadAt(p []byte, off int64) {
	clear(p)
	src := n.data
	if src == nil && n.Kind == Symlink {
		src = []byte(n.Target)
	}
	if src == nil {
		src = n.Entry.Data
	}
	size := n.size()
	if off >= size {
		return
	}
	if int64(len(p)) > size-off {
		p = p[:size-off]
	}
	if src != nil {
		copy(p, src[off:])
	} else {
		genAt(n.Seed, p, off)
	}
	for _, h := range n.Holes {
		lo, hi := max(h.Off, off), min(h.Off+h.Len, off+int64(len(p)))
		if lo < hi {
			clear(p[lo-off : hi-off])
		}
	}
}

// inHoles reports whether [off, off+n) lies wholly in holes or past the end.
func (n *node) inHoles(off, ln int64) bool {
	if off >= n.size() {
		return true
	}
	end := min(off+ln, n.size())
	for _, h := range n.Holes { // holes are sorted and merged by build
		if h.Off+h.Len <= off {
			continue
		}
		if h.Off > off {
			return false
		}
		off = h.Off + h.Len
		if off >= end {
			return true
		}
	}
	return off >= end
}

// genAt writes the deterministic stream of seed at off into p: each 8-byte
// word w holds splitmix64(seed, w), little-endian.
func genAt(seed uint64, p []byte, off int64) {
	var w [8]byte
	word := func(i int64) uint64 { return splitmix(seed ^ 0x5bd1e995 + uint64(i)*0x9E3779B97F4A7C15) }
	for len(p) > 0 && (off%8 != 0 || len(p) < 8) {
		binary.LittleEndian.PutUint64(w[:], word(off/8))
		k := copy(p, w[off%8:])
		p, off = p[k:], off+int64(k)
	}
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, word(off/8))
		p, off = p[8:], off+8
	}
	if len(p) > 0 {
		binary.LittleEndian.PutUint64(w[:], word(off/8))
		copy(p, w[:])
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// buildTree checks the entries and returns the root of the tree.
func buildTree(s *Spec) (*node, error) {
	root := &node{Entry: Entry{Kind: Dir, Mode: 0o1755}, sys: true}
	byPath := map[string]*node{"": root}
	var mk func(p string) (*node, error)
	mk = func(p string) (*node, error) {
		if n, ok := byPath[p]; ok {
			if n.Kind != Dir {
				return nil, fmt.Errorf("vmfstest: %q is a parent but not a directory", p)
			}
			return n, nil
		}
		dir, name := path.Split(p)
		parent, err := mk(strings.TrimSuffix(dir, "/"))
		if err != nil {
			return nil, err
		}
		n := &node{Entry: Entry{Path: p, Kind: Dir}, name: name, parent: parent}
		parent.children = append(parent.children, n)
		byPath[p] = n
		return n, nil
	}
	for i := range s.Files {
		e := s.Files[i]
		p := strings.Trim(e.Path, "/")
		if p == "" || !fs.ValidPath(p) {
			return nil, fmt.Errorf("vmfstest: entry %d: invalid path %q", i, e.Path)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("vmfstest: entry %d: duplicate path %q", i, e.Path)
		}
		dir, name := path.Split(p)
		if strings.HasSuffix(name, ".sf") && dir == "" {
			return nil, fmt.Errorf("vmfstest: entry %d: %q collides with system file names", i, p)
		}
		parent, err := mk(strings.TrimSuffix(dir, "/"))
		if err != nil {
			return nil, err
		}
		if parent.Deleted && !e.Deleted {
			return nil, fmt.Errorf("vmfstest: %q lies in a deleted directory", p)
		}
		if e.Kind == Symlink && e.Target == "" {
			return nil, fmt.Errorf("vmfstest: symlink %q has no target", p)
		}
		if e.Kind == File && e.Data != nil && e.Size != 0 && int64(len(e.Data)) != e.Size {
			return nil, fmt.Errorf("vmfstest: %q: Size %d differs from len(Data) %d", p, e.Size, len(e.Data))
		}
		if e.Thin && e.ZeroedThick {
			return nil, fmt.Errorf("vmfstest: %q: Thin and ZeroedThick exclude each other", p)
		}
		if e.AtEnd && e.Addressing == LargeBlocks {
			return nil, fmt.Errorf("vmfstest: %q: AtEnd does not apply to large file blocks", p)
		}
		if e.Size < 0 {
			return nil, fmt.Errorf("vmfstest: %q: negative size", p)
		}
		e.Path = p
		e.Holes = normHoles(e.Holes)
		n := &node{Entry: e, name: name, parent: parent}
		parent.children = append(parent.children, n)
		byPath[p] = n
	}
	var sortKids func(n *node)
	sortKids = func(n *node) {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
		for _, c := range n.children {
			sortKids(c)
		}
	}
	sortKids(root)
	return root, nil
}

func normHoles(hs []Range) []Range {
	var out []Range
	hs = append([]Range(nil), hs...)
	sort.Slice(hs, func(i, j int) bool { return hs[i].Off < hs[j].Off })
	for _, h := range hs {
		if h.Len <= 0 {
			continue
		}
		if k := len(out); k > 0 && h.Off <= out[k-1].Off+out[k-1].Len {
			out[k-1].Len = max(out[k-1].Len, h.Off+h.Len-out[k-1].Off)
			continue
		}
		out = append(out, h)
	}
	return out
}

// MarshalText and UnmarshalText let specs be written as JSON ("file",
// "dir", "symlink"; "auto", "resident", …).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a Kind name.
func (k *Kind) UnmarshalText(b []byte) error {
	for _, c := range []Kind{File, Dir, Symlink} {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("vmfstest: unknown kind %q (want file, dir or symlink)", b)
}

// MarshalText renders an Addressing name.
func (a Addressing) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses an Addressing name.
func (a *Addressing) UnmarshalText(b []byte) error {
	for c := Auto; c <= LargeBlocks; c++ {
		if c.String() == string(b) {
			*a = c
			return nil
		}
	}
	return fmt.Errorf("vmfstest: unknown addressing %q", b)
}
