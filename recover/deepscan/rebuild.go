package deepscan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Recovered is one volume rebuilt from findings.
type Recovered struct {
	Origin    int64          `json:"origin"` // disk offset of the volume start
	Evidence  []string       `json:"evidence"`
	Label     string         `json:"label"`
	UUID      string         `json:"uuid"`
	Version   int            `json:"vmfs_version"`
	BlockSize int64          `json:"block_size"`
	Counts    map[string]int `json:"counts"` // entries by provenance
	// Missing is how many bytes the source lacks to hold the whole
	// volume (a truncated image); they read as zeros.
	Missing   int64    `json:"missing_bytes,omitempty"`
	Anomalies []string `json:"anomalies,omitempty"`
	Tree      *Tree    `json:"-"`

	fileStarts map[int64]bool // disk offsets where placed files begin
}

const (
	maxCandidates = 16
	maxTreeDepth  = 256
	minFDsForVote = 2
)

// Rebuild turns the findings of a complete scan of r into volumes. The
// files it returns read r through a sector-by-sector fallback, so that
// unreadable sectors read as zeros (Finding.Anomalies says which bytes).
func Rebuild(r io.ReaderAt, f *Findings) ([]*Recovered, error) {
	spans, _ := spannedVolumes([]io.ReaderAt{r}, []*Findings{f})
	return rebuild(r, f, &layout{bad: []allocmap.Map{f.BadRanges}, spans: spans[0]}), nil
}

// layout is what rebuild knows of the other sources scanned with this one.
type layout struct {
	src   int                  // index of this source
	bad   []allocmap.Map       // unreadable ranges of every source, by index
	spans map[int64]*placement // volumes spanned over several sources that start at an origin on this one
}

func rebuild(r io.ReaderAt, f *Findings, lay *layout) []*Recovered {
	r = zeroFill{r}
	var out []*Recovered
	for _, c := range candidates(f) {
		p := lay.spans[c.origin]
		if p == nil {
			p = single(lay.src, r, c.origin, f.Size)
			if c.logical > 0 && c.origin+c.logical > f.Size {
				p = truncated(lay.src, r, c.origin, c.logical, f.Size)
			}
		}
		rec, err := rebuildOne(f, c, p, lay.bad)
		if err != nil {
			continue // not enough survives at this origin to open anything
		}
		out = append(out, rec)
	}
	attachTexts(r, f, out)
	return out
}

// placement says where the bytes of a rebuilt volume lie: from origin on
// one source, or (span set) on the sources its LVM extents are on.
type placement struct {
	src     int         // the source whose scan found the volume's start
	origin  int64       // disk offset of volume byte 0 on it
	dev     vmfs.Device // the volume: a section of that source, or span
	span    *vmfs.Span  // when spanned: where each extent lies
	members []member    // span device i is members[i]
	notes   []string    // anomalies of the volume as a whole
	missing int64       // bytes of the volume past the end of a truncated source
}

// single places a volume on source src (read through r) from origin to
// the source's end.
func single(src int, r io.ReaderAt, origin, end int64, notes ...string) *placement {
	return &placement{src: src, origin: origin, dev: io.NewSectionReader(r, origin, end-origin), notes: notes}
}

// truncated places a volume of size bytes on source src from origin,
// when the source ends (at end) before the volume does: the bytes past
// the end read as zeros, and the placement says how many are missing.
func truncated(src int, r io.ReaderAt, origin, size, end int64) *placement {
	p := &placement{src: src, origin: origin, dev: io.NewSectionReader(padded{r, end}, origin, size)}
	p.missing = origin + size - end
	p.notes = append(p.notes, fmt.Sprintf("the source ends at byte %d, but the %d-byte volume from disk offset %d ends at byte %d: the image is truncated, %d bytes (%s) are missing and read as zeros",
		end, size, origin, origin+size, p.missing, textout.Bytes(p.missing)))
	return p
}

// padded reads r up to end and zeros past it.
type padded struct {
	r   io.ReaderAt
	end int64
}

func (p padded) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < p.end {
		var err error
		n, err = p.r.ReadAt(b[:min(int64(len(b)), p.end-off)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
	}
	clear(b[n:])
	return len(b), nil
}

// member is a device of a spanned volume: a source from a partition offset.
type member struct {
	src       int
	partition int64
}

// locate returns the source and disk offset of volume offset vol; ok is
// false when no scanned source holds it (an extent of a missing disk).
func (p *placement) locate(vol int64) (src int, disk int64, ok bool) {
	if p.span == nil {
		return p.src, p.origin + vol, true
	}
	dev, off, ok := p.span.Locate(vol)
	if !ok {
		return 0, 0, false
	}
	return p.members[dev].src, p.members[dev].partition + off, true
}

// candidate is a possible volume start with the evidence for it.
type candidate struct {
	origin   int64
	score    int
	evidence []string
	desc     *vmfs.Descriptor
	fds      []FDHit
	lvmMajor uint32 // of the LVM header that places the volume here, or 0
	logical  int64  // the volume's size by that header, or 0
}

func candidates(f *Findings) []*candidate {
	by := map[int64]*candidate{}
	get := func(o int64) *candidate {
		if by[o] == nil {
			by[o] = &candidate{origin: o}
		}
		return by[o]
	}
	for _, h := range f.LVM {
		if h.Origin >= 0 {
			c := get(h.Origin)
			c.score += 1000
			c.lvmMajor = h.Major
			if h.Logical > 0 && h.Logical <= maxVolume {
				c.logical = h.Logical
			}
			c.evidence = append(c.evidence, fmt.Sprintf("LVM%d header at disk offset %#x", h.Major, h.Partition+0x100000))
		}
	}
	for _, d := range f.Descriptors {
		c := get(d.Offset - 0x200000)
		c.score += 1000
		desc := d.Desc
		c.desc = &desc
		c.evidence = append(c.evidence, fmt.Sprintf("file-system descriptor at disk offset %#x", d.Offset))
	}
	for _, v := range f.Origins {
		if v.Votes >= 4 || by[v.Origin] != nil {
			c := get(v.Origin)
			c.score += v.Votes
			c.evidence = append(c.evidence, fmt.Sprintf("%d lock and heartbeat blocks recording their volume offset", v.Votes))
		}
	}
	for _, h := range f.FDs {
		if o := h.Origin(); o >= 0 {
			get(o).fds = append(get(o).fds, h)
		}
	}
	var list []*candidate
	for _, c := range by {
		if len(c.fds) >= minFDsForVote || c.desc != nil || c.score >= 1000 {
			c.score += len(c.fds)
			if len(c.fds) > 0 {
				c.evidence = append(c.evidence, fmt.Sprintf("%d file descriptors", len(c.fds)))
			}
			list = append(list, c)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].score > list[j].score })
	if len(list) > maxCandidates {
		list = list[:maxCandidates]
	}
	sort.Slice(list, func(i, j int) bool { return list[i].origin < list[j].origin })
	return list
}

// inferDescriptor rebuilds the fields a reader needs from the surviving
// descriptors when the file-system descriptor itself is gone: VMFS6 by
// the "fdmd" signature or an LVM6 header (lvmMajor), the block size from
// the system files (whose block size is the file block size), the
// sub-block size from directories.
func inferDescriptor(fds []FDHit, lvmMajor uint32) *vmfs.Descriptor {
	d := &vmfs.Descriptor{Magic: 0x2FABF15E, Major: 14, Minor: 81, SubBlockSize: 8 << 10, MDAlignment: 512, DiskBlockSize: 512}
	if lvmMajor >= 6 {
		d.Major, d.Minor, d.SubBlockSize, d.MDAlignment, d.LFBShift = 24, 82, 64<<10, 4096, 9
	}
	counts := map[int64]int{}
	for _, h := range fds {
		if h.VMFS6 {
			d.Major, d.Minor, d.SubBlockSize, d.MDAlignment, d.LFBShift = 24, 82, 64<<10, h.MDAlign, 9
		}
		if h.Type == "system" && h.BlockSize >= 1<<20 {
			counts[h.BlockSize] += 100
		} else if h.BlockSize >= 1<<20 {
			counts[h.BlockSize]++
		}
	}
	d.BlockSize = 1 << 20
	best := 0
	for bs, n := range counts {
		if n > best {
			d.BlockSize, best = bs, n
		}
	}
	for _, h := range fds {
		if h.Type == "directory" && !h.VMFS6 && h.BlockSize >= 512 && h.BlockSize < d.BlockSize {
			d.SubBlockSize = h.BlockSize
		}
	}
	return d
}

func rebuildOne(f *Findings, c *candidate, p *placement, bad []allocmap.Map) (*Recovered, error) {
	if p.dev.Size() <= 0x400000 {
		return nil, fmt.Errorf("origin %#x leaves no room for a volume", c.origin)
	}
	rec := vmfs.Recovery{FDs: map[uint32]int64{}}
	for _, h := range c.fds {
		if _, dup := rec.FDs[h.Addr]; !dup {
			rec.FDs[h.Addr] = h.SelfOffset
		}
	}
	rec.Descriptor = c.desc
	if rec.Descriptor == nil {
		rec.Descriptor = inferDescriptor(c.fds, c.lvmMajor)
	}
	vol, err := vmfs.OpenRecovered(p.dev, rec, vmfs.Options{Tolerant: true})
	if err != nil {
		return nil, err
	}
	d := vol.Descriptor()
	out := &Recovered{
		Origin: c.origin, Evidence: c.evidence, Label: d.Label, UUID: d.UUID.String(),
		Version: d.Version(), BlockSize: d.BlockSize, Anomalies: lines(vol.Anomalies()), Tree: newTree(),
		Missing: p.missing,
	}
	if p.span != nil {
		out.Evidence = append(out.Evidence, fmt.Sprintf("LVM volume spanned over %d scanned disks", len(p.members)))
	}
	out.Anomalies = append(out.Anomalies, p.notes...)
	b := &builder{vol: vol, tree: out.Tree, place: p, seen: map[int64]bool{}, dirPath: map[uint32]string{}, names: map[[2]uint32]NameHit{}, starts: map[int64]bool{}, bad: bad}
	if vol.HasRoot() {
		b.walkIntact(".", 0)
	} else {
		out.Anomalies = append(out.Anomalies, "root directory unreadable: every file found is listed under /lost+found")
	}
	for _, n := range f.Names {
		key := [2]uint32{n.FD, n.Generation}
		if _, ok := b.names[key]; !ok {
			b.names[key] = n
		}
	}
	b.addUnreached(c.fds)
	out.Counts = out.Tree.Count()
	out.fileStarts = b.starts
	out.Anomalies = append(out.Anomalies, b.anomalies...)
	return out, nil
}

type builder struct {
	vol       *vmfs.Volume
	tree      *Tree
	place     *placement
	seen      map[int64]bool         // descriptor volume offsets already placed
	dirPath   map[uint32]string      // directory descriptor address -> tree path
	starts    map[int64]bool         // disk offsets, on this source, of the first byte of placed files
	bad       []allocmap.Map         // unreadable ranges of every source
	names     map[[2]uint32]NameHit  // (fd, generation) -> a directory entry naming it
	inferred  map[int64]inferredName // descriptor volume offset -> a name from the files' content
	anomalies []string
}

func (b *builder) finding(kind string, conf float64, a *vmfs.Attributes) *Finding {
	_, disk, _ := b.place.locate(a.VolumeOff)
	return &Finding{Kind: kind, Confidence: conf, VMFS: a, DiskOffset: disk}
}

// walkIntact adds everything the root directory still reaches.
func (b *builder) walkIntact(dir string, depth int) {
	if depth > maxTreeDepth {
		return
	}
	f, err := b.vol.Open(dir)
	if err != nil {
		b.anomalies = append(b.anomalies, fmt.Sprintf("/%s: %v", dir, err))
		return
	}
	vf := f.(*vmfs.File)
	a := vf.Attributes()
	b.seen[a.VolumeOff] = true
	b.dirPath[a.FD] = dir
	if slack, err := vf.SlackRecords(); err == nil {
		for _, s := range slack {
			key := [2]uint32{s.FD, s.Generation}
			if _, ok := b.names[key]; !ok {
				b.names[key] = NameHit{Dir: a.FD, FD: s.FD, Generation: s.Generation, Name: s.Name}
			}
		}
	}
	ents, err := b.vol.ReadDir(dir)
	if err != nil {
		b.anomalies = append(b.anomalies, fmt.Sprintf("/%s: %v", dir, err))
		return
	}
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		info, err := b.vol.Lstat(p)
		if err != nil {
			b.anomalies = append(b.anomalies, fmt.Sprintf("/%s: %v", p, err))
			continue
		}
		a := info.Sys().(*vmfs.Attributes)
		if b.seen[a.VolumeOff] && info.IsDir() {
			continue // a directory loop
		}
		n := &tnode{name: e.Name(), mode: info.Mode(), size: info.Size(), mtime: info.ModTime(), finding: b.finding(Intact, 1, a)}
		switch {
		case info.IsDir():
			n.children = map[string]*tnode{}
		case info.Mode()&fs.ModeSymlink != 0:
			n.target, _ = b.vol.ReadLink(p)
		default:
			if file, err := b.vol.OpenFD(a.FD, e.Name()); err == nil {
				b.attach(n, file)
			}
		}
		b.tree.add(dir, n)
		b.seen[a.VolumeOff] = true
		if info.IsDir() {
			b.walkIntact(p, depth+1)
		}
	}
}

// attach makes file the content of n. It records where the file's data
// begins on the disk, so that a text the scan found there is not listed
// again as carved, and names the parts of the file that lay in unreadable
// ranges of a source, or on a disk of a spanned volume that was not
// scanned (both read as zeros).
func (b *builder) attach(n *tnode, f *vmfs.File) {
	n.data = f
	if f.Size() == 0 {
		return
	}
	if vol, hole, err := f.Locate(0); err == nil && !hole {
		if src, disk, ok := b.place.locate(vol); ok && src == b.place.src {
			b.starts[disk] = true
		}
	}
	anyBad := false
	for _, m := range b.bad {
		anyBad = anyBad || len(m) > 0
	}
	if !anyBad && (b.place.span == nil || len(b.place.span.Anomalies) == 0) {
		return
	}
	var lost, missing allocmap.Map
	whole, err := f.EachBlock(func(off, n, vol int64) {
		part := allocmap.Range{Off: off, Len: n}
		src, disk, ok := b.place.locate(vol)
		switch {
		case !ok:
			missing = missing.Add(part)
		case src < len(b.bad):
			// Only the sectors that were unreadable, not the whole block.
			for _, r := range b.bad[src].Window(disk, n) {
				lost = lost.Add(allocmap.Range{Off: off + r.Off, Len: r.Len})
			}
		}
	})
	if err != nil || !whole {
		n.finding.Anomalies = append(n.finding.Anomalies, "not every block was checked against unreadable or missing ranges")
	}
	n.finding.lost = lost
	for _, r := range lost {
		n.finding.Anomalies = append(n.finding.Anomalies, unreadable(r))
	}
	for _, r := range missing {
		n.finding.Anomalies = append(n.finding.Anomalies,
			fmt.Sprintf("bytes %d-%d lie on a disk of the spanned volume that was not scanned, and read as zeros", r.Off, r.End()))
	}
	if len(lost)+len(missing) > 0 {
		n.finding.Confidence /= 2
	}
}

// unreadable is the anomaly of a file's range r that lay in unreadable
// sectors of the source.
func unreadable(r allocmap.Range) string {
	return fmt.Sprintf("bytes %d-%d lay in unreadable sectors of the source and read as zeros", r.Off, r.End())
}

// addUnreached places every found descriptor of this volume that the
// intact tree does not reach: directories first, so that their entries
// land inside them.
func (b *builder) addUnreached(fds []FDHit) {
	sort.SliceStable(fds, func(i, j int) bool { return fds[i].Type == "directory" && fds[j].Type != "directory" })
	b.inferred = b.inferNames(fds)
	for _, h := range fds {
		if b.seen[h.SelfOffset] || h.Type == "system" || h.Type == "volume" || h.Type == "invalid" {
			continue
		}
		file, err := b.vol.OpenFDAt(h.SelfOffset, fmt.Sprintf("fd-%#08x", h.Addr))
		if err != nil {
			b.anomalies = append(b.anomalies, fmt.Sprintf("descriptor at disk offset %#x: %v", h.Offset, err))
			continue
		}
		kind, conf := b.classify(h)
		name, dir := b.nameFor(h, kind)
		b.placeFile(file, name, dir, kind, conf, 0)
	}
}

// classify tells a deleted descriptor (free in the bitmap, or a stale copy
// from an earlier format at a place .fdc.sf no longer gives its address)
// from an orphan (allocated, but no directory reaches it).
func (b *builder) classify(h FDHit) (string, float64) {
	if loc, err := b.vol.FDLocation(h.Addr); err == nil && loc != h.SelfOffset {
		return Deleted, 0.4
	}
	if alloc, err := b.vol.FDAllocated(h.Addr); err == nil && !alloc {
		return Deleted, 0.6
	}
	return Orphan, 0.8
}

// nameFor picks the entry's name and directory: a deleted file goes back
// to its directory when an entry still names it and that directory is
// known; everything else goes under /lost+found/<kind>.
func (b *builder) nameFor(h FDHit, kind string) (name, dir string) {
	name = fmt.Sprintf("fd-%#08x", h.Addr)
	parent := h.ParentFD
	if n, ok := b.names[[2]uint32{h.Addr, h.Generation}]; ok {
		name = n.Name
		parent = n.Dir
	} else if n, ok := b.inferred[h.SelfOffset]; ok {
		name = n.name
	}
	if p, ok := b.dirPath[parent]; ok && kind == Deleted && parent != 0 {
		return name, p
	}
	if name != fmt.Sprintf("fd-%#08x", h.Addr) {
		name = fmt.Sprintf("fd-%#08x-%s", h.Addr, name)
	}
	return name, path.Join("lost+found", kind)
}

func (b *builder) placeFile(file *vmfs.File, name, dir, kind string, conf float64, depth int) {
	a := file.Attributes()
	if b.seen[a.VolumeOff] || depth > maxTreeDepth {
		return
	}
	b.seen[a.VolumeOff] = true
	info, _ := file.Stat()
	n := &tnode{name: name, mode: info.Mode(), size: a.Size, mtime: a.MTime, finding: b.finding(kind, conf, a)}
	if in, ok := b.inferred[a.VolumeOff]; ok {
		n.finding.NameFrom = in.from
	}
	switch {
	case info.IsDir():
		n.children = map[string]*tnode{}
	case info.Mode()&fs.ModeSymlink != 0:
		buf := make([]byte, min(a.Size, 4096))
		k, _ := file.ReadAt(buf, 0)
		n.target = string(buf[:k])
	default:
		b.attach(n, file)
	}
	p := b.tree.add(dir, n)
	if !info.IsDir() {
		return
	}
	b.dirPath[a.FD] = p
	recs, err := file.Records()
	if err != nil {
		n.finding.Anomalies = append(n.finding.Anomalies, "entries unreadable: "+err.Error())
		return
	}
	for _, r := range recs {
		child, err := b.vol.OpenFD(r.FD, r.Name)
		if err != nil {
			n.finding.Anomalies = append(n.finding.Anomalies, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		b.placeFile(child, r.Name, p, kind, conf, depth+1)
	}
}

// attachTexts adds carved VMDK descriptors and .vmx files under /carved of
// the volume whose range holds them (the first volume for the others).
func attachTexts(r io.ReaderAt, f *Findings, vols []*Recovered) {
	if len(vols) == 0 {
		return
	}
	for _, t := range f.Texts {
		if placed(vols, t.Offset) {
			continue // the start of a file already listed
		}
		target := vols[0]
		for _, v := range vols {
			if t.Offset >= v.Origin {
				target = v
			}
		}
		ext := ".vmdk"
		if t.Kind == "vmx" {
			ext = ".vmx"
		}
		name := fmt.Sprintf("%#x%s", t.Offset, ext)
		if t.Name != "" {
			name = fmt.Sprintf("%#x-%s", t.Offset, strings.TrimSuffix(t.Name, ext)+ext)
		}
		target.Tree.add("carved", &tnode{
			name: name, mode: 0o644, size: t.Length, data: sectionContent{io.NewSectionReader(r, t.Offset, t.Length)},
			finding: &Finding{Kind: Carved, Confidence: 0.5, DiskOffset: t.Offset},
		})
		target.Counts[Carved]++
	}
}

func placed(vols []*Recovered, off int64) bool {
	for _, v := range vols {
		if v.fileStarts[off] {
			return true
		}
	}
	return false
}

// zeroFill reads through r; when a read fails it reads again sector by
// sector, and sectors that still fail read as zeros.
type zeroFill struct{ r io.ReaderAt }

func (z zeroFill) ReadAt(p []byte, off int64) (int, error) {
	n, err := z.r.ReadAt(p, off)
	if err == nil || errors.Is(err, io.EOF) {
		return n, err
	}
	for s := 0; s < len(p); s += 512 {
		part := p[s:min(s+512, len(p))]
		k, err := z.r.ReadAt(part, off+int64(s))
		switch {
		case err == nil || k == len(part):
		case errors.Is(err, io.EOF):
			clear(part[k:])
			return s + k, io.EOF
		default:
			clear(part) // unreadable: zeros, as the scan recorded
		}
	}
	return len(p), nil
}

// lines splits anomalies that hold several lines (joined errors) into
// one per line, so that each prints as one.
func lines(anomalies []string) []string {
	var out []string
	for _, a := range anomalies {
		out = append(out, strings.Split(a, "\n")...)
	}
	return out
}

// Empty says whether nothing at all was recovered from the volume.
func (r *Recovered) Empty() bool {
	for _, n := range r.Counts {
		if n > 0 {
			return false
		}
	}
	return true
}
