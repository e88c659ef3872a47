package ntfs

import (
	"io/fs"
	"strings"
	"sync"
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

// dirCache keeps the listings of the directories read last, so that
// looking up every file of a large directory reads its index once. It is
// bounded by entries, not directories: a few huge directories or many
// small ones.
type dirCache struct {
	mu      sync.Mutex
	order   []int64
	lists   map[int64]*dirList
	entries int
}

// cachedEntries bounds the entries kept, about 60 MiB of them; the
// directory read last is kept whatever its size.
const cachedEntries = 256 << 10

func (c *dirCache) get(id int64) *dirList {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[id]
}

func (c *dirCache) put(id int64, d *dirList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lists == nil {
		c.lists = map[int64]*dirList{}
	}
	if _, ok := c.lists[id]; ok {
		return
	}
	for len(c.order) > 0 && c.entries+len(d.nodes) > cachedEntries {
		c.entries -= len(c.lists[c.order[0]].nodes)
		delete(c.lists, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, id)
	c.lists[id] = d
	c.entries += len(d.nodes)
}
