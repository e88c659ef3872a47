package vmfs

import "os"

// backed is disk.Backed: devices and files whose bytes may lie as they are
// in a local file. It is written out here because package disk imports
// the remote clients, whose tests read VMFS volumes.
type backed interface {
	Backing(off, n int64) (f *os.File, at int64, ok bool)
}

var (
	_ backed = (*logicalVolume)(nil)
	_ backed = (*File)(nil)
)

// Backing: the n volume bytes at off lie in one segment of a device whose
// own bytes lie in a local file (backed).
func (lv *logicalVolume) Backing(off, n int64) (*os.File, int64, bool) {
	if off < 0 || n <= 0 || off+n > lv.size {
		return nil, 0, false
	}
	s := lv.segments[lv.segmentAt(off)]
	within := off - s.logical
	b, ok := s.dev.(backed)
	if !ok || within+n > s.length {
		return nil, 0, false
	}
	return b.Backing(s.physical+within, n)
}

// Backing reports whether the file's n bytes at off lie, as they are,
// contiguously in a local file: in blocks that follow each other on the
// volume (no hole, no block still to be zeroed), on a volume whose bytes
// lie in a local file (backed).
func (f *File) Backing(off, n int64) (*os.File, int64, bool) {
	src, at, length, ok := f.backingRun(off, n)
	return src, at, ok && length == n
}

// backingRun is where the run of data blocks at off lies in a local file,
// and how many of the n bytes from off it holds: Volume.run's run, up to
// n bytes, when it is data on a backed volume.
func (f *File) backingRun(off, n int64) (src *os.File, at, length int64, ok bool) {
	fd := f.node.fd
	b, isBacked := f.v.lv.(backed)
	if !isBacked || off < 0 || n <= 0 || off+n > fd.length || fd.zla == zlaResident || fd.typ == typeRDM {
		return nil, 0, 0, false
	}
	s, err := f.v.run(fd, off, n)
	if err != nil || s.zero || s.len <= 0 {
		return nil, 0, 0, false
	}
	length = min(n, s.len)
	src, at, ok = b.Backing(s.vol, length)
	return src, at, length, ok
}
