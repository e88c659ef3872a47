package vmfs

import (
	"fmt"
	"strings"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// dirent is one directory entry (vmfs.md: "Directories (VMFS3/5)").
type dirent struct {
	name       string
	typ        uint32
	addr       uint32
	generation uint32
}

const (
	dirent5Size    = layout.Dirent5Size
	dirent6Size    = layout.Dirent6Size
	dir6HeaderSize = layout.Dir6HeaderSize
	maxDirBytes    = 256 << 20 // bounds what one directory read may allocate
	// dirCacheEntries bounds the entries of the directories kept decoded,
	// about 25 MB; the count of directories alone (256) would let 256 of
	// the largest, 1.9 million entries each, stay.
	dirCacheEntries = 256 << 10
)

// readDir returns the entries of directory fd, without "." and "..".
func (v *Volume) readDir(fd *fileDesc) ([]dirent, error) {
	d, err := v.directory(fd)
	if err != nil {
		return nil, err
	}
	return d.ents, nil
}

// directory is a decoded directory with its entries indexed by name, so
// that resolving each of a big directory's entries costs one look-up,
// not a walk through all of them. The index is made on the first look-up:
// a listing reads every directory and looks up only the path to each.
type directory struct {
	ents   []dirent
	index  sync.Once
	byName map[string]int // the first entry of each name
}

// lookup returns the first entry named name.
func (d *directory) lookup(name string) (dirent, bool) {
	d.index.Do(func() {
		d.byName = make(map[string]int, len(d.ents))
		for i, e := range d.ents {
			if _, dup := d.byName[e.name]; !dup {
				d.byName[e.name] = i
			}
		}
	})
	i, ok := d.byName[name]
	if !ok {
		return dirent{}, false
	}
	return d.ents[i], true
}

func (v *Volume) directory(fd *fileDesc) (*directory, error) {
	if d, ok := v.dirCache.Get(fd.addr); ok {
		return d, nil
	}
	if fd.length > maxDirBytes {
		return nil, corrupt(fmt.Sprintf("directory %#08x", fd.addr), fd.vol, "%d bytes, more than any directory holds", fd.length)
	}
	data := make([]byte, fd.length)
	if _, err := v.readFileAt(fd, data, 0); err != nil {
		return nil, fmt.Errorf("reading directory %#08x: %w", fd.addr, err)
	}
	var ents []dirent
	var err error
	if v.desc.Version() >= 6 {
		ents, err = v.parseDir6(fd, data)
	} else {
		ents = parseDir5(data)
	}
	if err != nil {
		return nil, err
	}
	d := &directory{ents: ents}
	v.dirCache.Put(fd.addr, d)
	return d, nil
}

// parseDir5 decodes a VMFS3/5 directory: a flat array of 140-byte entries.
func parseDir5(data []byte) []dirent {
	f := layout.Dirent5
	var ents []dirent
	for off := 0; off+dirent5Size <= len(data); off += dirent5Size {
		e := data[off : off+dirent5Size]
		d := dirent{typ: f.Type.Get32(e), addr: f.Addr.Get32(e), generation: f.Generation.Get32(e), name: cstring(f.Name.Bytes(e))}
		if d.addr == 0 || d.name == "." || d.name == ".." || d.name == "" {
			continue
		}
		ents = append(ents, d)
	}
	return ents
}

// parseDir6 decodes a VMFS6 hashed directory (vmfs.md: "Directories (VMFS6)"): a 64 KiB header,
// then blocks of mdAlignment bytes; entries live in the used slots of
// dirent blocks. The hash table only speeds up lookups, so listing walks
// the blocks, which also works when the allocation map is damaged.
func (v *Volume) parseDir6(fd *fileDesc, data []byte) ([]dirent, error) {
	where := fmt.Sprintf("directory %#08x", fd.addr)
	if len(data) < dir6HeaderSize {
		return nil, corrupt(where, fd.vol, "%d bytes, shorter than the directory header", len(data))
	}
	if ver := layout.Dir6Header.Version.Get32(data); ver != layout.Dir6Version && ver != layout.Dir6DebugVersion {
		return nil, corrupt(where, fd.vol, "directory version %#x", ver)
	}
	md := int(v.desc.MDAlignment)
	const hdr = layout.DirBlockHdrSize
	maxSlots := (md - hdr) / dirent6Size
	bh, f := layout.DirBlock, layout.Dirent6
	var ents []dirent
	for blk := dir6HeaderSize; blk+md <= len(data); blk += md {
		b := data[blk : blk+md]
		if bh.Type.Get(b) != layout.DirBlockEntries {
			continue
		}
		total := min(int(bh.Total.Get(b)), maxSlots)
		bitmap := bh.Bitmap.Bytes(b)
		for s := 0; s < total; s++ {
			if bitmap[s/8]&(1<<(s%8)) != 0 { // 1 = free
				continue
			}
			e := b[hdr+s*dirent6Size : hdr+(s+1)*dirent6Size]
			d := dirent{typ: f.Type.Get32(e), addr: f.Addr.Get32(e), generation: f.Generation.Get32(e), name: cstring(f.Name.Bytes(e))}
			if d.addr == 0 || d.name == "" || d.name == "." || d.name == ".." {
				continue
			}
			ents = append(ents, d)
		}
	}
	return ents, nil
}

// cstring decodes a NUL-padded name; invalid UTF-8 is kept byte for byte
// so the name still round-trips to a lookup.
func cstring(b []byte) string {
	return strings.Clone(string(b[:clen(b)]))
}
