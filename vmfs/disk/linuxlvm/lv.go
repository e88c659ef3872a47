package linuxlvm

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// LV is a logical volume. It reads as an io.ReaderAt over its segments;
// ReadAt fails on a range held by a missing PV (ErrMissingPV, naming the
// PV) and on a volume of a kind this package does not read
// (ErrUnsupported); Tolerant reads such ranges as zeros.
type LV struct {
	Name string
	UUID string
	Size int64 // bytes it reads: a snapshot's is its origin's
	// StoreSize is the size of a snapshot's exception store (what lvs
	// shows as a snapshot's size).
	StoreSize int64
	// Type is "linear", "striped", "snapshot", or the LVM segment type of
	// a volume that cannot be read ("thin", "thin-pool", "raid1",
	// "mirror", "cache"...).
	Type string
	// Origin is the LV a snapshot was taken of.
	Origin string
	// Unsupported says why the volume cannot be read; nil when it can.
	Unsupported error
	// MissingPVs names the missing PVs that hold some of the volume's
	// extents (for a snapshot, of its origin's or its exception store's).
	MissingPVs []string

	vg   *VG
	segs []segment
	snap *snapshot
}

// segment is a run of the LV's extents: striped (or linear: one stripe)
// over PVs, or zeros.
type segment struct {
	start, count int64 // in extents of the LV
	zero         bool
	stripeSize   int64 // bytes; 0 for one stripe
	stripes      []stripe
}

type stripe struct {
	pv    *PV
	start int64 // first extent on the PV
}

// segment types read as a run of extents.
const (
	segStriped = "striped"
	segZero    = "zero"
	segSnap    = "snapshot"
)

func buildLVs(vg *VG, s *section, pvs map[string]*PV) ([]*LV, error) {
	sec := s.sub("logical_volumes")
	if sec == nil {
		return nil, nil
	}
	all := map[string]*LV{}
	var snaps []*section // the hidden LVs of type snapshot, by segment
	var visible []*LV
	for _, ls := range sec.subs {
		lv, snapSeg, err := buildLV(vg, ls, pvs)
		if err != nil {
			return nil, err
		}
		all[lv.Name] = lv
		switch {
		case snapSeg != nil:
			snaps = append(snaps, snapSeg)
		case ls.flag("status", "VISIBLE"):
			visible = append(visible, lv)
		}
	}
	// A snapshot is two LVs in the metadata: its exception store (hidden,
	// named as the user named the snapshot) and an LV of type snapshot
	// (snapshot0) that ties the store to its origin. It is listed under
	// the store's name, with the origin's size.
	for _, seg := range snaps {
		origin, _ := seg.str("origin")
		store, _ := seg.str("cow_store")
		chunk, _ := seg.int("chunk_size")
		count, _ := seg.int("extent_count")
		o, c := all[origin], all[store]
		if o == nil || c == nil {
			vg.Warnings = append(vg.Warnings, fmt.Sprintf("snapshot of %q with store %q: one of them is not in the metadata", origin, store))
			continue
		}
		lv := &LV{Name: c.Name, UUID: c.UUID, Type: segSnap, Origin: origin, Size: count * vg.ExtentSize, StoreSize: c.Size, vg: vg}
		lv.snap = &snapshot{origin: o, store: c, chunkSize: chunk * sectorSize}
		lv.MissingPVs = mergeNames(o.MissingPVs, c.MissingPVs)
		switch {
		case o.Unsupported != nil:
			lv.Unsupported = fmt.Errorf("origin %s: %w", origin, o.Unsupported)
		case c.Unsupported != nil:
			lv.Unsupported = fmt.Errorf("exception store %s: %w", store, c.Unsupported)
		case chunk <= 0 || chunk&(chunk-1) != 0 || chunk > 1<<20:
			lv.Unsupported = &ondisk.FormatError{Struct: "LVM metadata of " + vg.Name + "/" + store, Off: -1, Msg: fmt.Sprintf("snapshot chunk size %d sectors", chunk), Err: ErrCorrupt}
		case lv.Size > o.Size:
			lv.Unsupported = &ondisk.FormatError{Struct: "LVM metadata of " + vg.Name + "/" + store, Off: -1, Msg: fmt.Sprintf("snapshot of %d bytes of an origin of %d", lv.Size, o.Size), Err: ErrCorrupt}
		}
		visible = append(visible, lv)
	}
	sort.Slice(visible, func(i, j int) bool { return visible[i].Name < visible[j].Name })
	return visible, nil
}

func mergeNames(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// buildLV decodes one LV section. An LV of type snapshot returns its
// segment, which buildLVs ties to the store and the origin.
func buildLV(vg *VG, ls *section, pvs map[string]*PV) (*LV, *section, error) {
	where := "LVM metadata of " + vg.Name + "/" + ls.name
	bad := func(format string, args ...any) error {
		return &ondisk.FormatError{Struct: where, Off: -1, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
	}
	id, _ := ls.str("id")
	lv := &LV{Name: ls.name, UUID: printUUID(id), vg: vg}
	n, _ := ls.int("segment_count")
	if n < 1 || n > int64(len(ls.subs)) {
		return nil, nil, bad("segment_count %d with %d sections", n, len(ls.subs))
	}
	var next int64 // extents
	types := map[string]bool{}
	for i := int64(1); i <= n; i++ {
		ss := ls.sub(fmt.Sprintf("segment%d", i))
		if ss == nil {
			return nil, nil, bad("segment%d missing", i)
		}
		typ, _ := ss.str("type")
		start, _ := ss.int("start_extent")
		count, _ := ss.int("extent_count")
		if start != next || count <= 0 || count > 1<<40 {
			return nil, nil, bad("segment%d: extents %d+%d after %d", i, start, count, next)
		}
		next += count
		types[typ] = true
		seg := segment{start: start, count: count}
		switch typ {
		case segSnap:
			if n != 1 {
				return nil, nil, bad("snapshot with %d segments", n)
			}
			return lv, ss, nil
		case segZero:
			seg.zero = true
		case segStriped:
			if err := stripes(&seg, ss, pvs, vg, lv, bad); err != nil {
				return nil, nil, err
			}
		default:
			lv.Unsupported = fmt.Errorf("LV %s/%s: segment type %q: %w", vg.Name, ls.name, typ, ErrUnsupported)
		}
		lv.segs = append(lv.segs, seg)
	}
	if next > (1<<62)/vg.ExtentSize {
		return nil, nil, bad("%d extents", next)
	}
	lv.Size = next * vg.ExtentSize
	lv.Type = "linear"
	for typ := range types {
		if typ != segStriped && typ != segZero {
			lv.Type = typ
		}
	}
	for _, seg := range lv.segs {
		if len(seg.stripes) > 1 && lv.Type == "linear" {
			lv.Type = segStriped
		}
	}
	return lv, nil, nil
}

func stripes(seg *segment, ss *section, pvs map[string]*PV, vg *VG, lv *LV, bad func(string, ...any) error) error {
	n, _ := ss.int("stripe_count")
	list := ss.list("stripes")
	if n < 1 || int64(len(list)) != 2*n || seg.count%n != 0 {
		return bad("%d stripes listed for stripe_count %d over %d extents", len(list)/2, n, seg.count)
	}
	if n > 1 {
		size, _ := ss.int("stripe_size")
		if size <= 0 || size&(size-1) != 0 || size*sectorSize > vg.ExtentSize {
			return bad("stripe size %d sectors", size)
		}
		seg.stripeSize = size * sectorSize
	}
	per := seg.count / n
	for i := 0; i < len(list); i += 2 {
		name, _ := list[i].(string)
		start, _ := list[i+1].(int64)
		pv := pvs[name]
		if pv == nil {
			return bad("stripe on %q, which is not a PV of the group", name)
		}
		if start < 0 || start+per > pv.PECount {
			return bad("extents %d+%d on %s, which has %d", start, per, name, pv.PECount)
		}
		if pv.Device == nil && !slices.Contains(lv.MissingPVs, pv.Name) {
			lv.MissingPVs = append(lv.MissingPVs, pv.Name)
		}
		seg.stripes = append(seg.stripes, stripe{pv, start})
	}
	return nil
}

// ReadAt reads the volume.
func (lv *LV) ReadAt(p []byte, off int64) (int, error) { return lv.read(p, off, false) }

// Tolerant returns a reader of the volume that reads the ranges of
// missing PVs as zeros (MissingPVs names them).
func (lv *LV) Tolerant() io.ReaderAt { return tolerant{lv} }

type tolerant struct{ lv *LV }

func (t tolerant) ReadAt(p []byte, off int64) (int, error) { return t.lv.read(p, off, true) }

func (lv *LV) read(p []byte, off int64, zeroMissing bool) (int, error) {
	if lv.Unsupported != nil {
		return 0, lv.Unsupported
	}
	if off < 0 {
		return 0, fmt.Errorf("LV %s: negative offset %d", lv.Name, off)
	}
	if off >= lv.Size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > lv.Size-off {
		p = p[:lv.Size-off]
	}
	var n int
	var err error
	if lv.snap != nil {
		n, err = lv.snap.read(p, off, zeroMissing)
	} else {
		n, err = lv.readSegments(p, off, zeroMissing)
	}
	if err == nil && n < want {
		err = io.EOF
	}
	return n, err
}

func (lv *LV) readSegments(p []byte, off int64, zeroMissing bool) (int, error) {
	ext := lv.vg.ExtentSize
	n := 0
	for n < len(p) {
		at := off + int64(n)
		i := sort.Search(len(lv.segs), func(i int) bool { return (lv.segs[i].start+lv.segs[i].count)*ext > at })
		seg := &lv.segs[i]
		in := at - seg.start*ext // byte offset in the segment
		end := (seg.start + seg.count) * ext
		chunk := min(int64(len(p)-n), end-at)
		var st stripe
		var pvOff int64
		if seg.zero {
			clear(p[n : n+int(chunk)])
			n += int(chunk)
			continue
		}
		if len(seg.stripes) == 1 {
			st = seg.stripes[0]
			pvOff = in
		} else {
			k := int64(len(seg.stripes))
			unit := in / seg.stripeSize
			st = seg.stripes[unit%k]
			pvOff = (unit/k)*seg.stripeSize + in%seg.stripeSize
			chunk = min(chunk, seg.stripeSize-in%seg.stripeSize)
		}
		dev := st.pv.Device
		if dev == nil {
			if !zeroMissing {
				return n, fmt.Errorf("LV %s/%s, byte %d: %w: %s (UUID %s, last on %s)", lv.vg.Name, lv.Name, at, ErrMissingPV, st.pv.Name, st.pv.UUID, st.pv.LastDevice)
			}
			clear(p[n : n+int(chunk)])
			n += int(chunk)
			continue
		}
		devOff := st.pv.PEStart + st.start*ext + pvOff
		m, err := dev.R.ReadAt(p[n:n+int(chunk)], devOff)
		n += m
		if err != nil && !(errors.Is(err, io.EOF) && int64(m) == chunk) {
			return n, fmt.Errorf("LV %s/%s, byte %d: %s at byte %d: %w", lv.vg.Name, lv.Name, at, dev.Name, devOff+int64(m), err)
		}
	}
	return n, nil
}

// String names the volume as LVM does: VG/LV.
func (lv *LV) String() string { return lv.vg.Name + "/" + lv.Name }

// snapshot reads a snapshot: its origin, except for the chunks changed
// since it was taken, whose old content the exception store keeps.
type snapshot struct {
	origin, store *LV
	// chunkSize is the metadata's until the store's own header, which
	// wins as in the kernel, is read.
	chunkSize  int64
	once       sync.Once
	exceptions map[int64]int64 // origin chunk -> store chunk
	err        error
}

func (s *snapshot) read(p []byte, off int64, zeroMissing bool) (int, error) {
	// The exceptions are read strictly even for a tolerant read: a store
	// read as zeros would look like a snapshot without changes.
	s.once.Do(func() { s.exceptions, s.chunkSize, s.err = readExceptions(s.store, s.origin.Size, s.chunkSize) })
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		chunk := min(int64(len(p)-n), s.chunkSize-at%s.chunkSize)
		var m int
		var err error
		if to, ok := s.exceptions[at/s.chunkSize]; ok {
			m, err = s.store.read(p[n:n+int(chunk)], to*s.chunkSize+at%s.chunkSize, zeroMissing)
		} else {
			m, err = s.origin.read(p[n:n+int(chunk)], at, zeroMissing)
		}
		n += m
		if err != nil && !(err == io.EOF && int64(m) == chunk) {
			return n, err
		}
	}
	return n, nil
}
