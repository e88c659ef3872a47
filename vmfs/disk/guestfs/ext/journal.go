package ext

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// The jbd2 journal (ext3, ext4) is a circular log of transactions in the
// blocks of a file (inode s_journal_inum). All its fields are big-endian.
// Every log block but data blocks starts with a 12-byte header:
//
//	0x0 h_magic u32 (0xC03B3998)  0x4 h_blocktype u32  0x8 h_sequence u32
//
// Block 0 is the journal superblock (h_blocktype 3: v1, 4: v2):
//
//	0x0C s_blocksize u32  0x10 s_maxlen u32 (blocks of the journal)
//	0x14 s_first u32 (first log block)  0x18 s_sequence u32 (first
//	transaction to replay)  0x1C s_start u32 (its first block; 0: the
//	journal is empty)  (v2:) 0x24 s_feature_compat  0x28 s_feature_incompat
//	0x2C s_feature_ro_compat u32  0x30 s_uuid [16]  0x50 s_checksum_type u8
//	0x54 s_num_fc_blks u32  0xFC s_checksum u32 (crc32c of the 1024 bytes)
//
// A transaction is one or more descriptor blocks (type 1), each followed
// by the data blocks its tags describe, and revoke blocks (type 5), all
// with the transaction's sequence number, then a commit block (type 2).
// A descriptor's tags follow its header:
//
//	csum_v3:   0x0 t_blocknr u32  0x4 t_flags u32  0x8 t_blocknr_high u32
//	           0xC t_checksum u32 (16 bytes)
//	otherwise: 0x0 t_blocknr u32  0x4 t_checksum u16 (csum_v2)
//	           0x6 t_flags u16  0x8 t_blocknr_high u32 (64bit): 8, 10, 12
//	           or 14 bytes
//
// each followed by a 16-byte UUID unless SAME_UUID; LAST_TAG ends the
// list. An ESCAPE tag's block began with the journal's magic, stored as
// zeros. A revoke block holds r_count u32 at 0xC (bytes in use), then
// block numbers (u32, u64 with 64bit): no earlier copy of those blocks,
// in transactions up to the revoking one, may be replayed. A commit block
// holds h_chksum_type u8 at 0xC, h_chksum_size u8 at 0xD, h_chksum[0] u32
// at 0x10. With csum_v2/v3 descriptor and revoke blocks end in a 4-byte
// crc32c of the block (the tail zeroed), the commit block's h_chksum[0]
// is the crc32c of the block (that field zeroed), and each tag holds the
// crc32c of the sequence number and its data block; every crc32c starts
// from the crc32c of s_uuid. With the v1 compat checksum the commit
// block's h_chksum[0] is a big-endian crc32 of the transaction's
// descriptor and data blocks.
const (
	jbdMagic       = 0xC03B3998
	jbdDescriptor  = 1
	jbdCommit      = 2
	jbdSuperV1     = 3
	jbdSuperV2     = 4
	jbdRevoke      = 5
	jbdHeaderSize  = 12
	jbdTailSize    = 4  // csum_v2/v3 tail of descriptor and revoke blocks
	jbdUUIDSize    = 16 // after a tag without SAME_UUID
	jbdDefaultFC   = 256
	jbdCRC32CType  = 4 // s_checksum_type
	jbdCRC32Commit = 1 // h_chksum_type of the v1 checksum
)

// Journal features.
const (
	jbdCompatChecksum     = 0x1
	jbdIncompat64bit      = 0x2
	jbdIncompatCsumV2     = 0x8
	jbdIncompatCsumV3     = 0x10
	jbdIncompatFastCommit = 0x20
)

// Tag flags.
const (
	tagEscape   = 0x1
	tagSameUUID = 0x2
	tagLast     = 0x8
)

// journalCopy is where the newest committed copy of a file system block
// lies: byte off of the reader; escaped when its first four bytes are the
// journal's magic, stored as zeros.
type journalCopy struct {
	off     int64
	escaped bool
}

// journal is what replaying a journal gives: the blocks it replaces and
// what the log held.
type journal struct {
	blocks       map[int64]journalCopy // file system block -> its newest copy
	transactions int                   // committed transactions replayed
	wrapped      bool                  // the replayed log runs past its end to s_first
	revoked      int                   // copies of committed transactions a revoke dropped
	notes        []string              // where replay stopped early, blocks skipped
}

// journalLog reads the journal file: its blocks lie at runs of the file
// system (r, size bytes, blocks of bs bytes); nblk is its length in
// blocks.
type journalLog struct {
	r    io.ReaderAt
	size int64
	runs []run
	bs   int64
	nblk int64
}

// blockOff is the byte offset in r of journal block i.
func (l *journalLog) blockOff(i int64) (int64, error) {
	k := sort.Search(len(l.runs), func(k int) bool { return l.runs[k].lblk+l.runs[k].n > i })
	if i < 0 || i >= l.nblk || k == len(l.runs) || l.runs[k].lblk > i || l.runs[k].unwritten {
		return 0, corrupt("jbd2 journal", -1, "block %d of the journal is not mapped (%d blocks)", i, l.nblk)
	}
	off := (l.runs[k].pblk + i - l.runs[k].lblk) * l.bs
	if off+l.bs > l.size {
		return 0, corrupt("jbd2 journal", off, "block %d of the journal lies past the end (%d bytes)", i, l.size)
	}
	return off, nil
}

// read reads journal block i into b (bs bytes) and returns its offset.
func (l *journalLog) read(b []byte, i int64) (int64, error) {
	off, err := l.blockOff(i)
	if err != nil {
		return 0, err
	}
	if n, err := l.r.ReadAt(b, off); n < len(b) {
		if err == nil || err == io.EOF {
			err = corrupt("jbd2 journal", off, "block %d of the journal cannot be read", i)
		}
		return 0, err
	}
	return off, nil
}

// jsuper is the journal superblock, as replay uses it.
type jsuper struct {
	first, last, start int64 // the log is blocks first..last-1
	sequence           uint32
	compat, incompat   uint32
	seed               uint32 // crc32c of s_uuid
}

func (s *jsuper) csum() bool { return s.incompat&(jbdIncompatCsumV2|jbdIncompatCsumV3) != 0 }

// tagSize is the bytes of one tag before its UUID.
func (s *jsuper) tagSize() int {
	if s.incompat&jbdIncompatCsumV3 != 0 {
		return 16
	}
	n := 8
	if s.incompat&jbdIncompatCsumV2 != 0 {
		n += 2
	}
	if s.incompat&jbdIncompat64bit != 0 {
		n += 4
	}
	return n
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the kernel's crc32c(seed, b): no inversion before or after.
func crc32c(seed uint32, b []byte) uint32 { return ^crc32.Update(^seed, castagnoli, b) }

// crc32BE is the kernel's crc32_be (polynomial 0x04C11DB7, most
// significant bit first, no inversion), the v1 commit checksum.
func crc32BE(c uint32, b []byte) uint32 {
	for _, x := range b {
		c = c<<8 ^ crc32BETable[byte(c>>24)^x]
	}
	return c
}

var crc32BETable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for k := 0; k < 8; k++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// parseJournalSuper checks the journal superblock b (at byte off) of a
// journal of nblk blocks of bs bytes.
func parseJournalSuper(b []byte, off, bs, nblk int64) (*jsuper, error) {
	be := binary.BigEndian
	bad := func(format string, a ...any) error { return corrupt("jbd2 superblock", off, format, a...) }
	if m := be.Uint32(b); m != jbdMagic {
		return nil, bad("magic %#08x, not 0xC03B3998", m)
	}
	typ := be.Uint32(b[4:])
	if typ != jbdSuperV1 && typ != jbdSuperV2 {
		return nil, bad("block type %d, not a superblock", typ)
	}
	s := &jsuper{first: int64(be.Uint32(b[0x14:])), last: int64(be.Uint32(b[0x10:])), sequence: be.Uint32(b[0x18:]), start: int64(be.Uint32(b[0x1C:]))}
	if typ == jbdSuperV2 {
		s.compat, s.incompat = be.Uint32(b[0x24:]), be.Uint32(b[0x28:])
	}
	if got := int64(be.Uint32(b[0x0C:])); got != bs {
		return nil, bad("block size %d, the file system's is %d", got, bs)
	}
	if s.last > nblk {
		return nil, bad("%d blocks in a journal file of %d", s.last, nblk)
	}
	if s.csum() {
		if s.incompat&jbdIncompatCsumV2 != 0 && s.incompat&jbdIncompatCsumV3 != 0 {
			return nil, bad("both checksum v2 and v3")
		}
		if t := b[0x50]; t != jbdCRC32CType {
			return nil, bad("checksum type %d, not crc32c", t)
		}
		sb := append([]byte(nil), b[:1024]...)
		want := be.Uint32(sb[0xFC:])
		clear(sb[0xFC:0x100])
		if got := crc32c(^uint32(0), sb); got != want {
			return nil, bad("checksum %#08x, computed %#08x", want, got)
		}
		s.seed = crc32c(^uint32(0), b[0x30:0x40])
	}
	if s.incompat&jbdIncompatFastCommit != 0 {
		fc := int64(be.Uint32(b[0x54:]))
		if fc == 0 {
			fc = jbdDefaultFC
		}
		s.last -= fc
	}
	if s.first < 1 || s.first >= s.last {
		return nil, bad("log blocks %d..%d", s.first, s.last-1)
	}
	if s.start != 0 && (s.start < s.first || s.start >= s.last) {
		return nil, bad("log start %d outside blocks %d..%d", s.start, s.first, s.last-1)
	}
	return s, nil
}

// logTag is a block of a transaction: the file system block it replaces,
// where its copy lies, the transaction (counted from s_sequence).
type logTag struct {
	block   int64
	copy    journalCopy
	tx      int
	badSum  bool
	tagAt   int64 // byte offset of the tag, for errors
	pastEnd bool  // the block lies past the end of the file system
}

// revokeAt is a revoke block of transaction tx at byte off.
type revokeAt struct {
	off int64
	tx  int
}

// replayLog replays the journal l of a file system of fsBlocks blocks as
// the kernel's recovery does: it walks the log from s_start while the
// blocks carry the expected sequence numbers, keeps the transactions
// whose commit block it finds (stopping at the first that fails its
// checksum), drops the copies their revoke blocks revoke, and maps each
// block to its newest copy. A damaged log is a *ondisk.FormatError.
func replayLog(l *journalLog, fsBlocks int64) (*journal, error) {
	be := binary.BigEndian
	b := make([]byte, l.bs)
	off, err := l.read(b, 0)
	if err != nil {
		return nil, err
	}
	s, err := parseJournalSuper(b, off, l.bs, l.nblk)
	if err != nil {
		return nil, err
	}
	j := &journal{blocks: map[int64]journalCopy{}}
	if s.start == 0 {
		return j, nil
	}
	if s.incompat&jbdIncompatFastCommit != 0 {
		j.notes = append(j.notes, "fast commits are not replayed: changes only they record are not read")
	}
	var (
		tags      []logTag   // of committed transactions
		pending   []logTag   // of the transaction being read
		revokes   []revokeAt // of committed transactions
		pendRev   []revokeAt
		tx        int
		pos       = s.start
		walked    int64
		logLen    = s.last - s.first
		v1        = s.compat&jbdCompatChecksum != 0 && !s.csum()
		v1sum     = ^uint32(0)
		data      = make([]byte, l.bs)
		tagSize   = s.tagSize()
		sequence  = s.sequence
		stopEarly string
	)
	next := func() (int64, bool) {
		p := pos
		if walked++; walked > logLen {
			return 0, false
		}
		if pos++; pos >= s.last {
			pos, j.wrapped = s.first, true
		}
		return p, true
	}
	blockSum := func(b []byte) bool {
		tail := be.Uint32(b[len(b)-jbdTailSize:])
		c := crc32c(s.seed, b[:len(b)-jbdTailSize])
		return crc32c(c, []byte{0, 0, 0, 0}) == tail
	}
walk:
	for {
		p, ok := next()
		if !ok {
			stopEarly = "the log runs on past its length"
			break
		}
		at, err := l.read(b, p)
		if err != nil {
			return nil, err
		}
		if be.Uint32(b) != jbdMagic || be.Uint32(b[8:]) != sequence {
			break
		}
		switch be.Uint32(b[4:]) {
		case jbdDescriptor:
			if s.csum() && !blockSum(b) {
				stopEarly = fmt.Sprintf("descriptor block at byte %d fails its checksum", at)
				break walk
			}
			if v1 {
				v1sum = crc32BE(v1sum, b)
			}
			end := len(b)
			if s.csum() {
				end -= jbdTailSize
			}
			for t := jbdHeaderSize; t+tagSize <= end; {
				tag := b[t:]
				blk := int64(be.Uint32(tag))
				var flags uint32
				if s.incompat&jbdIncompatCsumV3 != 0 {
					flags = be.Uint32(tag[4:])
				} else {
					flags = uint32(be.Uint16(tag[6:]))
				}
				if s.incompat&jbdIncompat64bit != 0 {
					blk |= int64(be.Uint32(tag[8:])) << 32
				}
				dp, ok := next()
				if !ok {
					stopEarly = "the log runs on past its length"
					break walk
				}
				var doff int64
				if s.csum() || v1 {
					doff, err = l.read(data, dp) // the checksums cover it
				} else {
					doff, err = l.blockOff(dp)
				}
				if err != nil {
					return nil, err
				}
				lt := logTag{block: blk, copy: journalCopy{off: doff, escaped: flags&tagEscape != 0}, tx: tx, tagAt: at + int64(t), pastEnd: blk < 0 || blk >= fsBlocks}
				if s.csum() {
					var seq [4]byte
					be.PutUint32(seq[:], sequence)
					c := crc32c(crc32c(s.seed, seq[:]), data)
					if s.incompat&jbdIncompatCsumV3 != 0 {
						lt.badSum = be.Uint32(tag[12:]) != c
					} else {
						lt.badSum = be.Uint16(tag[4:]) != uint16(c)
					}
				}
				if v1 {
					v1sum = crc32BE(v1sum, data)
				}
				pending = append(pending, lt)
				t += tagSize
				if flags&tagSameUUID == 0 {
					t += jbdUUIDSize
				}
				if flags&tagLast != 0 {
					break
				}
			}
		case jbdRevoke:
			if s.csum() && !blockSum(b) {
				stopEarly = fmt.Sprintf("revoke block at byte %d fails its checksum", at)
				break walk
			}
			pendRev = append(pendRev, revokeAt{off: at, tx: tx})
		case jbdCommit:
			switch {
			case s.csum():
				c := append([]byte(nil), b...)
				want := be.Uint32(c[0x10:])
				clear(c[0x10:0x14])
				if crc32c(s.seed, c) != want {
					stopEarly = fmt.Sprintf("commit block at byte %d fails its checksum", at)
					break walk
				}
			case v1:
				typ, size, want := b[0xC], b[0xD], be.Uint32(b[0x10:])
				if !(typ == jbdCRC32Commit && size == 4 && want == v1sum) && !(typ == 0 && size == 0 && want == 0) {
					stopEarly = fmt.Sprintf("commit block at byte %d fails its checksum", at)
					break walk
				}
				v1sum = ^uint32(0)
			}
			for _, t := range pending {
				if t.pastEnd {
					return nil, corrupt("jbd2 descriptor block", t.tagAt, "tag of block %d past the end of the file system (%d blocks)", uint64(t.block), fsBlocks)
				}
			}
			tags, revokes = append(tags, pending...), append(revokes, pendRev...)
			pending, pendRev = pending[:0:0], pendRev[:0:0]
			tx++
			sequence++
		default:
			break walk
		}
	}
	if stopEarly != "" {
		j.notes = append(j.notes, fmt.Sprintf("replay stopped before transaction %d: %s", sequence, stopEarly))
	}
	j.transactions = tx
	revoked, err := readRevokes(l, s, revokes, tags)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if r, ok := revoked[t.block]; ok && r >= t.tx {
			j.revoked++
			continue
		}
		if t.badSum {
			j.notes = append(j.notes, fmt.Sprintf("the copy of block %d at byte %d fails its checksum: not replayed", t.block, t.copy.off))
			continue
		}
		j.blocks[t.block] = t.copy
	}
	if len(j.notes) > 10 {
		j.notes = append(j.notes[:10], fmt.Sprintf("and %d more", len(j.notes)-10))
	}
	return j, nil
}

// readRevokes reads the revoke blocks of committed transactions: for each
// block that some tag copies, the last transaction that revokes it.
func readRevokes(l *journalLog, s *jsuper, revokes []revokeAt, tags []logTag) (map[int64]int, error) {
	be := binary.BigEndian
	tagged := make(map[int64]bool, len(tags))
	for _, t := range tags {
		tagged[t.block] = true
	}
	out := map[int64]int{}
	b := make([]byte, l.bs)
	rec := int64(4)
	if s.incompat&jbdIncompat64bit != 0 {
		rec = 8
	}
	limit := l.bs
	if s.csum() {
		limit -= jbdTailSize
	}
	for _, r := range revokes {
		if n, err := l.r.ReadAt(b, r.off); n < len(b) {
			if err == nil || err == io.EOF {
				err = corrupt("jbd2 revoke block", r.off, "past the end")
			}
			return nil, err
		}
		count := int64(be.Uint32(b[0xC:]))
		if count < 16 || count > limit {
			return nil, corrupt("jbd2 revoke block", r.off+0xC, "r_count %d in a %d-byte block", count, l.bs)
		}
		for p := int64(16); p+rec <= count; p += rec {
			blk := int64(be.Uint32(b[p:]))
			if rec == 8 {
				blk = int64(be.Uint64(b[p:]))
			}
			if tagged[blk] && out[blk] <= r.tx {
				out[blk] = r.tx
			}
		}
	}
	return out, nil
}

// overlay reads the file system with the journal's blocks in place of
// those they replace.
type overlay struct {
	r      io.ReaderAt
	bs     int64
	blocks map[int64]journalCopy
	sorted []int64 // the keys of blocks, in order
}

func newOverlay(r io.ReaderAt, bs int64, blocks map[int64]journalCopy) *overlay {
	o := &overlay{r: r, bs: bs, blocks: blocks, sorted: make([]int64, 0, len(blocks))}
	for b := range blocks {
		o.sorted = append(o.sorted, b)
	}
	sort.Slice(o.sorted, func(i, k int) bool { return o.sorted[i] < o.sorted[k] })
	return o
}

// ReadAt reads the stretches between replaced blocks straight, each in one
// read, and each replaced block from its copy.
func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		cur := off + int64(done)
		blk := cur / o.bs
		i := sort.Search(len(o.sorted), func(i int) bool { return o.sorted[i] >= blk })
		var seg []byte
		src, escaped, in := cur, false, int64(0)
		switch {
		case i == len(o.sorted) || o.sorted[i]*o.bs >= off+int64(len(p)):
			seg = p[done:]
		case o.sorted[i] > blk:
			seg = p[done : o.sorted[i]*o.bs-off]
		default:
			c := o.blocks[blk]
			in = cur - blk*o.bs
			seg = p[done:min(len(p), done+int(o.bs-in))]
			src, escaped = c.off+in, c.escaped
		}
		n, err := o.r.ReadAt(seg, src)
		if escaped {
			unescape(seg[:n], in)
		}
		done += n
		if n < len(seg) || (err != nil && err != io.EOF) {
			return done, err
		}
	}
	return done, nil
}

// unescape restores the journal's magic at the start of an escaped block
// of which b holds the bytes from in on.
func unescape(b []byte, in int64) {
	var magic [4]byte
	binary.BigEndian.PutUint32(magic[:], jbdMagic)
	for k := in; k < 4 && int(k-in) < len(b); k++ {
		b[k-in] = magic[k]
	}
}

// replay replays the journal of a file system that was not unmounted
// cleanly, in memory: from then on every read, metadata and file data,
// sees the blocks as the kernel's recovery would have written them. The
// superblock copy at byte sbOff and the group descriptors are read again
// through the journal. A journal that cannot be read leaves the file
// system as it stands on disk; Warnings says why.
func (f *FS) replay(sbOff int64) {
	notReplayed := "the journal was not replayed (the file system was not unmounted cleanly; what it holds of the last changes is not read): "
	if f.sb.journalIno == 0 {
		f.warn(notReplayed + "it lies on an external journal device")
		return
	}
	l, err := f.journalFile()
	if err != nil {
		f.warn(notReplayed + err.Error())
		return
	}
	j, err := replayLog(l, f.sb.blocks)
	if err != nil {
		f.warn(notReplayed + err.Error())
		return
	}
	if len(j.blocks) > 0 {
		o := newOverlay(f.r, f.sb.blockSize, j.blocks)
		meta := blockcache.New(o, f.size, metaPage, metaCacheBytes, blockcache.Options{Name: "ext"})
		b := make([]byte, superSize)
		if _, err := o.ReadAt(b, sbOff); err != nil {
			f.warn(notReplayed + err.Error())
			return
		}
		sb, err := parseSuper(b, sbOff, f.size)
		if err != nil {
			f.warn(notReplayed + "the superblock it holds: " + err.Error())
			return
		}
		groups, err := readGroups(meta, sb, sbOff, f.size)
		if err != nil {
			f.warn(notReplayed + "the group descriptors it holds: " + err.Error())
			return
		}
		f.r, f.meta, f.sb, f.groups = o, meta, sb, groups
	}
	msg := fmt.Sprintf("journal replayed in memory: %d transactions, %d blocks", j.transactions, len(j.blocks))
	if j.transactions == 0 {
		msg += " (it held no committed transaction)"
	}
	f.warn(msg)
	for _, n := range j.notes {
		f.warn("journal: " + n)
	}
}

// journalFile is the internal journal, inode s_journal_inum, read
// through its own map.
func (f *FS) journalFile() (*journalLog, error) {
	in, err := f.readInode(f.sb.journalIno)
	if err != nil {
		return nil, err
	}
	lay, err := f.layoutOf(in)
	if err != nil {
		return nil, err
	}
	if lay.inline != nil || in.size < 2*f.sb.blockSize {
		return nil, corrupt(inodeName(in.num), in.off, "a journal of %d bytes", in.size)
	}
	return &journalLog{r: f.r, size: f.size, runs: lay.runs, bs: f.sb.blockSize, nblk: in.size / f.sb.blockSize}, nil
}
