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
		fp.merge(g.blockFootprint(uint64(st.Rdev), "", false))
		return fp
	}
	fp.direct.files = append(fp.direct.files, fileRange{path: path, fi: fi, end: math.MaxInt64, whole: true})
	if ok {
		fp.merge(g.blockFootprint(uint64(st.Dev), path, true))
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
// is set, else in fp.direct. path is a file on it, for the file systems
// that give their files an anonymous device number.
func (g *Guard) blockFootprint(dev uint64, path string, under bool) footprint {
	key := blockKey{dev, under}
	if v, ok := g.blocks.Load(key); ok {
		return v.(footprint)
	}
	var fp footprint
	l := &fp.direct
	if under {
		l = &fp.under
	}
	fp.addBlock(l, dev, path, 0)
	g.blocks.Store(key, fp)
	return fp
}

// addFile adds a file range to l, and the storage of the file system the
// file lies on to fp.under.
func (fp *footprint) addFile(l *layer, f fileRange, depth int) {
	l.files = append(l.files, f)
	if st, ok := f.fi.Sys().(*syscall.Stat_t); ok {
		fp.addBlock(&fp.under, uint64(st.Dev), f.path, depth+1)
	}
}

// addBlock adds the sectors of block device dev to l, then what the device
// is made of: the devices under a device-mapper or md device (all of
// each), and the part of the file behind a loop device that dev covers. A
// device the kernel does not list under /sys/dev/block (the anonymous
// device of tmpfs, overlayfs, NFS) adds nothing.
func (fp *footprint) addBlock(l *layer, dev uint64, path string, depth int) {
	if depth > maxStack {
		return
	}
	dir, err := filepath.EvalSymlinks(fmt.Sprintf("%s/%d:%d", sysBlock, unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		// btrfs gives its files an anonymous device number: the block
		// device is the one it was mounted from.
		if src, ok := mountedFrom(dev, path); ok {
			fp.addBlock(l, src, "", depth+1)
		}
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
			fp.addBlock(l, d, "", depth+1)
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

// mountedFrom returns the block device that the file system holding path,
// whose device number dev is anonymous, was mounted from, by
// /proc/self/mountinfo: the entry with that device number, else the one
// whose mount point is the longest prefix of path (btrfs gives each
// subvolume a number of its own, not the one mountinfo shows).
func mountedFrom(dev uint64, path string) (uint64, bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0, false
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		resolved = ""
	}
	id := fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
	var byDev, byPath, longest string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		_, after, ok := strings.Cut(line, " - ")
		a := strings.Fields(after)
		if !ok || len(f) < 5 || len(a) < 2 {
			continue
		}
		src, mp := a[1], mountEscapes.Replace(f[4])
		if f[2] == id {
			byDev = src
		}
		if resolved != "" && len(mp) >= len(longest) && (mp == "/" || resolved == mp || strings.HasPrefix(resolved, mp+"/")) {
			byPath, longest = src, mp
		}
	}
	for _, src := range []string{byDev, byPath} {
		var st unix.Stat_t
		if strings.HasPrefix(src, "/dev/") && unix.Stat(src, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			return uint64(st.Rdev), true
		}
	}
	return 0, false
}

// mountEscapes undoes the octal escapes of mountinfo's paths.
var mountEscapes = strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)

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
