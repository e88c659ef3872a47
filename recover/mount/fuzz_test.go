package mount

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// escapeLikeTheKernel escapes a mount point as /proc/self/mountinfo shows
// it: space, tab, newline and backslash as three octal digits.
func escapeLikeTheKernel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzUnescapeOctal: what the kernel escapes comes back unchanged.
func FuzzUnescapeOctal(f *testing.F) {
	for _, s := range []string{"/tmp/a b", `/x\y`, "/t\tn\n", `\040`, "/plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescapeOctal(escapeLikeTheKernel(s)); got != s {
			t.Fatalf("unescapeOctal(%q) = %q, want %q", escapeLikeTheKernel(s), got, s)
		}
	})
}

// FuzzSeek: seek agrees with a byte-by-byte walk of the map, for maps
// built from the fuzzer's bytes (pairs of gap and length).
func FuzzSeek(f *testing.F) {
	f.Add([]byte{0, 10, 5, 5}, uint16(40), uint16(12))
	f.Add([]byte{3, 1}, uint16(4), uint16(0))
	f.Add([]byte{}, uint16(9), uint16(3))
	f.Fuzz(func(t *testing.T, spans []byte, size16, off16 uint16) {
		size, off := int64(size16%512)+1, int64(off16)
		var m allocmap.Map
		pos := int64(0)
		for i := 0; i+1 < len(spans); i += 2 {
			pos += int64(spans[i])
			m = m.Add(allocmap.Range{Off: pos, Len: int64(spans[i+1])})
			pos += int64(spans[i+1])
		}
		m = m.Clip(size)
		off %= size
		isData := func(b int64) bool {
			for _, r := range m {
				if b >= r.Off && b < r.End() {
					return true
				}
			}
			return false
		}
		wantData, found := off, false
		for ; wantData < size; wantData++ {
			if isData(wantData) {
				found = true
				break
			}
		}
		if got, ok := seek(m, size, off, true); ok != found || (found && got != wantData) {
			t.Fatalf("SEEK_DATA %d in %v (size %d) = %d %v, want %d %v", off, m, size, got, ok, wantData, found)
		}
		wantHole := off
		for wantHole < size && isData(wantHole) {
			wantHole++
		}
		if got, ok := seek(m, size, off, false); !ok || got != wantHole {
			t.Fatalf("SEEK_HOLE %d in %v (size %d) = %d %v, want %d", off, m, size, got, ok, wantHole)
		}
	})
}
