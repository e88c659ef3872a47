package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// DiskSuffix ends the name of the directory that holds a VMDK's tree
// beside the VMDK: vm1.vmdk@.
const DiskSuffix = "@"

// DatastoreOptions tune Datastore.
type DatastoreOptions struct {
	Options
	// VMDK opens the disks (nil: the defaults; Tolerant reads missing
	// extents and parents as zeros).
	VMDK *vmdk.Options
	// SourceArgs are the arguments by which a vmfsrecover command reaches
	// this datastore, shell-quoted: the options that read it, then the
	// SOURCEs (ended by -- when several, so that no option may follow), as
	// "ds.img" or "--deep a.img b.img --". The hint of a file system no reader reads
	// prints the commands that copy it out with them; empty, the hint
	// names the bytes only.
	SourceArgs string
}

// Datastore is a datastore's file system (a VMFS volume, a deep scan's
// tree, a folder) with a directory NAME.vmdk@ beside every VMDK disk
// (vmdk.IsDiskName: descriptors and single-file sparse disks, not their
// extents), whose inside is the disk's Tree; a NAME-flat.vmdk whose
// descriptor NAME.vmdk is lost is entered as NAME-flat.vmdk@ too, read as
// a raw disk, but not listed (a datastore rebuilt by a deep scan holds
// many such extents). Everything else is the
// datastore's own, unchanged. A disk is opened, through its snapshot
// chain, the first time a path enters its directory.
type Datastore struct {
	fsys fs.FS
	ctx  context.Context
	opts DatastoreOptions

	mu    sync.Mutex
	disks map[string]*datastoreDisk // by the VMDK's path
}

type datastoreDisk struct {
	once   sync.Once
	disk   *vmdk.Disk
	others []*vmdk.Disk // the VM's other disks, read for LVM2 only
	tree   *Tree
	err    error
}

// NewDatastore puts the disks' trees into fsys. ctx stops the search of a
// disk whose partition table is lost (see Open).
func NewDatastore(ctx context.Context, fsys fs.FS, opts DatastoreOptions) *Datastore {
	return &Datastore{fsys: fsys, ctx: ctx, opts: opts, disks: map[string]*datastoreDisk{}}
}

// IsDiskDir reports whether an entry of a Datastore is a disk's
// directory (NAME.vmdk@): recursive walks leave them out unless asked, or
// everything inside the VMs would be listed and exported twice.
func IsDiskDir(info fs.FileInfo) bool {
	_, ok := info.(diskDirInfo)
	return ok
}

// split finds the disk directory a path enters: the VMDK's path, and the
// rest of the path inside the disk's tree ("." for its root).
func split(name string) (vmdkPath, rest string, ok bool) {
	if !fs.ValidPath(name) {
		return "", "", false // the datastore's file system refuses it
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if d, found := strings.CutSuffix(p, DiskSuffix); found && (vmdk.IsDiskName(d) || isFlatName(d)) {
			rest = path.Join(parts[i+1:]...)
			if rest == "" {
				rest = "."
			}
			return path.Join(append(slices.Clone(parts[:i]), d)...), rest, true
		}
	}
	return "", "", false
}

// shadowed reports a flat extent whose descriptor is there: the disk is
// entered through the descriptor's directory, not the extent's.
func (d *Datastore) shadowed(vmdkPath string) bool {
	if !isFlatName(vmdkPath) {
		return false
	}
	_, err := fs.Stat(d.fsys, strings.TrimSuffix(vmdkPath, "-flat.vmdk")+".vmdk")
	return err == nil
}

// tree opens the disk at vmdkPath once and returns its tree.
func (d *Datastore) tree(op, name, vmdkPath string) (*Tree, error) {
	if d.shadowed(vmdkPath) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	d.mu.Lock()
	dd := d.disks[vmdkPath]
	if dd == nil {
		dd = &datastoreDisk{}
		d.disks[vmdkPath] = dd
	}
	d.mu.Unlock()
	dd.once.Do(func() {
		disk, err := vmdk.OpenFS(d.fsys, vmdkPath, d.opts.VMDK)
		var others []*vmdk.Disk
		var tree *Tree
		if err == nil {
			disks := []Disk{{Name: path.Base(vmdkPath), R: disk, Size: disk.Size(), ModTime: d.modTime(vmdkPath), CopyOut: d.copyOut(vmdkPath, disk)}}
			others = d.otherDisks(vmdkPath, disk)
			for _, o := range others {
				p := o.Info().Chain[0].Path
				disks = append(disks, Disk{Name: path.Base(p), R: o, Size: o.Size(), LVMOnly: true, ModTime: d.modTime(p)})
			}
			// A disk entered by its path is searched when its table is lost.
			opts := d.opts.Options
			opts.Search = true
			tree, err = Open(d.ctx, disks, opts)
		}
		// Under the lock for Warnings and Close, which other goroutines
		// call while this one opens the disk.
		d.mu.Lock()
		dd.disk, dd.others, dd.tree, dd.err = disk, others, tree, err
		d.mu.Unlock()
	})
	if dd.err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: dd.err}
	}
	return dd.tree, nil
}

// modTime is the time of the VMDK at p, which the directories made for its
// partitions take (as NAME.vmdk@ does); zero when it cannot be read.
func (d *Datastore) modTime(p string) time.Time {
	info, err := fs.Stat(d.fsys, strings.TrimPrefix(p, "/"))
	if err != nil {
		return time.Time{}
	}
	return info.ModTime()
}

// copyOut returns the Disk.CopyOut of the disk at vmdkPath: cat of the
// range of its flat extent when one flat extent holds the whole disk (no
// snapshot), else an export of the disk's files (descriptors, extents,
// parents) followed by a dump of the range of the exported disk. Nil
// without SourceArgs.
func (d *Datastore) copyOut(vmdkPath string, disk *vmdk.Disk) func(start, length int64) string {
	if d.opts.SourceArgs == "" {
		return nil
	}
	info := disk.Info()
	quote := func(p string) string { return textout.ShellQuote("/" + strings.TrimPrefix(p, "/")) }
	if len(info.Chain) == 1 && len(info.Extents) == 1 && info.Extents[0].Format == "flat" && info.Extents[0].Start == 0 {
		x := info.Extents[0]
		return func(start, length int64) string {
			return fmt.Sprintf("vmfsrecover cat --offset %d --length %d %s %s > part.img", x.FileStart+start, length, d.opts.SourceArgs, quote(x.File))
		}
	}
	var files []string
	seen := map[string]bool{}
	for _, p := range append([]string{vmdkPath}, chainFiles(info)...) {
		if p = strings.TrimPrefix(p, "/"); p != "" && !seen[p] {
			seen[p] = true
			files = append(files, quote(p))
		}
	}
	tolerant := ""
	if d.opts.VMDK != nil && d.opts.VMDK.Tolerant {
		tolerant = "--tolerant "
	}
	copied := "vmdk-copy/" + strings.TrimPrefix(vmdkPath, "/")
	return func(start, length int64) string {
		return fmt.Sprintf("vmfsrecover export --to vmdk-copy %s %s && vmfsrecover dump %s--offset %d --length %d %s -o part.img",
			d.opts.SourceArgs, strings.Join(files, " "), tolerant, start, length, textout.ShellQuote(copied))
	}
}

// chainFiles are the files a disk reads: the links of its snapshot chain
// and their extents.
func chainFiles(info vmdk.Info) []string {
	var out []string
	for _, l := range info.Chain {
		out = append(out, l.Path)
	}
	for _, x := range info.Extents {
		if x.File != "" {
			out = append(out, x.File)
		}
	}
	return out
}

// otherDisks opens the VM's other disks, which a volume group of the disk
// at vmdkPath may span: those the .vmx files in its folder name, found on
// the datastore, leaving out the links of the disk's own snapshot chain.
// A disk that does not open is left out (its volume groups then say a
// physical volume is missing).
func (d *Datastore) otherDisks(vmdkPath string, disk *vmdk.Disk) []*vmdk.Disk {
	dir := path.Dir(vmdkPath)
	ents, err := fs.ReadDir(d.fsys, dir)
	if err != nil {
		return nil
	}
	chain := func(v *vmdk.Disk) []string {
		var out []string
		for _, l := range v.Info().Chain {
			out = append(out, strings.TrimPrefix(path.Clean(l.Path), "/"))
		}
		return out
	}
	own := chain(disk)
	seen := map[string]bool{vmdkPath: true}
	var out []*vmdk.Disk
	for _, e := range ents {
		if !strings.EqualFold(path.Ext(e.Name()), ".vmx") || !e.Type().IsRegular() {
			continue
		}
		name := path.Join(dir, e.Name())
		b, err := fs.ReadFile(d.fsys, name)
		if err != nil || len(b) > 1<<20 {
			continue
		}
		vmx := preview.SummarizeVMX(d.ctx, d.fsys, name, b, preview.Options{Tolerant: d.opts.VMDK != nil && d.opts.VMDK.Tolerant})
		for _, vd := range vmx.Disks {
			p := strings.TrimPrefix(vd.Path, "/")
			if !vd.Found || p == "" || seen[p] || slices.Contains(own, p) || !vmdk.IsDiskName(p) {
				continue
			}
			seen[p] = true
			o, err := vmdk.OpenFS(d.fsys, p, d.opts.VMDK)
			if err != nil {
				continue
			}
			if slices.Contains(chain(o), vmdkPath) {
				o.Close() // a snapshot of this disk, not another disk
				continue
			}
			out = append(out, o)
		}
	}
	return out
}

// isFlatName reports the name of a flat extent (NAME-flat.vmdk): the
// disk's bytes as they are, which read as a raw disk when the descriptor
// beside it is lost.
func isFlatName(name string) bool { return strings.HasSuffix(name, "-flat.vmdk") }

// diskRoot checks that the VMDK a disk directory stands beside is a file,
// without opening it.
func (d *Datastore) diskRoot(op, name, vmdkPath string) (fs.FileInfo, error) {
	info, err := fs.Stat(d.fsys, vmdkPath)
	if err == nil && (!info.Mode().IsRegular() || d.shadowed(vmdkPath)) {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return diskDirInfo{name: path.Base(name), vmdk: info}, nil
}

// Open opens a file or directory.
func (d *Datastore) Open(name string) (fs.File, error) {
	v, rest, ok := split(name)
	if !ok {
		f, err := d.fsys.Open(name)
		if err != nil {
			return nil, err
		}
		if info, err := f.Stat(); err != nil || !info.IsDir() {
			return f, nil
		}
		list, err := d.ReadDir(name)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &listedDir{File: f, entries: list}, nil
	}
	t, err := d.tree("open", name, v)
	if err != nil {
		return nil, err
	}
	f, err := t.Open(rest)
	return f, rebase(err, "open", name)
}

// ReadDir lists a directory; beside each VMDK disk it lists the disk's
// directory.
func (d *Datastore) ReadDir(name string) ([]fs.DirEntry, error) {
	v, rest, ok := split(name)
	if ok {
		t, err := d.tree("readdir", name, v)
		if err != nil {
			return nil, err
		}
		list, err := t.ReadDir(rest)
		return list, rebase(err, "readdir", name)
	}
	list, err := fs.ReadDir(d.fsys, name)
	if err != nil {
		return list, err
	}
	var have map[string]bool // made at the first disk: most folders hold none
	out := list
	for _, e := range list {
		if !e.Type().IsRegular() || !vmdk.IsDiskName(e.Name()) {
			continue
		}
		if have == nil {
			have = make(map[string]bool, len(list))
			for _, e := range list {
				have[e.Name()] = true
			}
		}
		if have[e.Name()+DiskSuffix] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, fs.FileInfoToDirEntry(diskDirInfo{name: e.Name() + DiskSuffix, vmdk: info}))
	}
	if len(out) > len(list) {
		slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	return out, nil
}

// Stat describes a path; a disk's directory is described without opening
// the disk.
func (d *Datastore) Stat(name string) (fs.FileInfo, error) {
	return d.stat("stat", name, func(t *Tree, rest string) (fs.FileInfo, error) { return t.Stat(rest) }, fs.Stat)
}

// Lstat describes a path without following a final link.
func (d *Datastore) Lstat(name string) (fs.FileInfo, error) {
	return d.stat("lstat", name, func(t *Tree, rest string) (fs.FileInfo, error) { return t.Lstat(rest) }, lstat)
}

func (d *Datastore) stat(op, name string, inTree func(*Tree, string) (fs.FileInfo, error), outside func(fs.FS, string) (fs.FileInfo, error)) (fs.FileInfo, error) {
	v, rest, ok := split(name)
	if !ok {
		return outside(d.fsys, name)
	}
	if rest == "." {
		return d.diskRoot(op, name, v)
	}
	t, err := d.tree(op, name, v)
	if err != nil {
		return nil, err
	}
	info, err := inTree(t, rest)
	return info, rebase(err, op, name)
}

// ReadLink returns a symbolic link's target.
func (d *Datastore) ReadLink(name string) (string, error) {
	v, rest, ok := split(name)
	if !ok {
		return fs.ReadLink(d.fsys, name)
	}
	t, err := d.tree("readlink", name, v)
	if err != nil {
		return "", err
	}
	target, err := t.ReadLink(rest)
	return target, rebase(err, "readlink", name)
}

func lstat(fsys fs.FS, name string) (fs.FileInfo, error) {
	if l, ok := fsys.(fs.ReadLinkFS); ok {
		return l.Lstat(name)
	}
	return fs.Stat(fsys, name)
}

// Warnings are what the disks opened so far met (see Tree.Warnings), each
// after the VMDK's path.
func (d *Datastore) Warnings() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, p := range slices.Sorted(maps.Keys(d.disks)) {
		dd := d.disks[p]
		if dd.tree == nil {
			continue
		}
		for _, w := range append(dd.disk.Warnings(), dd.tree.Warnings()...) {
			out = append(out, "/"+p+": "+w)
		}
	}
	return out
}

// Close closes the disks opened so far; the datastore's file system stays
// open.
func (d *Datastore) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, dd := range d.disks {
		if dd.disk != nil {
			errs = append(errs, dd.disk.Close())
		}
		for _, o := range dd.others {
			errs = append(errs, o.Close())
		}
	}
	d.disks = map[string]*datastoreDisk{}
	return errors.Join(errs...)
}

// diskDirInfo describes a disk's directory: named NAME.vmdk@, with the
// VMDK's time.
type diskDirInfo struct {
	name string
	vmdk fs.FileInfo
}

func (i diskDirInfo) Name() string       { return i.name }
func (i diskDirInfo) Size() int64        { return 0 }
func (i diskDirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (i diskDirInfo) ModTime() time.Time { return i.vmdk.ModTime() }
func (i diskDirInfo) IsDir() bool        { return true }
func (i diskDirInfo) Sys() any           { return &Info{Layer: "VMDK disk"} }

// listedDir is an opened directory of the datastore, listing the disks'
// directories too.
type listedDir struct {
	fs.File
	entries []fs.DirEntry
}

func (l *listedDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := l.entries
		l.entries = nil
		return out, nil
	}
	if len(l.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(l.entries))
	out := l.entries[:n]
	l.entries = l.entries[n:]
	return out, nil
}
