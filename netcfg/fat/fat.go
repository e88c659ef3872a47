package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode/utf16"
)

// Sentinel errors.
var (
	ErrNotFAT  = errors.New("not a FAT file system")
	ErrCorrupt = errors.New("corrupt FAT file system")
)

// FormatError is a structural problem at a byte offset of the volume.
type FormatError struct {
	Struct string // "boot sector", "FAT", "directory", "cluster chain"
	Off    int64
	Msg    string
	err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("FAT %s at byte %d: %s", e.Struct, e.Off, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.err }

// MaxFATBytes bounds the FAT table held in memory (a 4 GB FAT32 bootbank
// with 4 KB clusters needs 4 MB).
const MaxFATBytes = 64 << 20

// FS is a FAT volume.
type FS struct {
	r           io.ReaderAt
	size        int64
	Type        int // 12, 16 or 32
	Label       string
	VMware      bool // "VMWARE FAT16" signature at byte 512
	sectorSize  int64
	clusterSize int64
	fatOff      int64
	rootOff     int64 // FAT12/16 fixed root directory
	rootSize    int64
	rootCluster uint32 // FAT32
	dataOff     int64
	clusters    uint32 // number of data clusters
	fat         []byte
}

// Open reads the boot sector and the first FAT of a volume of size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	bs := make([]byte, 1024)
	n, err := r.ReadAt(bs, 0)
	if n < 512 {
		return nil, &FormatError{"boot sector", 0, fmt.Sprintf("only %d bytes readable: %v", n, err), ErrNotFAT}
	}
	bad := func(msg string, args ...any) error {
		return &FormatError{"boot sector", 0, fmt.Sprintf(msg, args...), ErrNotFAT}
	}
	le := binary.LittleEndian
	bps := int64(le.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(le.Uint16(bs[14:]))
	nfats := int64(bs[16])
	rootEnt := int64(le.Uint16(bs[17:]))
	total := int64(le.Uint16(bs[19:]))
	if total == 0 {
		total = int64(le.Uint32(bs[32:]))
	}
	fatSz := int64(le.Uint16(bs[22:]))
	if fatSz == 0 {
		fatSz = int64(le.Uint32(bs[36:]))
	}
	switch {
	case bps != 512 && bps != 1024 && bps != 2048 && bps != 4096:
		return nil, bad("bytes per sector %d", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return nil, bad("sectors per cluster %d", spc)
	case reserved == 0:
		return nil, bad("no reserved sectors")
	case nfats == 0 || nfats > 4:
		return nil, bad("%d FATs", nfats)
	case fatSz == 0:
		return nil, bad("FAT size 0")
	case total == 0:
		return nil, bad("total sectors 0")
	}
	f := &FS{r: r, size: size, sectorSize: bps, clusterSize: bps * spc}
	f.fatOff = reserved * bps
	rootSectors := (rootEnt*32 + bps - 1) / bps
	f.rootOff = f.fatOff + nfats*fatSz*bps
	f.rootSize = rootEnt * 32
	f.dataOff = f.rootOff + rootSectors*bps
	dataSectors := total - (reserved + nfats*fatSz + rootSectors)
	if dataSectors <= 0 {
		return nil, bad("metadata (%d sectors) fills the volume (%d sectors)", reserved+nfats*fatSz+rootSectors, total)
	}
	clusters := dataSectors / spc
	switch {
	case clusters < 4085:
		f.Type = 12
	case clusters < 65525:
		f.Type = 16
	default:
		f.Type = 32
	}
	if clusters > 0x0FFFFFF5 {
		return nil, bad("%d clusters", clusters)
	}
	f.clusters = uint32(clusters)
	if f.Type == 32 {
		if rootEnt != 0 {
			return nil, bad("FAT32 with %d fixed root entries", rootEnt)
		}
		f.rootCluster = le.Uint32(bs[44:])
		f.Label = strings.TrimRight(string(bs[71:82]), " \x00")
	} else {
		if rootEnt == 0 {
			return nil, bad("FAT%d without root directory entries", f.Type)
		}
		if bs[38] == 0x29 {
			f.Label = strings.TrimRight(string(bs[43:54]), " \x00")
		}
	}
	f.VMware = n >= 524 && string(bs[512:524]) == "VMWARE FAT16"
	need := (int64(clusters)+2)*int64(f.Type)/8 + 2
	if need > fatSz*bps {
		return nil, bad("FAT of %d bytes cannot map %d clusters", fatSz*bps, clusters)
	}
	if f.dataOff > size {
		return nil, &FormatError{"boot sector", 0, fmt.Sprintf("data area at byte %d lies past the end of the %d-byte volume", f.dataOff, size), ErrCorrupt}
	}
	if need > MaxFATBytes {
		return nil, &FormatError{"FAT", f.fatOff, fmt.Sprintf("FAT of %d bytes exceeds the %d-byte limit", need, MaxFATBytes), ErrCorrupt}
	}
	f.fat = make([]byte, need)
	if _, err := r.ReadAt(f.fat, f.fatOff); err != nil {
		return nil, &FormatError{"FAT", f.fatOff, err.Error(), ErrCorrupt}
	}
	return f, nil
}

// next returns the FAT entry of cluster c.
func (f *FS) next(c uint32) uint32 {
	switch f.Type {
	case 12:
		i := int(c) + int(c)/2
		v := uint32(binary.LittleEndian.Uint16(f.fat[i:]))
		if c&1 == 1 {
			return v >> 4
		}
		return v & 0xFFF
	case 16:
		return uint32(binary.LittleEndian.Uint16(f.fat[2*c:]))
	}
	return binary.LittleEndian.Uint32(f.fat[4*c:]) & 0x0FFFFFFF
}

func (f *FS) isEOC(v uint32) bool {
	switch f.Type {
	case 12:
		return v >= 0xFF8
	case 16:
		return v >= 0xFFF8
	}
	return v >= 0x0FFFFFF8
}

// chain returns the clusters of a chain starting at first, at most max long.
func (f *FS) chain(first uint32, max int64) ([]uint32, error) {
	var out []uint32
	seen := map[uint32]bool{}
	c := first
	for {
		if c < 2 || c >= f.clusters+2 {
			return out, &FormatError{"cluster chain", f.fatOff, fmt.Sprintf("cluster %d (after %d clusters from %d) is outside 2..%d", c, len(out), first, f.clusters+1), ErrCorrupt}
		}
		if int64(len(out)) >= max {
			return out, &FormatError{"cluster chain", f.fatOff, fmt.Sprintf("chain from cluster %d longer than %d clusters", first, max), ErrCorrupt}
		}
		if seen[c] {
			return out, &FormatError{"cluster chain", f.fatOff, fmt.Sprintf("chain from cluster %d loops back to cluster %d", first, c), ErrCorrupt}
		}
		seen[c] = true
		out = append(out, c)
		n := f.next(c)
		if f.isEOC(n) {
			return out, nil
		}
		c = n
	}
}

func (f *FS) clusterOff(c uint32) int64 { return f.dataOff + int64(c-2)*f.clusterSize }

// entry is one directory entry.
type entry struct {
	name    string
	attr    byte
	cluster uint32
	size    int64
	mod     time.Time
	off     int64 // byte offset of the short entry
}

func (e *entry) isDir() bool { return e.attr&0x10 != 0 }

// readDirRaw returns the bytes of a directory: the fixed root, or a chain.
func (f *FS) readDirRaw(e *entry) ([]byte, []int64, error) {
	if e == nil && f.Type != 32 {
		b := make([]byte, f.rootSize)
		if _, err := f.r.ReadAt(b, f.rootOff); err != nil {
			return nil, nil, &FormatError{"directory", f.rootOff, "root directory: " + err.Error(), ErrCorrupt}
		}
		offs := make([]int64, 1)
		offs[0] = f.rootOff
		return b, offs, nil
	}
	first := f.rootCluster
	if e != nil {
		first = e.cluster
	}
	// A directory is at most 65536 entries (2 MB) by the specification.
	max := (2<<20)/f.clusterSize + 1
	cl, err := f.chain(first, max)
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, int64(len(cl))*f.clusterSize)
	offs := make([]int64, len(cl))
	for i, c := range cl {
		offs[i] = f.clusterOff(c)
		if _, err := f.r.ReadAt(b[int64(i)*f.clusterSize:int64(i+1)*f.clusterSize], offs[i]); err != nil {
			return nil, nil, &FormatError{"directory", offs[i], err.Error(), ErrCorrupt}
		}
	}
	return b, offs, nil
}

func (f *FS) readDir(dir *entry) ([]*entry, error) {
	raw, offs, err := f.readDirRaw(dir)
	if err != nil {
		return nil, err
	}
	offOf := func(i int) int64 {
		if len(offs) == 1 {
			return offs[0] + int64(i)
		}
		return offs[int64(i)/f.clusterSize] + int64(i)%f.clusterSize
	}
	var out []*entry
	var lfn []uint16
	var lfnSum byte
	lfnOK := false
	for i := 0; i+32 <= len(raw); i += 32 {
		d := raw[i : i+32]
		if d[0] == 0 {
			break
		}
		if d[0] == 0xE5 {
			lfnOK = false
			continue
		}
		attr := d[11]
		if attr&0x3F == 0x0F {
			seq := d[0]
			if seq&0x40 != 0 {
				lfn = lfn[:0]
				lfnSum = d[13]
				lfnOK = true
			} else if d[13] != lfnSum {
				lfnOK = false
			}
			var part []uint16
			for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
				for j := r[0]; j < r[1]; j += 2 {
					part = append(part, binary.LittleEndian.Uint16(d[j:]))
				}
			}
			lfn = append(part, lfn...)
			continue
		}
		if attr&0x08 != 0 { // volume label
			lfnOK = false
			continue
		}
		name := shortName(d)
		if lfnOK && checksum(d[:11]) == lfnSum {
			if n := decodeLFN(lfn); n != "" {
				name = n
			}
		}
		lfnOK = false
		if name == "." || name == ".." {
			continue
		}
		le := binary.LittleEndian
		cl := uint32(le.Uint16(d[26:]))
		if f.Type == 32 {
			cl |= uint32(le.Uint16(d[20:])) << 16
		}
		out = append(out, &entry{
			name: name, attr: attr, cluster: cl, size: int64(le.Uint32(d[28:])),
			mod: fatTime(le.Uint16(d[24:]), le.Uint16(d[22:])), off: offOf(i),
		})
	}
	return out, nil
}

func shortName(d []byte) string {
	base := strings.TrimRight(string(d[0:8]), " ")
	ext := strings.TrimRight(string(d[8:11]), " ")
	if len(base) > 0 && base[0] == 0x05 {
		base = "\xe5" + base[1:]
	}
	if d[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if d[12]&0x10 != 0 {
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

func decodeLFN(u []uint16) string {
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

func fatTime(date, tm uint16) time.Time {
	if date == 0 {
		return time.Time{}
	}
	return time.Date(1980+int(date>>9), time.Month(date>>5&15), int(date&31), int(tm>>11), int(tm>>5&63), int(tm&31)*2, 0, time.UTC)
}

// lookup walks name (an fs.FS path) from the root, case-insensitively.
func (f *FS) lookup(op, name string) (*entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil
	}
	var cur *entry
	for _, part := range strings.Split(name, "/") {
		if cur != nil && !cur.isDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		list, err := f.readDir(cur)
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
	}
	return cur, nil
}

// Open opens a file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	info := f.info(e, path.Base(name))
	if e == nil || e.isDir() {
		list, err := f.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dir{info: info, entries: list}, nil
	}
	var cl []uint32
	if e.size > 0 {
		want := (e.size + f.clusterSize - 1) / f.clusterSize
		cl, err = f.chain(e.cluster, want)
		if err == nil && int64(len(cl)) < want {
			err = &FormatError{"cluster chain", e.off, fmt.Sprintf("%s: %d clusters for %d bytes", name, len(cl), e.size), ErrCorrupt}
		}
		if err != nil && !isTooLong(err) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	return &File{fs: f, info: info, clusters: cl, size: e.size}, nil
}

func isTooLong(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe) && strings.Contains(fe.Msg, "longer than")
}

// ReadDir lists a directory.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if e != nil && !e.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	list, err := f.readDir(e)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(list))
	seen := map[string]bool{}
	for _, x := range list {
		if seen[strings.ToLower(x.name)] || x.name == "" || strings.ContainsAny(x.name, "/\x00") {
			continue // fs.FS forbids duplicates and slashes; damaged entries
		}
		seen[strings.ToLower(x.name)] = true
		out = append(out, fs.FileInfoToDirEntry(f.info(x, x.name)))
	}
	sortEntries(out)
	return out, nil
}

// Stat describes a file or directory.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return f.info(e, path.Base(name)), nil
}

func sortEntries(l []fs.DirEntry) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].Name() < l[j-1].Name(); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

type fileInfo struct {
	name string
	size int64
	dir  bool
	mod  time.Time
}

func (i *fileInfo) Name() string { return i.name }
func (i *fileInfo) Size() int64  { return i.size }
func (i *fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.dir }
func (i *fileInfo) Sys() any           { return nil }

func (f *FS) info(e *entry, name string) *fileInfo {
	if e == nil {
		return &fileInfo{name: ".", dir: true}
	}
	if e.isDir() {
		return &fileInfo{name: e.name, dir: true, mod: e.mod}
	}
	return &fileInfo{name: e.name, size: e.size, mod: e.mod}
}

type dir struct {
	info    *fileInfo
	entries []fs.DirEntry
	pos     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dir) Close() error { return nil }
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.pos += n
	return rest[:n], nil
}

// File is an open regular file; it also implements io.ReaderAt and io.Seeker.
type File struct {
	fs       *FS
	info     *fileInfo
	clusters []uint32
	size     int64
	pos      int64
}

func (f *File) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *File) Close() error               { return nil }

// ReadAt reads from the file's cluster chain.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fat: negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= f.size {
			return n, io.EOF
		}
		ci := at / f.fs.clusterSize
		if ci >= int64(len(f.clusters)) {
			return n, &FormatError{"cluster chain", f.fs.fatOff, fmt.Sprintf("%s: chain ends before byte %d", f.info.name, at), ErrCorrupt}
		}
		in := at % f.fs.clusterSize
		chunk := min(int64(len(p)-n), f.fs.clusterSize-in, f.size-at)
		m, err := f.fs.r.ReadAt(p[n:n+int(chunk)], f.fs.clusterOff(f.clusters[ci])+in)
		n += m
		if err != nil && !(err == io.EOF && int64(m) == chunk) {
			return n, &FormatError{"cluster", f.fs.clusterOff(f.clusters[ci]), err.Error(), ErrCorrupt}
		}
	}
	return n, nil
}

func (f *File) Read(p []byte) (int, error) {
	if f.pos >= f.size {
		return 0, io.EOF
	}
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += f.pos
	case io.SeekEnd:
		off += f.size
	}
	if off < 0 {
		return 0, errors.New("fat: seek before start")
	}
	f.pos = off
	return off, nil
}
