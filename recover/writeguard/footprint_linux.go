package writeguard

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysBlock is where the kernel describes block devices by number.
const sysBlock = "/sys/dev/block"

// maxStack bounds how deep stacked devices are followed (a partition of a
// loop device backed by a file on a device-mapper device on a partition).
const maxStack = 8

func (g *Guard) footprintOf(path string, fi fs.FileInfo) footprint {
	var fp footprint
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0 {
		fp.merge(g.blockFootprint(uint64(st.Rdev), false))
		return fp
	}
	fp.direct.files = append(fp.direct.files, fileRange{path: path, fi: fi, end: math.MaxInt64, whole: true})
	if ok {
		fp.merge(g.blockFootprint(uint64(st.Dev), true))
	}
	return fp
}

// blockKey names a cached block device expansion: an export checks every
// file it writes, nearly all on one file system, and reading /sys for each
// would cost more than the write of a small file.
type blockKey struct {
	dev   uint64
	under bool // the device holds a file system (fp.under), rather than being written raw
}

// blockFootprint is what block device dev covers, in fp.under when under
// is set, else in fp.direct.
func (g *Guard) blockFootprint(dev uint64, under bool) footprint {
	key := blockKey{dev, under}
	if v, ok := g.blocks.Load(key); ok {
		return v.(footprint)
	}
	var fp footprint
	l := &fp.direct
	if under {
		l = &fp.under
	}
	fp.addBlock(l, dev, 0)
	g.blocks.Store(key, fp)
	return fp
}

// addFile adds a file range to l, and the storage of the file system the
// file lies on to fp.under.
func (fp *footprint) addFile(l *layer, f fileRange, depth int) {
	l.files = append(l.files, f)
	if st, ok := f.fi.Sys().(*syscall.Stat_t); ok {
		fp.addBlock(&fp.under, uint64(st.Dev), depth+1)
	}
}

// addBlock adds the sectors of block device dev to l, then what the device
// is made of: the devices under a device-mapper or md device (all of
// each), and the part of the file behind a loop device that dev covers. A
// device the kernel does not list under /sys/dev/block (the anonymous
// device of tmpfs, overlayfs, NFS) adds nothing.
func (fp *footprint) addBlock(l *layer, dev uint64, depth int) {
	if depth > maxStack {
		return
	}
	dir, err := filepath.EvalSymlinks(fmt.Sprintf("%s/%d:%d", sysBlock, unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		return
	}
	disk, start := dir, int64(0)
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		disk = filepath.Dir(dir)
		if start, err = readInt(filepath.Join(dir, "start")); err != nil {
			return
		}
	}
	size, err := readInt(filepath.Join(dir, "size"))
	if err != nil {
		return
	}
	diskDev, err := readDev(filepath.Join(disk, "dev"))
	if err != nil {
		return
	}
	l.spans = append(l.spans, span{disk: diskDev, start: start, end: start + size, name: "/dev/" + filepath.Base(disk)})
	slaves, _ := os.ReadDir(filepath.Join(disk, "slaves"))
	for _, s := range slaves {
		if d, err := readDev(filepath.Join(disk, "slaves", s.Name(), "dev")); err == nil {
			fp.addBlock(l, d, depth+1)
		}
	}
	if b, err := os.ReadFile(filepath.Join(disk, "loop", "backing_file")); err == nil {
		backing := strings.TrimSpace(string(b))
		offset, _ := readInt(filepath.Join(disk, "loop", "offset"))
		if fi, err := os.Stat(backing); err == nil {
			fp.addFile(l, fileRange{path: backing, fi: fi, off: offset + start*512, end: offset + (start+size)*512}, depth+1)
		}
	}
}

func readInt(name string) (int64, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// readDev reads a "MAJOR:MINOR" file of sysfs.
func readDev(name string) (uint64, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	maj, min, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return 0, fmt.Errorf("%s: %q is not MAJOR:MINOR", name, b)
	}
	ma, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return 0, err
	}
	mi, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return 0, err
	}
	return unix.Mkdev(uint32(ma), uint32(mi)), nil
}
