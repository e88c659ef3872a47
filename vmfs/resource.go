package vmfs

import (
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// resFile is a resource file (.fdc.sf, .sbc.sf, .pbc.sf, .pb2.sf): a
// header, then cluster groups, each holding cluster headers followed by
// the clusters' resources (vmfs.md: "Resource files").
type resFile struct {
	name         string
	perCluster   int64 // resources per cluster (rpc)
	perGroup     int64 // clusters per group (cpg)
	groupOffset  int64 // file offset of the first cluster group (cgo)
	resSize      int64 // bytes of one resource (rs)
	groupSize    int64 // bytes of one cluster group (cgs)
	numResources int64
	numGroups    int64
	clusterHdr   int64 // bytes of one cluster header (H)
	fd           *fileDesc
}

// parseResHeader decodes a resource-file header (layout.ResHeader;
// vmfs.md: "Resource files"). H is the cluster header size: 1024 before
// VMFS6, 2*md on VMFS6.
func parseResHeader(name string, buf []byte, h int64, at int64) (*resFile, error) {
	f := layout.ResHeader
	rf := &resFile{
		name:         name,
		perCluster:   int64(f.PerCluster.Get(buf)),
		perGroup:     int64(f.PerGroup.Get(buf)),
		groupOffset:  int64(f.GroupOffset.Get(buf)),
		resSize:      int64(f.ResSize.Get(buf)),
		groupSize:    int64(f.GroupSize.Get(buf)),
		numResources: int64(f.ResourcesLo.Get(buf)) | int64(f.ResourcesHi.Get(buf))<<32,
		numGroups:    int64(f.Groups.Get(buf)),
		clusterHdr:   h,
	}
	where := name + " header"
	switch {
	case rf.perGroup > 1<<20 || rf.perCluster > 1<<20 || rf.resSize > 1<<30:
		return nil, corrupt(where, at, "resources per cluster %d, clusters per group %d, resource size %d out of range",
			rf.perCluster, rf.perGroup, rf.resSize)
	case rf.perGroup > 0 && rf.perCluster > 0 && rf.groupSize < rf.geometry().MinGroupSize():
		return nil, corrupt(where, at, "cluster group size %#x smaller than its %d clusters", rf.groupSize, rf.perGroup)
	}
	return rf, nil
}

// resourceOffset is the file offset of resource r of cluster c (vmfs.md: "Resource files").
func (rf *resFile) resourceOffset(c, r uint64) (int64, error) {
	if rf.perGroup == 0 || rf.perCluster == 0 || r >= uint64(rf.perCluster) || c >= 1<<40 {
		return 0, fmt.Errorf("%w: %s has no resource %d of cluster %d (%d per cluster)", ErrCorrupt, rf.name, r, c, rf.perCluster)
	}
	return rf.geometry().ResourceOffset(int64(c), int64(r)), nil
}

// geometry is the layout of the file's clusters and resources.
func (rf *resFile) geometry() layout.Res {
	return layout.Res{PerCluster: rf.perCluster, PerGroup: rf.perGroup, GroupOffset: rf.groupOffset,
		ResSize: rf.resSize, GroupSize: rf.groupSize, HeaderSize: rf.clusterHdr}
}
