package allocmap

import "bytes"

// zeroPage is compared against in slices: bytes.Equal runs vectorised,
// several times faster than a byte loop.
var zeroPage [64 << 10]byte

// IsZero reports whether p holds only zero bytes: such a block reads back
// the same from a hole, so writers leave it unwritten and the map leaves
// it out.
func IsZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeroPage))
		if !bytes.Equal(p[:n], zeroPage[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}
