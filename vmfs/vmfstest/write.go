package vmfstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// Fixed geometry shared by VMFS5 and VMFS6 (vmfs.md: "Where a volume starts",
// "LVM device header", "Volume layout").
const (
	lvmHeaderOff = layout.LVMHeaderOffset // from the partition start
	dataOffset   = 0x1100000              // first physical extent, from the partition start
	peSize       = 256 * mib              // physical-extent unit
	fsDescOff    = layout.FSDescOffset    // volume offset
	hbOff        = layout.HeartbeatOffset // volume offset
)

// The format's magic numbers, addressing modes and FD types, named short
// for the writer; vmfs/layout defines them for the reader and the writer.
const (
	lockFD     = layout.LockFD
	lockFBB    = layout.LockFBB
	lockSBC    = layout.LockSBC
	lockPBC    = layout.LockPBC
	lockFDC    = layout.LockFDC
	lockPB2    = layout.LockPB2
	lockJBC    = layout.LockJBC
	lockLFB    = layout.LockLFB
	zlaFB      = layout.ZLAFileBlock
	zlaSB      = layout.ZLASubBlock
	zlaPB      = layout.ZLAPointerBlock
	zlaPB2     = layout.ZLAPointerBlock2
	zlaDouble  = layout.ZLADoubleIndirect
	zlaInline  = layout.ZLAResident
	typeDir    = layout.TypeDirectory
	typeFile   = layout.TypeRegular
	typeLink   = layout.TypeSymlink
	typeSystem = layout.TypeSystem
)

// ErrTooBig reports a tree that does not fit the format's limits.
var ErrTooBig = errors.New("vmfstest: tree exceeds a format limit")

// writer holds the state of one Write.
type writer struct {
	s    Spec
	f    *os.File // the extent being written by the per-device steps
	cur  int      // its index
	exts []*extent
	base int64 // partition start in the image file
	v6   bool

	bs      int64 // file block size
	sbs     int64 // sub-block size
	md      int64 // metadata block: lock size; 512 on VMFS5
	fdSlot  layout.FDSlot
	slot    int64 // FD slot
	nptr    int64 // pointers in an FD
	ppb     int64 // pointers per pointer block
	resMax  int64 // resident data capacity
	pbSize  int64
	volSize int64
	nblocks int64

	root  *node
	nodes []*node // every node, FD order
	sys   map[string]*node

	fdc, sbc, pbc, pb2, fbb, jbc *resFile
	blkUsed                      []bool
	nextBlk                      int64
	endBlk                       int64 // blocks from here on are taken by AtEnd files
	gen                          uint32

	plans map[*node]*dataPlan
	lfb   *resFile // VMFS6: large-file-block level of .fbb.sf

	lvmUUID, fsUUID, devUUID [16]byte
}

// extent is one device of the volume: PEs [first, first+count) of it.
type extent struct {
	path         string
	f            *os.File
	first, count int64
}

// extentPath names extent k's image: path itself for k = 0, else
// path with "-extK" before its extension.
func extentPath(path string, k int) string {
	if k == 0 {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-ext%d%s", strings.TrimSuffix(path, ext), k, ext)
}

// uuid makes a VMFS UUID: time, a value derived from the seed, and a VMware MAC.
func makeUUID(t uint32, seed uint64, k uint64) [16]byte {
	var u [16]byte
	x := splitmix(seed*31 + k)
	binary.LittleEndian.PutUint32(u[0:], t)
	binary.LittleEndian.PutUint32(u[4:], uint32(x))
	binary.LittleEndian.PutUint16(u[8:], uint16(x>>32))
	copy(u[10:], []byte{0x00, 0x0c, 0x29, byte(seed), byte(seed >> 8), 0x86})
	return u
}

// writeVol writes p at volume offset off, skipping runs of zeros so the
// image stays sparse.
func (w *writer) writeVol(off int64, p []byte) error {
	const chunk = 64 << 10
	for len(p) > 0 {
		x := w.extentAt(off)
		local := off - x.first*peSize
		n := min(int64(len(p)), x.count*peSize-local)
		for i := int64(0); i < n; i += chunk {
			end := min(i+chunk, n)
			if allZero(p[i:end]) {
				continue
			}
			if _, err := x.f.WriteAt(p[i:end], w.base+dataOffset+local+i); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (w *writer) extentAt(off int64) *extent {
	unit := off / peSize
	for _, x := range w.exts {
		if unit >= x.first && unit < x.first+x.count {
			return x
		}
	}
	return w.exts[len(w.exts)-1]
}

var zeros [64 << 10]byte

func allZero(p []byte) bool {
	for len(p) > 0 {
		k := min(len(p), len(zeros))
		if !bytes.Equal(p[:k], zeros[:k]) {
			return false
		}
		p = p[k:]
	}
	return true
}

// sysVol maps an offset inside a contiguous system file to the volume.
func (w *writer) resVol(r *resFile, fileOff int64) int64 { return r.start*w.bs + fileOff }

// allocBlocks takes n contiguous free volume blocks.
func (w *writer) allocBlocks(n int64) (int64, error) {
	for w.nextBlk < w.nblocks && w.blkUsed[w.nextBlk] {
		w.nextBlk++
	}
	if w.nextBlk+n > w.endBlk {
		return 0, fmt.Errorf("%w: volume of %d blocks is full", ErrTooBig, w.nblocks)
	}
	start := w.nextBlk
	for i := start; i < start+n; i++ {
		w.blkUsed[i] = true
	}
	w.nextBlk += n
	return start, nil
}

// allocBlocksEnd takes the last n contiguous free volume blocks (for
// Entry.AtEnd).
func (w *writer) allocBlocksEnd(n int64) (int64, error) {
	for w.endBlk > w.nextBlk && w.blkUsed[w.endBlk-1] {
		w.endBlk--
	}
	if w.endBlk-n < w.nextBlk {
		return 0, fmt.Errorf("%w: volume of %d blocks is full", ErrTooBig, w.nblocks)
	}
	w.endBlk -= n
	for i := w.endBlk; i < w.endBlk+n; i++ {
		w.blkUsed[i] = true
	}
	return w.endBlk, nil
}

func (w *writer) closeAll() error {
	var first error
	for _, x := range w.exts {
		if err := x.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func log2(x int64) uint8 { return uint8(bits.TrailingZeros64(uint64(x))) }

// Write builds the volume described by spec as a sparse image file at
// path (created or truncated) and returns what a reader must find there.
func Write(path string, spec Spec) (*Result, error) {
	w, err := plan(spec)
	if err != nil {
		return nil, err
	}
	units := w.volSize / peSize
	n := int64(max(w.s.Extents, 1))
	for k := range n {
		first, last := k*units/n, (k+1)*units/n
		f, err := os.OpenFile(extentPath(path, int(k)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			w.closeAll()
			return nil, err
		}
		w.exts = append(w.exts, &extent{path: extentPath(path, int(k)), f: f, first: first, count: last - first})
	}
	err = w.write()
	if cerr := w.closeAll(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("vmfstest: writing %s: %w", path, err)
	}
	return w.result(path), nil
}
