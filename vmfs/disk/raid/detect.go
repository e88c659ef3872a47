package raid

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// DetectOptions steer Detect.
type DetectOptions struct {
	// Given, when not nil, holds what the user already knows (a parsed
	// spec): a level, layout, chunk or offset set in it is not searched. Members, when as many as the
	// members passed (counting "missing" entries), fix the slot order:
	// Members[i] names the i-th member passed, in slot order.
	Given *Spec
	// Scorers judge candidate assemblies; nil means DefaultScorers.
	Scorers []Scorer
	// Sample bounds the bytes read from each member (default 64 MiB).
	Sample int64
	// Keep is how many candidates to return (default 10).
	Keep int
}

// Candidate is one geometry detection considered.
type Candidate struct {
	Geometry Geometry
	// Order[slot] is the index of the member (as passed to Detect) in that
	// slot, or -1 for a missing member.
	Order   []int
	Score   int
	Reasons []string
}

// Detection is what Detect found, best candidate first.
type Detection struct {
	// From says how: "md 1.2 superblock", "DDF", or "search".
	From       string
	Candidates []Candidate
}

// ErrNotDetected: neither metadata nor the search found an array.
var ErrNotDetected = errors.New("raid: no array detected")

// maxSearchMembers bounds the order search: 8 members are 40,320 orders.
const maxSearchMembers = 8

// Spec writes the best candidate as a spec naming the members by names
// (indexed as the members passed to Detect).
func (d *Detection) Spec(names []string) Spec {
	c := d.Candidates[0]
	ms := make([]string, len(c.Order))
	for i, k := range c.Order {
		ms[i] = Missing
		if k >= 0 {
			ms[i] = names[k]
		}
	}
	return SpecOf(c.Geometry, ms)
}

// Assemble builds the array of the best candidate over members.
func (d *Detection) Assemble(members []Member) (*Array, error) {
	c := d.Candidates[0]
	slots := make([]Member, len(c.Order))
	for i, k := range c.Order {
		if k >= 0 {
			slots[i] = members[k]
		}
	}
	return New(c.Geometry, slots)
}

// Detect finds how members form an array: from md superblocks when they
// have them, else from DDF records, else by searching geometries and scoring each assembly.
func Detect(members []Member, opts DetectOptions) (*Detection, error) {
	if len(members) == 0 {
		return nil, fmt.Errorf("%w: no members", ErrNotDetected)
	}
	if opts.Sample <= 0 {
		opts.Sample = 64 << 20
	}
	if opts.Keep <= 0 {
		opts.Keep = 10
	}
	if opts.Scorers == nil {
		opts.Scorers = DefaultScorers()
	}
	if opts.Given == nil {
		opts.Given = &Spec{Layout: LayoutUnknown, Offset: -1}
	}
	for _, read := range []func(Member) (memberMeta, bool){mdMeta, ddfMeta} {
		if d := fromMetadata(members, *opts.Given, read); d != nil {
			return d, nil
		}
	}
	s := &search{opts: opts}
	for _, m := range members {
		s.members = append(s.members, newSampled(m, opts.Sample))
	}
	return s.run()
}

// memberMeta is what one member's metadata says: the array it belongs
// to (key), its slot, and the array's geometry.
type memberMeta struct {
	key     string
	slot    int
	members int
	events  uint64
	g       Geometry
	what    string // "md 1.2 superblock", "DDF"
}

// mdMeta reads a member's md superblock.
func mdMeta(m Member) (memberMeta, bool) {
	sb, err := ReadMDSuper(m, m.Size())
	if err != nil || sb.Slot < 0 {
		return memberMeta{}, false
	}
	return memberMeta{key: string(sb.UUID[:]), slot: sb.Slot, members: sb.Members, events: sb.Events, g: sb.Geometry(),
		what: "md " + sb.Version + " superblock"}, true
}

// ddfMeta reads a member's DDF records.
func ddfMeta(m Member) (memberMeta, bool) {
	d, err := ReadDDF(m, m.Size())
	if err != nil || d.Slot < 0 {
		return memberMeta{}, false
	}
	return memberMeta{key: string(d.VDGUID[:]), slot: d.Slot, members: d.Members, g: d.Geometry(), what: "DDF"}, true
}

// fromMetadata assembles from what read says of each member: the array
// with the most members (the newest by events among equals), each member
// in the slot its metadata names. What Given sets overrides it.
func fromMetadata(members []Member, given Spec, read func(Member) (memberMeta, bool)) *Detection {
	type set struct {
		meta  memberMeta
		order []int
		count int
	}
	var sets []*set
	for i, m := range members {
		mm, ok := read(m)
		if !ok {
			continue
		}
		k := slices.IndexFunc(sets, func(s *set) bool { return s.meta.key == mm.key })
		if k < 0 {
			st := &set{meta: mm, order: slices.Repeat([]int{-1}, mm.members)}
			sets, k = append(sets, st), len(sets)
		}
		st := sets[k]
		if mm.slot < len(st.order) && st.order[mm.slot] < 0 {
			st.order[mm.slot] = i
			st.count++
		}
		if mm.events > st.meta.events {
			st.meta = mm
		}
	}
	var best *set
	for _, s := range sets {
		if best == nil || s.count > best.count || s.count == best.count && s.meta.events > best.meta.events {
			best = s
		}
	}
	if best == nil {
		return nil
	}
	g := applyGiven(best.meta.g, given)
	return &Detection{From: best.meta.what, Candidates: []Candidate{{
		Geometry: g, Order: best.order, Score: 1000,
		Reasons: []string{fmt.Sprintf("%s: %s, %d of %d members", best.meta.what, g.Level, best.count, len(best.order))},
	}}}
}

func applyGiven(g Geometry, s Spec) Geometry {
	if s.Level != LevelUnknown {
		g.Level = s.Level
	}
	if s.Layout != LayoutUnknown {
		g.Layout = s.Layout
	}
	if s.Chunk != 0 {
		g.Chunk = s.Chunk
	}
	if s.Offset >= 0 {
		g.Offset = s.Offset
	}
	if s.Size > 0 {
		g.Size = s.Size
	}
	return g
}

type search struct {
	opts    DetectOptions
	members []*sampled
	cands   []Candidate
	// complete: the members XOR to zero, so no RAID 5 member is missing.
	complete bool
}

func (s *search) run() (*Detection, error) {
	given := s.opts.Given
	levels := s.levels()
	offsets := []int64{given.Offset}
	if given.Offset < 0 {
		offsets = s.offsets()
	}
	for _, level := range levels {
		layouts := []Layout{LayoutUnknown}
		if level.parity() > 0 || level == RAID10 {
			layouts = Layouts(level)
			if given.Layout != LayoutUnknown {
				layouts = []Layout{given.Layout}
			}
		}
		chunks := []int64{0}
		if level.striped() {
			chunks = []int64{64 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20}
			if given.Chunk != 0 {
				chunks = []int64{given.Chunk}
			}
		}
		for _, slots := range s.slotCounts(level) {
			if slots < level.minMembers() {
				continue
			}
			for _, order := range s.orders(slots) {
				for _, lay := range layouts {
					for _, ch := range chunks {
						for _, off := range offsets {
							s.score(Geometry{Level: level, Layout: lay, Chunk: ch, Offset: off, Size: given.Size}, order)
						}
					}
				}
			}
		}
	}
	if len(s.cands) == 0 || s.cands[0].Score == 0 {
		return nil, fmt.Errorf("%w: no candidate geometry shows a partition table or a VMFS volume", ErrNotDetected)
	}
	return &Detection{From: "search", Candidates: s.cands}, nil
}

// score assembles one candidate and keeps it if it ranks.
func (s *search) score(g Geometry, order []int) {
	slots := make([]Member, len(order))
	for i, k := range order {
		if k >= 0 {
			slots[i] = s.members[k]
		}
	}
	a, err := New(g, slots)
	if err != nil {
		return
	}
	c := Candidate{Geometry: g, Order: append([]int(nil), order...)}
	for _, sc := range s.opts.Scorers {
		if p, why := sc.Score(a, a.Size()); p > 0 {
			c.Score += p
			c.Reasons = append(c.Reasons, why)
		}
	}
	missing := 0
	for _, k := range order {
		if k < 0 {
			missing++
		}
	}
	if g.Level.parity() > 0 && c.Score > 0 && missing == 0 {
		p, why := parityScore(a)
		c.Score += p
		if why != "" {
			c.Reasons = append(c.Reasons, why)
		}
	}
	if g.Level == RAID10 && c.Score > 0 {
		p, why := mirrorScore(a)
		c.Score += p
		if why != "" {
			c.Reasons = append(c.Reasons, why)
		}
	}
	// Among readings that agree, the one that needs no missing member
	// wins: RAID 0 also reads as RAID 5 parity-last short of its parity.
	c.Score -= missing
	if c.Score == 0 {
		return
	}
	// Keep the best, the earlier (more common) geometry first among equals.
	i := sort.Search(len(s.cands), func(i int) bool { return s.cands[i].Score < c.Score })
	if i >= s.opts.Keep {
		return
	}
	s.cands = append(s.cands, Candidate{})
	copy(s.cands[i+1:], s.cands[i:])
	s.cands[i] = c
	if len(s.cands) > s.opts.Keep {
		s.cands = s.cands[:s.opts.Keep]
	}
}

// parityScore checks parity on the first rows that hold data: 2 points
// per row that checks, minus 5 per row that does not. RAID 6's Q depends
// on member order, layout and chunk size; RAID 5's P only tells RAID 5
// from arrays whose members do not XOR to zero. A RAID 5 row whose data
// is zero but for one chunk checks because its "parity" is a copy of that
// chunk: that is what a mirror looks like too (RAID 10 short of a member
// reads as RAID 5 over its survivors), so such rows count for nothing and
// the search looks further for rows where P is a real XOR of several
// chunks. Reading a mirror as RAID 5 reads the same while every member
// reads, but would "rebuild" an unreadable range from the copy as if it
// were parity.
func parityScore(a *Array) (int, string) {
	ok, bad, copies := 0, 0, 0
	rowBytes := a.g.Chunk * int64(len(a.members)-a.g.Level.parity())
	for r := int64(0); r < 64 && ok+bad < 8 && (r+1)*rowBytes <= a.size; r++ {
		data, used := a.rowNonZero(r)
		if !used {
			continue
		}
		ms, err := a.checkParity(r*rowBytes, rowBytes, 4096)
		if err != nil {
			break
		}
		switch {
		case len(ms) > 0:
			bad++
		case data == 1 && a.g.Level == RAID5:
			copies++
		default:
			ok++
		}
	}
	a.mismatches.Store(0)
	if ok+bad+copies == 0 {
		return 0, ""
	}
	why := fmt.Sprintf("parity checks on %d of %d rows", ok, ok+bad)
	if copies > 0 {
		why += fmt.Sprintf(" (and copies a lone data chunk on %d, as a mirror would)", copies)
	}
	return 2*ok - 5*bad, why
}

// mirrorScore compares the two copies of RAID 10's first chunks that
// hold data, where both are present: 2 points per pair that agrees, minus
// 5 per pair that does not. Reads never look at the second copy, so
// without this any pairing of twins would read the same.
func mirrorScore(a *Array) (int, string) {
	ok, bad := 0, 0
	x, y := make([]byte, 4096), make([]byte, 4096)
	for c := int64(0); c < 256 && ok+bad < 8; c++ {
		m0, off0 := a.copyOf(c, 0)
		m1, off1 := a.copyOf(c, 1)
		if a.readMember(m0, x, off0) != nil || a.readMember(m1, y, off1) != nil || allocmap.IsZero(x) {
			continue
		}
		if bytes.Equal(x, y) {
			ok++
		} else {
			bad++
		}
	}
	if ok+bad == 0 {
		return 0, ""
	}
	return 2*ok - 5*bad, fmt.Sprintf("copies agree in %d of %d chunks", ok, ok+bad)
}

// rowNonZero reads the first 4 KiB of row r's chunks on every member
// (an unreadable one reads as zeros) and says how many of its data chunks
// hold data, and whether any chunk, parity included, does: a row of zeros
// proves nothing about parity.
func (a *Array) rowNonZero(r int64) (data int, used bool) {
	var rw row
	parityRow(a.g.Level, a.g.Layout, len(a.members), r, &rw)
	b := make([]byte, 4096)
	for m := range a.members {
		if a.readMember(m, b, r*a.g.Chunk) != nil || allocmap.IsZero(b) {
			continue
		}
		used = true
		if slices.Contains(rw.data, m) {
			data++
		}
	}
	return data, used
}

// levels picks the levels worth searching from how the members relate
// at the same offsets: identical members are a mirror, members that XOR
// to zero are RAID 5, members that each have an identical twin are RAID
// 10; some twins put RAID 10 (short of a member) first.
func (s *search) levels() []Level {
	if s.opts.Given.Level != LevelUnknown {
		return []Level{s.opts.Given.Level}
	}
	n := len(s.members)
	var same, twinned, someTwins, xorZero, tested int
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	x := make([]byte, 4096)
	for k := int64(0); k < 32; k++ {
		off := k * (s.opts.Sample / 64)
		off -= off % 4096
		nonzero := false
		for i, m := range s.members {
			if _, err := m.ReadAt(bufs[i], off); err != nil {
				clear(bufs[i])
			}
			nonzero = nonzero || !allocmap.IsZero(bufs[i])
		}
		if !nonzero {
			continue
		}
		tested++
		clear(x)
		allSame, twins := true, 0
		for i := range bufs {
			xorInto(x, bufs[i])
			allSame = allSame && bytes.Equal(bufs[i], bufs[0])
			for j := range bufs {
				if j != i && bytes.Equal(bufs[i], bufs[j]) {
					twins++
					break
				}
			}
		}
		if allSame {
			same++
		}
		if twins == n {
			twinned++
		}
		if twins > 0 {
			someTwins++
		}
		if allocmap.IsZero(x) {
			xorZero++
		}
	}
	switch {
	case tested == 0:
	case same == tested && n >= 2:
		return []Level{RAID1}
	case xorZero == tested && n >= 3:
		s.complete = true
		return []Level{RAID5}
	case twinned == tested && n%2 == 0:
		return []Level{RAID10}
	case someTwins == tested:
		return []Level{RAID10, RAID5, RAID6, RAID0, Linear}
	}
	return []Level{RAID5, RAID6, RAID0, RAID10, Linear}
}

// slotCounts is how many member slots to try: the members given, and for
// parity levels one (RAID 6: two) more, missing.
func (s *search) slotCounts(level Level) []int {
	n := len(s.members)
	if g := s.opts.Given.Members; len(g) > 0 {
		return []int{len(g)}
	}
	out := []int{n}
	if s.complete {
		return out
	}
	redundancy := map[Level]int{RAID5: 1, RAID6: 2, RAID10: 1}[level]
	for k := 1; k <= redundancy && n+k <= maxSearchMembers; k++ {
		out = append(out, n+k)
	}
	return out
}

// orders lists the ways to put the members in slots (-1 = missing).
func (s *search) orders(slots int) [][]int {
	n := len(s.members)
	if g := s.opts.Given.Members; len(g) == slots {
		order := make([]int, slots)
		k := 0
		for i, name := range g {
			order[i] = -1
			if name != Missing && k < n {
				order[i] = k
				k++
			}
		}
		return [][]int{order}
	}
	if slots > maxSearchMembers {
		return nil
	}
	var out [][]int
	items := make([]int, slots)
	for i := range items {
		items[i] = i
		if i >= n {
			items[i] = -1
		}
	}
	var permute func(k int)
	permute = func(k int) {
		if k == len(items) {
			out = append(out, append([]int(nil), items...))
			return
		}
		seen := map[int]bool{}
		for i := k; i < len(items); i++ {
			if seen[items[i]] {
				continue // missing slots are interchangeable
			}
			seen[items[i]] = true
			items[k], items[i] = items[i], items[k]
			permute(k + 1)
			items[k], items[i] = items[i], items[k]
		}
	}
	permute(0)
	return out
}

// offsets are the data offsets worth trying: 0, and every sector of the
// first 8 MiB of a member where a partition table starts (an MBR boot
// signature with sane entries, or a GPT header after it).
func (s *search) offsets() []int64 {
	out := []int64{0}
	seen := map[int64]bool{0: true}
	b := make([]byte, 1024)
	for _, m := range s.members {
		for off := int64(512); off < 8<<20 && off+1024 <= m.Size(); off += 512 {
			if _, err := m.ReadAt(b, off); err != nil {
				break
			}
			if seen[off] || !looksLikeTable(b) {
				continue
			}
			seen[off] = true
			out = append(out, off)
		}
	}
	return out[:min(len(out), 8)]
}

func looksLikeTable(b []byte) bool {
	if string(b[512:520]) == "EFI PART" {
		return true
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return false
	}
	used := 0
	for i := range 4 {
		e := b[0x1BE+16*i:]
		if e[0] != 0 && e[0] != 0x80 {
			return false
		}
		if e[4] != 0 {
			used++
		}
	}
	return used > 0
}
