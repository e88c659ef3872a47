package xfs

import (
	"encoding/binary"
	"fmt"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"io"
	"io/fs"
	"sync"
	"time"
)

// Data fork formats (di_format).
const (
	fmtDev     = 0
	fmtLocal   = 1
	fmtExtents = 2
	fmtBtree   = 3
)

// Mode bits of di_mode.
const (
	sIFMT   = 0o170000
	sIFIFO  = 0o010000
	sIFCHR  = 0o020000
	sIFDIR  = 0o040000
	sIFBLK  = 0o060000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFSOCK = 0o140000
)

const (
	diflagRealtime  = 0x0001
	diflag2Bigtime  = 0x0008
	diflag2Nrext64  = 0x0010
	bigtimeEpochOff = 1 << 31 // bigtime counts from 1901-12-13, the oldest legacy time
)

// inode is a decoded on-disk inode (xfs_dinode). Big-endian:
//
//	0 magic "IN"  2 mode u16  4 version u8  5 format u8  6 onlink u16 (v1)
//	16 nlink u32 (v2+)  24 big_nextents u64 (nrext64)  32 atime  40 mtime
//	48 ctime (8 bytes each)  56 size u64  64 nblocks u64
//	76 nextents u32  80 anextents u16  82 forkoff u8  83 aformat u8
//	90 flags u16  v3: 100 crc u32 (little-endian) 120 flags2 u64
//	144 crtime  152 ino u64; the data fork starts at 100 (v1, v2) or 176 (v3)
type inode struct {
	ino      uint64
	off      int64 // byte offset in the reader
	mode     uint16
	format   uint8
	nlink    uint32
	size     int64
	nextents uint64
	flags    uint16
	atime    time.Time
	mtime    time.Time
	ctime    time.Time
	fork     []byte // the data fork, read-only (it lies in a cached block)
}

func (in *inode) isDir() bool     { return in.mode&sIFMT == sIFDIR }
func (in *inode) isSymlink() bool { return in.mode&sIFMT == sIFLNK }
func (in *inode) isRegular() bool { return in.mode&sIFMT == sIFREG }

// ftype is the directory entry file type of the inode's mode.
func (in *inode) ftype() uint8 {
	switch in.mode & sIFMT {
	case sIFREG:
		return ftReg
	case sIFDIR:
		return ftDir
	case sIFCHR:
		return ftChr
	case sIFBLK:
		return ftBlk
	case sIFIFO:
		return ftFifo
	case sIFSOCK:
		return ftSock
	case sIFLNK:
		return ftSymlink
	}
	return ftUnknown
}

func (in *inode) structName() string { return fmt.Sprintf("XFS inode %d", in.ino) }

// fileMode is the io/fs mode of the inode.
func (in *inode) fileMode() fs.FileMode { return guestfs.UnixMode(in.mode) }

func (x *FS) timestamp(b []byte, big bool) time.Time {
	v := binary.BigEndian.Uint64(b)
	if big {
		return time.Unix(int64(v/1e9)-bigtimeEpochOff, int64(v%1e9)).UTC()
	}
	return time.Unix(int64(int32(v>>32)), int64(uint32(v))%1e9).UTC()
}

// readInode reads and checks inode ino.
func (x *FS) readInode(ino uint64) (*inode, error) {
	sb := x.sb
	what := fmt.Sprintf("XFS inode %d", ino)
	off, ok := sb.inodeOffset(ino)
	if !ok {
		return nil, corrupt(what, -1, "inode number outside the file system")
	}
	blk, err := x.inodeBlock(off &^ (sb.blockSize - 1))
	if err != nil {
		return nil, fmt.Errorf("reading %s at %#x: %w", what, off, err)
	}
	start := off & (sb.blockSize - 1)
	return x.decodeInode(blk[start:start+int64(sb.inodeSize)], ino, off)
}

// inodeBlocks is how many blocks of inodes FS keeps: listing a directory
// reads the inodes of its files, which lie together in their chunks.
const inodeBlocks = 256

// blockCache keeps the blocks read last, first in first out. Its blocks
// are never written to once cached, so inodes point into them.
type blockCache struct {
	mu     sync.Mutex
	index  map[int64]int
	blocks [][]byte
	offs   []int64
	next   int
}

// inodeBlock returns the block at byte off, from the cache or read.
func (x *FS) inodeBlock(off int64) ([]byte, error) {
	c := &x.iblocks
	c.mu.Lock()
	if i, ok := c.index[off]; ok {
		b := c.blocks[i]
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	b := make([]byte, x.sb.blockSize)
	if n, err := x.r.ReadAt(b, off); n < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index == nil {
		c.index = map[int64]int{}
		c.blocks = make([][]byte, inodeBlocks)
		c.offs = make([]int64, inodeBlocks)
	}
	if _, ok := c.index[off]; !ok {
		if c.blocks[c.next] != nil {
			delete(c.index, c.offs[c.next])
		}
		c.blocks[c.next], c.offs[c.next] = b, off
		c.index[off] = c.next
		c.next = (c.next + 1) % inodeBlocks
	}
	return b, nil
}

func (x *FS) decodeInode(b []byte, ino uint64, off int64) (*inode, error) {
	be := binary.BigEndian
	what := fmt.Sprintf("XFS inode %d", ino)
	if string(b[:2]) != "IN" {
		return nil, corrupt(what, off, "no IN magic")
	}
	in := &inode{ino: ino, off: off,
		mode:   be.Uint16(b[2:]),
		format: b[5],
		size:   int64(be.Uint64(b[56:])),
		flags:  be.Uint16(b[90:]),
	}
	version := b[4]
	core := 100
	var flags2 uint64
	switch version {
	case 1:
		in.nlink = uint32(be.Uint16(b[6:]))
	case 2:
		in.nlink = be.Uint32(b[16:])
	case 3:
		if x.sb.version != 5 {
			return nil, corrupt(what, off, "version 3 inode on a version 4 file system")
		}
		if !crcOK(b, 100) {
			return nil, corrupt(what, off, "bad checksum")
		}
		if got := be.Uint64(b[152:]); got != ino {
			return nil, corrupt(what, off, "holds inode %d", got)
		}
		in.nlink = be.Uint32(b[16:])
		flags2 = be.Uint64(b[120:])
		core = 176
	default:
		return nil, corrupt(what, off, "inode version %d", version)
	}
	if x.sb.version == 5 && version != 3 {
		return nil, corrupt(what, off, "version %d inode on a version 5 file system", version)
	}
	if flags2&diflag2Nrext64 != 0 {
		in.nextents = be.Uint64(b[24:])
	} else {
		in.nextents = uint64(be.Uint32(b[76:]))
	}
	big := flags2&diflag2Bigtime != 0
	in.atime = x.timestamp(b[32:], big)
	in.mtime = x.timestamp(b[40:], big)
	in.ctime = x.timestamp(b[48:], big)
	if in.size < 0 {
		return nil, corrupt(what, off, "size %d", in.size)
	}
	forkEnd := len(b)
	if fo := int(b[82]); fo != 0 {
		forkEnd = core + fo*8
		if forkEnd > len(b) {
			return nil, corrupt(what, off, "attribute fork at %d of a %d-byte inode", fo*8, len(b))
		}
	}
	in.fork = b[core:forkEnd:forkEnd]
	return in, nil
}
