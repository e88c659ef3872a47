package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Options tune Open.
type Options struct {
	// Tolerant reads what cannot be read (a missing extent or parent, a
	// device-backed extent, a damaged grain) as zeros and records a warning
	// instead of failing.
	Tolerant bool
	// MaxChain bounds the number of links (default 256).
	MaxChain int
	// UnmappedFromParent reads SESparse grains the guest unmapped (TRIM)
	// after the snapshot from the parent, as dissect does, instead of as
	// zeros, as VMware and qemu do: the older data the guest discarded,
	// for a forensic look at it.
	UnmappedFromParent bool
}

// Disk is an opened virtual disk: the newest link of a chain, read through
// to its parents. It is safe for concurrent ReadAt.
type Disk struct {
	top        *link
	size       int64
	opts       Options
	files      []*file
	compressed bool // some extent holds compressed grains: ReadAt decodes in parallel
	raw        bool
	prefix     string // shown before paths: "/" when opened from the local file system
	warnMu     sync.Mutex
	warnings   []string
	warnSeen   map[string]bool
	warnMore   int
}

// link is one descriptor and its extents.
type link struct {
	path     string // of the descriptor (or the single sparse file)
	desc     *Descriptor
	kind     string // "descriptor", "monolithic sparse", "standalone COWD", "raw", ...
	extents  []*linkExtent
	starts   []int64
	size     int64
	parent   *link
	tolerant bool
	warn     func(string)
}

type linkExtent struct {
	line   ExtentLine
	start  int64 // virtual byte offset inside the link
	size   int64
	format string // flat, sparse, compressed sparse, COWD, SESparse, zero, device, missing, unsupported
	file   string // resolved path, "" for none
	note   string
	ex     extent
}

// maxWarnings bounds the warnings kept; later ones are only counted.
const maxWarnings = 1000

func (d *Disk) warn(msg string) {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	if d.warnSeen[msg] {
		return
	}
	if len(d.warnings) >= maxWarnings {
		d.warnMore++
		return
	}
	d.warnSeen[msg] = true
	d.warnings = append(d.warnings, msg)
}

// Warnings returns the anomalies met so far (at open, and by reads in
// tolerant mode).
func (d *Disk) Warnings() []string {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	out := append([]string(nil), d.warnings...)
	if d.warnMore > 0 {
		out = append(out, fmt.Sprintf("... and %d more warnings", d.warnMore))
	}
	return out
}

// Open opens the VMDK (descriptor, single-file sparse disk) or raw image
// at a local path, read-only.
func Open(name string, opts *Options) (*Disk, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	return openDisk(os.DirFS("/"), strings.TrimPrefix(filepath.ToSlash(abs), "/"), opts, "/")
}

// OpenFS opens name inside fsys, whose files must implement io.ReaderAt
// (os.DirFS does; so do VMFS volumes). Extents and parents are looked up in
// the same file system.
func OpenFS(fsys fs.FS, name string, opts *Options) (*Disk, error) {
	return openDisk(fsys, name, opts, "")
}

func openDisk(fsys fs.FS, name string, opts *Options, prefix string) (*Disk, error) {
	d := &Disk{warnSeen: map[string]bool{}, prefix: prefix}
	if opts != nil {
		d.opts = *opts
	}
	if d.opts.MaxChain <= 0 {
		d.opts.MaxChain = 256
	}
	seen := map[string]bool{}
	var prev *link
	for cur := name; ; {
		if len(seen) >= d.opts.MaxChain {
			d.Close()
			return nil, fmt.Errorf("%s: more than %d links: %w", cur, d.opts.MaxChain, ErrChainLoop)
		}
		seen[cur] = true
		l, err := d.openLink(fsys, cur)
		if err != nil {
			d.Close()
			return nil, err
		}
		if prev == nil {
			d.top = l
		} else {
			prev.parent = l
			if c := prev.desc; c.ParentCID != 0xFFFFFFFF && l.desc != nil && l.desc.CID != c.ParentCID {
				d.warn(fmt.Sprintf("%s: parentCID %08x differs from the CID %08x of its parent %s: the parent changed after the snapshot was taken", d.prefix+prev.path, c.ParentCID, l.desc.CID, d.prefix+l.path))
			}
		}
		if l.desc == nil || l.desc.ParentFileNameHint == "" {
			break
		}
		next, err := d.findParent(fsys, l, seen)
		if err != nil {
			if errors.Is(err, ErrParentMissing) && d.opts.Tolerant {
				d.warn(err.Error() + "; its data reads as zeros")
				break
			}
			d.Close()
			return nil, err
		}
		prev, cur = l, next
	}
	d.size = d.top.size
	return d, nil
}

func (d *Disk) findParent(fsys fs.FS, l *link, seen map[string]bool) (string, error) {
	hint := l.desc.ParentFileNameHint
	candidates := parentCandidates(path.Dir(l.path), hint)
	if utf, ok := decodeName(hint, l.desc.Encoding); ok {
		candidates = append(candidates, parentCandidates(path.Dir(l.path), utf)...)
	}
	for _, c := range candidates {
		if seen[c] {
			return "", fmt.Errorf("%s: parent %q is %s, already in the chain: %w", d.prefix+l.path, hint, d.prefix+c, ErrChainLoop)
		}
		if fi, err := fs.Stat(fsys, c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	found, err := d.parentByCID(fsys, l, seen)
	if err != nil {
		return "", fmt.Errorf("%s: parent %q not found, and %w: %w", d.prefix+l.path, hint, err, ErrParentMissing)
	}
	if found != "" {
		d.warn(fmt.Sprintf("%s: parent %q not found; %s has the CID %08x that parentCID names and is used instead (renamed?)", d.prefix+l.path, hint, d.prefix+found, l.desc.ParentCID))
		return found, nil
	}
	return "", fmt.Errorf("%s: parent %q not found, nor any disk in its folder with CID %08x: %w", d.prefix+l.path, hint, l.desc.ParentCID, ErrParentMissing)
}

// headSize is how much of a file is read to decide what it is.
const headSize = 64 << 10

// IsVMDK says whether Open would read the file r of size bytes as a VMDK
// (a sparse extent by its KDMV, COWD or SESparse magic, or a descriptor by
// its text) rather than as a raw disk. The layers that open SOURCEs ask
// it first, and read anything else as a disk of its own.
func IsVMDK(r io.ReaderAt, size int64) (bool, error) {
	head := make([]byte, min(size, headSize))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return false, err
	}
	return sparseKind(head) != "" || size <= MaxDescriptorSize && looksLikeDescriptor(head), nil
}

func (d *Disk) openLink(fsys fs.FS, name string) (*link, error) {
	f, err := openFile(fsys, name, d.prefix+name)
	if err != nil {
		return nil, err
	}
	d.files = append(d.files, f)
	l := &link{path: name, tolerant: d.opts.Tolerant, warn: d.warn}
	head := make([]byte, min(f.size, headSize))
	if _, err := f.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", d.prefix+name, err)
	}
	switch kind := sparseKind(head); {
	case kind == "KDMV":
		return l, d.openMonolithic(fsys, l, f)
	case kind != "":
		l.kind = "standalone sparse file"
		le, err := d.sparseByMagic(f, 0, ExtentLine{Access: "RW"})
		if err != nil {
			return nil, err
		}
		l.add(le)
		return l, nil
	case f.size <= MaxDescriptorSize && looksLikeDescriptor(head):
		text := make([]byte, f.size)
		if err := f.readFull(text, 0, "descriptor"); err != nil {
			return nil, err
		}
		desc, err := ParseDescriptor(text)
		if err != nil {
			var fe *ondisk.FormatError
			if errors.As(err, &fe) {
				fe.Path = d.prefix + name
			}
			return nil, fmt.Errorf("%s: %w", d.prefix+name, err)
		}
		l.kind, l.desc = "descriptor", desc
		return l, d.openExtents(fsys, l, desc)
	}
	// Neither sparse nor a descriptor: a raw disk (a flat extent that lost
	// its descriptor, a dd image, a device).
	l.kind = "raw"
	d.raw = true
	l.add(&linkExtent{line: ExtentLine{Access: "RW", Type: "FLAT", File: path.Base(name), Sectors: f.size / 512}, size: f.size, format: "flat", file: d.prefix + name, ex: &flatExtent{f: f, size: f.size}})
	if f.size%512 != 0 {
		d.warn(fmt.Sprintf("%s: %d bytes is not a whole number of 512-byte sectors", d.prefix+name, f.size))
	}
	return l, nil
}

// openMonolithic opens a KDMV file that is a whole link: monolithicSparse,
// streamOptimized, or an extent opened directly.
func (d *Disk) openMonolithic(fsys fs.FS, l *link, f *file) error {
	h, err := decodeSparseHeader(f, 0)
	if err != nil {
		return err
	}
	text, err := embeddedDescriptor(f, h)
	if err != nil {
		return err
	}
	if text != nil {
		desc, err := ParseDescriptor(text)
		if err != nil {
			d.warn(fmt.Sprintf("%s: embedded descriptor unusable (%v); using the sparse header alone", f.name, err))
		} else {
			l.desc = desc
			if h.Capacity == 0 {
				// A descriptor in a sparse file that points to other extents.
				l.kind = "descriptor embedded in a sparse file"
				return d.openExtents(fsys, l, desc)
			}
		}
	}
	l.kind = "single-file sparse disk"
	// The embedded extent line names the file itself, unreliably: the extent
	// is this file, sized by the line when there is exactly one.
	line := ExtentLine{Access: "RW", Type: "SPARSE", File: path.Base(f.name), Sectors: int64(h.Capacity)}
	if l.desc != nil && len(l.desc.Extents) == 1 {
		line = l.desc.Extents[0]
		line.File = path.Base(f.name)
	}
	le, err := d.sparseByMagic(f, line.Sectors*512, line)
	if err != nil {
		return err
	}
	l.add(le)
	return nil
}

// embeddedDescriptor reads the descriptor text a KDMV file embeds; nil
// when its header names none.
func embeddedDescriptor(f *file, h sparseHeader) ([]byte, error) {
	if h.DescriptorOffset == 0 || h.DescriptorSize == 0 {
		return nil, nil
	}
	off, err1 := sectorsToBytes(h.DescriptorOffset)
	n, err2 := sectorsToBytes(h.DescriptorSize)
	if err1 != nil || err2 != nil || n > MaxDescriptorSize || checkRange(f, "embedded descriptor", off, n) != nil {
		return nil, corrupt(f.name, "sparse header", 28, "embedded descriptor at sector %d, %d sectors, outside the file or too large", h.DescriptorOffset, h.DescriptorSize)
	}
	text := make([]byte, n)
	if err := f.readFull(text, off, "embedded descriptor"); err != nil {
		return nil, err
	}
	return text, nil
}

// sparseByMagic opens f as a sparse extent, choosing the reader by magic.
func (d *Disk) sparseByMagic(f *file, size int64, line ExtentLine) (*linkExtent, error) {
	var m [8]byte
	if err := f.readFull(m[:], 0, "sparse magic"); err != nil {
		return nil, err
	}
	le := &linkExtent{line: line, file: f.name}
	switch sparseKind(m[:]) {
	case "KDMV":
		e, err := openSparse(f, size, d.opts.Tolerant, d.warn)
		if err != nil {
			return nil, err
		}
		le.ex, le.size, le.format = e, e.size, "sparse"
		if e.compressed {
			le.format = "compressed sparse"
			d.compressed = true
		}
	case "COWD":
		e, err := openCOWD(f, size, d.warn)
		if err != nil {
			return nil, err
		}
		le.ex, le.size, le.format = e, e.size, "COWD"
	case "SESparse":
		e, err := openSESparse(f, size, d.warn)
		if err != nil {
			return nil, err
		}
		e.unmappedFromParent = d.opts.UnmappedFromParent
		le.ex, le.size, le.format = e, e.size, "SESparse"
	default:
		return nil, corrupt(f.name, "sparse extent", 0, "magic % x is none of KDMV, COWD, SESparse", m[:])
	}
	if le.line.Sectors == 0 {
		le.line.Sectors = le.size / 512
	}
	return le, nil
}

func (l *link) add(le *linkExtent) {
	le.start = l.size
	l.extents = append(l.extents, le)
	l.starts = append(l.starts, le.start)
	l.size += le.size
}

// sparseKind names the sparse format whose magic starts b, or "".
func sparseKind(b []byte) string {
	switch {
	case bytes.HasPrefix(b, magicKDMV[:]):
		return "KDMV"
	case bytes.HasPrefix(b, magicCOWD[:]):
		return "COWD"
	case bytes.HasPrefix(b, []byte{0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0}):
		return "SESparse"
	}
	return ""
}

// SparseCapacity reads the start of a sparse extent file (at least 24
// bytes): the format its magic names (KDMV, COWD, SESparse) and the
// capacity in sectors its header records; ok is false for anything else.
// It lets a recovered file without a name be matched with the extent line
// that names it.
func SparseCapacity(head []byte) (format string, sectors int64, ok bool) {
	if len(head) < 24 {
		return "", 0, false
	}
	format = sparseKind(head)
	switch format {
	case "KDMV":
		sectors = int64(binary.LittleEndian.Uint64(head[12:]))
	case "COWD":
		sectors = int64(binary.LittleEndian.Uint32(head[12:]))
	case "SESparse":
		sectors = int64(binary.LittleEndian.Uint64(head[16:]))
	default:
		return "", 0, false
	}
	return format, sectors, sectors > 0
}

func isDevicePath(name string) bool {
	n := strings.ReplaceAll(name, "\\", "/")
	return strings.HasPrefix(n, "/dev/") || strings.HasPrefix(n, "/vmfs/devices/") || strings.HasPrefix(n, "//./")
}

// openExtents opens every extent line of desc, in order.
func (d *Disk) openExtents(fsys fs.FS, l *link, desc *Descriptor) error {
	dir := path.Dir(l.path)
	for _, w := range desc.Warnings {
		d.warn(d.prefix + l.path + ": " + w)
	}
	for _, line := range desc.Extents {
		le, err := d.openExtent(fsys, dir, line, desc.Encoding)
		if err != nil {
			return fmt.Errorf("%s: extent line %d: %w", d.prefix+l.path, line.Line, err)
		}
		l.add(le)
	}
	return nil
}

func (d *Disk) openExtent(fsys fs.FS, dir string, line ExtentLine, encoding string) (*linkExtent, error) {
	size := line.Sectors * 512
	le := &linkExtent{line: line, size: size}
	soft := func(err error, format string) (*linkExtent, error) {
		if !d.opts.Tolerant {
			return nil, err
		}
		le.format, le.note, le.ex = format, err.Error(), zeroExtent{}
		d.warn(fmt.Sprintf("extent line %d: %v; reads as zeros", line.Line, err))
		return le, nil
	}
	switch line.Type {
	case "ZERO":
		le.format, le.ex = "zero", zeroExtent{}
		return le, nil
	case "VMFSRDM", "VMFSRAW":
		return d.device(le, fmt.Errorf("%s extent %q: %w (the mapping file holds no disk data; read the LUN itself)", line.Type, line.File, ErrDeviceBacked))
	case "FLAT", "VMFS", "SPARSE", "VMFSSPARSE", "SESPARSE":
	default:
		return soft(fmt.Errorf("extent type %q: %w", line.Type, ErrUnsupported), "unsupported")
	}
	if line.Access == "NOACCESS" {
		le.format, le.note, le.ex = "zero", "NOACCESS: reads as zeros", zeroExtent{}
		d.warn(fmt.Sprintf("extent line %d is NOACCESS; it reads as zeros", line.Line))
		return le, nil
	}
	if isDevicePath(line.File) {
		return d.device(le, fmt.Errorf("extent %q: %w", line.File, ErrDeviceBacked))
	}
	name, err := resolveExtent(dir, line.File)
	if err != nil {
		return nil, err
	}
	f, err := openFile(fsys, name, d.prefix+name)
	if isNotExist(err) || errors.Is(err, fs.ErrInvalid) { // an fs.FS refuses names that are not UTF-8
		if utf, ok := decodeName(name, encoding); ok {
			if g, err2 := openFile(fsys, utf, d.prefix+utf); err2 == nil {
				f, err, name = g, nil, utf
			}
		}
	}
	if isNotExist(err) {
		need := int64(0)
		if line.Type == "FLAT" || line.Type == "VMFS" {
			need = line.Start*512 + size
		}
		if g, ok := d.renamedExtent(fsys, name, need); ok {
			d.warn(fmt.Sprintf("extent %q not found; %s, the same name with a suffix, is read instead (renamed?)", d.prefix+name, g.name))
			f, err, name = g, nil, strings.TrimPrefix(g.name, d.prefix)
		}
	}
	le.file = d.prefix + name
	if err != nil {
		if isNotExist(err) || errors.Is(err, fs.ErrInvalid) {
			return soft(fmt.Errorf("%s: %w", d.prefix+name, ErrExtentMissing), "missing")
		}
		return nil, err
	}
	d.files = append(d.files, f)
	var m [8]byte
	f.ReadAt(m[:], 0)
	if line.Type == "FLAT" || line.Type == "VMFS" {
		if sparseKind(m[:]) != "" {
			d.warn(fmt.Sprintf("extent line %d says %s but %s starts with a %s magic; reading it as sparse", line.Line, line.Type, f.name, sparseKind(m[:])))
		} else {
			start := line.Start * 512
			if start+size > f.size {
				err := corrupt(f.name, "flat extent", start, "descriptor needs %d bytes from here, the file has %d", size, max(f.size-start, 0))
				if !d.opts.Tolerant {
					return nil, err
				}
				d.warn(err.Error() + "; the rest reads as zeros")
			}
			le.format, le.ex = "flat", &flatExtent{f: f, start: start, size: size}
			return le, nil
		}
	}
	sle, err := d.sparseByMagic(f, size, line)
	if err != nil {
		return soft(err, "unreadable")
	}
	sle.size = size // placement follows the descriptor
	return sle, nil
}

// device makes le a device-backed extent: reads fail with err, or give
// zeros with a warning in tolerant mode.
func (d *Disk) device(le *linkExtent, err error) (*linkExtent, error) {
	le.format, le.note, le.ex = "device", err.Error(), failExtent{err}
	if d.opts.Tolerant {
		le.ex = zeroExtent{}
		d.warn(err.Error() + "; reads as zeros")
	}
	return le, nil
}

// Size is the virtual disk size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Close closes every file of the chain.
func (d *Disk) Close() error {
	var first error
	for _, f := range d.files {
		if err := f.c.Close(); err != nil && first == nil {
			first = err
		}
	}
	d.files = nil
	return first
}

// ReadAt reads the virtual disk. Holes and unallocated grains read as
// zeros; an unreadable part is an error (or zeros plus a warning in
// tolerant mode). Large reads of compressed disks decode grains in parallel.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vmdk: negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p, eof = p[:d.size-off], io.EOF
	}
	// Small reads are not read ahead: the sequential readers of a disk
	// read 1 MiB or more at a time (dump's CopySparse windows, export's
	// chunks, cat and cp through the mount, whose st_blksize is 1 MiB).
	// A read-ahead of 1 MiB windows for 128 KiB readers was measured on a
	// 2 GiB streamOptimized disk: 1.35x faster with a core idle, but 30%
	// more CPU (the copy out of the window, the windows' memory), and
	// slower through the mount with the cores busy (dd bs=128K, medians
	// 1.73 s against 1.38).
	const piece = 256 << 10
	if workers := runtime.GOMAXPROCS(0); d.compressed && workers > 1 && len(p) >= 2*piece {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		sem := make(chan struct{}, workers)
		for start := 0; start < len(p); start += piece {
			end := min(start+piece, len(p))
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := d.top.readAt(p[start:end], off+int64(start)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return 0, firstErr
		}
		return len(p), eof
	}
	if err := d.top.readAt(p, off); err != nil {
		return 0, err
	}
	return len(p), eof
}

// find returns the index of the extent holding link offset off.
func (l *link) find(off int64) int {
	return sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off }) - 1
}

// readAt fills p from link offset off; off+len(p) <= l.size.
func (l *link) readAt(p []byte, off int64) error {
	for len(p) > 0 {
		i := l.find(off)
		e := l.extents[i]
		rel := off - e.start
		n, st, err := e.ex.lookup(rel, min(int64(len(p)), e.size-rel))
		if err == nil && n <= 0 {
			err = fmt.Errorf("%s: extent line %d: empty run at byte %d", l.path, e.line.Line, rel)
		}
		if err == nil && st == runData {
			err = e.ex.read(p[:n], rel)
		}
		if err != nil {
			if !l.tolerant {
				return err
			}
			l.warn(fmt.Sprintf("%v; reading zeros", err))
			if n <= 0 {
				n = min(int64(len(p)), e.size-rel, 512-rel%512)
			}
			st = runZero
		}
		switch st {
		case runZero:
			clear(p[:n])
		case runParent:
			if err := l.readParent(p[:n], off); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (l *link) readParent(p []byte, off int64) error {
	par := l.parent
	if par == nil || off >= par.size {
		clear(p)
		return nil
	}
	m := min(int64(len(p)), par.size-off)
	clear(p[m:])
	return par.readAt(p[:m], off)
}

// AllocationMap returns the byte ranges of the virtual disk that hold data
// in some link of the chain; everything else reads as zeros.
func (d *Disk) AllocationMap() (allocmap.Map, error) {
	var m allocmap.Map
	err := d.top.mapRange(0, d.size, &m)
	return m, err
}

func (l *link) mapRange(off, end int64, m *allocmap.Map) error {
	for off < end {
		i := l.find(off)
		e := l.extents[i]
		rel := off - e.start
		n, st, err := e.ex.lookup(rel, min(end-off, e.size-rel))
		if err == nil && n <= 0 {
			err = fmt.Errorf("%s: extent line %d: empty run at byte %d", l.path, e.line.Line, rel)
		}
		if err != nil {
			if !l.tolerant {
				return err
			}
			l.warn(fmt.Sprintf("%v; mapped as zeros", err))
			if n <= 0 {
				n = min(end-off, e.size-rel, 512-rel%512)
			}
			st = runZero
		}
		switch st {
		case runData:
			*m = m.Add(allocmap.Range{Off: off, Len: n})
		case runParent:
			if p := l.parent; p != nil && off < p.size {
				if err := p.mapRange(off, min(off+n, p.size), m); err != nil {
					return err
				}
			}
		}
		off += n
	}
	return nil
}
