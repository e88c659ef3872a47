package vmfs

import "sort"

// Span is the logical volume that the devices of one LVM volume make
// together, assembled as Open does but without reading the file system on
// it: a deep scan's rebuild of a damaged spanned volume opens it with
// OpenRecovered.
type Span struct {
	lv *logicalVolume
	// Anomalies name the volume ranges no given device holds; they read
	// as zeros.
	Anomalies []string
}

// Assemble reads the LVM header of each device (a partition that starts
// with it) and assembles their volume; they must all belong to one.
// Extents of no given device read as zeros (see Span.Locate).
func Assemble(devs []Device) (*Span, error) {
	lv, _, anomalies, err := assembleDevices(devs, true)
	if err != nil {
		return nil, err
	}
	return &Span{lv: lv, Anomalies: anomalies}, nil
}

func (s *Span) ReadAt(p []byte, off int64) (int, error) { return s.lv.ReadAt(p, off) }
func (s *Span) Size() int64                             { return s.lv.size }

// Locate tells where volume offset vol lies: the index of its device in
// the slice given to Assemble and the offset on it, and how many bytes
// from vol on lie there contiguously. ok is false when no given device
// holds vol (a missing extent, or past the end).
func (s *Span) Locate(vol int64) (dev int, off, run int64, ok bool) {
	segs := s.lv.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].logical+segs[i].length > vol })
	if vol < 0 || i == len(segs) || segs[i].dev == nil {
		return 0, 0, 0, false
	}
	g := segs[i]
	return g.devIndex, g.physical + vol - g.logical, g.logical + g.length - vol, true
}
