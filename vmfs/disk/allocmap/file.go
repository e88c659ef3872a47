package allocmap

import "os"

// Seek whences for sparse files (Linux lseek(2)).
const (
	seekData = 3
	seekHole = 4
)

// maxFileRanges bounds the map of one file; past it the rest of the file
// counts as data.
const maxFileRanges = 1 << 20

// OfFile maps the data of the first size bytes of a local regular file by
// SEEK_DATA and SEEK_HOLE; ok is false when the file is not regular or the
// file system cannot say (then all of it counts as data). It seeks on a
// descriptor of its own, so f's offset is untouched.
func OfFile(f *os.File, size int64) (m Map, ok bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	g, err := os.Open(f.Name())
	if err != nil {
		return nil, false
	}
	defer g.Close()
	var off int64
	for off < size && len(m) < maxFileRanges {
		start, err := g.Seek(off, seekData)
		if err != nil {
			break // ENXIO: no data past off
		}
		end, err := g.Seek(start, seekHole)
		if err != nil || end <= start {
			return nil, false
		}
		end = min(end, size)
		m = m.Add(Range{Off: start, Len: end - start})
		off = end
	}
	if off < size && len(m) >= maxFileRanges {
		m = m.Add(Range{Off: off, Len: size - off})
	}
	return m, true
}
