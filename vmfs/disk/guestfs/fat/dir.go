package fat

import (
	"encoding/binary"
	"io/fs"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
	"unsafe"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// entry is one directory entry: a short entry with its long name.
type entry struct {
	name    string // as listed (unique in its directory, case-insensitively)
	attr    byte
	cluster uint32
	size    int64
	mod     time.Time
	off     int64 // byte offset of the short entry
	deleted bool
}

func (e *entry) isDir() bool { return e.attr&0x10 != 0 }

// A directory holds at most 65536 entries (2 MB) by the specification.
const maxDirBytes = 2 << 20

// dirBytes returns the bytes of a directory (the fixed root when dir is
// nil on FAT12/16) and the volume offset of each of its clusters. A
// deleted directory is its first cluster when no chain took it since.
func (f *FS) dirBytes(dir *entry) ([]byte, []int64, error) {
	if dir == nil && f.Bits != 32 {
		b := make([]byte, f.rootSize)
		if _, err := f.r.ReadAt(b, f.rootOff); err != nil {
			return nil, nil, formatErr("root directory", f.rootOff, ErrCorrupt, "%v", err)
		}
		return b, []int64{f.rootOff}, nil
	}
	var cl []uint32
	switch {
	case dir == nil:
		var err error
		if cl, err = f.chain(f.rootCluster, maxDirBytes/f.clusterSize+1); err != nil {
			return nil, nil, err
		}
	case dir.deleted:
		if !f.free(dir.cluster) {
			return nil, nil, nil
		}
		cl = []uint32{dir.cluster}
	default:
		var err error
		if cl, err = f.chain(dir.cluster, maxDirBytes/f.clusterSize+1); err != nil {
			return nil, nil, err
		}
	}
	b := make([]byte, int64(len(cl))*f.clusterSize)
	offs := make([]int64, len(cl))
	for i, c := range cl {
		offs[i] = f.clusterOff(c)
		if _, err := f.r.ReadAt(b[int64(i)*f.clusterSize:int64(i+1)*f.clusterSize], offs[i]); err != nil {
			return nil, nil, formatErr("directory", offs[i], ErrCorrupt, "%v", err)
		}
	}
	return b, offs, nil
}

// longName gathers the long-name entries before a short entry. They lie
// in reverse order, each with the checksum of its short name.
type longName struct {
	units []uint16
	sum   byte
	ok    bool
}

func (l *longName) add(d []byte, first bool) {
	if first {
		l.units, l.sum, l.ok = l.units[:0], d[13], true
	} else if d[13] != l.sum {
		l.ok = false
	}
	var part []uint16
	for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
		for j := r[0]; j < r[1]; j += 2 {
			part = append(part, binary.LittleEndian.Uint16(d[j:]))
		}
	}
	l.units = append(part, l.units...)
}

func (l *longName) String() string {
	u := l.units
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

// entries decodes a directory. Deleted entries (first byte 0xE5) are kept
// when the volume was opened with Options.Deleted, or every entry of a
// deleted directory; "." and ".." and volume labels are left out.
func (f *FS) entries(dir *entry) ([]*entry, error) {
	raw, offs, err := f.dirBytes(dir)
	if err != nil {
		return nil, err
	}
	inDeleted := dir != nil && dir.deleted
	offOf := func(i int) int64 {
		if len(offs) == 1 {
			return offs[0] + int64(i)
		}
		return offs[int64(i)/f.clusterSize] + int64(i)%f.clusterSize
	}
	var out []*entry
	var live, gone longName
	for i := 0; i+32 <= len(raw); i += 32 {
		d := raw[i : i+32]
		if d[0] == 0 {
			break
		}
		attr := d[11]
		deleted := d[0] == 0xE5
		if attr&0x3F == 0x0F {
			if deleted {
				// The sequence number is lost; a deleted run starts after
				// any entry that is not a deleted long name.
				gone.add(d, !gone.ok)
			} else {
				live.add(d, d[0]&0x40 != 0)
			}
			continue
		}
		lfn := &live
		if deleted {
			lfn = &gone
		}
		name, keep := f.shortEntryName(d, lfn)
		live.ok, gone.ok = false, false
		if !keep || attr&0x08 != 0 || (deleted && !f.opts.Deleted) {
			continue
		}
		le := binary.LittleEndian
		cl := uint32(le.Uint16(d[26:]))
		if f.Bits == 32 {
			cl |= uint32(le.Uint16(d[20:])) << 16
		}
		e := &entry{
			name: name, attr: attr, cluster: cl, size: int64(le.Uint32(d[28:])),
			mod: fatTime(le.Uint16(d[24:]), le.Uint16(d[22:])), off: offOf(i),
			deleted: deleted || inDeleted,
		}
		if e.isDir() {
			e.size = 0
		}
		// A deleted file is listed while the cluster it started at is
		// free: taken again, its first bytes belong to another file.
		if e.deleted && cl != 0 && !f.free(cl) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// shortEntryName returns the name of a short entry: its long name when the
// long-name entries before it carry its checksum. A deleted entry lost its
// first character: the checksum finds it back when a long name survives,
// otherwise it reads '_'.
func (f *FS) shortEntryName(d []byte, lfn *longName) (string, bool) {
	short := [11]byte(d[:11])
	if d[0] == 0xE5 {
		short[0] = '_'
		if lfn.ok {
			for c := 0x21; c < 0x7F; c++ {
				short[0] = byte(c)
				if checksum(short[:]) == lfn.sum {
					break
				}
			}
			if checksum(short[:]) != lfn.sum {
				short[0] = '_'
			}
		}
	}
	name := shortName(short[:], d[12])
	if name == "." || name == ".." {
		return "", false
	}
	if lfn.ok && checksum(short[:]) == lfn.sum {
		if n := lfn.String(); n != "" {
			name = n
		}
	}
	return name, true
}

func shortName(d []byte, caseFlags byte) string {
	base := strings.TrimRight(string(d[0:8]), " ")
	ext := strings.TrimRight(string(d[8:11]), " ")
	if len(base) > 0 && base[0] == 0x05 {
		base = "\xe5" + base[1:]
	}
	if caseFlags&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if caseFlags&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext != "" {
		return base + "." + ext
	}
	return base
}

func checksum(n []byte) byte {
	var s byte
	for _, c := range n {
		s = (s>>1 | s<<7) + c
	}
	return s
}

func fatTime(date, tm uint16) time.Time {
	if date == 0 {
		return time.Time{}
	}
	return time.Date(1980+int(date>>9), time.Month(date>>5&15), int(date&31), int(tm>>11), int(tm>>5&63), int(tm&31)*2, 0, time.UTC)
}

// list returns the entries of a directory as io/fs lists them: names
// unique case-insensitively, live ones first, a deleted entry whose name
// is taken renamed NAME~deleted-ID (ID its first cluster); sorted by name.
func (f *FS) list(dir *entry) ([]*entry, error) {
	key := dirKey{}
	if dir != nil {
		key = dirKey{dir.cluster, dir.deleted}
	}
	if l, ok := f.dirs.Get(key); ok {
		return l, nil
	}
	all, err := f.entries(dir)
	if err != nil {
		return nil, err
	}
	names := guestfs.NewNames(strings.ToLower)
	var out []*entry
	for _, pass := range []bool{false, true} {
		for _, e := range all {
			if e.deleted != pass || e.name == "" || strings.ContainsAny(e.name, "/\x00") {
				continue // fs.FS forbids slashes; damaged entries
			}
			var ok bool
			if e.name, ok = names.Take(e.name, e.deleted, uint64(e.cluster)); ok {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	f.dirs.Put(key, out)
	return out, nil
}

// dirKey names a directory in the cache of listings: its first cluster
// (0 for the fixed root of FAT12/16), and whether it is deleted.
type dirKey struct {
	cluster uint32
	deleted bool
}

// The listings a volume keeps decoded are bounded by what they weigh:
// a directory may hold 65536 entries of up to 255 characters, and 64 of
// them (the bound by count alone, before) could hold 3 GB.
const (
	cachedDirs      = 64
	cachedListBytes = 32 << 20
	entryBytes      = int(unsafe.Sizeof(entry{})) + 8 // and its pointer in the listing
)

// listBytes is about what a listing holds in memory.
func listBytes(l []*entry) int {
	n := 0
	for _, e := range l {
		n += entryBytes + len(e.name)
	}
	return n
}

// lookup walks name (an fs.FS path) from the root, case-insensitively; the
// root is nil. A directory that is one above it (a loop) is an error.
func (f *FS) lookup(op, name string) (*entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil
	}
	var cur *entry
	onPath := map[dirKey]bool{{}: true} // the directories walked through
	for _, part := range strings.Split(name, "/") {
		if cur != nil && !cur.isDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		list, err := f.list(cur)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		var found *entry
		for _, e := range list {
			if strings.EqualFold(e.name, part) {
				found = e
				break
			}
		}
		if found == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur = found
		if k := (dirKey{cur.cluster, cur.deleted}); cur.isDir() && onPath[k] {
			return nil, &fs.PathError{Op: op, Path: name, Err: formatErr("directory entry", cur.off, ErrCorrupt, "%s: directory at cluster %d loops back to a directory above it", part, cur.cluster)}
		} else if cur.isDir() {
			onPath[k] = true
		}
	}
	return cur, nil
}
