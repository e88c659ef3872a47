package disk

import "os"

// Backed is implemented by readers whose bytes may lie in a local file as
// they are, so that a server can hand the kernel those bytes where they
// lie instead of copying them through its own memory (the FUSE mount
// replies from a read-only memory map of the file). Backing reports
// whether the n bytes at off lie contiguously in f, from offset at of it. Only layers that pass bytes on
// unchanged implement it: a remote disk, a VMDK, a range known lost (a
// ddrescue map) or a hole does not, and is read as usual.
type Backed interface {
	Backing(off, n int64) (f *os.File, at int64, ok bool)
}

// Backing: a local file holds its own bytes.
func (f *file) Backing(off, n int64) (*os.File, int64, bool) {
	osf, ok := f.File.(*os.File)
	if !ok || off < 0 || n <= 0 || off+n > f.size {
		return nil, 0, false
	}
	return osf, off, true
}

// Backing: a section's bytes lie where the disk's do.
func (s *Section) Backing(off, n int64) (*os.File, int64, bool) {
	b, ok := s.d.(Backed)
	if !ok || off < 0 || n <= 0 || off+n > s.n {
		return nil, 0, false
	}
	return b.Backing(s.off+off, n)
}
