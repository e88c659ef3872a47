package vmfstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeletedEntries checks what a deletion leaves on disk: the FD (lock
// magic, metadata, pointers) and the data stay and read back whole from
// the FD address, the FD's bit in the .fdc.sf cluster bitmap is free, and
// the directory no longer lists the entry (VMFS5: the 140-byte entry
// survives as slack past the directory's length; VMFS6: the slot is zeroed
// and free in its block bitmap, and the FD names its parent directory).
func TestDeletedEntries(t *testing.T) {
	for _, v := range []int{5, 6} {
		t.Run(fmt.Sprintf("vmfs%d", v), func(t *testing.T) {
			var files []Entry
			for _, e := range treeEntries(v) {
				if strings.HasPrefix(e.Path, "trash/") {
					files = append(files, e)
				}
			}
			r, err := Write(filepath.Join(t.TempDir(), "d.img"), Spec{Version: v, Files: files})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Deleted) != 4 {
				t.Fatalf("%d deleted entries, want 4", len(r.Deleted))
			}
			m, err := openMini(r.Image, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer m.f.Close()
			trash, err := m.lookup("/trash")
			if err != nil {
				t.Fatal(err)
			}
			dir := make([]byte, roundUp(trash.size, trash.bsize))
			if err := m.readAt(trash, dir[:trash.size], 0); err != nil {
				t.Fatal(err)
			}
			if !m.v6 {
				// the slack past the length: read the last unit whole
				last := (trash.size - 1) / trash.bsize * trash.bsize
				b, err := m.resource(trash.ptrs[last/trash.bsize])
				if err != nil {
					t.Fatal(err)
				}
				copy(dir[last:], b)
			}
			if kept := r.Lookup("/trash/kept.txt"); !m.fdAllocated(kept.FD) {
				t.Errorf("live FD %#x reads as free in the FDC bitmap", kept.FD)
			}
			for _, e := range r.Deleted {
				fd, err := m.fd(e.FD)
				if err != nil {
					t.Fatalf("%s: %v", e.Path, err)
				}
				lock := m.read(fd.slot, 4)
				if binary.LittleEndian.Uint32(lock) != docLockFD || fd.size != e.Size {
					t.Errorf("%s: FD lock %#x length %d, want %#x %d", e.Path, binary.LittleEndian.Uint32(lock), fd.size, docLockFD, e.Size)
				}
				if e.Kind == File {
					got, want := make([]byte, e.Size), make([]byte, e.Size)
					if err := m.readAt(fd, got, 0); err != nil {
						t.Fatal(err)
					}
					e.ReadAt(want, 0)
					if !bytes.Equal(got, want) {
						t.Errorf("%s: content read through the surviving FD differs", e.Path)
					}
				}
				if m.fdAllocated(e.FD) {
					t.Errorf("%s: FD %#x still allocated in the FDC bitmap", e.Path, e.FD)
				}
				if _, err := m.lookup(e.Path); err == nil {
					t.Errorf("%s: still reachable by name", e.Path)
				}
				if path.Dir(e.Path) != "/trash" {
					continue
				}
				name := []byte(path.Base(e.Path))
				i := bytes.Index(dir, name)
				switch {
				case !m.v6 && (i < 0 || int64(i) < trash.size):
					t.Errorf("%s: VMFS5 entry not found as slack past the directory's %d bytes (at %d)", e.Path, trash.size, i)
				case m.v6 && i >= 0:
					t.Errorf("%s: VMFS6 dirent not zeroed (name at %d)", e.Path, i)
				}
				if m.v6 {
					meta := m.read(fd.slot+m.md, 0x80)
					if parent := binary.LittleEndian.Uint32(meta[0x70:]); parent != r.Lookup("/trash").FD {
						t.Errorf("%s: parentFD %#x, want /trash's %#x", e.Path, parent, r.Lookup("/trash").FD)
					}
				}
			}
		})
	}
}

// fdAllocated reads the FD's bit in its .fdc.sf cluster bitmap (0 = used).
func (m *miniReader) fdAllocated(a uint32) bool {
	c, r := int64(a>>6&0xFFFF), int64(a>>22)
	h := m.fdc
	hdr := (h.cgs - h.cpg*h.rpc*h.rs) / h.cpg
	vol, err := m.fileVol(m.sys[2], h.cgo+c/h.cpg*h.cgs+c%h.cpg*hdr)
	if err != nil {
		return true
	}
	meta := m.read(vol+m.md, 0x200)
	bm := meta[0x10:]
	if m.v6 {
		bm = meta[0x80:]
	}
	return bm[r/8]&(1<<(r%8)) == 0
}
