package exfat

import (
	"errors"
	"io"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// stream reads a file's clusters as bytes: runs of contiguous clusters,
// DataLength bytes of which the first ValidDataLength were written; the
// rest reads as zeros, as the specification says.
type stream struct {
	f     *FS
	runs  []run
	size  int64 // DataLength
	valid int64 // ValidDataLength
}

type run struct {
	first uint32
	n     int64 // clusters
	at    int64 // byte offset of the run in the stream
}

// chainStream returns the stream of size bytes from cluster first:
// contiguous when noFatChain (the Stream Extension's NoFatChain flag),
// otherwise along the FAT. A chain that leaves the heap, loops or ends
// early is an error.
func (f *FS) chainStream(first uint32, size int64, noFatChain bool) (*stream, error) {
	s := &stream{f: f, size: size, valid: size}
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
		s.runs = []run{{first, want, 0}}
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
		if l := len(s.runs); l > 0 && s.runs[l-1].first+uint32(s.runs[l-1].n) == c {
			s.runs[l-1].n++
		} else {
			s.runs = append(s.runs, run{c, 1, i * f.clusterSize})
		}
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
func (s *stream) devOff(at int64) int64 {
	i := sort.Search(len(s.runs), func(i int) bool { return s.runs[i].at+s.runs[i].n*s.f.clusterSize > at })
	if i == len(s.runs) || at < 0 {
		return -1
	}
	r := s.runs[i]
	return s.f.clusterOff(r.first) + at - r.at
}

// ReadAt reads the stream; bytes past ValidDataLength, and past the
// clusters a deleted file could still be given, read as zeros.
func (s *stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("exfat: negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= s.size {
			return n, io.EOF
		}
		chunk := min(int64(len(p)-n), s.size-at)
		i := sort.Search(len(s.runs), func(i int) bool { return s.runs[i].at+s.runs[i].n*s.f.clusterSize > at })
		if at >= s.valid || i == len(s.runs) {
			if at < s.valid {
				chunk = min(chunk, s.valid-at)
			}
			clear(p[n : n+int(chunk)])
			n += int(chunk)
			continue
		}
		r := s.runs[i]
		chunk = min(chunk, s.valid-at, r.at+r.n*s.f.clusterSize-at)
		dev := s.f.clusterOff(r.first) + at - r.at
		m, err := s.f.r.ReadAt(p[n:n+int(chunk)], dev)
		n += m
		if err != nil && !(err == io.EOF && int64(m) == chunk) {
			return n, formatErr("cluster", dev+int64(m), ErrCorrupt, "%v", err)
		}
	}
	return n, nil
}
