package layout

import (
	"reflect"
	"testing"
)

// TestTablesFit: within each structure no two fields overlap and every
// field fits, so a typo in an offset cannot pass unseen.
func TestTablesFit(t *testing.T) {
	for name, c := range map[string]struct {
		table any
		size  int
	}{
		"LVM": {LVM, 0x200}, "VolumeDesc": {VolumeDesc, 0x200}, "PEEntry": {PEEntry, PEEntrySize},
		"FSDesc": {FSDesc, FSDescSize}, "Heartbeat": {Heartbeat, 512}, "Lock": {Lock, 512},
		"ResHeader": {ResHeader, ResHeaderSize}, "ClusterMeta5": {ClusterMeta5, 512},
		"ClusterMeta6": {ClusterMeta6, 0x940}, "FDMeta": {FDMeta, FDMetaSize},
		"Dirent5": {Dirent5, Dirent5Size}, "Dirent6": {Dirent6, Dirent6Size},
		"Dir6Header": {Dir6Header, Dir6HeaderSize}, "DirBlock": {DirBlock, DirBlockHdrSize},
		"LinkGroup": {LinkGroup, LinkGroupSize}, "Link": {Link, LinkSize},
	} {
		v := reflect.ValueOf(c.table)
		used := make([]string, c.size)
		for i := range v.NumField() {
			f := v.Field(i).Interface().(Field)
			fname := v.Type().Field(i).Name
			if f.Size <= 0 || f.Off < 0 || f.Off+f.Size > c.size {
				t.Errorf("%s.%s %+v does not fit in %d bytes", name, fname, f, c.size)
				continue
			}
			for b := f.Off; b < f.Off+f.Size; b++ {
				if used[b] != "" {
					t.Errorf("%s.%s overlaps %s at byte %#x", name, fname, used[b], b)
					break
				}
				used[b] = fname
			}
		}
	}
}

func TestFieldRoundTrip(t *testing.T) {
	b := make([]byte, 0x200)
	for _, f := range []Field{LVM.Magic, LVM.DeviceBytes, PEEntry.Used, {0x40, 2}} {
		v := uint64(0x0123456789ABCDEF) & (1<<(8*f.Size) - 1)
		f.Put(b, v)
		if got := f.Get(b); got != v {
			t.Errorf("%+v: put %#x, got %#x", f, v, got)
		}
	}
	if LVM.Magic.Put(b, 0xC001D00D); b[0] != 0x0D || b[3] != 0xC0 {
		t.Errorf("magic bytes % x, want little-endian 0D D0 01 C0", b[:4])
	}
}

// TestFDSlotFits: the resident area and the pointer array of a slot lie
// after the metadata and inside the slot, for every metadata block size.
func TestFDSlotFits(t *testing.T) {
	for _, c := range []struct {
		v6 bool
		md int64
	}{{false, 512}, {true, 4096}, {true, 8192}, {true, 64 << 10}} {
		s := FDSlotOf(c.v6, c.md)
		switch {
		case s.Meta+FDMetaSize > s.Data, s.Data+s.DataCap > s.Size:
			t.Errorf("v6 %v md %d: data area %+v overlaps the metadata or leaves the slot", c.v6, c.md, s)
		case s.Ptrs < s.Meta+FDMetaSize, s.Ptrs+s.PtrCount*s.PtrSize != s.Size:
			t.Errorf("v6 %v md %d: pointers %+v do not run from the data area to the slot's end", c.v6, c.md, s)
		}
	}
}
