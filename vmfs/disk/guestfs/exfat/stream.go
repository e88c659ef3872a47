package exfat

import (
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// stream is a file's clusters: DataLength bytes in extents of contiguous
// clusters, the first ValidDataLength of which were written; the rest
// reads as zeros, as the specification says.
type stream struct {
	f     *FS
	data  guestfs.Extents // Size is DataLength
	valid int64           // ValidDataLength
}

// newStream returns an empty stream of size bytes, all valid.
func (f *FS) newStream(size int64) *stream {
	return &stream{f: f, valid: size, data: guestfs.Extents{R: f.r, Size: size, Fail: func(dev int64, err error) error {
		return formatErr("cluster", dev, ErrCorrupt, "%v", err)
	}}}
}

// add appends n clusters from cluster first.
func (s *stream) add(first uint32, n int64) { s.data.AddRun(s.f.clusterOff(first), n, s.f.clusterSize) }

// chainStream returns the stream of size bytes from cluster first:
// contiguous when noFatChain (the Stream Extension's NoFatChain flag),
// otherwise along the FAT. A chain that leaves the heap, loops or ends
// early is an error.
func (f *FS) chainStream(first uint32, size int64, noFatChain bool) (*stream, error) {
	s := f.newStream(size)
	if size == 0 {
		return s, nil
	}
	want := (size + f.clusterSize - 1) / f.clusterSize
	if want > f.heapClusters {
		return nil, formatErr("cluster chain", f.fatOff, ErrCorrupt, "%d bytes from cluster %d need %d clusters; the device holds %d", size, first, want, f.heapClusters)
	}
	if noFatChain {
		if !f.valid(first) || int64(first-2)+want > int64(f.clusters) {
			return nil, formatErr("cluster chain", f.heapOff, ErrCorrupt, "clusters %d+%d outside 2..%d", first, want, f.clusters+1)
		}
		s.add(first, want)
		return s, nil
	}
	seen := guestfs.NewSeen(uint32(f.heapClusters+2), want)
	c := first
	for i := int64(0); i < want; i++ {
		if !f.valid(c) {
			return nil, formatErr("cluster chain", f.fatOff+int64(c)*4, ErrCorrupt, "cluster %d (after %d from %d) outside 2..%d", c, i, first, f.clusters+1)
		}
		if seen.Add(c) {
			return nil, formatErr("cluster chain", f.fatOff+int64(c)*4, ErrCorrupt, "chain from cluster %d loops back to cluster %d", first, c)
		}
		s.add(c, 1)
		if i == want-1 {
			break
		}
		next, err := f.next(c)
		if err != nil {
			return nil, err
		}
		if next >= 0xFFFFFFF8 {
			return nil, formatErr("cluster chain", f.fatOff+int64(c)*4, ErrCorrupt, "chain from cluster %d ends after %d clusters; %d bytes need %d", first, i+1, size, want)
		}
		c = next
	}
	return s, nil
}

// devOff is the byte offset on the volume of byte at of the stream; -1
// past its clusters.
func (s *stream) devOff(at int64) int64 { return s.data.DevOff(at) }

// readable is what the stream reads: its extents cut at ValidDataLength.
// Past the clusters a deleted file could still be given it reads zeros.
func (s *stream) readable() *guestfs.Extents {
	if s.valid >= s.data.Size {
		return &s.data
	}
	e := s.data
	e.List = nil
	for _, x := range s.data.List {
		if x.Off >= s.valid {
			break
		}
		x.Len = min(x.Len, s.valid-x.Off)
		e.List = append(e.List, x)
	}
	return &e
}

// ReadAt reads the stream.
func (s *stream) ReadAt(p []byte, off int64) (int, error) { return s.readable().ReadAt(p, off) }
