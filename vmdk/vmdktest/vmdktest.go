// Package vmdktest writes VMDK files for tests: the deterministic raw disk
// content every fixture starts from, and the two sparse formats no
// installed tool writes — ESX sparse (COWD, vmfsSparse) and SESparse — laid
// out as docs/formats/vmdk.md describes them ("COWD (vmfsSparse)",
// "SESparse"). qemu-img reads both, so tests check this writer against an
// independent reader.
package vmdktest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// Pattern returns size bytes of deterministic disk content built from
// 64 KiB chunks: about half pseudo-random (incompressible), 40 % text-like
// log lines, 10 % zeros, so that compressed and sparse writers all see a
// realistic mix. The same seed always gives the same bytes.
func Pattern(size int64, seed uint64) []byte {
	b := make([]byte, size)
	x := seed*0x9E3779B97F4A7C15 + 1
	next := func() uint64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
	const chunk = 64 << 10
	line := 0
	for off := int64(0); off < size; off += chunk {
		c := b[off:min(off+chunk, size)]
		switch r := next() % 10; {
		case r < 5:
			for i := 0; i < len(c); i += 8 {
				v := next()
				for j := 0; j < 8 && i+j < len(c); j++ {
					c[i+j] = byte(v >> (8 * j))
				}
			}
		case r < 9:
			for i := 0; i < len(c); {
				s := fmt.Sprintf("%08d vmkernel: cpu%d: volume %x block %d state=%s\n", line, next()%8, next()%0xFFFF, next()%100000, []string{"ok", "busy", "retry"}[next()%3])
				line++
				i += copy(c[i:], s)
			}
		}
	}
	return b
}

// Kind is the state a writer gives one grain.
type Kind int

const (
	Unallocated Kind = iota // not in this delta: read from the parent
	Data                    // stored, with the bytes of data
	Zero                    // SESparse zero grain (type 2): zeros, parent hidden
	Unmapped                // SESparse unmapped grain (type 1): zeros for qemu and vmfsrecover
)

// Expected returns the virtual disk a delta over parent should read as.
func Expected(parent, data []byte, grainBytes int, kind func(grain int64) Kind) []byte {
	out := make([]byte, len(data))
	for off := 0; off < len(data); off += grainBytes {
		end := min(off+grainBytes, len(data))
		switch kind(int64(off / grainBytes)) {
		case Data:
			copy(out[off:end], data[off:end])
		case Unallocated:
			if off < len(parent) {
				copy(out[off:end], parent[off:min(end, len(parent))])
			}
		}
	}
	return out
}

// WriteCOWD writes data (a multiple of 512 bytes) as a COWD sparse extent
// with grains of grainSectors sectors; kind picks the grains stored (Data)
// and those left to the parent (anything else). Grain tables are written
// lazily, each followed by its grains, as ESX does.
func WriteCOWD(path string, data []byte, grainSectors int, kind func(grain int64) Kind) error {
	le := binary.LittleEndian
	numSectors := len(data) / 512
	grainBytes := grainSectors * 512
	cover := 4096 * grainBytes
	nGD := (len(data) + cover - 1) / cover
	gdSectors := (nGD*4 + 511) / 512
	hdr := make([]byte, 2048)
	copy(hdr, "COWD")
	le.PutUint32(hdr[4:], 1)
	le.PutUint32(hdr[8:], 3)
	le.PutUint32(hdr[12:], uint32(numSectors))
	le.PutUint32(hdr[16:], uint32(grainSectors))
	le.PutUint32(hdr[20:], 4)
	le.PutUint32(hdr[24:], uint32(nGD))
	copy(hdr[1064:], "vmfsrecover test")
	gd := make([]byte, gdSectors*512)
	var body []byte
	next := 4 + gdSectors // next free sector
	for t := 0; t < nGD; t++ {
		gt := make([]byte, 4096*4)
		var grains []byte
		used := false
		gtSector := next
		sec := next + 32
		for i := 0; i < 4096; i++ {
			g := t*4096 + i
			off := g * grainBytes
			if off >= len(data) || kind(int64(g)) != Data {
				continue
			}
			used = true
			le.PutUint32(gt[4*i:], uint32(sec))
			grain := make([]byte, grainBytes)
			copy(grain, data[off:])
			grains = append(grains, grain...)
			sec += grainSectors
		}
		if !used {
			continue
		}
		le.PutUint32(gd[4*t:], uint32(gtSector))
		body = append(body, gt...)
		body = append(body, grains...)
		next = sec
	}
	le.PutUint32(hdr[28:], uint32(next))
	out := append(append(hdr, gd...), body...)
	return os.WriteFile(path, out, 0o644)
}

// WriteSESparse writes data as a SESparse extent (4 KiB grains). Grain
// tables are allocated in the order their first grain appears; grains are
// stored in reverse order of address within each table, so that the
// shuffled grain index is exercised beyond a trivial identity.
func WriteSESparse(path string, data []byte, kind func(grain int64) Kind) error {
	le := binary.LittleEndian
	const grainBytes = 4096
	capacity := uint64(len(data) / 512)
	cover := 4096 * grainBytes
	nGT := (len(data) + cover - 1) / cover
	gdSectors := uint64((nGT*8 + 511) / 512)
	gtSectors := uint64(nGT * 64)
	// Regions, in sectors: header 0, volatile 1, journal header 2 (2),
	// journal 4 (4), GD, GTs, free bitmap, backmap (both empty here), grains.
	gdOff := uint64(8)
	gtOff := gdOff + gdSectors
	grainsOff := gtOff + gtSectors
	hdr := make([]byte, 512)
	w := []uint64{0xCAFEBABE, 0x0000000200000001, capacity, 8, 64, 0, 0, 0, 0, 0,
		1, 1, 2, 2, 4, 4, gdOff, gdSectors, gtOff, gtSectors, grainsOff, 0, grainsOff, 0, grainsOff, 0}
	for i, v := range w {
		le.PutUint64(hdr[8*i:], v)
	}
	vol := make([]byte, 512)
	le.PutUint64(vol, 0xCAFECAFE)
	gd := make([]byte, gdSectors*512)
	gts := make([]byte, gtSectors*512)
	var grains []byte
	var gi uint64
	gtUsed := 0
	for t := 0; t < nGT; t++ {
		var entries [4096]uint64
		any := false
		for i := 4095; i >= 0; i-- {
			g := t*4096 + i
			off := g * grainBytes
			if off >= len(data) {
				continue
			}
			switch kind(int64(g)) {
			case Data:
				grain := make([]byte, grainBytes)
				copy(grain, data[off:])
				grains = append(grains, grain...)
				entries[i] = 3<<60 | (gi&0xFFF)<<48 | gi>>12
				gi++
				any = true
			case Zero:
				entries[i], any = 2<<60, true
			case Unmapped:
				entries[i], any = 1<<60, true
			}
		}
		if !any {
			continue
		}
		le.PutUint64(gd[8*t:], 0x10000000<<32|uint64(gtUsed))
		for i, e := range entries {
			le.PutUint64(gts[gtUsed*64*512+8*i:], e)
		}
		gtUsed++
	}
	le.PutUint64(hdr[8*25:], uint64(len(grains)/512)) // grains region size
	le.PutUint64(vol[8:], uint64(gtUsed))
	file := make([]byte, grainsOff*512)
	copy(file, hdr)
	copy(file[512:], vol)
	copy(file[gdOff*512:], gd)
	copy(file[gtOff*512:], gts)
	file = append(file, grains...)
	return os.WriteFile(path, file, 0o644)
}

// Descriptor returns the text of a single-extent ESXi descriptor.
// extentType is VMFS, VMFSSPARSE or SESPARSE; parent is the parent
// descriptor's file name ("" for a base disk) and parentCID its CID.
func Descriptor(createType, extentType, extentFile string, sectors int64, cid, parentCID uint32, parent string) string {
	s := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=%08x\nparentCID=%08x\ncreateType=\"%s\"\n", cid, parentCID, createType)
	if parent != "" {
		s += fmt.Sprintf("parentFileNameHint=\"%s\"\n", parent)
	}
	s += fmt.Sprintf("\n# Extent description\nRW %d %s \"%s\"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\nddb.virtualHWVersion = \"14\"\n", sectors, extentType, extentFile)
	return s
}

// WriteFile writes b to dir/name and returns the path.
func WriteFile(dir, name string, b []byte) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, b, 0o644)
}
