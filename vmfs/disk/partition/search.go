package partition

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sort"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Found is a file system located by Search: where it starts on the disk,
// the size it records for itself, and the structures that place it there.
type Found struct {
	Start int64  `json:"start"`
	Size  int64  `json:"size"`
	FS    string `json:"fs"`
	// HeadIntact: the boot sector or superblock at the start survives.
	// When it does not (encrypted, overwritten), the file system was placed
	// by a backup copy; tools that mount it need that copy (see Evidence).
	HeadIntact bool     `json:"head_intact"`
	Evidence   []string `json:"evidence"`
	// CopyAt is the disk offset of the first copy that placed it (its head
	// when intact); BlockSize, for ext2/3/4, the unit that numbers its
	// superblock copies.
	CopyAt    int64 `json:"copy_at"`
	BlockSize int64 `json:"block_size,omitempty"`
}

// Repair returns the command that rebuilds the head of the file system
// from its backup copy in image, a copy of the file system alone (written
// by 'vmfsrecover dump --offset Start --length Size'); "" when the head is
// intact. The command changes image only, never the disk it came from.
func (f Found) Repair(image string) string {
	if f.HeadIntact {
		return ""
	}
	in := f.CopyAt - f.Start // where the copy lies in image
	switch f.FS {
	case FSNTFS: // the boot sector, from the partition's last sector
		return fmt.Sprintf("dd if=%[1]s of=%[1]s bs=512 skip=%[2]d count=1 conv=notrunc", image, in/512)
	case FSFAT32: // boot sector, FSInfo and sector 2, from sectors 6-8
		return fmt.Sprintf("dd if=%[1]s of=%[1]s bs=%[2]d skip=6 count=3 conv=notrunc", image, in/6)
	case FSExFAT: // the 12-sector boot region, from its copy
		return fmt.Sprintf("dd if=%[1]s of=%[1]s bs=%[2]d skip=1 count=1 conv=notrunc", image, in)
	case FSExt2, FSExt3, FSExt4:
		return fmt.Sprintf("e2fsck -y -b %d -B %d %s", in/f.BlockSize, f.BlockSize, image)
	case FSXFS:
		return "xfs_repair " + image
	case FSBtrfs:
		return "btrfs rescue super-recover -y " + image
	}
	return ""
}

// The copies each file system keeps, which let Search place it when its
// head (and the partition table before it) is gone:
//   - NTFS: the boot sector, and a copy in the partition's last sector;
//     checked by the $MFT record its boot sector locates;
//   - FAT32: the boot sector, and a copy BPB_BkBootSec sectors in (6);
//     exFAT: the boot region, and a copy 12 sectors in; both checked by the
//     first entries of the FAT;
//   - ext2/3/4: the superblock at 1 KiB, and copies at the start of block
//     groups 1, 3, 5, 7, 9, 25, ... that record their group number;
//   - XFS: the superblock, and a copy at the start of every allocation
//     group, all with the same UUID;
//   - Btrfs: the superblock at 64 KiB, and copies at 64 MiB and 256 GiB
//     that record their own offset.
//
// A copy found alone is a candidate; a candidate is reported when a second
// structure confirms it (another copy, the NTFS $MFT, the FAT), or, for a
// head that survives, when its own copy is the only one the format keeps.

// maxFound bounds the candidates a hostile or strange disk can make Search
// keep; maxEvidence the evidence kept for one.
const (
	maxFound    = 4096
	maxEvidence = 8
	searchChunk = 4 << 20
)

type candidateKey struct {
	fs    string
	start int64
}

type candidate struct {
	Found
	copies int // superblock or boot-sector copies that agree
}

type xfsCopy struct {
	off    int64
	agSize int64
	agCnt  int64
	size   int64
}

type searcher struct {
	r     io.ReaderAt
	size  int64
	cands map[candidateKey]*candidate
	xfs   map[[16]byte][]xfsCopy
	// xfsCopies counts the copies in xfs, bounded by maxFound.
	xfsCopies int
}

// Search reads the disk r of size bytes (only the ranges of m when m is
// not nil: the holes of a sparse disk hold nothing) and returns the file
// systems it finds by their boot sectors, superblocks and their backup
// copies, sorted by start. It is how a guest disk whose partition table
// and first megabytes were encrypted by ransomware gets its partitions
// back. progress, when not nil, is called with the bytes read so far.
func Search(ctx context.Context, r io.ReaderAt, size int64, m allocmap.Map, progress func(int64)) ([]Found, error) {
	if m == nil {
		m = allocmap.Map{{Off: 0, Len: size}}
	}
	s := &searcher{r: r, size: size, cands: map[candidateKey]*candidate{}, xfs: map[[16]byte][]xfsCopy{}}
	buf := make([]byte, searchChunk)
	var done int64
	for _, rg := range m {
		start := rg.Off &^ 511
		end := min(rg.End(), size)
		for off := start; off < end; off += searchChunk {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			b := buf[:min(int64(searchChunk), end-off)]
			n, err := r.ReadAt(b, off)
			if n < len(b) && err != nil && err != io.EOF {
				return nil, fmt.Errorf("reading the disk at byte %d: %w", off+int64(n), err)
			}
			for i := 0; i+512 <= n; i += 512 {
				s.sector(b[i:i+512], off+int64(i))
			}
			done += int64(len(b))
			if progress != nil {
				progress(done)
			}
		}
	}
	s.placeXFS()
	return s.confirmed(), nil
}

// add counts the copy at disk offset at as evidence for a file system of
// the given size at start.
func (s *searcher) add(fs string, start, size, at int64, head bool, evidence string) {
	if start < 0 || size <= 0 || start+size > s.size+1<<20 {
		return // a copy that cannot belong to a file system on this disk
	}
	k := candidateKey{fs, start}
	c := s.cands[k]
	if c == nil {
		if len(s.cands) >= maxFound {
			return
		}
		c = &candidate{Found: Found{Start: start, Size: size, FS: fs, CopyAt: at}}
		s.cands[k] = c
	}
	c.copies++
	c.HeadIntact = c.HeadIntact || head
	if len(c.Evidence) < maxEvidence {
		c.Evidence = append(c.Evidence, evidence)
	}
}

// sector looks at one 512-byte sector at disk offset off.
func (s *searcher) sector(b []byte, off int64) {
	le := binary.LittleEndian
	switch {
	case string(b[3:11]) == "NTFS    " && b[510] == 0x55 && b[511] == 0xAA:
		bps := int64(le.Uint16(b[11:]))
		total := int64(le.Uint64(b[40:]))
		if !sectorSize(bps) || total <= 0 || total > s.size/bps {
			return
		}
		size := (total + 1) * bps // the backup sits in the sector after the last one counted
		s.add(FSNTFS, off, size, off, true, fmt.Sprintf("boot sector at byte %d", off))
		s.add(FSNTFS, off-total*bps, size, off, false, fmt.Sprintf("backup boot sector at byte %d", off))
	case string(b[3:11]) == "EXFAT   " && b[510] == 0x55 && b[511] == 0xAA:
		shift := b[108]
		if shift < 9 || shift > 12 {
			return
		}
		bps := int64(1) << shift
		size := int64(le.Uint64(b[72:])) * bps
		s.add(FSExFAT, off, size, off, true, fmt.Sprintf("boot sector at byte %d", off))
		s.add(FSExFAT, off-12*bps, size, off, false, fmt.Sprintf("backup boot sector at byte %d", off))
	case bytes.HasPrefix(b[82:], []byte("FAT32   ")) && b[510] == 0x55 && b[511] == 0xAA:
		bps := int64(le.Uint16(b[11:]))
		if !sectorSize(bps) {
			return
		}
		size := int64(le.Uint32(b[32:])) * bps
		s.add(FSFAT32, off, size, off, true, fmt.Sprintf("boot sector at byte %d", off))
		if bk := int64(le.Uint16(b[50:])); bk > 0 && bk < 64 {
			s.add(FSFAT32, off-bk*bps, size, off, false, fmt.Sprintf("backup boot sector at byte %d", off))
		}
	case le.Uint16(b[56:]) == 0xEF53:
		s.ext(b, off)
	case string(b[:4]) == "XFSB":
		s.xfsCopy(b, off)
	case string(b[0x40:0x48]) == "_BHRfS_M":
		self := int64(le.Uint64(b[0x30:]))
		if self != 64<<10 && self != 64<<20 && self != 256<<30 {
			return
		}
		s.add(FSBtrfs, off-self, int64(le.Uint64(b[0x70:])), off, self == 64<<10, fmt.Sprintf("superblock copy at byte %d (offset %d in the file system)", off, self))
	}
}

func sectorSize(bps int64) bool { return bps == 512 || bps == 1024 || bps == 2048 || bps == 4096 }

// ext places an ext2/3/4 superblock copy by the block group it records.
func (s *searcher) ext(b []byte, off int64) {
	le := binary.LittleEndian
	logBS := le.Uint32(b[24:])
	if logBS > 6 {
		return
	}
	bs := int64(1024) << logBS
	bpg := int64(le.Uint32(b[32:]))
	first := int64(le.Uint32(b[20:]))
	blocks := int64(le.Uint32(b[4:]))
	if le.Uint32(b[96:])&0x80 != 0 { // 64bit: the high half
		blocks |= int64(le.Uint32(b[0x150:])) << 32
	}
	if bpg <= 0 || bpg > 8*bs || blocks <= 0 || le.Uint32(b[0:]) == 0 || first > 1 {
		return
	}
	group := int64(le.Uint16(b[90:]))
	start := off - 1024
	if group > 0 {
		start = off - (first+group*bpg)*bs
	}
	s.add(FSExt4, start, blocks*bs, off, group == 0, fmt.Sprintf("superblock of block group %d at byte %d", group, off))
	if c := s.cands[candidateKey{FSExt4, start}]; c != nil {
		c.BlockSize = bs
	}
}

// xfsCopy records an XFS superblock copy; placeXFS places them together.
func (s *searcher) xfsCopy(b []byte, off int64) {
	be := binary.BigEndian
	bs := int64(be.Uint32(b[4:]))
	if bs < 512 || bs > 65536 || bs&(bs-1) != 0 {
		return
	}
	agBlocks, agCount := int64(be.Uint32(b[84:])), int64(be.Uint32(b[88:]))
	dblocks := int64(be.Uint64(b[8:]))
	if agBlocks <= 0 || agCount <= 0 || dblocks <= 0 || agCount > 1<<20 {
		return
	}
	var id [16]byte
	copy(id[:], b[32:48])
	if s.xfsCopies < maxFound {
		s.xfsCopies++
		s.xfs[id] = append(s.xfs[id], xfsCopy{off: off, agSize: agBlocks * bs, agCnt: agCount, size: dblocks * bs})
	}
}

// placeXFS places each XFS file system by its superblock copies: they lie
// at the start of every allocation group, so the file system starts where
// the last group's copy says, or at the first copy when the last is gone.
func (s *searcher) placeXFS() {
	for _, copies := range s.xfs {
		first, last := copies[0], copies[len(copies)-1]
		start := last.off - (last.agCnt-1)*last.agSize
		aligned := start >= 0
		for _, c := range copies {
			aligned = aligned && c.off >= start && (c.off-start)%c.agSize == 0
		}
		if !aligned {
			start = first.off
		}
		for _, c := range copies {
			if c.off < start || (c.off-start)%c.agSize != 0 {
				continue
			}
			ag := (c.off - start) / c.agSize
			s.add(FSXFS, start, c.size, c.off, ag == 0, fmt.Sprintf("superblock of allocation group %d at byte %d", ag, c.off))
		}
	}
}

// confirmed keeps the candidates a second structure confirms.
func (s *searcher) confirmed() []Found {
	var out []Found
	for _, c := range s.cands {
		ok := c.copies >= 2
		switch c.FS {
		case FSNTFS:
			if !ok {
				ok = s.ntfsMFT(c)
			}
		case FSFAT32, FSExFAT:
			if !ok {
				ok = s.fatTable(c)
			}
		case FSExt4:
			// A small file system keeps no backup, a two-group one just
			// one: a copy alone must carry a right checksum.
			ok = ok || c.HeadIntact || s.extChecksum(c)
			if sb := s.read(c.CopyAt, 1024); sb != nil {
				c.FS = ExtVariant(sb)
			}
		case FSBtrfs:
			ok = ok || c.HeadIntact || s.btrfsChecksum(c)
		case FSXFS:
			ok = ok || c.HeadIntact
		}
		if ok {
			out = append(out, c.Found)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].FS < out[j].FS
	})
	return out
}

// read reads n bytes at off, or returns nil.
func (s *searcher) read(off int64, n int) []byte {
	if off < 0 || off+int64(n) > s.size {
		return nil
	}
	b := make([]byte, n)
	if k, err := s.r.ReadAt(b, off); k < n && err != nil {
		return nil
	}
	return b
}

// ntfsMFT confirms an NTFS candidate by the $MFT record its boot sector
// copy locates.
func (s *searcher) ntfsMFT(c *candidate) bool {
	b := s.read(c.CopyAt, 512)
	if b == nil {
		return false
	}
	le := binary.LittleEndian
	bps := int64(le.Uint16(b[11:]))
	spc := int64(b[13])
	if spc > 0x80 {
		spc = 1 << (256 - spc)
	}
	// The $MFT, or its mirror when the damage reached the $MFT too.
	for i, field := range []int{48, 56} {
		mft := c.Start + int64(le.Uint64(b[field:]))*spc*bps
		if mft > c.Start && string(s.read(mft, 4)) == "FILE" {
			c.Evidence = append(c.Evidence, fmt.Sprintf("%s record at byte %d", []string{"$MFT", "$MFTMirr"}[i], mft))
			return true
		}
	}
	return false
}

// extChecksum confirms an ext4 candidate by the CRC-32C of its superblock
// copy (metadata_csum, the default of mkfs.ext4 since e2fsprogs 1.43).
func (s *searcher) extChecksum(c *candidate) bool {
	sb := s.read(c.CopyAt, 1024)
	const metadataCsum = 0x400
	if sb == nil || binary.LittleEndian.Uint32(sb[100:])&metadataCsum == 0 {
		return false
	}
	if ^crc32.Checksum(sb[:0x3FC], castagnoli) != binary.LittleEndian.Uint32(sb[0x3FC:]) {
		return false
	}
	c.Evidence = append(c.Evidence, "the copy's CRC-32C is right")
	return true
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// btrfsChecksum confirms a Btrfs candidate by the CRC-32C its superblock
// copy carries over itself.
func (s *searcher) btrfsChecksum(c *candidate) bool {
	sb := s.read(c.CopyAt, 4096)
	if sb == nil || binary.LittleEndian.Uint16(sb[0xC4:]) != 0 { // 0: crc32c
		return false
	}
	if crc32.Checksum(sb[0x20:], castagnoli) != binary.LittleEndian.Uint32(sb) {
		return false
	}
	c.Evidence = append(c.Evidence, "the copy's CRC-32C is right")
	return true
}

// fatTable confirms a FAT32 or exFAT candidate by the first entries of its
// first FAT, which its boot sector copy locates.
func (s *searcher) fatTable(c *candidate) bool {
	b := s.read(c.CopyAt, 512)
	if b == nil {
		return false
	}
	le := binary.LittleEndian
	var fat int64
	var want []byte
	if c.FS == FSExFAT {
		fat = c.Start + int64(le.Uint32(b[80:]))<<b[108]
		want = []byte{0xF8, 0xFF, 0xFF, 0xFF}
	} else {
		fat = c.Start + int64(le.Uint16(b[14:]))*int64(le.Uint16(b[11:]))
		want = []byte{b[21], 0xFF, 0xFF}
	}
	if got := s.read(fat, len(want)); fat <= c.Start || !bytes.Equal(got, want) {
		return false
	}
	c.Evidence = append(c.Evidence, fmt.Sprintf("file allocation table at byte %d", fat))
	return true
}
