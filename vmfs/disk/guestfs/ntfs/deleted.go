package ntfs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// orphanID is the key of the orphan directory among the parents of
// deleted files.
const orphanID = -1

// deletedFile is a deleted MFT record (its in-use flag clear) that still
// names a file.
type deletedFile struct {
	id  int64
	seq uint16
	dir bool
	fn  fileName
}

// deletedTree places every deleted file once: under its parent directory
// when that is live (and not reused since) or itself a placed deleted
// directory, otherwise in the orphan directory. Each file has one place,
// so the tree below the orphan directory cannot loop.
type deletedTree struct {
	byParent map[int64][]*deletedFile

	bitmapOnce sync.Once
	bitmap     *stream // $Bitmap: one bit a cluster, set when in use
}

func (v *FS) deletedTree() (*deletedTree, error) {
	v.deletedOnce.Do(func() { v.deleted, v.deletedErr = v.scanDeleted() })
	return v.deleted, v.deletedErr
}

// scanDeleted reads $MFT from end to end for records that are not in use
// but still hold a file name.
func (v *FS) scanDeleted() (*deletedTree, error) {
	rs := v.boot.recordSize
	const batch = 256
	buf := make([]byte, batch*rs)
	var found []*deletedFile
	bad := 0
	for id := int64(firstUser); id < v.n; id += batch {
		n := min(batch, v.n-id)
		if _, err := v.mft.ReadAt(buf[:n*rs], id*rs); err != nil {
			return nil, err
		}
		for i := int64(0); i < n; i++ {
			h := buf[i*rs:]
			// The header's fields lie before the first sector's end, where
			// no update sequence fixup applies.
			if string(h[:4]) != "FILE" || binary.LittleEndian.Uint16(h[0x16:])&recordInUse != 0 || binary.LittleEndian.Uint64(h[0x20:]) != 0 {
				continue
			}
			rec, err := v.record(id + i)
			if err != nil {
				bad++
				continue
			}
			if fn, ok := rec.anyName(); ok {
				found = append(found, &deletedFile{id: rec.id, seq: rec.seq, dir: rec.isDir(), fn: fn})
			}
		}
	}
	if bad > 0 {
		v.warn("%d deleted MFT records unreadable; left out", bad)
	}
	return v.placeDeleted(found), nil
}

func (v *FS) placeDeleted(found []*deletedFile) *deletedTree {
	t := &deletedTree{byParent: map[int64][]*deletedFile{}}
	byParentRef := map[int64][]*deletedFile{}
	for _, d := range found {
		byParentRef[d.fn.parent] = append(byParentRef[d.fn.parent], d)
	}
	placed := map[int64]bool{}
	var queue []*deletedFile
	place := func(d *deletedFile, parent int64) {
		placed[d.id] = true
		t.byParent[parent] = append(t.byParent[parent], d)
		if d.dir {
			queue = append(queue, d)
		}
	}
	// Below the deleted directories placed so far, their deleted children
	// (the sequence number of a freed record is one past the reference
	// its children keep).
	descend := func() {
		for len(queue) > 0 {
			dir := queue[0]
			queue = queue[1:]
			for _, c := range byParentRef[dir.id] {
				if !placed[c.id] && (c.fn.parentSeq == dir.seq || c.fn.parentSeq+1 == dir.seq) {
					place(c, dir.id)
				}
			}
		}
	}
	live := map[int64]bool{}
	for parent, kids := range byParentRef {
		rec, err := v.record(parent)
		if err != nil || !rec.inUse() || !rec.isDir() || (parent < firstUser && parent != recordRoot) {
			continue
		}
		for _, c := range kids {
			if c.fn.parentSeq == rec.seq {
				live[c.id] = true
			}
		}
	}
	for _, d := range found {
		if live[d.id] {
			place(d, d.fn.parent)
		}
	}
	descend()
	for _, d := range found {
		if !placed[d.id] {
			place(d, orphanID)
			descend()
		}
	}
	return t
}

// addChildren appends to the entries of directory n its deleted files,
// named NAME~deleted-ID when a live entry holds the name, and the orphan
// directory to the root's.
func (t *deletedTree) addChildren(v *FS, out []*node, n *node) []*node {
	taken := map[string]bool{}
	for _, o := range out {
		taken[strings.ToLower(o.name)] = true
	}
	kids := slices.Clone(t.byParent[n.id])
	slices.SortFunc(kids, func(a, b *deletedFile) int { return int(a.id - b.id) })
	for _, d := range kids {
		rec, err := v.record(d.id)
		if err != nil {
			v.warn("deleted file %q: %v", d.fn.name, err)
			continue
		}
		name := strings.NewReplacer("/", "_", "\x00", "_").Replace(d.fn.name)
		if n.id == orphanID {
			name = fmt.Sprintf("%d-%s", d.id, name)
		}
		if !validName(name) || taken[strings.ToLower(name)] {
			name = fmt.Sprintf("%s~deleted-%d", name, d.id)
		}
		taken[strings.ToLower(name)] = true
		out = append(out, v.nodes(rec, name, true)...)
	}
	if n.id == recordRoot && len(t.byParent[orphanID]) > 0 && !taken[strings.ToLower(guestfs.OrphanDir)] {
		out = append(out, &node{name: guestfs.OrphanDir, id: orphanID, dir: true, links: 1})
	}
	return out
}

// lostBytes counts the bytes of stream name of deleted record rec whose
// clusters $Bitmap marks in use again (by a live file, since rec's are
// freed), at most size.
func (v *FS) lostBytes(rec *record, name string, size int64) int64 {
	t, err := v.deletedTree()
	if err != nil {
		return 0
	}
	bm := t.clusterBitmap(v)
	pieces := rec.pieces(attrData, name)
	if bm == nil || len(pieces) == 0 || pieces[0].resident {
		return 0
	}
	s, err := v.openStream(pieces, rec.what())
	if err != nil {
		return size
	}
	var used int64
	for _, e := range s.ext {
		if e.lcn >= 0 {
			n, err := countSet(bm, e.lcn, e.n)
			if err != nil {
				return size
			}
			used += n
		}
	}
	return min(used*v.boot.clusterSize, size)
}

func (t *deletedTree) clusterBitmap(v *FS) *stream {
	t.bitmapOnce.Do(func() {
		rec, err := v.record(recordBitmap)
		if err == nil {
			t.bitmap, err = v.openStream(rec.pieces(attrData, ""), "$Bitmap")
		}
		if err != nil {
			v.warn("$Bitmap unreadable (%v): no deleted file is marked as overwritten", err)
		}
	})
	return t.bitmap
}

// countSet counts the bits set in bm for clusters [lcn, lcn+n).
func countSet(bm *stream, lcn, n int64) (int64, error) {
	var count int64
	buf := make([]byte, 64<<10)
	for first := lcn; first < lcn+n; {
		b := buf[:min(int64(len(buf)), (lcn+n-first+7)/8+1)]
		k, err := bm.ReadAt(b, first/8)
		if k == 0 {
			return count, err
		}
		// Count bit by bit at the edges, byte by byte in between.
		end := min(lcn+n, (first/8+int64(k))*8)
		for c := first; c < end; {
			if c%8 == 0 && c+8 <= end {
				count += int64(bits.OnesCount8(b[c/8-first/8]))
				c += 8
				continue
			}
			if b[c/8-first/8]&(1<<(c%8)) != 0 {
				count++
			}
			c++
		}
		first = end
	}
	return count, nil
}
