package exfat

import (
	"io/fs"
	"path"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
)

var _ guestfs.FS = (*FS)(nil)

// deletedStream is the content a deleted file can still be given: its
// FAT chain when it is whole and free (the FAT is not cleared on delete),
// otherwise contiguous clusters from the first, as undelete tools do
// (and as a NoFatChain file was).
func (f *FS) deletedStream(n *node) *stream {
	if !n.noFatChain {
		if s, err := f.chainStream(n.cluster, n.size, false); err == nil && f.lost(s) == 0 {
			s.valid = n.valid
			return s
		}
	}
	s := f.newStream(n.size)
	s.valid = n.valid
	want := (n.size + f.clusterSize - 1) / f.clusterSize
	if f.valid(n.cluster) && want > 0 {
		s.add(n.cluster, min(want, int64(f.clusters)-int64(n.cluster-2)))
	}
	return s
}

// lost counts the bytes of a stream in clusters that the allocation
// bitmap gives to another file, and past the clusters it has.
func (f *FS) lost(s *stream) int64 {
	var lost, have int64
	for _, x := range s.data.List {
		first := f.clusterAt(x.Dev)
		for i := int64(0); i*f.clusterSize < x.Len; i++ {
			bytes := min(f.clusterSize, s.data.Size-(x.Off+i*f.clusterSize))
			if f.allocated(first + uint32(i)) {
				lost += bytes
			}
			have += bytes
		}
	}
	return lost + s.data.Size - have
}

// Open opens a file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	info := f.info(n, path.Base(name))
	if n.dir {
		list, err := f.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return guestfs.NewDir(info, list), nil
	}
	var s *stream
	if n.deleted {
		s = f.deletedStream(n)
	} else if s, err = f.chainStream(n.cluster, n.size, n.noFatChain); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	s.valid = n.valid
	return guestfs.NewFile(s.readable(), info), nil
}

func (f *FS) info(n *node, name string) fs.FileInfo {
	info := &guestfs.Info{FS: f.Type(), State: guestfs.Live, ID: uint64(n.cluster)}
	var size int64
	if !n.dir {
		size = n.size
	}
	if n.deleted {
		info.State = guestfs.Deleted
		if !n.dir {
			info.Lost = f.lost(f.deletedStream(n))
		}
	}
	return guestfs.NewFileInfo(name, size, n.dir, n.mod, info)
}
