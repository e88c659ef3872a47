package vmfstest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Result says what a reader must find in a written volume.
type Result struct {
	Image     string   // path of the image file (the first extent's)
	Images    []string // every extent's image, in extent order
	Version   int
	Label     string
	BlockSize int64
	// PartitionOffset is where the volume's partition starts in the image
	// (0 for a bare partition image); the LVM header is 1 MiB further.
	PartitionOffset int64
	VolumeSize      int64 // logical volume size
	FSUUID, LVMUUID string
	// Entries lists every live entry below "/", system files included,
	// sorted bytewise by path; Deleted lists the deleted ones.
	Entries []*Expect
	Deleted []*Expect
}

// Expect is one entry a reader must find (or, when deleted, may recover).
type Expect struct {
	Path       string // absolute, "/a/b"
	Kind       Kind
	Size       int64
	Target     string // symlinks
	Mode       uint32 // permission bits as stored in the FD
	MTime      time.Time
	FD         uint32 // file descriptor address
	Addressing Addressing
	System     bool
	// ZeroedThick files have allocated blocks flagged to-be-zeroed.
	ZeroedThick bool
	// Allocated lists the byte ranges of the file that have storage (thin
	// files leave holes unallocated).
	Allocated []Range

	n    *node
	vm   *volMap
	once sync.Once
	sum  string
	err  error
}

// ReadAt reads the entry's content as written.
func (e *Expect) ReadAt(p []byte, off int64) (int, error) {
	if off >= e.Size {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.Size-off)
	if e.System && e.Kind == File {
		// System files are runs of blocks in the image(s).
		n := e.n
		bs := n.bsize
		done := int64(0)
		for done < k {
			pos := off + done
			ln := min(k-done, bs-pos%bs)
			if err := e.vm.read(p[done:done+ln], n.sysVol[pos/bs]+pos%bs); err != nil {
				return int(done), err
			}
			done += ln
		}
	} else {
		e.n.ReadAt(p[:k], off)
	}
	if k < int64(len(p)) {
		return int(k), io.EOF
	}
	return int(k), nil
}

// volMap reads the logical volume out of the extent images.
type volMap struct {
	paths        []string
	first, count []int64 // PE units per extent
	base         int64   // partition offset in each image
}

func (v *volMap) read(p []byte, off int64) error {
	for len(p) > 0 {
		k := len(v.paths) - 1
		for i := range v.paths {
			if off/peSize < v.first[i]+v.count[i] {
				k = i
				break
			}
		}
		local := off - v.first[k]*peSize
		n := min(int64(len(p)), v.count[k]*peSize-local)
		f, err := os.Open(v.paths[k])
		if err != nil {
			return err
		}
		_, err = f.ReadAt(p[:n], v.base+dataOffset+local)
		f.Close()
		if err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// inHoles reports whether [off, off+n) reads as zeros by construction (a
// hole or past the end); system files report false.
func (e *Expect) inHoles(off, n int64) bool {
	return !e.System && e.Kind == File && e.n.Entry.Data == nil && e.n.inHoles(off, n)
}

// Reader returns the content as a stream.
func (e *Expect) Reader() io.Reader { return io.NewSectionReader(e, 0, e.Size) }

// SHA256 returns the hex SHA-256 of the content (computed once; slow for
// huge files: about 300 MB/s without SHA instructions).
func (e *Expect) SHA256() (string, error) {
	e.once.Do(func() {
		h := sha256.New()
		if e.Kind == Dir {
			e.sum = "-"
			return
		}
		_, e.err = io.CopyBuffer(h, e.Reader(), make([]byte, 1<<20))
		e.sum = hex.EncodeToString(h.Sum(nil))
	})
	return e.sum, e.err
}

// Line renders the entry as a line of an .expected file.
func (e *Expect) Line() (string, error) {
	switch e.Kind {
	case Dir:
		return fmt.Sprintf("d %d - %s", e.Size, e.Path), nil
	case Symlink:
		return fmt.Sprintf("l %d %s %s", e.Size, e.Target, e.Path), nil
	}
	sum, err := e.SHA256()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("f %d %s %s", e.Size, sum, e.Path), nil
}

// Expected renders the listing exactly as ../shared/testdata/real/*.expected:
// every live entry, system files included, sorted by path, one line each.
func (r *Result) Expected() (string, error) {
	var b strings.Builder
	for _, e := range r.Entries {
		line, err := e.Line()
		if err != nil {
			return "", err
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// Lookup finds an entry (live or deleted) by absolute path.
func (r *Result) Lookup(path string) *Expect {
	for _, l := range [][]*Expect{r.Entries, r.Deleted} {
		for _, e := range l {
			if e.Path == path {
				return e
			}
		}
	}
	return nil
}

func (w *writer) result(image string) *Result {
	r := &Result{Image: image, Version: w.s.Version, Label: w.s.Label, BlockSize: w.bs,
		PartitionOffset: w.base, VolumeSize: w.volSize,
		FSUUID: uuidString(w.fsUUID), LVMUUID: uuidString(w.lvmUUID)}
	vm := &volMap{base: w.base}
	for _, x := range w.exts {
		r.Images = append(r.Images, x.path)
		vm.paths = append(vm.paths, x.path)
		vm.first = append(vm.first, x.first)
		vm.count = append(vm.count, x.count)
	}
	for _, n := range w.nodes {
		if n.parent == nil {
			continue
		}
		e := &Expect{Path: n.fullPath(), Kind: n.Kind, Size: n.size(), Target: n.Target,
			Mode: n.mode(), MTime: time.Unix(int64(w.mtime(n)), 0).UTC(), FD: n.fd,
			Addressing: zlaAddressing(n.zla), System: n.sys, ZeroedThick: n.numTBZ > 0, n: n, vm: vm}
		if p := w.plans[n]; p != nil && p.unit > 0 {
			for i, off := range p.vol {
				if off >= 0 {
					pos := int64(i) * p.unit
					e.Allocated = append(e.Allocated, Range{pos, min(p.unit, n.size()-pos)})
				}
			}
		}
		if n.Deleted || hasDeletedAncestor(n) {
			r.Deleted = append(r.Deleted, e)
		} else {
			r.Entries = append(r.Entries, e)
		}
	}
	sort.Slice(r.Entries, func(i, j int) bool { return r.Entries[i].Path < r.Entries[j].Path })
	sort.Slice(r.Deleted, func(i, j int) bool { return r.Deleted[i].Path < r.Deleted[j].Path })
	return r
}

func hasDeletedAncestor(n *node) bool {
	for p := n.parent; p != nil; p = p.parent {
		if p.Deleted {
			return true
		}
	}
	return false
}

func zlaAddressing(z uint32) Addressing {
	switch z {
	case zlaInline:
		return Resident
	case zlaSB:
		return SubBlocks
	case zlaFB:
		return Blocks
	case zlaPB, zlaPB2:
		return Pointers
	case zlaDouble:
		return Double
	}
	return Auto
}
