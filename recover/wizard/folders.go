package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/guest"
	"github.com/vmfsrecover/vmfsrecover/recover/listing"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

// Enter opens a folder of the volume as one level of the menus that lead
// from the VMs to the files inside their disks, and lists it:
//
//   - a VM's folder (or any folder of the datastore): its disks first, each
//     with its files (descriptor, extents, snapshot parents) as one item
//     that opens into the disk, then its other entries;
//   - a disk (NAME.vmdk@, or the root of a disk SOURCE): its partitions and
//     logical volumes, each with its file system, size and state (readable,
//     cannot be read yet, unreadable and why); the lvm folder and its volume
//     groups are not levels of their own;
//   - a partition, logical volume or folder inside one: its entries, with
//     the layer they lie in and deleted ones marked.
//
// It stays at the browse step; Up leaves the folder. The folder opened
// from the filtered list (List) is the top: Up from it returns to the list.
func (w *Wizard) Enter(ctx context.Context, dir string) ([]Item, error) {
	if err := w.at("Enter", StepBrowse, StepPreview); err != nil {
		return nil, err
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return nil, err
	}
	dir = clean(dir)
	info, err := fs.Stat(vol, dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("/%s is not a folder (p previews a file)", strings.TrimPrefix(dir, "."))
	}
	var items []Item
	if guest.IsDiskRoot(info) || guest.IsGroupDir(info) {
		items, err = volumeItems(ctx, vol, dir)
	} else {
		items, err = folderItems(ctx, vol, dir)
	}
	if err != nil {
		return nil, err
	}
	if w.st.Folder == "" || !within(dir, w.st.Top) {
		w.st.Top = dir
	}
	w.st.Folder = dir
	return items, w.save()
}

// Up leaves the open folder for the level above it (a partition for its
// disk, a disk for its VM), or for the filtered list from the folder that
// was opened from it.
func (w *Wizard) Up(ctx context.Context) ([]Item, error) {
	if err := w.at("Up", StepBrowse, StepPreview); err != nil {
		return nil, err
	}
	dir := w.st.Folder
	if dir == "" {
		return nil, errors.New("no folder is open: the list is the top")
	}
	if dir == w.st.Top || dir == "." || !within(dir, w.st.Top) {
		return w.List(ctx, w.st.Filter, w.st.Search)
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return nil, err
	}
	up := path.Dir(dir)
	for within(up, w.st.Top) && up != w.st.Top {
		// The lvm folder and its volume groups are listed through: a
		// logical volume's level above is its disk's.
		if info, err := fs.Stat(vol, up); err != nil || !guest.IsGroupDir(info) {
			break
		}
		up = path.Dir(up)
	}
	return w.Enter(ctx, up)
}

// within reports whether p is dir or inside it (fs form, "." the root).
func within(p, dir string) bool {
	return dir != "" && (dir == "." || p == dir || strings.HasPrefix(p, dir+"/"))
}

// folderItems lists a folder: the VMDK disks in it first (their
// NAME.vmdk@ folders and their extents are in the disk's item), then the
// other entries in their order.
func folderItems(ctx context.Context, fsys fs.FS, dir string) ([]Item, error) {
	ents, unread, err := readFolder(ctx, fsys, dir)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[path.Base(e.path)] = true
	}
	var disks, others []Item
	covered := map[string]bool{} // the files and NAME.vmdk@ of the disks' items
	for _, e := range ents {
		if names[path.Base(e.path)+guest.DiskSuffix] && isDisk(e.path, e.info) {
			it := diskItem(fsys, e.path, e.info, provenance(e.info))
			for _, q := range it.Paths {
				covered[q] = true
			}
			covered[e.path+guest.DiskSuffix] = true
			disks = append(disks, it)
			continue
		}
		others = append(others, entryItem(e.path, e.info))
	}
	items := append(disks, unread...)
	for _, it := range others {
		if !covered[strings.TrimPrefix(it.Path, "/")] {
			items = append(items, it)
		}
	}
	if items == nil {
		items = []Item{}
	}
	return items, nil
}

// readFolder lists a folder's entries, each with its path (fs form) and
// FileInfo; an entry whose FileInfo cannot be read is an error item.
func readFolder(ctx context.Context, fsys fs.FS, dir string) ([]walked, []Item, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, nil, err
	}
	var out []walked
	var unread []Item
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		p := path.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil {
			unread = append(unread, Item{Path: "/" + p, Kind: "error", Info: err.Error()})
			continue
		}
		out = append(out, walked{path: p, info: info})
	}
	return out, unread, nil
}

// entryItem is the item of one entry of a folder.
func entryItem(p string, info fs.FileInfo) Item {
	it := Item{Path: "/" + p, Kind: "file", Size: info.Size(), Paths: []string{p}, Provenance: provenance(info)}
	if l, ok := info.Sys().(listing.Layered); ok {
		it.Info, _ = l.LayerState()
	}
	switch {
	case guest.IsDiskRoot(info):
		it.Kind, it.Folder = "disk", it.Path
	case info.IsDir():
		it.Kind, it.Folder = "folder", it.Path
	case info.Mode()&fs.ModeSymlink != 0:
		it.Kind = "symlink"
	}
	return it
}

// provenance is how an entry was found, for the list: a deep scan's
// provenance, or deleted inside a guest's file system.
func provenance(info fs.FileInfo) string {
	switch sys := info.Sys().(type) {
	case listing.Layered:
		if _, state := sys.LayerState(); state != guestfs.Live {
			return state
		}
	case export.Provenancer:
		return sys.Provenance()
	}
	return ""
}

// volumeItems lists the partitions and logical volumes of a disk, going
// through the lvm folder and its volume groups; among several disks (a VM's
// disks given as SOURCEs) each disk is an item that opens into its own.
// Each volume's file system is opened, to say whether it reads.
func volumeItems(ctx context.Context, fsys fs.FS, dir string) ([]Item, error) {
	ents, items, err := readFolder(ctx, fsys, dir)
	if err != nil {
		return nil, err
	}
	var lvs []Item // after the partitions, where lvm sorts them or not
	for _, e := range ents {
		switch {
		case guest.IsGroupDir(e.info):
			sub, err := volumeItems(ctx, fsys, e.path)
			if err != nil {
				return nil, err
			}
			lvs = append(lvs, sub...)
		case guest.IsVolumeRoot(e.info):
			items = append(items, volumeItem(fsys, e.path, e.info))
		default:
			items = append(items, entryItem(e.path, e.info))
		}
	}
	items = append(items, lvs...)
	if items == nil {
		items = []Item{}
	}
	return items, nil
}

// volumeItem is a partition or logical volume: its size, its layer with
// the file system, and whether that file system reads.
func volumeItem(fsys fs.FS, p string, info fs.FileInfo) Item {
	it := Item{Path: "/" + p, Kind: "volume", Paths: []string{p}, Folder: "/" + p}
	gi, _ := info.Sys().(*guest.Info)
	if gi == nil {
		gi = &guest.Info{}
	}
	it.Size = gi.VolumeSize
	layer := gi.Layer
	_, err := fs.ReadDir(fsys, p)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var state string
	switch {
	case err == nil && gi.FS == "LVM2":
		state = "physical volume: its logical volumes are listed after the partitions"
	case err == nil:
		state = "readable"
	case errors.Is(err, guest.ErrNotReadable) && gi.FS == "":
		state = "no file system recognised; o shows how to copy it out"
	case errors.Is(err, guest.ErrNotReadable):
		state = "cannot be read yet; o shows how to copy it out"
	default:
		// The reader's error, without the layer the list shows already.
		state = "UNREADABLE: " + strings.TrimPrefix(err.Error(), strings.TrimSuffix(layer, ", "+gi.FS)+": "+gi.FS+": ")
	}
	it.Info = strings.TrimPrefix(layer+", "+state, ", ")
	return it
}

// itemAt resolves what a person names to open or select in the list
// shown: an item by its path or, inside a folder, its name; else a path
// of the volume, relative to the open folder.
func (w *Wizard) itemAt(items []Item, name string) (Item, bool) {
	c := "/" + strings.TrimPrefix(clean(name), ".")
	for _, it := range items {
		if it.Path == c || w.st.Folder != "" && !strings.Contains(name, "/") && path.Base(it.Path) == name {
			return it, true
		}
	}
	return Item{}, false
}

// folderOf is the folder opening what name names enters: an item's
// folder, else name as a path, relative to the open folder.
func (w *Wizard) folderOf(items []Item, name string) (string, error) {
	if it, ok := w.itemAt(items, name); ok {
		if it.Folder == "" {
			return "", fmt.Errorf("%s is a %s, not something to open (p previews it)", it.Path, it.Kind)
		}
		return it.Folder, nil
	}
	if w.st.Folder != "" && !strings.HasPrefix(name, "/") {
		return path.Join(w.st.Folder, name), nil
	}
	return name, nil
}
