package ext

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// deletedIndex is what a scan of the whole file system found of its
// deleted files: the deleted inodes that no surviving directory entry
// names, listed in guestfs.OrphanDir.
type deletedIndex struct {
	orphans []child
}

// maxDeleted bounds the deleted inodes the scan keeps.
const maxDeleted = 1 << 20

func (f *FS) deletedIndex() (*deletedIndex, error) {
	f.delOnce.Do(func() { f.del, f.delErr = f.scanDeleted() })
	return f.del, f.delErr
}

func (idx *deletedIndex) orphanChildren() []child { return idx.orphans }

// scanDeleted reads every inode table for deleted inodes that still hold
// something (a size, or a directory), then walks every directory, live
// and deleted, for the entries that name them; the rest are orphans.
func (f *FS) scanDeleted() (*deletedIndex, error) {
	le := binary.LittleEndian
	isz := f.sb.inodeSize
	deleted := map[uint32]bool{}
	chunk := make([]byte, 0, 64<<10)
	for g, gr := range f.groups {
		if gr.flags&bgInodeUninit != 0 {
			continue
		}
		used := f.sb.inodesPer - gr.unused
		for i := int64(0); i < used; {
			n := min(used-i, int64(cap(chunk))/isz)
			buf := chunk[:n*isz]
			off := gr.inodeTable*f.sb.blockSize + i*isz
			if err := f.readData(buf, off); err != nil {
				f.warn(fmt.Sprintf("inode table of block group %d unreadable: %v", g, err))
				break
			}
			for j := int64(0); j < n; j++ {
				b := buf[j*isz : (j+1)*isz]
				num := uint32(int64(g)*f.sb.inodesPer + i + j + 1)
				if num < f.sb.firstIno || le.Uint16(b[0:]) == 0 || le.Uint16(b[0x1A:]) != 0 || le.Uint32(b[0x14:]) == 0 {
					continue
				}
				in, err := decodeInode(b, num, off+j*isz)
				if err != nil || (in.size == 0 && !in.isDir()) {
					continue
				}
				if len(deleted) >= maxDeleted {
					f.warn(fmt.Sprintf("more than %d deleted inodes: the rest are left out", maxDeleted))
					break
				}
				deleted[num] = true
			}
			i += n
		}
	}
	// Walk every directory reachable from the root, through deleted
	// directories too, and strike the deleted inodes an entry names.
	named := map[uint32]bool{}
	seen := map[uint32]bool{rootIno: true}
	queue := []uint32{rootIno}
	for _, n := range sortedInos(deleted) {
		// A deleted directory no entry names is walked too: what it
		// names is found below it, in the orphan directory.
		queue = append(queue, n)
		seen[n] = true
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		in, err := f.readInode(n)
		if err != nil || !in.isDir() {
			continue
		}
		ents, err := f.readDirents(in, true)
		if err != nil && len(ents) == 0 {
			continue
		}
		for _, e := range ents {
			if e.name == "." || e.name == ".." || e.ino == 0 || e.ino > f.sb.inodes {
				continue
			}
			if deleted[e.ino] && e.ino != n {
				named[e.ino] = true
			}
			if !seen[e.ino] && (e.typ == 2 || e.typ == 0 || deleted[e.ino]) {
				seen[e.ino] = true
				queue = append(queue, e.ino)
			}
		}
	}
	idx := &deletedIndex{}
	for _, n := range sortedInos(deleted) {
		if !named[n] {
			idx.orphans = append(idx.orphans, child{name: strconv.FormatUint(uint64(n), 10), ino: n, deleted: true})
		}
	}
	sort.Slice(idx.orphans, func(i, j int) bool { return idx.orphans[i].name < idx.orphans[j].name })
	return idx, nil
}

func sortedInos(m map[uint32]bool) []uint32 {
	out := make([]uint32, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// readData reads at byte off straight from the file system, bypassing
// the metadata cache (a scan would only push it out).
func (f *FS) readData(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > f.size {
		return corrupt("ext block", off, "%d bytes past the end of the file system (%d bytes)", len(b), f.size)
	}
	n, err := f.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// lostBytes is what of a deleted file cannot be what it was: all of it
// when its map is gone (ext3 and ext4 zero it on deletion), else the
// blocks the block bitmap shows in use again.
func (f *FS) lostBytes(in *inode) int64 {
	lay, err := f.layoutOf(in)
	if err != nil {
		return in.size
	}
	if lay.inline != nil {
		return 0
	}
	if len(lay.runs) == 0 {
		return in.size
	}
	bs := f.sb.blockSize
	var lost int64
	for _, r := range lay.runs {
		if r.unwritten {
			continue
		}
		for b := r.pblk; b < r.pblk+r.n; b++ {
			if f.blockInUse(b) {
				lost += bs
			}
		}
	}
	return min(lost, in.size)
}

// blockInUse reads block b's bit in its group's block bitmap.
func (f *FS) blockInUse(b int64) bool {
	rel := b - f.sb.firstData
	g := rel / f.sb.perGroup
	if rel < 0 || g >= int64(len(f.groups)) {
		return true
	}
	gr := f.groups[g]
	if gr.flags&bgBlockUninit != 0 {
		return false
	}
	bit := rel % f.sb.perGroup
	var x [1]byte
	if err := f.readMeta(x[:], gr.blockBitmap*f.sb.blockSize+bit/8); err != nil {
		return true
	}
	return x[0]&(1<<(bit%8)) != 0
}
