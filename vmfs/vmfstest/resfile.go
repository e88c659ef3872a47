package vmfstest

import (
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// resFile is the layout of a resource file (vmfs.md: "Resource files"; .fdc.sf, .sbc.sf, .pbc.sf,
// .pb2.sf, .fbb.sf, .jbc.sf): a header, then cluster groups
// of cpg cluster headers followed by cpg × rpc resources of rs bytes.
type resFile struct {
	name     string
	rpc, cpg int64 // resources per cluster, clusters per group
	rs       int64 // resource size (0 for .fbb.sf: the volume is the data)
	hdr      int64 // cluster header size: 1024 (VMFS5) or 2 × md (VMFS6)
	cgo      int64 // offset of the first cluster group
	lock     uint32
	clusters int64
	total    int64 // numResources
	used     []bool
	next     int64
	start    int64 // first volume block of the (contiguous) file
	node     *node
	// firstOnly hands out only resource 0 of each cluster (VMFS6 .pb2.sf:
	// vmfs6-tools decodes PB2 addresses with a 32-bit layout that agrees
	// with the format's 64-bit one for resource 0 only).
	firstOnly bool
}

func newResFile(name string, rpc, cpg, rs, hdr int64, lock uint32, need int64) *resFile {
	clusters := max(1, (need+rpc-1)/rpc)
	return &resFile{name: name, rpc: rpc, cpg: cpg, rs: rs, hdr: hdr, cgo: 0x10000,
		lock: lock, clusters: clusters, total: clusters * rpc, used: make([]bool, clusters*rpc)}
}

// geometry is the layout of the file's cluster groups, each exactly as
// large as its headers and resources.
func (r *resFile) geometry() layout.Res {
	g := layout.Res{PerCluster: r.rpc, PerGroup: r.cpg, GroupOffset: r.cgo, ResSize: r.rs, HeaderSize: r.hdr}
	g.GroupSize = g.MinGroupSize()
	return g
}

func (r *resFile) cgs() int64    { return r.geometry().GroupSize }
func (r *resFile) groups() int64 { return (r.clusters + r.cpg - 1) / r.cpg }

// clusterOff is the file offset of cluster c's header (lock, then metadata).
func (r *resFile) clusterOff(c int64) int64 { return r.geometry().ClusterOffset(c) }

// itemOff is the file offset of resource idx (= cluster × rpc + resource).
func (r *resFile) itemOff(idx int64) int64 { return r.geometry().ResourceOffset(idx/r.rpc, idx%r.rpc) }

// length is the file length: up to the end of the last initialised
// cluster's resources (I5's .sbc.sf ends exactly there).
func (r *resFile) length() int64 {
	last := r.clusters - 1
	return r.geometry().ResourceOffset(last, 0) + r.rpc*r.rs
}

// alloc takes the next free resource.
func (r *resFile) alloc() (int64, error) {
	for r.next < int64(len(r.used)) && (r.used[r.next] || r.firstOnly && r.next%r.rpc != 0) {
		r.next++
	}
	if r.next >= int64(len(r.used)) {
		return 0, fmt.Errorf("vmfstest: %s: out of resources (%d)", r.name, len(r.used))
	}
	r.used[r.next] = true
	return r.next, nil
}

// bitmap returns cluster c's allocation bitmap (bit = 1: free) and its
// number of free resources.
func (r *resFile) bitmap(c int64) ([]byte, int64, int64) {
	total := min(r.rpc, r.total-c*r.rpc)
	bm := make([]byte, (total+7)/8)
	free := int64(0)
	for i := int64(0); i < total; i++ {
		if !r.used[c*r.rpc+i] {
			bm[i/8] |= 1 << (i % 8)
			free++
		}
	}
	return bm, total, free
}
