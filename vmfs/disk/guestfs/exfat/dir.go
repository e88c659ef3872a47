package exfat

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
	"unsafe"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// node is a file or directory: its File directory entry set.
type node struct {
	name       string
	units      []uint16 // the name as stored, for lookups through the up-case table
	attr       uint16
	dir        bool
	cluster    uint32
	size       int64 // DataLength
	valid      int64 // ValidDataLength
	noFatChain bool
	mod        time.Time
	deleted    bool
	off        int64 // byte offset of the File entry on the volume; -1 for the root
}

// Entry types (bit 7 InUse, bit 6 secondary, bit 5 benign, bits 0-4 code).
const (
	typeEnd      = 0x00
	typeBitmap   = 0x81
	typeUpcase   = 0x82
	typeLabel    = 0x83
	typeFile     = 0x85
	typeStream   = 0xC0
	typeFileName = 0xC1
	inUse        = 0x80
)

// A directory is at most 256 MiB by the specification; this reader reads
// at most maxDirBytes of one (2 million entries).
const maxDirBytes = 64 << 20

// dirData is a directory's bytes and where they lie on the volume.
type dirData struct {
	b []byte
	s *stream
}

func (d *dirData) off(i int) int64 { return d.s.devOff(int64(i)) }

// dirBytes reads a directory. The root's length is that of its FAT
// chain; a deleted directory is read contiguously from its first cluster
// while its clusters are free.
func (f *FS) dirBytes(n *node) (*dirData, error) {
	var s *stream
	var err error
	switch {
	case n.off < 0 || n.cluster == f.rootCluster && !n.deleted && n.size == 0:
		s, err = f.rootStream()
	case n.deleted:
		s = f.deletedStream(n)
	default:
		if n.size > maxDirBytes || n.size%32 != 0 {
			return nil, formatErr("directory entry", n.off, ErrCorrupt, "directory of %d bytes", n.size)
		}
		s, err = f.chainStream(n.cluster, n.size, n.noFatChain)
	}
	if err != nil {
		return nil, err
	}
	b := make([]byte, s.data.Size)
	if _, err := s.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return &dirData{b, s}, nil
}

// rootStream follows the root directory's FAT chain to its end.
func (f *FS) rootStream() (*stream, error) {
	s := f.newStream(0)
	seen := guestfs.NewSeen(uint32(f.heapClusters+2), maxDirBytes/f.clusterSize)
	for c := f.rootCluster; ; {
		if !f.valid(c) {
			return nil, formatErr("root directory chain", f.fatOff+int64(c)*4, ErrCorrupt, "cluster %d outside 2..%d", c, f.clusters+1)
		}
		if seen.Add(c) || s.data.Size >= maxDirBytes {
			return nil, formatErr("root directory chain", f.fatOff+int64(c)*4, ErrCorrupt, "loops back to cluster %d, or passes %d bytes", c, maxDirBytes)
		}
		s.add(c, 1)
		s.data.Size += f.clusterSize
		next, err := f.next(c)
		if err != nil {
			return nil, err
		}
		if next >= 0xFFFFFFF8 {
			break
		}
		c = next
	}
	s.valid = s.data.Size
	return s, nil
}

// entries decodes the entry sets of a directory. A set that fails its
// checksum is skipped with a warning. Deleted sets (InUse clear) are
// kept with Options.Deleted, and every set of a deleted directory.
func (f *FS) entries(dir *node) ([]*node, error) {
	d, err := f.dirBytes(dir)
	if err != nil {
		return nil, err
	}
	var out []*node
	b := d.b
	for i := 0; i+32 <= len(b); i += 32 {
		t := b[i]
		if t == typeEnd {
			break
		}
		if t|inUse != typeFile {
			continue
		}
		deleted := t&inUse == 0 || dir.deleted
		if t&inUse == 0 && !f.opts.Deleted {
			continue
		}
		count := int(b[i+1])
		if count < 2 || count > 18 || i+32*(count+1) > len(b) {
			f.warn("directory entry set at byte %d: %d secondary entries", d.off(i), count)
			continue
		}
		set := b[i : i+32*(count+1)]
		if !setChecksumOK(set, t&inUse == 0) {
			if !deleted {
				f.warn("directory entry set at byte %d fails its checksum: skipped", d.off(i))
			}
			continue
		}
		n, ok := f.decodeSet(set, d.off(i))
		if !ok {
			continue
		}
		n.deleted = deleted
		i += 32 * count
		if deleted && n.size > 0 && f.allocated(n.cluster) {
			continue // its first cluster was taken again
		}
		out = append(out, n)
	}
	return out, nil
}

// setChecksumOK checks the SetChecksum of a File entry set: over every
// byte of the set but the checksum itself. Deleting clears bit 7 of
// every entry type after the checksum was written: a deleted set is
// checked with the bits set again.
func setChecksumOK(set []byte, deleted bool) bool {
	var sum uint16
	for i, c := range set {
		if i == 2 || i == 3 {
			continue
		}
		if deleted && i%32 == 0 {
			c |= inUse
		}
		sum = (sum>>1 | sum<<15) + uint16(c)
	}
	return sum == binary.LittleEndian.Uint16(set[2:])
}

// decodeSet reads a File entry set:
//
//	File (0x85):   1 SecondaryCount, 2 SetChecksum, 4 FileAttributes,
//	               12 LastModifiedTimestamp, 21 LastModified10msIncrement,
//	               23 LastModifiedUtcOffset
//	Stream (0xC0): 1 GeneralSecondaryFlags (bit 1 NoFatChain),
//	               3 NameLength, 8 ValidDataLength, 20 FirstCluster,
//	               24 DataLength
//	Name (0xC1):   2 FileName, 15 UTF-16 code units an entry
func (f *FS) decodeSet(set []byte, off int64) (*node, bool) {
	le := binary.LittleEndian
	st := set[32:64]
	if st[0]|inUse != typeStream {
		f.warn("directory entry set at byte %d: no stream extension", off)
		return nil, false
	}
	n := &node{
		attr:       le.Uint16(set[4:]),
		cluster:    le.Uint32(st[20:]),
		size:       int64(le.Uint64(st[24:])),
		valid:      int64(le.Uint64(st[8:])),
		noFatChain: st[1]&2 != 0,
		off:        off,
	}
	n.dir = n.attr&0x10 != 0
	n.mod = timestamp(le.Uint32(set[12:]), set[21], set[23])
	if n.size < 0 || n.valid < 0 || n.valid > n.size {
		f.warn("directory entry set at byte %d: DataLength %d, ValidDataLength %d", off, n.size, n.valid)
		return nil, false
	}
	length := int(st[3])
	for j := 64; j+32 <= len(set) && len(n.units) < length; j += 32 {
		if set[j]|inUse != typeFileName {
			continue
		}
		for k := 2; k < 32 && len(n.units) < length; k += 2 {
			n.units = append(n.units, le.Uint16(set[j+k:]))
		}
	}
	if len(n.units) != length || length == 0 {
		f.warn("directory entry set at byte %d: name of %d of %d characters", off, len(n.units), length)
		return nil, false
	}
	n.name = string(utf16.Decode(n.units))
	return n, true
}

func decodeName(b []byte, n int) string {
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// timestamp decodes an exFAT timestamp: bits 0-4 two-second count, 5-10
// minute, 11-15 hour, 16-20 day, 21-24 month, 25-31 years from 1980; a
// 10 ms increment of 0-199; a UTC offset in 15-minute steps, bit 7 set
// when it is valid. Without a valid offset the time is local to a zone
// unknown, and is taken as UTC.
func timestamp(ts uint32, ms10, utc byte) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	loc := time.UTC
	if utc&0x80 != 0 {
		q := int(int8(utc<<1) >> 1) // seven-bit two's complement
		loc = time.FixedZone(fmt.Sprintf("UTC%+03d:%02d", q/4, (q%4+4)%4*15), q*15*60)
	}
	ns := 0
	if ms10 < 200 {
		ns = int(ms10) * 10e6
	}
	return time.Date(1980+int(ts>>25), time.Month(ts>>21&15), int(ts>>16&31), int(ts>>11&31), int(ts>>5&63), int(ts&31)*2, ns, loc)
}

// list returns a directory's entries as io/fs lists them: live ones by
// name, deleted ones after them, renamed NAME~deleted-ID (ID the first
// cluster) when a name is taken; sorted.
func (f *FS) list(dir *node) ([]*node, error) {
	cacheKey := dirKey{dir.cluster, dir.deleted}
	if l, ok := f.dirs.Get(cacheKey); ok {
		return l, nil
	}
	all, err := f.entries(dir)
	if err != nil {
		return nil, err
	}
	names := guestfs.NewNames(func(name string) string {
		units := utf16.Encode([]rune(name))
		u := make([]rune, len(units))
		for i, c := range units {
			u[i] = rune(f.upcase[c])
		}
		return string(u)
	})
	var out []*node
	for _, pass := range []bool{false, true} {
		for _, n := range all {
			if n.deleted != pass || n.name == "." || n.name == ".." || strings.ContainsAny(n.name, "/\x00") {
				continue
			}
			name, ok := names.Take(n.name, n.deleted, uint64(n.cluster))
			if !ok {
				continue
			}
			if name != n.name {
				n.name, n.units = name, utf16.Encode([]rune(name))
			}
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	f.dirs.Put(cacheKey, out)
	return out, nil
}

// dirKey names a directory in the cache of listings: its first cluster,
// and whether it is deleted.
type dirKey struct {
	cluster uint32
	deleted bool
}

// The listings a volume keeps decoded are bounded by what they weigh: a
// directory read may hold 700,000 entries, and 64 of them (the bound by
// count alone, before) could hold 10 GB.
const (
	cachedDirs      = 64
	cachedListBytes = 32 << 20
	nodeBytes       = int(unsafe.Sizeof(node{})) + 8 // and its pointer in the listing
)

// listBytes is about what a listing holds in memory: its nodes and their
// names, as UTF-8 and as UTF-16.
func listBytes(l []*node) int {
	n := 0
	for _, e := range l {
		n += nodeBytes + len(e.name) + 2*len(e.units)
	}
	return n
}

func (f *FS) root() *node {
	return &node{name: ".", dir: true, cluster: f.rootCluster, off: -1}
}

// lookup walks name (an fs.FS path) from the root, comparing names
// through the up-case table. A directory that is one above it (a loop) is
// an error.
func (f *FS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	cur := f.root()
	if name == "." {
		return cur, nil
	}
	onPath := map[dirKey]bool{{cur.cluster, false}: true} // the directories walked through
	for _, part := range strings.Split(name, "/") {
		if !cur.dir {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		list, err := f.list(cur)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		want := utf16.Encode([]rune(part))
		var found *node
		for _, n := range list {
			if f.equalFold(n.units, want) {
				found = n
				break
			}
		}
		if found == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur = found
		if k := (dirKey{cur.cluster, cur.deleted}); cur.dir && onPath[k] {
			return nil, &fs.PathError{Op: op, Path: name, Err: formatErr("directory entry", cur.off, ErrCorrupt, "%s: directory at cluster %d loops back to a directory above it", part, cur.cluster)}
		} else if cur.dir {
			onPath[k] = true
		}
	}
	return cur, nil
}
