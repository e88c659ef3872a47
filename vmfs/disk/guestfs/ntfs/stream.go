package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// extent maps n clusters of a stream, from VCN vcn, to the volume's
// clusters from lcn; lcn is -1 for a sparse run (zeros, no clusters).
type extent struct{ vcn, lcn, n int64 }

// stream is the content of one attribute: resident bytes, or the clusters
// its run lists map, sparse or LZNT1-compressed in units of cu clusters.
// It is safe for concurrent use.
type stream struct {
	r    io.ReaderAt
	cs   int64 // cluster size
	what string
	size int64 // bytes of the stream
	init int64 // bytes written; the rest reads as zeros

	resident []byte
	ext      []extent // ascending and contiguous from VCN 0
	cu       int64    // compression unit in clusters; 0 when not compressed

	mu     sync.Mutex
	unitNo int64 // the unit decompressed last, in unit
	unit   []byte
}

// openStream joins the pieces of an attribute (one per record holding
// part of its run list) into one stream, checking every run against the
// volume and the attribute's VCN range.
func (v *FS) openStream(pieces []attribute, what string) (*stream, error) {
	if len(pieces) == 0 {
		return nil, corrupt(what, -1, "no such attribute")
	}
	s := &stream{r: v.r, cs: v.boot.clusterSize, what: what, unitNo: -1}
	if pieces[0].resident {
		if len(pieces) > 1 {
			return nil, corrupt(what, -1, "resident attribute in %d pieces", len(pieces))
		}
		s.resident = pieces[0].content
		s.size, s.init = int64(len(s.resident)), int64(len(s.resident))
		return s, nil
	}
	pieces = slices.Clone(pieces)
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].vcnStart < pieces[j].vcnStart })
	first := pieces[0]
	if first.flags&flagEncrypted != 0 {
		return nil, &ondisk.FormatError{Path: "ntfs", Struct: what, Off: -1, Msg: "EFS-encrypted stream", Err: ErrUnsupported}
	}
	if first.flags&flagCompressed != 0 && first.cuShift > 0 {
		if first.cuShift > 8 || s.cs<<first.cuShift > 1<<20 {
			return nil, &ondisk.FormatError{Path: "ntfs", Struct: what, Off: -1, Msg: fmt.Sprintf("compression unit of 2^%d clusters of %d bytes", first.cuShift, s.cs), Err: ErrUnsupported}
		}
		s.cu = 1 << first.cuShift
	}
	clusters := v.boot.clusters()
	var next int64
	for _, p := range pieces {
		if p.resident || p.vcnStart != next || p.vcnEnd < p.vcnStart-1 || p.vcnEnd >= (1<<62)/s.cs {
			return nil, corrupt(what, -1, "run list piece for VCN %d-%d after VCN %d", p.vcnStart, p.vcnEnd, next)
		}
		runs, err := decodeRuns(p, what)
		if err != nil {
			return nil, err
		}
		var lcn int64 = -1
		for _, run := range runs {
			if run.Length <= 0 || run.Length > p.vcnEnd+1-next {
				return nil, corrupt(what, -1, "run of %d clusters at VCN %d beyond the last VCN %d", run.Length, next, p.vcnEnd)
			}
			lcn = -1
			if run.RelativeUrnOffset != 0 { // a run without offset bytes is sparse
				lcn = run.Offset
				if lcn < 0 || lcn > clusters-run.Length {
					return nil, corrupt(what, -1, "run of %d clusters at cluster %d, beyond the %d of the volume", run.Length, lcn, clusters)
				}
			}
			s.ext = append(s.ext, extent{vcn: next, lcn: lcn, n: run.Length})
			next += run.Length
		}
		if next != p.vcnEnd+1 {
			return nil, corrupt(what, -1, "run list maps VCN %d-%d, its header says %d-%d", p.vcnStart, next-1, p.vcnStart, p.vcnEnd)
		}
	}
	s.size, s.init = first.dataSize, min(first.initSize, first.dataSize)
	if s.size < 0 || s.size > next*s.cs {
		return nil, corrupt(what, -1, "%d bytes in %d clusters", s.size, next)
	}
	if s.init < 0 {
		return nil, corrupt(what, -1, "initialized size %d", s.init)
	}
	return s, nil
}

// decodeRuns decodes a piece's run list with the library, a panic of
// which on a damaged list is an error naming the stream.
func decodeRuns(p attribute, what string) (runs []*parser.Run, err error) {
	defer func() {
		if r := recover(); r != nil {
			runs, err = nil, corrupt(what, -1, "go-ntfs run list decoder failed: %v", r)
		}
	}()
	if p.runList == nil {
		return nil, corrupt(what, -1, "non-resident attribute without a run list")
	}
	return p.runList(), nil
}

// ReadAt reads the stream's bytes at off.
func (s *stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", s.what, off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > s.size-off {
		p, eof = p[:s.size-off], io.EOF
	}
	if s.resident != nil {
		copy(p, s.resident[off:])
		return len(p), eof
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		if pos >= s.init {
			clear(p[done:])
			break
		}
		buf := p[done:min(len(p), done+int(min(s.init-pos, 1<<30)))]
		n, err := s.readMapped(buf, pos)
		done += n
		if err != nil {
			return done, err
		}
	}
	return len(p), eof
}

// find returns the index of the extent holding VCN vcn, len(s.ext) when
// the runs end before it.
func (s *stream) find(vcn int64) int {
	return sort.Search(len(s.ext), func(i int) bool { return s.ext[i].vcn+s.ext[i].n > vcn })
}

// readMapped reads at pos, at most len(buf) bytes and at least one.
func (s *stream) readMapped(buf []byte, pos int64) (int, error) {
	if s.cu > 0 {
		unitBytes := s.cu * s.cs
		u := pos / unitBytes
		return s.readUnit(buf, u, pos-u*unitBytes)
	}
	vcn := pos / s.cs
	i := s.find(vcn)
	if i == len(s.ext) {
		clear(buf)
		return len(buf), nil
	}
	e := s.ext[i]
	within := pos - e.vcn*s.cs
	k := int(min(int64(len(buf)), e.n*s.cs-within))
	if e.lcn < 0 {
		clear(buf[:k])
		return k, nil
	}
	return k, s.readClusters(buf[:k], e.lcn*s.cs+within)
}

func (s *stream) readClusters(buf []byte, off int64) error {
	n, err := s.r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return corrupt(s.what, off, "data beyond the end of the volume's image")
	}
	return fmt.Errorf("%s: reading %d bytes at offset %#x: %w", s.what, len(buf), off, err)
}

// readUnit copies to buf the bytes of compression unit u from within,
// decompressed. A unit whose clusters are all allocated is stored as is;
// one with sparse clusters at its end holds LZNT1 data; one without
// clusters is zeros. The unit decompressed last is kept for the next read,
// and copied out under the lock (TestConcurrentReads caught a copy after
// it, racing with the next unit's decompression).
func (s *stream) readUnit(buf []byte, u, within int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unitNo == u {
		return copy(buf, s.unit[within:]), nil
	}
	unitBytes := s.cu * s.cs
	if s.unit == nil {
		s.unit = make([]byte, unitBytes)
	}
	s.unitNo = -1
	var data []extent
	var stored int64
	holes := false
	for vcn := u * s.cu; vcn < (u+1)*s.cu; {
		i := s.find(vcn)
		if i == len(s.ext) {
			holes = true
			break
		}
		e := s.ext[i]
		n := min(e.vcn+e.n, (u+1)*s.cu) - vcn
		if e.lcn < 0 {
			holes = true
		} else {
			data = append(data, extent{vcn: vcn, lcn: e.lcn + vcn - e.vcn, n: n})
			stored += n
		}
		vcn += n
	}
	switch {
	case stored == 0:
		clear(s.unit)
	case !holes:
		for _, e := range data {
			if err := s.readClusters(s.unit[(e.vcn-u*s.cu)*s.cs:][:e.n*s.cs], e.lcn*s.cs); err != nil {
				return 0, err
			}
		}
	default:
		comp := make([]byte, 0, stored*s.cs)
		for _, e := range data {
			b := comp[len(comp) : len(comp)+int(e.n*s.cs)]
			if err := s.readClusters(b, e.lcn*s.cs); err != nil {
				return 0, err
			}
			comp = comp[:len(comp)+len(b)]
		}
		if err := decompressUnit(s.unit, comp); err != nil {
			return 0, corrupt(s.what, data[0].lcn*s.cs, "compression unit %d: %v", u, err)
		}
	}
	s.unitNo = u
	return copy(buf, s.unit[within:]), nil
}

// decompressUnit decodes the LZNT1 chunks of a compression unit into dst.
// Each chunk (a 16-bit header: size-3 in the low 12 bits, bit 15 set when
// compressed) holds 4096 bytes of the unit; a chunk that decodes to less
// is followed by zeros, as Windows and ntfs-3g read it, and a zero header
// ends the unit.
func decompressUnit(dst, src []byte) error {
	clear(dst)
	for o, i := 0, 0; o < len(dst) && i+2 <= len(src); o += 4096 {
		h := binary.LittleEndian.Uint16(src[i:])
		if h == 0 {
			break
		}
		n := int(h&0xFFF) + 3
		if i+n > len(src) {
			return fmt.Errorf("chunk of %d bytes at %d beyond the %d stored", n, i, len(src))
		}
		out := src[i+2 : i+n]
		if h&0x8000 != 0 {
			var err error
			if out, err = lznt1Chunk(src[i : i+n]); err != nil {
				return fmt.Errorf("chunk at %d: %v", i, err)
			}
		}
		if len(out) > 4096 {
			return fmt.Errorf("chunk at %d decodes to %d bytes", i, len(out))
		}
		copy(dst[o:], out)
		i += n
	}
	return nil
}

// lznt1Chunk decodes one compressed chunk with the library, which panics
// on a chunk that ends inside a back-reference (FuzzDecompressUnit found
// it; the crasher is kept): the panic is an error here.
func lznt1Chunk(chunk []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("go-ntfs LZNT1 decoder failed: %v", p)
		}
	}()
	return parser.LZNT1Decompress(chunk)
}

// AllocationMap returns the byte ranges of the stream that hold clusters;
// sparse runs and the unwritten tail read as zeros.
func (s *stream) AllocationMap() (allocmap.Map, error) {
	var m allocmap.Map
	if s.resident != nil {
		return m.Add(allocmap.Range{Off: 0, Len: s.size}), nil
	}
	if s.cu > 0 {
		last := int64(-1)
		for _, e := range s.ext {
			if e.lcn < 0 {
				continue
			}
			for u := max(e.vcn/s.cu, last+1); u <= (e.vcn+e.n-1)/s.cu; u++ {
				m = m.Add(allocmap.Range{Off: u * s.cu * s.cs, Len: s.cu * s.cs})
				last = u
			}
		}
	} else {
		for _, e := range s.ext {
			if e.lcn >= 0 {
				m = m.Add(allocmap.Range{Off: e.vcn * s.cs, Len: e.n * s.cs})
			}
		}
	}
	return m.Clip(s.init), nil
}
