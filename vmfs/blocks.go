package vmfs

import (
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// walkBlocks calls fn for every non-null data pointer of fd, in file
// order, with the index of the addressing unit it maps. Null pointer
// blocks are skipped whole, so a thin 60 TiB file costs what it holds.
func (v *Volume) walkBlocks(fd *fileDesc, fn func(n int64, e uint64) error) error {
	P := v.ptrsPerBlock()
	units := (fd.length + 1<<fd.shift - 1) >> fd.shift
	visit := func(base int64, ptrs []uint64, span int64, depth int, recurse func(int64, uint64, int) error) error {
		for i, p := range ptrs {
			n := base + int64(i)*span
			if n >= units {
				return nil
			}
			if p == 0 {
				continue
			}
			if err := recurse(n, p, depth); err != nil {
				return err
			}
		}
		return nil
	}
	var descend func(n int64, p uint64, depth int) error
	descend = func(n int64, p uint64, depth int) error {
		if depth == 0 {
			return fn(n, p)
		}
		ptrs, err := v.pointerBlock(p)
		if err != nil {
			return err
		}
		span := int64(1)
		for range depth - 1 {
			span *= P
		}
		return visit(n, ptrs, span, depth-1, descend)
	}
	switch fd.zla {
	case zlaFileBlock, zlaSubBlock:
		return visit(0, fd.ptrs, 1, 0, descend)
	case zlaPointerBlock, zlaPointerBlock2:
		return visit(0, fd.ptrs, P, 1, descend)
	case zlaDoubleIndirect:
		return visit(0, fd.ptrs, P*P, 2, descend)
	}
	return nil
}

// allocationMap lists the byte ranges of fd backed by allocated,
// already-zeroed-or-written blocks.
func (v *Volume) allocationMap(fd *fileDesc) (allocmap.Map, error) {
	if fd.zla == zlaResident {
		return allocmap.Map{}.Add(allocmap.Range{Off: 0, Len: fd.length}), nil
	}
	var m allocmap.Map
	unit := int64(1) << fd.shift
	err := v.walkBlocks(fd, func(n int64, e uint64) error {
		t, err := v.dataBlock(e)
		if err != nil || t.zero {
			return err
		}
		off := n * unit
		m = m.Add(allocmap.Range{Off: off, Len: min(max(t.size, unit), fd.length-off)})
		return nil
	})
	return allocmap.Normalize(m), err
}
