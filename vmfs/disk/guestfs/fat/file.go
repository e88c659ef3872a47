package fat

import (
	"io/fs"
	"path"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

var _ guestfs.FS = (*FS)(nil)

// Open opens a file or directory. The part of a deleted file that lies
// past the end of the volume reads as zeros.
func (f *FS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e == nil || e.isDir() {
		list, err := f.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return guestfs.NewDir(f.info(e, path.Base(name)), list), nil
	}
	cl, err := f.fileClusters(e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	data := &guestfs.Extents{R: f.r, Size: e.size, Fail: func(dev int64, err error) error {
		return formatErr("cluster", dev, ErrCorrupt, "%v", err)
	}}
	for _, c := range cl {
		data.AddRun(f.clusterOff(c), 1, f.clusterSize)
	}
	return guestfs.NewFile(data, f.info(e, path.Base(name))), nil
}

// fileClusters returns the clusters of a file. A deleted file has no
// chain left: it is taken as contiguous from its first cluster, as
// undelete tools do.
func (f *FS) fileClusters(e *entry) ([]uint32, error) {
	if e.size == 0 {
		return nil, nil
	}
	want := (e.size + f.clusterSize - 1) / f.clusterSize
	if e.deleted {
		n := min(want, int64(f.clusters+2)-int64(e.cluster))
		cl := make([]uint32, max(n, 0))
		for i := range cl {
			cl[i] = e.cluster + uint32(i)
		}
		return cl, nil
	}
	cl, err := f.chain(e.cluster, want)
	if err == nil && int64(len(cl)) < want {
		err = formatErr("cluster chain", e.off, ErrCorrupt, "%s: %d clusters for %d bytes", e.name, len(cl), e.size)
	}
	return cl, err
}

// lost counts the bytes of a deleted file that are not what they were:
// those in clusters a chain took since, and those past the end of the
// volume. A table of the used clusters before each one, made once, makes
// it cheap for every entry of a listing.
func (f *FS) lost(e *entry) int64 {
	if e.size == 0 {
		return 0
	}
	f.usedOnce.Do(func() {
		f.usedBefore = make([]uint32, f.clusters+3)
		for c := uint32(2); c < f.clusters+2; c++ {
			f.usedBefore[c+1] = f.usedBefore[c]
			if f.next(c) != 0 {
				f.usedBefore[c+1]++
			}
		}
	})
	cs := f.clusterSize
	want := (e.size + cs - 1) / cs
	end := min(int64(e.cluster)+want, int64(f.clusters+2)) // clusters on the volume: e.cluster..end-1
	if end <= int64(e.cluster) {
		return e.size
	}
	lost := e.size - (end-int64(e.cluster))*cs // past the volume's end
	used := int64(f.usedBefore[end] - f.usedBefore[e.cluster])
	lost = max(lost, 0) + used*cs
	if last := uint32(end - 1); end-int64(e.cluster) == want && f.next(last) != 0 {
		lost -= want*cs - e.size // the last cluster is partly the file's
	}
	return lost
}

func (f *FS) info(e *entry, name string) fs.FileInfo {
	if e == nil {
		return guestfs.NewFileInfo(".", 0, true, time.Time{}, &guestfs.Info{FS: f.Type(), State: guestfs.Live, ID: uint64(f.rootCluster)})
	}
	info := &guestfs.Info{FS: f.Type(), State: guestfs.Live, ID: uint64(e.cluster)}
	if e.deleted {
		info.State = guestfs.Deleted
		if !e.isDir() {
			info.Lost = f.lost(e)
		}
	}
	return guestfs.NewFileInfo(name, e.size, e.isDir(), e.mod, info)
}
