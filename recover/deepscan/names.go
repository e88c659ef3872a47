package deepscan

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// VMFS6 zeroes the directory entry of a deleted file, so a deleted VM
// comes back as fd-0x... files in an fd-0x... directory. What the files
// hold still names most of them, the way ESXi named them:
//   - a VMDK descriptor's extent lines name its extents, with their size:
//     a flat extent is the nameless file of the same directory with exactly
//     that many bytes, a sparse one (SESparse, COWD, KDMV) the one whose
//     header records that capacity; when two files fit, neither is named;
//   - the descriptor itself is named after its first extent (vm1-flat.vmdk:
//     vm1.vmdk), a .vmx after its displayName, and a directory holding a
//     .vmx after that displayName.
//
// Every such name says where it came from (Finding.NameFrom).

// inferredName is a name for a nameless file and the reason for it.
type inferredName struct {
	name, from string
}

// nameless is a file about to be placed without a name.
type nameless struct {
	h        FDHit
	size     int64
	text     string // "vmdk-descriptor", "vmx" or ""
	body     []byte // the text
	sparse   string // KDMV, COWD, SESparse or ""
	capacity int64  // sectors, of a sparse extent
}

// inferNames returns names, by descriptor volume offset, for the files of
// hits that no directory entry names.
func (b *builder) inferNames(hits []FDHit) map[int64]inferredName {
	byDir := map[uint32][]*nameless{}
	for _, h := range hits {
		if _, named := b.names[[2]uint32{h.Addr, h.Generation}]; named || b.seen[h.SelfOffset] {
			continue
		}
		n := &nameless{h: h}
		if h.Type == "file" {
			b.sniff(n)
		}
		byDir[h.ParentFD] = append(byDir[h.ParentFD], n)
	}
	out := map[int64]inferredName{}
	for _, group := range byDir {
		nameGroup(group, out)
	}
	// A nameless directory takes the displayName of the .vmx inside it.
	for _, h := range hits {
		if h.Type != "directory" {
			continue
		}
		if _, named := b.names[[2]uint32{h.Addr, h.Generation}]; named {
			continue
		}
		for _, n := range byDir[h.Addr] {
			if n.text == "vmx" {
				if name := vmxDisplayName(n.body); name != "" {
					out[h.SelfOffset] = inferredName{name, fmt.Sprintf("displayName of the .vmx fd-%#08x inside it", n.h.Addr)}
					break
				}
			}
		}
	}
	return out
}

// sniff reads the start of a nameless file: a descriptor or .vmx text, or
// a sparse extent header.
func (b *builder) sniff(n *nameless) {
	f, err := b.vol.OpenFDAt(n.h.SelfOffset, "")
	if err != nil {
		return
	}
	n.size = f.Size()
	head := make([]byte, 512) // a sparse header
	if n.size <= maxTextSize {
		head = make([]byte, n.size) // a descriptor or .vmx
	}
	k, _ := f.ReadAt(head, 0)
	head = head[:k]
	if kind := textKind(head); kind != "" {
		if body := textBody(head); printable(body) {
			n.text, n.body = kind, body
		}
		return
	}
	n.sparse, n.capacity, _ = vmdk.SparseCapacity(head)
}

// nameGroup names the nameless files of one directory.
func nameGroup(group []*nameless, out map[int64]inferredName) {
	sort.Slice(group, func(i, j int) bool { return group[i].h.Addr < group[j].h.Addr })
	for _, n := range group {
		if n.text == "" {
			continue
		}
		if name := textName(n.text, n.body); name != "" {
			from := "its first extent line, as ESXi names descriptors"
			if n.text == "vmx" {
				from = "its displayName"
			}
			out[n.h.SelfOffset] = inferredName{name, from}
		}
		if n.text != "vmdk-descriptor" {
			continue
		}
		d, err := vmdk.ParseDescriptor(n.body)
		if err != nil {
			continue
		}
		for _, e := range d.Extents {
			var fits []*nameless
			for _, c := range group {
				if c != n && extentFits(e, c) {
					fits = append(fits, c)
				}
			}
			if len(fits) != 1 {
				continue
			}
			if _, taken := out[fits[0].h.SelfOffset]; taken {
				continue
			}
			out[fits[0].h.SelfOffset] = inferredName{path.Base(e.File),
				fmt.Sprintf("extent line %d of the descriptor fd-%#08x (%s %d sectors)", e.Line, n.h.Addr, e.Type, e.Sectors)}
		}
	}
}

// extentFits says whether nameless file c can be the extent e names.
func extentFits(e vmdk.ExtentLine, c *nameless) bool {
	if c.text != "" || e.Sectors <= 0 || strings.Contains(e.File, "/dev/") {
		return false
	}
	switch e.Type {
	case "FLAT", "VMFS":
		return c.sparse == "" && c.size == e.Sectors*512
	case "SESPARSE":
		return c.sparse == "SESparse" && c.capacity == e.Sectors
	case "VMFSSPARSE":
		return c.sparse == "COWD" && c.capacity == e.Sectors
	case "SPARSE":
		return c.sparse == "KDMV" && c.capacity == e.Sectors
	}
	return false
}
