package vmfstest

import (
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestNameHashSample checks the VMFS6 name hash against the value the
// value derived from the real VMFS6 sample (vmfs.md: "Name hash").
func TestNameHashSample(t *testing.T) {
	h := nameHash("directory")
	if h != 0x5F1265850DBC9F66 {
		t.Fatalf("nameHash(directory) = %#x, want 0x5F1265850DBC9F66", h)
	}
	if h%hashEntriesRoot != 0x3C82 {
		t.Fatalf("root index %#x, want 0x3C82", h%hashEntriesRoot)
	}
}

// TestNameHashRealDirents checks every named dirent of the real VMFS6
// sample: the hash halves stored in the dirent must be ours, and the hash
// table slot our index names must point at the dirent.
func TestNameHashRealDirents(t *testing.T) {
	f, err := os.Open(RealFile(t, "vmfs6.img.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	// The two directories sit at image 0x1900000 (root) and in the
	// sub-block file; reading the first 32 MiB covers the root directory.
	img := make([]byte, 0x1920000)
	if _, err := io.ReadFull(zr, img); err != nil {
		t.Fatal(err)
	}
	dir := img[0x1900000:]
	checked := 0
	for blk := 1; blk < 2; blk++ {
		b := dir[dirHeaderSize+blk*0x1000:]
		for s := 0; s < 14; s++ {
			if b[8+s/8]&(1<<(s%8)) != 0 {
				continue
			}
			e := b[dirBlockHdr+s*direntSize:]
			name := string(e[0x18:0x118])
			for i := range name {
				if name[i] == 0 {
					name = name[:i]
					break
				}
			}
			idx := -1
			lo, link := binary.LittleEndian.Uint16(e[0x0C:]), binary.LittleEndian.Uint16(e[0x0E:])
			if r, ok := rootSysHash[name]; ok {
				idx = r
				if lo != 0 || link != 0 {
					t.Errorf("%s: system dirent carries hash %#x/%#x, want 0", name, lo, link)
				}
			} else {
				h := nameHash(name)
				idx = int(h % hashEntriesRoot)
				if lo != uint16(h) || link != uint16(h>>16) {
					t.Errorf("%s: dirent hash %#x/%#x, ours %#x/%#x", name, lo, link, uint16(h), uint16(h>>16))
				}
			}
			loc := binary.LittleEndian.Uint32(dir[docHashTableOff+4*idx:])
			if want := dirLocation(1, blk, s); loc != want {
				t.Errorf("%s: hash slot %#x holds %#x, want %#x", name, idx, loc, want)
			}
			checked++
		}
	}
	if checked != 9 {
		t.Errorf("checked %d root dirents, want 9", checked)
	}
}

// TestHashedLookup resolves every name of a 10,240-entry VMFS6 directory
// the way ESXi's lookup does (hash table, then link groups matched by hash
// index and link hash, then next groups), on the bytes as written.
func TestHashedLookup(t *testing.T) {
	spec := Spec{Version: 6, Files: manyEntries(10240)}
	r, err := Write(filepath.Join(t.TempDir(), "many.img"), spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := openMini(r.Image, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.f.Close()
	fd, err := m.lookup("/many")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, fd.size)
	if err := m.readAt(fd, data, 0); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(data); v != docDirVersion {
		t.Fatalf("directory version %#x", v)
	}
	if n := binary.LittleEndian.Uint32(data[4:]); n != 10242 {
		t.Errorf("numEntries %d, want 10242", n)
	}
	links := 0
	for _, e := range r.Entries {
		if len(e.Path) < 6 || e.Path[:6] != "/many/" {
			continue
		}
		name := e.Path[6:]
		h := nameHash(name)
		idx, lh := int(h%hashEntries), uint16(h>>16)
		loc := binary.LittleEndian.Uint32(data[docHashTableOff+4*idx:])
		for hops := 0; loc&3 == 2; hops++ {
			links++
			if hops > 1000 {
				t.Fatalf("%s: link chain does not end", name)
			}
			blk, slot := int(loc>>2&0x3FFFFF), int(loc>>24)
			g := data[dirHeaderSize+blk*0x1000+dirBlockHdr+slot*linkGroupSize:]
			if int(binary.LittleEndian.Uint16(g)) != idx {
				t.Fatalf("%s: link group hash index %d, want %d", name, binary.LittleEndian.Uint16(g), idx)
			}
			next := binary.LittleEndian.Uint32(g[0x4E:])
			used := int(g[2] - g[3])
			loc = next
			for j := 0; j < used; j++ {
				if binary.LittleEndian.Uint16(g[10+6*j:]) == lh {
					loc = binary.LittleEndian.Uint32(g[6+6*j:])
					break
				}
			}
		}
		if loc&3 != 1 {
			t.Fatalf("%s: lookup ends at location %#x", name, loc)
		}
		blk, slot := int(loc>>2&0x3FFFFF), int(loc>>24)
		off := dirHeaderSize + blk*0x1000 + dirBlockHdr + slot*direntSize
		d := data[off:]
		got := string(d[0x18 : 0x18+len(name)])
		if got != name || d[0x18+len(name)] != 0 || binary.LittleEndian.Uint32(d[4:]) != e.FD {
			t.Fatalf("%s: lookup found %q FD %#x", name, got, binary.LittleEndian.Uint32(d[4:]))
		}
		if binary.LittleEndian.Uint64(d[0x10:]) != uint64(off) {
			t.Errorf("%s: dirent self offset %#x, want %#x", name, binary.LittleEndian.Uint64(d[0x10:]), off)
		}
	}
	if links == 0 {
		t.Error("no lookup went through a link group: collisions not exercised")
	}
}
