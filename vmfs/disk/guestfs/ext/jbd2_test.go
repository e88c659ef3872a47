package ext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// logBuilder writes a jbd2 log of 1 KiB blocks for the cases the kernel
// cannot be made to write (damaged and hostile logs); the kernel's own
// logs are TestJournalReplayKernel's.
type logBuilder struct {
	bs       int
	b        []byte
	compat   uint32
	incompat uint32
	first    int
	pos      int
	start    int
	sequence uint32
	v1sum    uint32 // the v1 checksum of the transaction being written
}

const builderBS = 1024

func newLog(nblk, start int, sequence, compat, incompat uint32) *logBuilder {
	return &logBuilder{bs: builderBS, b: make([]byte, nblk*builderBS), compat: compat, incompat: incompat, first: 1, pos: start, start: start, sequence: sequence, v1sum: ^uint32(0)}
}

func (l *logBuilder) s() *jsuper { return &jsuper{incompat: l.incompat} }

func (l *logBuilder) block() []byte {
	b := l.b[l.pos*l.bs : (l.pos+1)*l.bs]
	if l.pos++; l.pos*l.bs >= len(l.b) {
		l.pos = l.first
	}
	return b
}

func (l *logBuilder) header(b []byte, typ, seq uint32) {
	be := binary.BigEndian
	be.PutUint32(b, jbdMagic)
	be.PutUint32(b[4:], typ)
	be.PutUint32(b[8:], seq)
}

func (l *logBuilder) seed() uint32 { return crc32c(^uint32(0), l.uuid()) }
func (l *logBuilder) uuid() []byte { return []byte("0123456789abcdef") }

// tail sets the csum_v2/v3 tail of a descriptor or revoke block.
func (l *logBuilder) tail(b []byte) {
	if l.s().csum() {
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32c(l.seed(), b))
	}
}

// desc writes a descriptor of seq with a tag per block (tag escape, when
// one, marked ESCAPE) and the data blocks after it.
func (l *logBuilder) desc(seq uint32, blocks []int64, data [][]byte, escape int) {
	be := binary.BigEndian
	d := l.block()
	l.header(d, jbdDescriptor, seq)
	t := jbdHeaderSize
	for i, blk := range blocks {
		var f uint32
		if i == escape {
			f |= tagEscape
		}
		if i > 0 {
			f |= tagSameUUID
		}
		if i == len(blocks)-1 {
			f |= tagLast
		}
		tag := d[t:]
		be.PutUint32(tag, uint32(blk))
		if l.incompat&jbdIncompat64bit != 0 {
			be.PutUint32(tag[8:], uint32(blk>>32))
		}
		var seqb [4]byte
		be.PutUint32(seqb[:], seq)
		c := crc32c(crc32c(l.seed(), seqb[:]), data[i])
		if l.incompat&jbdIncompatCsumV3 != 0 {
			be.PutUint32(tag[4:], f)
			be.PutUint32(tag[12:], c)
		} else {
			be.PutUint16(tag[6:], uint16(f))
			be.PutUint16(tag[4:], uint16(c))
		}
		t += l.s().tagSize()
		if f&tagSameUUID == 0 {
			copy(d[t:], l.uuid())
			t += jbdUUIDSize
		}
		copy(l.block(), data[i])
	}
	l.tail(d)
	l.v1sum = crc32BE(l.v1sum, d)
	for _, x := range data {
		l.v1sum = crc32BE(l.v1sum, x)
	}
}

func (l *logBuilder) revoke(seq uint32, blocks []int64) {
	b := l.block()
	l.header(b, jbdRevoke, seq)
	p := 16
	for _, blk := range blocks {
		if l.incompat&jbdIncompat64bit != 0 {
			binary.BigEndian.PutUint64(b[p:], uint64(blk))
			p += 8
		} else {
			binary.BigEndian.PutUint32(b[p:], uint32(blk))
			p += 4
		}
	}
	binary.BigEndian.PutUint32(b[12:], uint32(p))
	l.tail(b)
}

func (l *logBuilder) commit(seq uint32) {
	b := l.block()
	l.header(b, jbdCommit, seq)
	switch {
	case l.s().csum():
		b[0xC], b[0xD] = jbdCRC32CType, 4
		binary.BigEndian.PutUint32(b[0x10:], crc32c(l.seed(), b))
	case l.compat&jbdCompatChecksum != 0:
		b[0xC], b[0xD] = jbdCRC32Commit, 4
		binary.BigEndian.PutUint32(b[0x10:], l.v1sum)
	}
	l.v1sum = ^uint32(0)
}

// bytes is the journal file, its superblock written.
func (l *logBuilder) bytes() []byte {
	be := binary.BigEndian
	sb := l.b[:l.bs]
	l.header(sb, jbdSuperV2, 0)
	be.PutUint32(sb[0x0C:], uint32(l.bs))
	be.PutUint32(sb[0x10:], uint32(len(l.b)/l.bs))
	be.PutUint32(sb[0x14:], uint32(l.first))
	be.PutUint32(sb[0x18:], l.sequence)
	be.PutUint32(sb[0x1C:], uint32(l.start))
	be.PutUint32(sb[0x24:], l.compat)
	be.PutUint32(sb[0x28:], l.incompat)
	copy(sb[0x30:], l.uuid())
	if l.s().csum() {
		sb[0x50] = jbdCRC32CType
		be.PutUint32(sb[0xFC:], 0)
		be.PutUint32(sb[0xFC:], crc32c(^uint32(0), sb[:1024]))
	}
	return l.b
}

// replayBytes replays the journal file b on a file system of fsBlocks
// blocks whose first block it is.
func replayBytes(b []byte, fsBlocks int64) (*journal, error) {
	n := int64(len(b)) / builderBS
	return replayLog(&journalLog{r: bytes.NewReader(b), size: int64(len(b)), runs: []run{{lblk: 0, pblk: 0, n: n}}, bs: builderBS, nblk: n}, fsBlocks)
}

func filled(c byte) []byte { return bytes.Repeat([]byte{c}, builderBS) }

// replayedFS is a file system of 64 zero blocks with the journal file b
// after them: its blocks as replay reads them.
func replayedFS(t *testing.T, b []byte) (*journal, *overlay) {
	t.Helper()
	img := append(make([]byte, 64*builderBS), b...)
	n := int64(len(b)) / builderBS
	j, err := replayLog(&journalLog{r: bytes.NewReader(img), size: int64(len(img)), runs: []run{{lblk: 0, pblk: 64, n: n}}, bs: builderBS, nblk: n}, 64)
	if err != nil {
		t.Fatal(err)
	}
	return j, newOverlay(bytes.NewReader(img), builderBS, j.blocks)
}

var featureSets = []struct {
	name             string
	compat, incompat uint32
}{
	{"plain-32bit", 0, 0},
	{"checksum-v1", jbdCompatChecksum, 0},
	{"64bit", 0, jbdIncompat64bit},
	{"csum-v2-32bit", 0, jbdIncompatCsumV2},
	{"csum-v2-64bit", 0, jbdIncompatCsumV2 | jbdIncompat64bit},
	{"csum-v3-64bit", 0, jbdIncompatCsumV3 | jbdIncompat64bit},
	{"csum-v3-32bit", 0, jbdIncompatCsumV3},
}

// TestReplaySemantics: newest committed copy wins, revokes drop copies of
// their own and earlier transactions only, escaped blocks get their magic
// back, an uncommitted transaction is left out, in every tag layout.
func TestReplaySemantics(t *testing.T) {
	for _, fs := range featureSets {
		t.Run(fs.name, func(t *testing.T) {
			l := newLog(64, 60, 7, fs.compat, fs.incompat) // starts 4 blocks before the end: wraps
			l.desc(7, []int64{10, 11, 12}, [][]byte{filled('a'), filled('b'), filled('c')}, -1)
			l.commit(7)
			esc := filled('e')
			copy(esc, []byte{0, 0, 0, 0})
			l.desc(8, []int64{10, 13, 15}, [][]byte{filled('A'), esc, filled('R')}, 1)
			l.revoke(8, []int64{11, 40, 15}) // 15: revoked in its own transaction
			l.commit(8)
			l.desc(9, []int64{11}, [][]byte{filled('B')}, -1)
			l.commit(9)
			l.desc(10, []int64{12}, [][]byte{filled('X')}, -1) // never committed
			b := l.bytes()
			j, o := replayedFS(t, b)
			if j.transactions != 3 || !j.wrapped || len(j.blocks) != 4 || j.revoked != 2 {
				t.Fatalf("%d transactions, wrapped %v, %d blocks, %d revoked; want 3, true, 4, 2", j.transactions, j.wrapped, len(j.blocks), j.revoked)
			}
			want := map[int64][]byte{10: filled('A'), 11: filled('B'), 12: filled('c'), 13: append([]byte{0xC0, 0x3B, 0x39, 0x98}, esc[4:]...), 14: make([]byte, builderBS), 15: make([]byte, builderBS)}
			for blk, w := range want {
				got := make([]byte, builderBS)
				if _, err := o.ReadAt(got, blk*builderBS); err != nil || !bytes.Equal(got, w) {
					t.Errorf("block %d: %q..., %v; want %q...", blk, got[:8], err, w[:8])
				}
			}
			// One read across replaced and unreplaced blocks, from inside
			// the escaped one.
			all := make([]byte, 5*builderBS-2)
			if _, err := o.ReadAt(all, 10*builderBS+2); err != nil {
				t.Fatal(err)
			}
			var wantAll []byte
			for blk := int64(10); blk < 15; blk++ {
				wantAll = append(wantAll, want[blk]...)
			}
			if !bytes.Equal(all, wantAll[2:]) {
				t.Error("a read across blocks differs from the blocks")
			}
		})
	}
}

// TestChecksums: the two CRCs are the kernel's: crc32c and crc32_be
// without inversions, whose standard check values (CRC-32C and
// CRC-32/BZIP2 of "123456789") invert before and after.
func TestChecksums(t *testing.T) {
	in := []byte("123456789")
	if got := ^crc32c(^uint32(0), in); got != 0xE3069283 {
		t.Errorf("crc32c check %#08x", got)
	}
	if got := ^crc32BE(^uint32(0), in); got != 0xFC891918 {
		t.Errorf("crc32_be check %#08x", got)
	}
}

// TestReplayStops: where the kernel's recovery stops, replay keeps what
// came before and says why.
func TestReplayStops(t *testing.T) {
	build := func(compat, incompat uint32, damage func(l *logBuilder, b []byte)) (*journal, error) {
		l := newLog(32, 1, 1, compat, incompat)
		l.desc(1, []int64{5}, [][]byte{filled('1')}, -1)
		l.commit(1)
		l.desc(2, []int64{6}, [][]byte{filled('2')}, -1)
		l.commit(2)
		l.desc(3, []int64{7}, [][]byte{filled('3')}, -1)
		l.commit(3)
		b := l.bytes()
		damage(l, b)
		return replayBytes(b, 64)
	}
	v3 := uint32(jbdIncompatCsumV3 | jbdIncompat64bit)
	for _, c := range []struct {
		name             string
		compat, incompat uint32
		damage           func(l *logBuilder, b []byte)
		tx               int
		blocks           int
		note             string
	}{
		{"intact", 0, v3, func(*logBuilder, []byte) {}, 3, 3, ""},
		{"commit checksum", 0, v3, func(_ *logBuilder, b []byte) { b[6*builderBS+0x40] ^= 1 }, 1, 1, "commit block at byte 6144 fails its checksum"},
		{"descriptor checksum", 0, v3, func(_ *logBuilder, b []byte) { b[4*builderBS+100] ^= 1 }, 1, 1, "descriptor block at byte 4096 fails its checksum"},
		{"data checksum", 0, v3, func(_ *logBuilder, b []byte) { b[5*builderBS] ^= 1 }, 3, 2, "the copy of block 6 at byte 5120 fails its checksum"},
		{"sequence gap", 0, v3, func(_ *logBuilder, b []byte) { binary.BigEndian.PutUint32(b[7*builderBS+8:], 9) }, 2, 2, ""},
		{"v1 checksum of data", jbdCompatChecksum, 0, func(_ *logBuilder, b []byte) { b[5*builderBS] ^= 1 }, 1, 1, "commit block at byte 6144 fails its checksum"},
		{"log ends", 0, v3, func(_ *logBuilder, b []byte) { clear(b[7*builderBS : 8*builderBS]) }, 2, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			j, err := build(c.compat, c.incompat, c.damage)
			if err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(j.notes, "; ")
			if j.transactions != c.tx || len(j.blocks) != c.blocks || !strings.Contains(notes, c.note) || (c.note == "") != (notes == "") {
				t.Errorf("%d transactions, %d blocks, notes %q; want %d, %d, %q", j.transactions, len(j.blocks), notes, c.tx, c.blocks, c.note)
			}
		})
	}
}

// TestReplayHostile: logs that cannot be replayed are FormatErrors naming
// the structure and offset.
func TestReplayHostile(t *testing.T) {
	for _, c := range []struct {
		name, struct_ string
		off           int64
		build         func() []byte
	}{
		{"tag past the end", "jbd2 descriptor block", builderBS + 12, func() []byte {
			l := newLog(8, 1, 1, 0, jbdIncompat64bit)
			l.desc(1, []int64{1 << 40}, [][]byte{filled('x')}, -1)
			l.commit(1)
			return l.bytes()
		}},
		{"r_count", "jbd2 revoke block", builderBS + 12, func() []byte {
			l := newLog(8, 1, 1, 0, 0)
			l.revoke(1, []int64{3})
			l.commit(1)
			b := l.bytes()
			binary.BigEndian.PutUint32(b[builderBS+12:], 5000)
			return b
		}},
		{"maxlen", "jbd2 superblock", 0, func() []byte {
			b := newLog(8, 1, 1, 0, 0).bytes()
			binary.BigEndian.PutUint32(b[0x10:], 9)
			return b
		}},
		{"start", "jbd2 superblock", 0, func() []byte { return newLog(8, 8, 1, 0, 0).bytes() }},
		{"superblock checksum", "jbd2 superblock", 0, func() []byte {
			b := newLog(8, 1, 1, 0, jbdIncompatCsumV3).bytes()
			b[0x18] ^= 1
			return b
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := replayBytes(c.build(), 64)
			var fe *ondisk.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || fe.Struct != c.struct_ || fe.Off != c.off {
				t.Fatalf("error %v, want a FormatError at %s byte %d", err, c.struct_, c.off)
			}
		})
	}
	// A tag past the end in a transaction never committed is not replayed
	// and not an error.
	l := newLog(8, 1, 1, 0, jbdIncompat64bit)
	l.desc(1, []int64{1 << 40}, [][]byte{filled('x')}, -1)
	if j, err := replayBytes(l.bytes(), 64); err != nil || j.transactions != 0 {
		t.Errorf("uncommitted bad tag: %v, %v", j, err)
	}
}

// journalSeeds are the fuzz seeds: logs of every feature set, and a log
// the kernel wrote (testdata/journal).
func journalSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, fs := range featureSets {
		l := newLog(16, 13, 5, fs.compat, fs.incompat)
		l.desc(5, []int64{3, 4}, [][]byte{filled('a'), filled('b')}, -1)
		l.revoke(5, []int64{4})
		l.commit(5)
		l.desc(6, []int64{4}, [][]byte{filled('c')}, 0)
		l.commit(6)
		out = append(out, l.bytes())
	}
	for _, b := range seeds(t, "testdata/journal/*.jnl.gz") {
		out = append(out, b)
	}
	return out
}

// FuzzJournal: any journal file replays or fails with a FormatError; what
// it replays lies inside the journal, and reads back.
func FuzzJournal(f *testing.F) {
	for _, b := range journalSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const fsBlocks = 1 << 20
		j, err := replayBytes(b, fsBlocks)
		if err != nil {
			if !isFormatError(err) {
				t.Fatalf("%v is not a FormatError", err)
			}
			return
		}
		if len(j.blocks) > len(b)/builderBS {
			t.Fatalf("%d blocks replayed from a journal of %d", len(j.blocks), len(b)/builderBS)
		}
		o := newOverlay(bytes.NewReader(b), builderBS, j.blocks)
		buf := make([]byte, 3*builderBS)
		for blk, c := range j.blocks {
			if blk >= fsBlocks || c.off < 0 || c.off+builderBS > int64(len(b)) {
				t.Fatalf("block %d from byte %d of %d", blk, c.off, len(b))
			}
			if blk*builderBS+int64(len(buf)) <= int64(len(b)) {
				if n, err := o.ReadAt(buf, blk*builderBS); n != len(buf) {
					t.Fatalf("block %d: %d bytes, %v", blk, n, err)
				}
			}
		}
	})
}
