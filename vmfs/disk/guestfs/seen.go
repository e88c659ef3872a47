package guestfs

// Seen finds a cluster or block met twice while a chain is followed (a
// loop): a map for short chains, a bitmap for long ones, so that memory
// stays bounded by the smaller of the chain and the volume.
type Seen struct {
	m    map[uint32]bool
	bits []uint64
}

// NewSeen returns a Seen for a chain of about want elements numbered below
// limit (the clusters or blocks the device holds); numbers at or past
// limit are kept in the map.
func NewSeen(limit uint32, want int64) *Seen {
	s := &Seen{m: map[uint32]bool{}}
	if want > 4096 {
		s.bits = make([]uint64, (int64(limit)+63)/64)
	}
	return s
}

// Add records c and reports whether it was there already.
func (s *Seen) Add(c uint32) bool {
	if w := int(c / 64); w < len(s.bits) {
		b := uint64(1) << (c % 64)
		had := s.bits[w]&b != 0
		s.bits[w] |= b
		return had
	}
	had := s.m[c]
	s.m[c] = true
	return had
}
