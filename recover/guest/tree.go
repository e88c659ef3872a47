package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/linuxlvm"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// Disk is one disk whose inside the tree shows.
type Disk struct {
	// Name is the SOURCE's base name; among several disks it names the
	// disk's directory at the root (Name + "@").
	Name string
	R    io.ReaderAt
	Size int64
	// LVMOnly: the disk is read only for the LVM2 physical volumes on it
	// (another disk of the same VM, which a volume group may span), and
	// not listed.
	LVMOnly bool
	// ModTime is the disk file's modification time: the time of the
	// directories the tree makes for the disk, its partitions and its
	// logical volumes, which have none of their own.
	ModTime time.Time
	// CopyOut, when set, returns the command line that copies length
	// bytes of the disk from byte start into part.img, as the person who
	// gave the disk runs it: the hint of a file system no reader reads.
	// Nil: the hint names the bytes only.
	CopyOut func(start, length int64) string
}

// Options tune Open.
type Options struct {
	// Deleted lists deleted files beside the live ones (see
	// guestfs.Options).
	Deleted bool
	// Search reads the whole of a disk that has neither a partition table
	// nor a file system at its start, for file systems placed by their
	// backups (partition.Search); without it such a disk lists nothing.
	Search bool
}

// Tree is the inside of one or several disks as an fs.FS: partitions,
// logical volumes and the file systems on them (see the package comment).
// Its files are the readers' files: they implement io.ReaderAt and
// io.Seeker. It is safe for concurrent use.
type Tree struct {
	root     *node
	opts     Options
	warnings []string
}

// node is a directory of the tree: a virtual one (the root, a disk's
// directory, lvm/VG) listing children, or the root of a volume's file
// system.
type node struct {
	name     string
	children []*node // sorted by name; a virtual directory
	vol      *volume // a file system's root
	layer    string  // of a virtual directory
	mtime    time.Time
	// level is what a virtual directory is (see IsDiskRoot, IsGroupDir).
	level level
}

// level tells the virtual directories apart for front ends that show the
// layers as menus: a disk's (its partitions, or NAME@ among several disks)
// and the lvm directory with its volume groups.
type level int

const (
	levelNone level = iota
	levelDisk
	levelGroup
)

// volume is a partition, a logical volume or a whole disk, and the file
// system on it, opened on first use.
type volume struct {
	layer  string // "partition p2 (Linux)", "disk", "LV vg0/root"
	fsName string // as partition.DetectFS names it
	r      io.ReaderAt
	size   int64
	start  int64 // byte offset on its disk, -1 for a logical volume
	// copyOut is its disk's Disk.CopyOut (nil for a logical volume).
	copyOut func(start, length int64) string
	// empty: the volume holds no file system of its own but is known (an
	// LVM2 physical volume, whose logical volumes are under /lvm): it
	// reads as an empty directory.
	empty bool
	// unsupported says why the volume itself cannot be read (a thin or
	// RAID logical volume).
	unsupported error
	vmfs        bool // the partition table says VMFS

	once sync.Once
	mu   sync.Mutex // guards fsys for Warnings while once runs
	fsys guestfs.FS
	err  error
}

// Open reads the partition tables of disks and recognises the file system
// of every partition; the file systems themselves are opened on first
// use. With opts.Search, a disk whose table is lost and which holds no
// file system at its start is searched for file systems by their backups
// (partition.Search, which reads the whole disk): ctx stops that.
func Open(ctx context.Context, disks []Disk, opts Options) (*Tree, error) {
	listed := 0
	for _, d := range disks {
		if !d.LVMOnly {
			listed++
		}
	}
	if listed == 0 {
		return nil, errors.New("guest: no disk")
	}
	t := &Tree{opts: opts}
	var tops []*node
	var pvs []linuxlvm.Device
	names := map[string]bool{}
	var newest time.Time // of all the disks: the time of what spans them
	for _, d := range disks {
		if d.ModTime.After(newest) {
			newest = d.ModTime
		}
		n, found, err := t.disk(ctx, d, listed > 1)
		if err != nil {
			return nil, err
		}
		pvs = append(pvs, found...)
		if d.LVMOnly {
			continue
		}
		if n.vol == nil {
			n.level = levelDisk
		}
		if listed == 1 {
			t.root = n
			continue
		}
		n.name = d.Name + "@"
		for i := 2; names[n.name]; i++ {
			n.name = fmt.Sprintf("%s@%d", d.Name, i)
		}
		names[n.name] = true
		tops = append(tops, n)
	}
	if t.root == nil {
		t.root = &node{children: tops, layer: "disks", mtime: newest, level: levelDisk}
	}
	if lvm := t.lvm(pvs, newest); lvm != nil {
		if t.root.vol != nil {
			// The one disk listed is a file system without a table; the
			// groups are on the VM's other disks: open those as disks.
			t.warnings = append(t.warnings, "LVM2 volume groups on the VM's other disks are not listed below a disk that is one file system: open the VM's disks together")
		} else {
			t.root.children = append(t.root.children, lvm)
		}
	}
	t.root.name = "."
	t.root.children = sorted(t.root.children)
	return t, nil
}

// lvm builds the lvm directory of the volume groups on the physical
// volumes found, with a directory per group and the logical volumes in
// it, all of time mtime; nil when there are none.
func (t *Tree) lvm(pvs []linuxlvm.Device, mtime time.Time) *node {
	if len(pvs) == 0 {
		return nil
	}
	vgs, err := linuxlvm.Find(pvs)
	if err != nil {
		t.warnings = append(t.warnings, "LVM2: "+err.Error())
	}
	if len(vgs) == 0 {
		return nil
	}
	dir := &node{name: "lvm", layer: "LVM2 volume groups", mtime: mtime, level: levelGroup}
	for _, vg := range vgs {
		g := &node{name: vg.Name, layer: "LVM2 volume group " + vg.Name, mtime: mtime, level: levelGroup}
		for _, w := range vg.Warnings {
			t.warnings = append(t.warnings, fmt.Sprintf("LVM2 volume group %s: %s", vg.Name, w))
		}
		if len(vg.Missing) > 0 {
			var missing []string
			for _, pv := range vg.Missing {
				missing = append(missing, fmt.Sprintf("%s (last seen as %s)", pv.UUID, pv.LastDevice))
			}
			t.warnings = append(t.warnings, fmt.Sprintf("LVM2 volume group %s: physical volumes not among the disks given: %s; give every disk of the VM", vg.Name, strings.Join(missing, ", ")))
		}
		for _, lv := range vg.LVs {
			layer := fmt.Sprintf("LV %s/%s", vg.Name, lv.Name)
			if lv.Origin != "" {
				layer += " (snapshot of " + lv.Origin + ")"
			}
			n := t.volumeNode(lv.Name, layer, lv, lv.Size, -1, mtime, nil)
			if lv.Unsupported != nil {
				n.vol.fsName = ""
				n.vol.unsupported = fmt.Errorf("%s volume: %w", lv.Type, lv.Unsupported)
			}
			g.children = append(g.children, n)
		}
		g.children = sorted(g.children)
		dir.children = append(dir.children, g)
	}
	dir.children = sorted(dir.children)
	return dir
}

// disk builds the node of one disk: its partitions, or the file system on
// the whole disk.
func (t *Tree) disk(ctx context.Context, d Disk, several bool) (*node, []linuxlvm.Device, error) {
	prefix := ""
	if several {
		prefix = "disk " + d.Name + " "
	}
	warn := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if several {
			msg = d.Name + ": " + msg
		}
		t.warnings = append(t.warnings, msg)
	}
	table, err := partition.Read(d.R, d.Size)
	if table != nil {
		for _, w := range table.Warnings {
			warn("partition table: %s", w)
		}
	}
	var pvs []linuxlvm.Device
	if table != nil && len(table.Partitions) > 0 {
		dir := &node{layer: prefix + string(table.Scheme) + " partition table", mtime: d.ModTime}
		for _, p := range table.Partitions {
			if isExtended(p.MBRType) {
				continue
			}
			sec := p.Section(d.R)
			name := fmt.Sprintf("p%d", p.Index)
			n := t.volumeNode(name, prefix+partitionLayer(p), sec, p.Size, p.Start, d.ModTime, d.CopyOut)
			n.vol.vmfs = p.IsVMFS()
			if n.vol.empty {
				pvs = append(pvs, linuxlvm.Device{Name: d.Name + "/" + name, R: sec, Size: p.Size})
			}
			dir.children = append(dir.children, n)
		}
		dir.children = sorted(dir.children)
		return dir, pvs, nil
	}
	// No table (or an empty MBR, as the boot sector of a file system on
	// the whole disk reads): a file system at sector 0, or an LVM2
	// physical volume on the whole disk.
	switch name := partition.DetectFS(d.R, d.Size); name {
	case partition.FSLVM2:
		return &node{layer: prefix + "disk", mtime: d.ModTime}, []linuxlvm.Device{{Name: d.Name, R: d.R, Size: d.Size}}, nil
	case "":
	default:
		return t.volumeNode(".", prefix+"disk", d.R, d.Size, 0, d.ModTime, d.CopyOut), nil, nil
	}
	if err != nil && !errors.Is(err, partition.ErrNoTable) {
		warn("partition table: %v", err)
	}
	var m allocmap.Map
	if mp, ok := d.R.(allocmap.Mapper); ok {
		if m, err = mp.AllocationMap(); err != nil {
			m = nil
		}
	}
	if d.LVMOnly {
		return nil, nil, nil
	}
	if !t.opts.Search {
		warn("no partition table and no file system at the start of the disk (a search of the whole disk for file systems by their backups was not asked for)")
		return &node{layer: prefix + "disk", mtime: d.ModTime}, nil, nil
	}
	found, err := partition.Search(ctx, d.R, d.Size, m, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%ssearching for file systems: %w", prefix, err)
	}
	dir := &node{layer: prefix + "partitions found by search", mtime: d.ModTime}
	if len(found) == 0 {
		warn("no partition table and no file system found")
		return dir, nil, nil
	}
	var placed []string
	for i, f := range found {
		name := fmt.Sprintf("p%d", i+1)
		size := min(f.Size, d.Size-f.Start)
		n := t.volumeNode(name, fmt.Sprintf("%sfound %s at byte %d", prefix, f.FS, f.Start),
			io.NewSectionReader(d.R, f.Start, size), size, f.Start, d.ModTime, d.CopyOut)
		// A head destroyed: the search placed it by a backup, from which
		// its reader opens it.
		n.vol.fsName = f.FS
		dir.children = append(dir.children, n)
		what := fmt.Sprintf("%s = %s at byte %d", name, f.FS, f.Start)
		if !f.HeadIntact {
			what += " (its head destroyed; read from its backup)"
		}
		placed = append(placed, what)
	}
	warn("no partition table: the file systems were found by their signatures and backups, numbered by position: %s", strings.Join(placed, ", "))
	dir.children = sorted(dir.children)
	return dir, nil, nil
}

// volumeNode is the node of a volume of r, recognising its file system;
// copyOut is its disk's (see Disk.CopyOut).
func (t *Tree) volumeNode(name, layer string, r io.ReaderAt, size, start int64, mtime time.Time, copyOut func(start, length int64) string) *node {
	v := &volume{layer: layer, fsName: partition.DetectFS(r, size), r: r, size: size, start: start, copyOut: copyOut}
	v.empty = v.fsName == partition.FSLVM2
	return &node{name: name, vol: v, mtime: mtime}
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0F || t == 0x85 }

// partitionLayer describes a partition for Info.Layer: its Linux name,
// its type and its GPT name.
func partitionLayer(p partition.Partition) string {
	s := fmt.Sprintf("partition p%d (%s", p.Index, p.Type)
	if p.Name != "" {
		s += fmt.Sprintf(", %q", p.Name)
	}
	return s + ")"
}

func sorted(l []*node) []*node {
	slices.SortFunc(l, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	return l
}

// open opens the volume's file system once.
func (v *volume) open(opts Options) (guestfs.FS, error) {
	v.once.Do(func() {
		if v.empty {
			return
		}
		if v.unsupported != nil {
			v.err = fmt.Errorf("%s: %w", v.layer, v.unsupported)
			return
		}
		open, ok := readers[v.fsName]
		if !ok {
			v.err = v.notReadable()
			return
		}
		fsys, err := open(v.r, v.size, guestfs.Options{Deleted: opts.Deleted})
		if err != nil {
			err = fmt.Errorf("%s: %s: %w", v.layer, v.fsName, err)
		}
		v.mu.Lock()
		v.fsys, v.err = fsys, err
		v.mu.Unlock()
	})
	return v.fsys, v.err
}

// Warnings are what was met while reading the partition tables and
// opening the file systems so far: a table read from its backup, a lost
// table replaced by a search, a file system opened from its backup head.
func (t *Tree) Warnings() []string {
	w := slices.Clone(t.warnings)
	t.walkVolumes(t.root, func(v *volume) {
		v.mu.Lock()
		fsys := v.fsys
		v.mu.Unlock()
		if fsys != nil {
			for _, m := range fsys.Warnings() {
				w = append(w, v.layer+": "+m)
			}
		}
	})
	return w
}

// HoldsVMFS reports a partition or disk of the tree that is VMFS, by its
// partition type or its signature: a disk of an ESXi host rather than of a
// VM.
func (t *Tree) HoldsVMFS() bool {
	found := false
	t.walkVolumes(t.root, func(v *volume) {
		found = found || v.vmfs || v.fsName == partition.FSVMFS || v.fsName == partition.FSVMFSL
	})
	return found
}

// Readable counts the partitions, logical volumes and whole disks of the
// tree whose file system a reader of this package reads.
func (t *Tree) Readable() int {
	n := 0
	t.walkVolumes(t.root, func(v *volume) {
		if _, ok := readers[v.fsName]; ok {
			n++
		}
	})
	return n
}

func (t *Tree) walkVolumes(n *node, fn func(*volume)) {
	if n.vol != nil {
		fn(n.vol)
	}
	for _, c := range n.children {
		t.walkVolumes(c, fn)
	}
}

// resolve finds the node name lies in and the rest of name inside the
// node's file system ("." for its root).
func (t *Tree) resolve(op, name string) (*node, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := t.root
	rest := name
	for n.vol == nil && rest != "." {
		first, after, _ := strings.Cut(rest, "/")
		i, ok := slices.BinarySearchFunc(n.children, first, func(c *node, s string) int { return strings.Compare(c.name, s) })
		if !ok {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		n = n.children[i]
		rest = after
		if rest == "" {
			rest = "."
		}
	}
	return n, rest, nil
}

// inside resolves name to a volume's file system, opened; fsys is nil for
// a virtual directory or an empty volume, whose root rest then is.
func (t *Tree) inside(op, name string) (n *node, fsys guestfs.FS, rest string, err error) {
	n, rest, err = t.resolve(op, name)
	if err != nil || n.vol == nil {
		return n, nil, rest, err
	}
	fsys, err = n.vol.open(t.opts)
	if err != nil {
		return n, nil, rest, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if fsys == nil && rest != "." {
		return n, nil, rest, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, fsys, rest, nil
}

// rebase names the whole path of the tree in an error of a file system,
// which names its own path.
func rebase(err error, op, name string) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe == err {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Open opens a file or directory of the tree. Files are those of the guest
// file system's reader (io.ReaderAt, io.Seeker, and allocmap.Mapper where
// the reader knows where a file's data lies).
func (t *Tree) Open(name string) (fs.File, error) {
	n, fsys, rest, err := t.inside("open", name)
	if err != nil {
		return nil, err
	}
	if fsys == nil {
		return &virtualDir{t: t, n: n}, nil
	}
	f, err := fsys.Open(rest)
	if err != nil {
		return nil, rebase(err, "open", name)
	}
	if _, ok := f.(fs.ReadDirFile); ok {
		if info, err := f.Stat(); err == nil && info.IsDir() {
			return &volumeDir{File: f, t: t, n: n, name: name, rest: rest}, nil
		}
	}
	return f, nil
}

// ReadDir lists a directory of the tree.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	n, fsys, rest, err := t.inside("readdir", name)
	if err != nil {
		return nil, err
	}
	if fsys == nil {
		return t.virtualEntries(n), nil
	}
	list, err := fsys.ReadDir(rest)
	if err != nil {
		return nil, rebase(err, "readdir", name)
	}
	out := make([]fs.DirEntry, len(list))
	for i, e := range list {
		out[i] = dirEntry{DirEntry: e, v: n.vol}
	}
	return out, nil
}

// Stat describes a path of the tree; the roots of the volumes and the
// virtual directories are described without opening a file system.
func (t *Tree) Stat(name string) (fs.FileInfo, error) { return t.stat("stat", name) }

// Lstat describes a path of the tree without following a final link.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) { return t.stat("lstat", name) }

func (t *Tree) stat(op, name string) (fs.FileInfo, error) {
	n, rest, err := t.resolve(op, name)
	if err != nil {
		return nil, err
	}
	if rest == "." {
		return nodeInfo{n}, nil
	}
	_, fsys, rest, err := t.inside(op, name)
	if err != nil {
		return nil, err
	}
	var info fs.FileInfo
	if op == "lstat" {
		info, err = fsys.Lstat(rest)
	} else {
		info, err = fsys.Stat(rest)
	}
	if err != nil {
		return nil, rebase(err, op, name)
	}
	return wrapInfo(info, n.vol), nil
}

// ReadLink returns the target of a symbolic link inside a guest file
// system, as the guest wrote it.
func (t *Tree) ReadLink(name string) (string, error) {
	_, fsys, rest, err := t.inside("readlink", name)
	if err != nil {
		return "", err
	}
	if fsys == nil || rest == "." {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	target, err := fsys.ReadLink(rest)
	return target, rebase(err, "readlink", name)
}

func (t *Tree) virtualEntries(n *node) []fs.DirEntry {
	out := make([]fs.DirEntry, len(n.children))
	for i, c := range n.children {
		out[i] = fs.FileInfoToDirEntry(nodeInfo{c})
	}
	return out
}

// virtualDir is an opened virtual directory, or the root of an empty
// volume.
type virtualDir struct {
	t   *Tree
	n   *node
	pos int
}

func (d *virtualDir) Stat() (fs.FileInfo, error) { return nodeInfo{d.n}, nil }
func (d *virtualDir) Close() error               { return nil }
func (d *virtualDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.name, Err: errors.New("is a directory")}
}

func (d *virtualDir) ReadDir(count int) ([]fs.DirEntry, error) {
	all := d.t.virtualEntries(d.n)[d.pos:]
	if count <= 0 {
		d.pos += len(all)
		return all, nil
	}
	if len(all) == 0 {
		return nil, io.EOF
	}
	all = all[:min(count, len(all))]
	d.pos += len(all)
	return all, nil
}

// volumeDir is an opened directory of a guest file system, whose entries
// carry the layer.
type volumeDir struct {
	fs.File
	t          *Tree
	n          *node
	name, rest string
}

func (d *volumeDir) Stat() (fs.FileInfo, error) {
	if d.rest == "." {
		return nodeInfo{d.n}, nil
	}
	info, err := d.File.Stat()
	if err != nil {
		return nil, rebase(err, "stat", d.name)
	}
	return wrapInfo(info, d.n.vol), nil
}

func (d *volumeDir) ReadDir(count int) ([]fs.DirEntry, error) {
	list, err := d.File.(fs.ReadDirFile).ReadDir(count)
	for i, e := range list {
		list[i] = dirEntry{DirEntry: e, v: d.n.vol}
	}
	return list, err
}

// Info is FileInfo.Sys() of every entry of the tree.
type Info struct {
	// Layer is where the entry lies: "partition p2 (Linux, "root")",
	// "disk", "LV vg0/root", with the file system: "..., ext4".
	Layer string `json:"layer"`
	// FS names the file system (as partition.DetectFS does); empty for a
	// virtual directory.
	FS string `json:"fs,omitempty"`
	// VolumeSize is the size of the partition, logical volume or disk
	// whose root the entry is; 0 for every other entry.
	VolumeSize int64 `json:"volume_size,omitempty"`
	// State is guestfs.Live or guestfs.Deleted inside a file system.
	State string `json:"state,omitempty"`
	// Entry is what the reader says of the entry (inode, links, stream).
	Entry *guestfs.Info `json:"entry,omitempty"`
}

// LayerState returns Layer and State, for listings.
func (i *Info) LayerState() (layer, state string) { return i.Layer, i.State }

// Inode is the entry's number in its file system (inode, MFT record,
// first cluster), for body files; 0 when the reader gives none.
func (i *Info) Inode() uint64 {
	if i.Entry == nil {
		return 0
	}
	return i.Entry.ID
}

// Owner is the numeric owner where the file system keeps one (ext, XFS),
// for body files; zeros otherwise.
func (i *Info) Owner() (uid, gid uint32) {
	if i.Entry == nil || i.Entry.Owner == nil {
		return 0, 0
	}
	return i.Entry.Owner.UID, i.Entry.Owner.GID
}

// Times are the FileInfo's modification time alone (zeros here).
func (i *Info) Times() (atime, mtime, ctime time.Time) { return }

// Provenance marks a deleted entry in body files, as fls -m does.
func (i *Info) Provenance() string {
	if i.State == guestfs.Deleted {
		return "deleted"
	}
	return ""
}

func volumeLayer(v *volume) string {
	if v.fsName == "" {
		return v.layer
	}
	return v.layer + ", " + v.fsName
}

// nodeInfo describes a virtual directory or a volume's root.
type nodeInfo struct{ n *node }

func (i nodeInfo) Name() string       { return i.n.name }
func (i nodeInfo) Size() int64        { return 0 }
func (i nodeInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (i nodeInfo) ModTime() time.Time { return i.n.mtime }
func (i nodeInfo) IsDir() bool        { return true }
func (i nodeInfo) Sys() any {
	if v := i.n.vol; v != nil {
		return &Info{Layer: volumeLayer(v), FS: v.fsName, VolumeSize: v.size}
	}
	return &Info{Layer: i.n.layer}
}

// IsVolumeRoot reports the root of a partition's, a logical volume's or a
// whole disk's file system, as Tree describes it.
func IsVolumeRoot(info fs.FileInfo) bool {
	n, ok := info.(nodeInfo)
	return ok && n.n.vol != nil
}

// IsDiskRoot reports the directory of a disk's partitions and logical
// volumes: a NAME.vmdk@ directory of a Datastore, or in a Tree its root
// (one disk with a partition table; several disks) or a disk's NAME@
// among several.
func IsDiskRoot(info fs.FileInfo) bool {
	n, ok := info.(nodeInfo)
	return IsDiskDir(info) || ok && n.n.vol == nil && n.n.level == levelDisk
}

// IsGroupDir reports the lvm directory of a Tree and the directory of a
// volume group in it, which hold logical volumes and nothing else.
func IsGroupDir(info fs.FileInfo) bool {
	n, ok := info.(nodeInfo)
	return ok && n.n.vol == nil && n.n.level == levelGroup
}

// fileInfo is a reader's FileInfo with the layer in Sys().
type fileInfo struct {
	fs.FileInfo
	v *volume
}

func wrapInfo(info fs.FileInfo, v *volume) fs.FileInfo { return fileInfo{info, v} }

func (i fileInfo) Sys() any {
	out := &Info{Layer: volumeLayer(i.v), FS: i.v.fsName, State: guestfs.Live}
	if g, ok := i.FileInfo.Sys().(*guestfs.Info); ok && g != nil {
		out.Entry = g
		if g.State != "" {
			out.State = g.State
		}
	}
	return out
}

// dirEntry is a reader's DirEntry with the layer in its Info's Sys().
type dirEntry struct {
	fs.DirEntry
	v *volume
}

func (e dirEntry) Info() (fs.FileInfo, error) {
	info, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return wrapInfo(info, e.v), nil
}

var _ interface {
	fs.ReadDirFS
	fs.StatFS
	fs.ReadLinkFS
} = (*Tree)(nil)
