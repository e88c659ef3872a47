package vmfs

import (
	"fmt"
	"io"
)

// readFileAt reads file fd's bytes at off, following its block map;
// holes and to-be-zeroed blocks read as zeros. Blocks that follow each
// other on the volume are read together, in one read of the volume.
func (v *Volume) readFileAt(fd *fileDesc, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vmfs: negative offset %d", off)
	}
	if off >= fd.length {
		return 0, io.EOF
	}
	var eof error
	if rest := fd.length - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	if fd.zla == zlaResident {
		return copy(p, fd.resident[off:]), eof
	}
	if fd.typ == typeRDM {
		return 0, fmt.Errorf("%w: raw device mapping: the data lives on a LUN, not on this volume", ErrUnsupported)
	}
	n := 0
	for len(p) > 0 {
		s, err := v.run(fd, off, int64(len(p)))
		if err != nil {
			return n, err
		}
		chunk := min(int64(len(p)), s.len)
		if s.zero {
			clear(p[:chunk])
		} else if _, err := readFull(v.lv, p[:chunk], s.vol); err != nil {
			return n, fmt.Errorf("file descriptor %#08x at file offset %#x: %w", fd.addr, off, err)
		}
		n += int(chunk)
		p = p[chunk:]
		off += chunk
	}
	return n, eof
}

// run is the span at off (< fd.length) grown over the blocks after it
// while they continue it (zeros after zeros, data at the next volume
// offset), up to want bytes. A block that cannot be located ends the run
// before it, and is reported when the reader reaches it.
func (v *Volume) run(fd *fileDesc, off, want int64) (span, error) {
	s, err := v.locate(fd, off)
	if err != nil {
		return s, err
	}
	for s.len < want && off+s.len < fd.length {
		next, err := v.locate(fd, off+s.len)
		if err != nil || next.zero != s.zero || (!s.zero && next.vol != s.vol+s.len) {
			break
		}
		s.len += next.len
	}
	return s, nil
}
