package ntfs

import (
	"io/fs"
	"strings"
	"unsafe"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// dirList is a directory's entries, sorted by name, with an index for
// lookups: exact names first, then case-insensitively as Windows does.
type dirList struct {
	nodes []*node
	fold  map[string][]*node
}

func newDirList(nodes []*node) *dirList {
	d := &dirList{nodes: nodes, fold: make(map[string][]*node, len(nodes))}
	for _, n := range nodes {
		k := strings.ToLower(n.name)
		d.fold[k] = append(d.fold[k], n)
	}
	return d
}

func (d *dirList) lookup(name string) *node {
	cands := d.fold[strings.ToLower(name)]
	for _, n := range cands {
		if n.name == name {
			return n
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return nil
}

func (d *dirList) entries() []fs.DirEntry {
	out := make([]fs.DirEntry, len(d.nodes))
	for i, n := range d.nodes {
		out[i] = n
	}
	return out
}

// The listings kept decoded, so that looking up every file of a large
// directory reads its index once, are bounded by what they weigh, names
// included: a name may be 255 UTF-16 units, 765 bytes as UTF-8 and as
// much again folded, so the bound by entries alone (256 Ki before) could
// hold 450 MB of long names. The listing read last is kept whatever it
// weighs.
const (
	cachedDirs      = 4096
	cachedListBytes = 64 << 20
	// nodeBytes is a node, its pointer in the listing, and its share of
	// the folded-name index.
	nodeBytes = int(unsafe.Sizeof(node{})) + 8 + 48
)

func newDirCache() *blockcache.LRU[int64, *dirList] {
	return blockcache.NewWeightedLRU[int64, *dirList](cachedDirs, cachedListBytes, listBytes)
}

// listBytes is about what a listing holds in memory.
func listBytes(d *dirList) int {
	n := 0
	for _, e := range d.nodes {
		n += nodeBytes + 2*len(e.name)
	}
	return n
}
