package wizard

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/guest"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// Browse filters.
const (
	FilterVMs     = "vms"     // folders holding a .vmx: one item per virtual machine
	FilterDisks   = "disks"   // VMDKs (descriptors and single-file disks), with their extents
	FilterAll     = "all"     // every file and link, system files left out
	FilterDeleted = "deleted" // deleted, orphaned and carved files (from a deep scan)
	// FilterGuests: what is inside the VMs' disks (their NAME.vmdk@
	// folders): each disk's partitions, then their files.
	FilterGuests = "guests"
)

// Filters lists the browse filters.
var Filters = []string{FilterVMs, FilterDisks, FilterAll, FilterDeleted, FilterGuests}

// Item is one line of the browse list.
type Item struct {
	Path       string `json:"path"` // absolute: "/vm1" or "/vm1/vm1.vmx"
	Kind       string `json:"kind"` // vm, disk, file, symlink
	Size       int64  `json:"size"` // files: bytes; a VM: its folder's files; a disk: its parts
	Info       string `json:"info,omitempty"`
	Provenance string `json:"provenance,omitempty"`
	// Paths are what selecting the item selects: the VM's folder, the
	// disk's descriptor with its extents and snapshot parents, the file.
	Paths []string `json:"paths"`
	// Folder is what opening the item enters (Enter): a VM's folder, a
	// disk's NAME.vmdk@, a partition's or folder's path; empty for a file.
	Folder string `json:"folder,omitempty"`
}

// line is the item as lists show it: fixed columns first and the path
// last, so that a long path wraps alone instead of pushing every column
// off the screen.
func (it Item) line() string {
	info := it.Info
	if it.Provenance != "" && it.Provenance != "intact" {
		info = strings.TrimSpace(it.Provenance + " " + info)
	}
	if info != "" {
		info = "  (" + info + ")"
	}
	return fmt.Sprintf("%-7s %9s  %s%s", it.Kind, preview.Size(it.Size), it.Path, info)
}

// maxWalk bounds the entries remembered from one volume.
const maxWalk = 500000

type walked struct {
	path string // fs form, "a/b"
	info fs.FileInfo
	prov string
}

// List shows the volume through a filter and a case-insensitive search in
// the paths; it stays at the browse step and remembers both choices.
func (w *Wizard) List(ctx context.Context, filter, search string) ([]Item, error) {
	if err := w.at("List", StepBrowse, StepPreview); err != nil {
		return nil, err
	}
	if filter == "" {
		filter = FilterAll
	}
	if !contains(Filters, filter) {
		return nil, fmt.Errorf("unknown filter %q (%s)", filter, strings.Join(Filters, ", "))
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.walk(ctx, vol); err != nil {
		return nil, err
	}
	var items []Item
	switch filter {
	case FilterVMs:
		items = w.vms(ctx, vol)
	case FilterDisks:
		items = w.disks(vol)
	case FilterGuests:
		if items, err = w.guests(ctx, vol); err != nil {
			return nil, err
		}
	default:
		for _, e := range w.walkItems() {
			if e.info.IsDir() || session.SystemFile(e.path, e.info) {
				continue
			}
			deleted := e.prov == deepscan.Deleted || e.prov == deepscan.Orphan || e.prov == deepscan.Carved
			if filter == FilterDeleted && !deleted {
				continue
			}
			it := Item{Path: "/" + e.path, Kind: "file", Size: e.info.Size(), Provenance: e.prov, Paths: []string{e.path}}
			if e.info.Mode()&fs.ModeSymlink != 0 {
				it.Kind = "symlink"
			}
			items = append(items, it)
		}
	}
	if search != "" {
		s := strings.ToLower(search)
		kept := items[:0]
		for _, it := range items {
			if strings.Contains(strings.ToLower(it.Path), s) || strings.Contains(strings.ToLower(it.Info), s) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	w.st.Filter, w.st.Search, w.st.Folder, w.st.Top = filter, search, "", ""
	return items, w.save()
}

func (w *Wizard) walkItems() []walked { return w.walkCache }

// walk lists the whole volume once per opened volume.
func (w *Wizard) walk(ctx context.Context, fsys fs.FS) error {
	if w.walkCache != nil {
		return nil
	}
	var out []walked
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil || p == "." {
			// An unreadable folder is left out here; the export reports it.
			return nil
		}
		if len(out) >= maxWalk {
			return fs.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		e := walked{path: p, info: info}
		if pr, ok := info.Sys().(export.Provenancer); ok {
			e.prov = pr.Provenance()
		}
		out = append(out, e)
		if session.GuestDiskDir(info) {
			return fs.SkipDir // its inside is the guests filter's (guests)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []walked{}
	}
	w.walkCache = out
	return nil
}

// guests lists the inside of every VM disk's folder (NAME.vmdk@) the walk
// met: each partition or logical volume (as the disk's menu shows it:
// size, file system, whether it reads), then the files on it, with the
// layer they lie in; a disk that cannot be read is an item saying why. It
// opens every disk, so it runs only when this filter is asked for, once
// per opened volume.
func (w *Wizard) guests(ctx context.Context, fsys fs.FS) ([]Item, error) {
	if w.guestCache != nil {
		return w.guestCache, nil
	}
	items := []Item{}
	for _, e := range w.walkItems() {
		if !session.GuestDiskDir(e.info) {
			continue
		}
		err := fs.WalkDir(fsys, e.path, func(p string, d fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if len(items) >= maxWalk {
				return fs.SkipAll
			}
			if err != nil {
				items = append(items, Item{Path: "/" + p, Kind: "error", Info: err.Error()})
				return nil
			}
			if p == e.path {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			switch {
			case guest.IsVolumeRoot(info):
				items = append(items, volumeItem(fsys, p, info))
			case !d.IsDir():
				items = append(items, entryItem(p, info))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	w.guestCache = items
	return items, nil
}

// vms finds the folders that hold a .vmx.
func (w *Wizard) vms(ctx context.Context, fsys fs.FS) []Item {
	byDir := map[string]*Item{}
	var dirs []string
	for _, e := range w.walkItems() {
		if e.info.IsDir() || !strings.EqualFold(path.Ext(e.path), ".vmx") {
			continue
		}
		dir := path.Dir(e.path)
		if byDir[dir] != nil {
			continue
		}
		it := &Item{Path: "/" + strings.TrimPrefix(dir, "."), Kind: "vm", Paths: []string{dir}, Info: w.vmInfo(ctx, fsys, e.path)}
		it.Folder = it.Path
		byDir[dir] = it
		dirs = append(dirs, dir)
	}
	for _, e := range w.walkItems() {
		if e.info.Mode().IsRegular() {
			for d := path.Dir(e.path); ; d = path.Dir(d) {
				if it := byDir[d]; it != nil {
					it.Size += e.info.Size()
				}
				if d == "." {
					break
				}
			}
		}
	}
	sort.Strings(dirs)
	var items []Item
	for _, d := range dirs {
		items = append(items, *byDir[d])
	}
	return items
}

// vmInfo sums up a VM from its .vmx: its name, and how many of its disks
// are whole on the volume (descriptor, extents and snapshot parents).
func (w *Wizard) vmInfo(ctx context.Context, fsys fs.FS, p string) string {
	f, err := fsys.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return ""
	}
	v := preview.SummarizeVMX(ctx, fsys, p, b, preview.Options{Tolerant: w.st.Tolerant})
	disks, incomplete := 0, 0
	for _, d := range v.Disks {
		if d.Path == "" || strings.HasSuffix(strings.ToLower(d.Path), ".iso") || strings.Contains(strings.ToLower(d.DeviceType), "cdrom") {
			continue
		}
		disks++
		if !d.Complete {
			incomplete++
		}
	}
	info := v.Name
	switch {
	case disks == 0:
		info += ", no disk"
	case incomplete > 0:
		info += fmt.Sprintf(", %d disk(s), %d INCOMPLETE", disks, incomplete)
	default:
		info += fmt.Sprintf(", %d disk(s) complete", disks)
	}
	return strings.TrimPrefix(info, ", ")
}

// extentName matches VMDK files that are parts of another disk, not disks
// themselves: flat and sparse extents, split extents, change tracking, RDM
// mapping files.
var extentName = regexp.MustCompile(`(?i)-(flat|delta|sesparse|ctk|rdm|rdmp|s\d{3}|f\d{3})\.vmdk$`)

// disks finds the VMDKs a person would call disks and what each is made of.
func (w *Wizard) disks(fsys fs.FS) []Item {
	var items []Item
	for _, e := range w.walkItems() {
		if isDisk(e.path, e.info) {
			items = append(items, diskItem(fsys, e.path, e.info, e.prov))
		}
	}
	return items
}

// isDisk reports a VMDK a person would call a disk: a descriptor or a
// single-file disk, not an extent of another.
func isDisk(p string, info fs.FileInfo) bool {
	return info.Mode().IsRegular() && strings.EqualFold(path.Ext(p), ".vmdk") && !extentName.MatchString(p)
}

// diskItem is the item of the disk at p: its files (descriptor, extents,
// snapshot parents) and what it is; opening it enters its NAME.vmdk@.
func diskItem(fsys fs.FS, p string, fi fs.FileInfo, prov string) Item {
	it := Item{Path: "/" + p, Kind: "disk", Size: fi.Size(), Paths: []string{p}, Provenance: prov}
	if info, err := fs.Stat(fsys, p+guest.DiskSuffix); err == nil && session.GuestDiskDir(info) {
		it.Folder = it.Path + guest.DiskSuffix
	}
	d, err := vmdk.OpenFS(fsys, p, &vmdk.Options{Tolerant: true})
	if err != nil {
		it.Info = "cannot open: " + err.Error()
		return it
	}
	info := d.Info()
	d.Close()
	seen := map[string]bool{p: true}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			if fi, err := fs.Stat(fsys, p); err == nil && fi.Mode().IsRegular() {
				it.Paths = append(it.Paths, p)
				it.Size += fi.Size()
			}
		}
	}
	for _, l := range info.Chain {
		add(l.Path)
	}
	missing := 0
	for _, x := range info.Extents {
		if x.Format == "missing" {
			missing++
		}
		add(x.File)
	}
	it.Info = fmt.Sprintf("%s virtual disk, %d link(s), %d file(s)", preview.Size(info.Capacity), len(info.Chain), len(it.Paths))
	if missing > 0 || len(info.Warnings) > 0 {
		it.Info += fmt.Sprintf(", %d warning(s)", len(info.Warnings))
	}
	return it
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
