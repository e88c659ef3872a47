package layout

import "testing"

// FuzzAddresses: every address splits back into the cluster and resource
// it was made of, within the bits each version gives them, and keeps its
// type in the low 3 bits.
func FuzzAddresses(f *testing.F) {
	f.Add(uint64(0), uint64(2), true)
	f.Add(uint64(0xFFFF), uint64(0x3FF), false)
	f.Add(uint64(1<<36-1), uint64(0xFF), true)
	f.Fuzz(func(t *testing.T, c, r uint64, v6 bool) {
		fc, fr := c&0xFFFF, r&0x3FF
		a := FDAddr(fc, fr)
		if gc, gr := SplitFDAddr(a); gc != fc || gr != fr || a&7 != AddrFD {
			t.Fatalf("FD address %#x of %d/%d splits into %d/%d", a, fc, fr, gc, gr)
		}
		rc, rr := c&(1<<22-1), r&0xF
		if v6 {
			rc, rr = c&(1<<36-1), r&0xFF
		}
		for _, typ := range []uint64{AddrSB, AddrPB, AddrPB2} {
			a := ResAddr(v6, typ, rc, rr)
			if gc, gr := SplitResAddr(v6, false, a); gc != rc || gr != rr || a&7 != typ {
				t.Fatalf("v6 %v: address %#x of %d/%d type %d splits into %d/%d", v6, a, rc, rr, typ, gc, gr)
			}
		}
	})
}

// FuzzField: an integer put into a field reads back truncated to the
// field's size, and no byte outside the field changes.
func FuzzField(f *testing.F) {
	f.Add(uint8(0), uint8(4), uint64(0xC001D00D))
	f.Add(uint8(0x13), uint8(8), uint64(1<<63))
	f.Fuzz(func(t *testing.T, off, size uint8, v uint64) {
		sizes := []int{1, 2, 4, 8}
		fl := Field{int(off), sizes[int(size)%len(sizes)]}
		b := make([]byte, 0x120)
		for i := range b {
			b[i] = 0xA5
		}
		fl.Put(b, v)
		want := v
		if fl.Size < 8 {
			want &= 1<<(8*fl.Size) - 1
		}
		if got := fl.Get(b); got != want {
			t.Fatalf("%+v: put %#x, got %#x", fl, v, got)
		}
		for i, x := range b {
			if (i < fl.Off || i >= fl.Off+fl.Size) && x != 0xA5 {
				t.Fatalf("%+v: byte %#x outside the field changed", fl, i)
			}
		}
	})
}
