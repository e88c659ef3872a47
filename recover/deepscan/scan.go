package deepscan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	vmfslayout "github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

const (
	chunkSize   = 1 << 20
	overlap     = 40 << 10 // a structure starting in a chunk may reach this far past it (32 KiB text, VMFS6 descriptor metadata up to +32 KiB)
	sector      = 512
	maxTextSize = 32 << 10
	lvmMagic    = vmfslayout.LVMMagic
	fsMagic     = vmfslayout.FSMagic
	fsMagicL    = vmfslayout.FSMagicL
	hbFree      = vmfslayout.HeartbeatFree
	hbUsed      = vmfslayout.HeartbeatUsed
	lockFD      = vmfslayout.LockFD
	lockLast    = vmfslayout.LockLFB // the last lock magic
	maxVolume   = 1 << 46            // 64 TiB: no volume offset can be larger
	maxNames    = 1 << 20            // bounds the findings a hostile disk can make us keep
	maxFDs      = 1 << 20
)

// Options tune Scan.
type Options struct {
	// Progress is called after each chunk with the bytes scanned so far.
	Progress func(done, total int64)
	// Checkpoint is called about every CheckpointEvery bytes (and at the
	// end, or when the scan is interrupted) to save the findings.
	Checkpoint      func(*Findings) error
	CheckpointEvery int64
	// Retries is how often an unreadable range is read again before it is
	// recorded as bad and read as zeros (default 2).
	Retries int
}

// New starts findings for a source of the given size and identity.
func New(source, identity string, size int64) *Findings {
	return &Findings{Format: findingsFormat, Source: source, Identity: identity, Size: size}
}

// Scan reads the source from f.Done to its end and adds what it finds to
// f. It can be interrupted through ctx; f then records how far it got
// and a later Scan resumes there.
func Scan(ctx context.Context, r io.ReaderAt, f *Findings, opts Options) error {
	if opts.Retries <= 0 {
		opts.Retries = 2
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 256 << 20
	}
	s := &scanner{r: r, f: f, opts: opts, votes: map[int64]int{}}
	// Ranges the source knows it could not read (a ddrescue map) are bad
	// ranges from the start: they read as zeros, and what lay there is lost.
	if br, ok := r.(disk.BadRanger); ok {
		f.BadRanges = allocmap.Normalize(append(f.BadRanges, br.BadRanges()...))
	}
	for _, v := range f.Origins {
		s.votes[v.Origin] = v.Votes
	}
	// The scan examines one window (a chunk plus the look-ahead a
	// structure starting in it may reach into) while a goroutine reads the
	// next chunk into the other buffer, so reading and matching overlap.
	// The look-ahead becomes the start of the next window by a copy of
	// overlap bytes, so no byte is read twice.
	var bufs [2][]byte
	for i := range bufs {
		bufs[i] = make([]byte, chunkSize+overlap)
	}
	pos := f.Done / chunkSize * chunkSize
	lastCheckpoint := f.Done
	var err error
	if pos < f.Size {
		bad := s.readRobust(ctx, bufs[0][:min(chunkSize+overlap, f.Size-pos)], pos)
		f.BadRanges = allocmap.Normalize(append(f.BadRanges, bad...))
	}
	for k := 0; pos < f.Size; pos, k = pos+chunkSize, k+1 {
		if err = ctx.Err(); err != nil {
			break
		}
		cur, next := bufs[k%2], bufs[(k+1)%2]
		need := int(min(chunkSize+overlap, f.Size-pos))
		// The next window's fresh bytes: those past this window's end.
		freshOff := pos + chunkSize + overlap
		var pending chan allocmap.Map // the bad ranges of that read
		if freshOff < f.Size {
			pending = make(chan allocmap.Map, 1)
			fresh := next[overlap:min(chunkSize+overlap, f.Size-pos-chunkSize)]
			go func() { pending <- s.readRobust(ctx, fresh, freshOff) }()
		}
		s.examine(cur[:need], pos, min(chunkSize, int64(need)))
		if need > chunkSize {
			copy(next, cur[chunkSize:need])
		}
		if pending != nil {
			f.BadRanges = allocmap.Normalize(append(f.BadRanges, <-pending...))
		}
		f.Done = min(pos+chunkSize, f.Size)
		if opts.Progress != nil {
			opts.Progress(f.Done, f.Size)
		}
		if opts.Checkpoint != nil && f.Done-lastCheckpoint >= opts.CheckpointEvery {
			s.flushVotes()
			if err := opts.Checkpoint(f); err != nil {
				return err
			}
			lastCheckpoint = f.Done
		}
	}
	s.flushVotes()
	if opts.Checkpoint != nil {
		if cerr := opts.Checkpoint(f); err == nil {
			err = cerr
		}
	}
	return err
}

type scanner struct {
	r     io.ReaderAt
	f     *Findings
	opts  Options
	votes map[int64]int
}

// readRobust fills buf from off; ranges that stay unreadable after the
// retries are zero-filled and returned, narrowed down to sectors.
func (s *scanner) readRobust(ctx context.Context, buf []byte, off int64) allocmap.Map {
	if s.readRetry(buf, off) == nil {
		return nil
	}
	var bad allocmap.Map
	const piece = 64 << 10
	for p := int64(0); p < int64(len(buf)) && ctx.Err() == nil; p += piece {
		part := buf[p:min(p+piece, int64(len(buf)))]
		if s.readRetry(part, off+p) == nil {
			continue
		}
		// Narrow the failure down to sectors, read once each, so that one
		// bad sector costs 512 bytes of the disk, not 64 KiB.
		for q := 0; q < len(part); q += sector {
			sec := part[q:min(q+sector, len(part))]
			if n, err := s.r.ReadAt(sec, off+p+int64(q)); n < len(sec) && !errors.Is(err, io.EOF) {
				clear(sec)
				bad = bad.Add(allocmap.Range{Off: off + p + int64(q), Len: int64(len(sec))})
			}
		}
	}
	return bad
}

func (s *scanner) readRetry(buf []byte, off int64) error {
	var err error
	for range s.opts.Retries + 1 {
		var n int
		n, err = s.r.ReadAt(buf, off)
		if n == len(buf) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			clear(buf[n:]) // past the end: nothing there to recover
			return nil
		}
	}
	return err
}

func (s *scanner) flushVotes() {
	s.f.Origins = s.f.Origins[:0]
	for o, n := range s.votes {
		s.f.Origins = append(s.f.Origins, OriginVote{Origin: o, Votes: n})
	}
	sort.Slice(s.f.Origins, func(i, j int) bool { return s.f.Origins[i].Votes > s.f.Origins[j].Votes })
	// Keep the strongest candidates only: stray matches in file data must
	// not grow the findings without bound.
	if len(s.f.Origins) > 64 {
		s.f.Origins = s.f.Origins[:64]
		s.votes = map[int64]int{}
		for _, v := range s.f.Origins {
			s.votes[v.Origin] = v.Votes
		}
	}
}

// mayStart marks the first bytes a sought structure can start with: the
// low byte of each magic word examine matches (little-endian), and the
// first byte of each text head. Zero is none of them, so the zeros that
// fill most of a datastore cost one look-up a sector, not a comparison
// of every byte.
var mayStart = func() (t [256]bool) {
	for _, m := range []uint32{lvmMagic, fsMagic, fsMagicL, hbFree, hbUsed, 2} {
		t[byte(m)] = true
	}
	for m := uint32(lockFD); m <= lockLast; m++ {
		t[byte(m)] = true
	}
	t[descriptorHead[0]] = true
	for _, h := range vmxHeads {
		t[h[0]] = true
	}
	return t
}()

// examine looks at every sector start in buf[:limit]; buf continues past
// limit so structures that cross the chunk end can be decoded.
func (s *scanner) examine(buf []byte, base, limit int64) {
	le := binary.LittleEndian
	for o := int64(0); o < limit; o += sector {
		b := buf[o:]
		if len(b) < 16 {
			return
		}
		if !mayStart[b[0]] {
			continue // most sectors, zeros included: one table look-up each
		}
		at := base + o
		switch m := le.Uint32(b); { // every structure sought starts with its magic word
		case m == lvmMagic:
			if s.lvm(at) {
				s.anchor("LVM header", at, b)
			}
		case m == fsMagic || m == fsMagicL:
			if len(b) >= vmfslayout.FSDescSize && at >= vmfslayout.FSDescOffset {
				if d, err := vmfs.ParseDescriptor(b[:vmfslayout.FSDescSize]); err == nil {
					s.f.Descriptors = append(s.f.Descriptors, DescHit{Offset: at, Desc: *d})
					s.anchor("file-system descriptor", at, b)
				}
			}
		case m == hbFree || m == hbUsed:
			s.vote(at, int64(vmfslayout.Heartbeat.Self.Get(b)))
		case m >= lockFD && m <= lockLast:
			self := int64(vmfslayout.Lock.Self.Get(b))
			s.vote(at, self)
			if m == lockFD && len(s.f.FDs) < maxFDs {
				if info, ok := vmfs.CarveFD(b); ok && info.SelfOffset == self {
					s.f.FDs = append(s.f.FDs, FDHit{Offset: at, FDInfo: info})
					s.anchor("file descriptor", at, b)
				}
			}
		case m == 2: // a VMFS3/5 directory starts with "." and ".." entries
			s.direntRun(b, at)
		default:
			s.text(b, at)
		}
	}
}

func (s *scanner) vote(at, self int64) {
	if self <= 0 || self%sector != 0 || self > maxVolume || self > at {
		return
	}
	s.votes[at-self]++
}

// maxAnchors bounds the anchors kept of each kind: checking them again
// costs one small read each.
const maxAnchors = 32

// anchor records the hash of the sector at b (disk offset at), a
// structure of the given kind, while fewer than maxAnchors of that kind
// are kept.
func (s *scanner) anchor(kind string, at int64, b []byte) {
	n := 0
	for _, a := range s.f.Anchors {
		if a.Kind == kind {
			n++
		}
	}
	if n >= maxAnchors {
		return
	}
	b = b[:min(len(b), sector)]
	s.f.Anchors = append(s.f.Anchors, Anchor{Offset: at, Len: len(b), Kind: kind, SHA256: anchorSum(b)})
}

func anchorSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// lvm records the LVM header whose magic is at disk offset at, and says
// whether it was one.
func (s *scanner) lvm(at int64) bool {
	part := at - vmfslayout.LVMHeaderOffset
	if part < 0 {
		return false
	}
	h, err := vmfs.ReadLVMHeader(io.NewSectionReader(s.r, part, s.f.Size-part))
	if err != nil {
		return false
	}
	hit := LVMHit{Partition: part, Major: h.Major, VolumeUUID: h.VolumeUUID, Logical: int64(h.LogicalSize), FirstPE: h.FirstPE, Origin: -1}
	for _, pe := range h.PEs {
		if pe.Logical == 0 {
			hit.Origin = part + pe.Physical
		}
	}
	if hit.Origin < 0 && h.FirstPE == 0 && len(h.PEs) == 0 {
		hit.Origin = part + int64(h.DataOffset)
	}
	s.f.LVM = append(s.f.LVM, hit)
	return true
}

// direntRun records the entries of a VMFS3/5 directory whose first two
// entries are "." and "..", and any that follow while they look valid
// (including stale ones past the directory's end: deleted files' names).
func (s *scanner) direntRun(b []byte, at int64) {
	const size = vmfslayout.Dirent5Size
	f := vmfslayout.Dirent5
	entry := func(i int) (typ, addr, gen uint32, name string, ok bool) {
		if (i+1)*size > len(b) {
			return 0, 0, 0, "", false
		}
		e := b[i*size:]
		typ, addr, gen = f.Type.Get32(e), f.Addr.Get32(e), f.Generation.Get32(e)
		raw := f.Name.Bytes(e)
		n := bytes.IndexByte(raw, 0)
		if n <= 0 || typ < vmfslayout.TypeVolume || typ > vmfslayout.TypeRDM || addr&7 != 4 || !printable(raw[:n]) {
			return 0, 0, 0, "", false
		}
		return typ, addr, gen, string(raw[:n]), true
	}
	if _, dot, _, n0, ok := entry(0); !ok || n0 != "." {
		return
	} else if _, _, _, n1, ok := entry(1); !ok || n1 != ".." {
		return
	} else {
		for i := 2; i < 8192 && len(s.f.Names) < maxNames; i++ {
			_, addr, gen, name, ok := entry(i)
			if !ok {
				break
			}
			s.f.Names = append(s.f.Names, NameHit{Offset: at + int64(i*size), Dir: dot, FD: addr, Generation: gen, Name: name})
		}
	}
}

var (
	descriptorHead = []byte("# Disk DescriptorFile")
	vmxHeads       = [][]byte{[]byte(".encoding = \""), []byte("config.version = \"")}
	extentLine     = regexp.MustCompile(`(?m)^\s*(?:RW|RDONLY|NOACCESS)\s+\d+\s+\w+\s+"([^"]+)"`)
	displayName    = regexp.MustCompile(`(?m)^displayName\s*=\s*"([^"]*)"`)
)

// text records VMDK descriptors and .vmx files that start at a sector.
func (s *scanner) text(b []byte, at int64) {
	kind := textKind(b)
	if kind == "" || len(s.f.Texts) >= maxNames {
		return
	}
	body := textBody(b)
	if !printable(body) {
		return
	}
	s.f.Texts = append(s.f.Texts, TextHit{Offset: at, Kind: kind, Length: int64(len(body)), Name: textName(kind, body)})
}

// textKind says whether b starts like a VMDK descriptor ("vmdk-descriptor")
// or a .vmx file ("vmx"); "" otherwise.
func textKind(b []byte) string {
	switch {
	case len(b) == 0:
	case b[0] == '#' && bytes.HasPrefix(b, descriptorHead):
		return "vmdk-descriptor"
	case b[0] == '.' || b[0] == 'c':
		for _, h := range vmxHeads {
			if bytes.HasPrefix(b, h) {
				return "vmx"
			}
		}
	}
	return ""
}

// textBody is the text at the start of b: up to maxTextSize bytes, up to
// the first NUL.
func textBody(b []byte) []byte {
	body := b[:min(len(b), maxTextSize)]
	if n := bytes.IndexByte(body, 0); n >= 0 {
		body = body[:n]
	}
	return body
}

// textName is the name a text file most likely had, by ESXi's naming: a
// descriptor is named after its first extent without the extent suffix
// (vm1-flat.vmdk: vm1.vmdk), a .vmx after its displayName; "" when the
// text does not say.
func textName(kind string, body []byte) string {
	switch kind {
	case "vmdk-descriptor":
		if m := extentLine.FindSubmatch(body); m != nil {
			base := strings.TrimSuffix(path.Base(string(m[1])), ".vmdk")
			for _, suffix := range []string{"-flat", "-delta", "-sesparse", "-rdm", "-rdmp", "-s001"} {
				base = strings.TrimSuffix(base, suffix)
			}
			return base + ".vmdk"
		}
	case "vmx":
		if name := vmxDisplayName(body); name != "" {
			return name + ".vmx"
		}
	}
	return ""
}

// vmxDisplayName is the displayName a .vmx file gives its VM, or "".
func vmxDisplayName(body []byte) string {
	if m := displayName.FindSubmatch(body); m != nil {
		return strings.TrimSpace(string(m[1]))
	}
	return ""
}

// printable accepts UTF-8 text with tabs and newlines.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7F {
			return false
		}
	}
	return true
}
