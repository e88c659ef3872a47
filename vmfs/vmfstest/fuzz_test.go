package vmfstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// specFromBytes turns fuzz input into a small spec: a version, then
// entries of 12 bytes each (path choice, kind, flags, addressing, size,
// seed, a hole).
func specFromBytes(b []byte) Spec {
	s := Spec{Version: 5}
	if len(b) > 0 && b[0]&1 == 1 {
		s.Version = 6
	}
	if len(b) > 0 {
		b = b[1:]
	}
	names := []string{"a", "b", "dir", "x.vmdk", strings.Repeat("L", 127), "ünï", "c"}
	for len(b) >= 12 && len(s.Files) < 40 {
		e := Entry{}
		depth := int(b[0]>>5) % 4
		var parts []string
		for i := 0; i <= depth; i++ {
			parts = append(parts, names[int(b[0]+byte(i)*3)%len(names)])
		}
		e.Path = strings.Join(parts, "/")
		e.Kind = Kind(b[1] % 3)
		e.Thin, e.Fragmented, e.Deleted = b[2]&1 != 0, b[2]&2 != 0, b[2]&4 != 0
		e.Addressing = Addressing(b[3] % 7)
		e.Size = int64(binary.LittleEndian.Uint32(b[4:])) % (6 << 20)
		e.Seed = uint64(b[8])
		if b[9] != 0 {
			e.Holes = []Range{{Off: int64(b[9]) << 14, Len: int64(b[10]) << 15}}
		}
		if e.Kind == Symlink {
			e.Target = fmt.Sprintf("t%d", b[11])
			e.Size = 0
		}
		if e.Kind == Dir {
			e.Size, e.Holes = 0, nil
		}
		s.Files = append(s.Files, e)
		b = b[12:]
	}
	return s
}

// FuzzWrite builds volumes from arbitrary trees: Write either refuses the
// spec with an error or writes a volume whose every live file reads back
// exactly through the doc-rules reader.
func FuzzWrite(f *testing.F) {
	f.Add([]byte{0, 0x00, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{1, 0x21, 0, 1, 3, 0x00, 0x00, 0x30, 0, 7, 4, 9, 0, 0x40, 2, 6, 2, 0, 0, 0, 0, 0, 0, 0, 5})
	f.Add(bytes.Repeat([]byte{1, 0x63, 0, 3, 4, 0x11, 0x22, 0x33, 0, 9, 1, 3, 7}, 6))
	f.Fuzz(fuzzWrite)
}

func fuzzWrite(t *testing.T, data []byte) {
	{
		spec := specFromBytes(data)
		r, err := Write(filepath.Join(t.TempDir(), "f.img"), spec)
		if err != nil {
			if strings.Contains(err.Error(), "vmfstest") || errors.Is(err, ErrTooBig) {
				return
			}
			t.Fatalf("unexpected error kind: %v", err)
		}
		if _, err := r.Expected(); err != nil {
			t.Fatal(err)
		}
		m, err := openMini(r.Image, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer m.f.Close()
		for _, e := range r.Entries {
			if e.Kind == Dir || e.System {
				continue
			}
			fd, err := m.lookup(e.Path)
			if err != nil {
				t.Fatalf("%s: %v", e.Path, err)
			}
			got, want := make([]byte, e.Size), make([]byte, e.Size)
			if err := m.readAt(fd, got, 0); err != nil {
				t.Fatalf("%s: %v", e.Path, err)
			}
			e.ReadAt(want, 0)
			if fd.size != e.Size || !bytes.Equal(got, want) {
				t.Fatalf("%s (%s, %d bytes): content differs", e.Path, e.Addressing, e.Size)
			}
		}
		for _, e := range r.Deleted {
			if _, err := m.lookup(e.Path); err == nil {
				t.Fatalf("deleted %s is still reachable", e.Path)
			}
		}
	}
}
