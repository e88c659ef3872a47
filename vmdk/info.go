package vmdk

import (
	"path"
	"strings"
)

// Info describes an opened disk for people and scripts (vmfsrecover info).
type Info struct {
	Path        string    `json:"path"`
	Kind        string    `json:"kind"` // of the opened file: descriptor, single-file sparse disk, raw, ...
	CreateType  string    `json:"create_type,omitempty"`
	Capacity    int64     `json:"capacity"`
	AdapterType string    `json:"adapter_type,omitempty"`
	Geometry    *Geometry `json:"geometry,omitempty"`
	Thin        bool      `json:"thin_provisioned,omitempty"`
	UUID        string    `json:"uuid,omitempty"` // ddb.uuid, to match a disk with its VM

	Chain   []LinkInfo   `json:"chain"`
	Extents []ExtentInfo `json:"extents"` // of every link, newest first
	// Descriptor is the generated descriptor of a raw disk, to bring a lone
	// flat extent back as a VMDK; empty otherwise.
	Descriptor     string   `json:"generated_descriptor,omitempty"`
	DescriptorName string   `json:"generated_descriptor_name,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
}

// LinkInfo is one link of the chain; Chain[0] is the link opened.
type LinkInfo struct {
	Path       string `json:"path"`
	Kind       string `json:"kind"`
	CreateType string `json:"create_type,omitempty"`
	Capacity   int64  `json:"capacity"`
	CID        string `json:"cid,omitempty"`
	ParentCID  string `json:"parent_cid,omitempty"`
	ParentHint string `json:"parent_hint,omitempty"`
	// ParentMissing: the link names a parent that was not found (tolerant
	// mode); what the parent held reads as zeros.
	ParentMissing bool `json:"parent_missing,omitempty"`
}

// ExtentInfo is one extent of one link.
type ExtentInfo struct {
	Link      int    `json:"link"` // index into Chain
	Start     int64  `json:"start"`
	Size      int64  `json:"size"`
	Access    string `json:"access"`
	Type      string `json:"type"`   // as the descriptor says
	Format    string `json:"format"` // as found: flat, sparse, compressed sparse, COWD, SESparse, zero, device, missing, ...
	File      string `json:"file,omitempty"`
	FileStart int64  `json:"file_start,omitempty"` // flat: byte offset in File
	Note      string `json:"note,omitempty"`
}

// Info reports what the disk is made of.
func (d *Disk) Info() Info {
	in := Info{Path: d.prefix + d.top.path, Kind: d.top.kind, Capacity: d.size}
	for i, l := range d.chain() {
		li := LinkInfo{Path: d.prefix + l.path, Kind: l.kind, Capacity: l.size}
		if l.desc != nil {
			li.CreateType = l.desc.CreateType
			li.CID = hex8(l.desc.CID)
			if l.desc.ParentCID != 0xFFFFFFFF || l.desc.ParentFileNameHint != "" {
				li.ParentCID, li.ParentHint = hex8(l.desc.ParentCID), l.desc.ParentFileNameHint
			}
			li.ParentMissing = l.desc.ParentFileNameHint != "" && l.parent == nil
			// The DDB is searched child first.
			if in.AdapterType == "" {
				in.AdapterType = l.desc.DDB["adaptertype"]
			}
			if g := l.desc.geometry(); in.Geometry == nil && g != (Geometry{}) {
				in.Geometry = &g
			}
			if in.UUID == "" {
				in.UUID = l.desc.DDB["uuid"]
			}
			if l.desc.DDB["thinprovisioned"] == "1" {
				in.Thin = true
			}
		}
		if i == 0 {
			in.CreateType = li.CreateType
		}
		in.Chain = append(in.Chain, li)
		for _, e := range l.extents {
			ei := ExtentInfo{Link: i, Start: e.start, Size: e.size, Access: e.line.Access, Type: e.line.Type, Format: e.format, Note: e.note}
			ei.File = e.file
			if fe, ok := e.ex.(*flatExtent); ok {
				ei.FileStart = fe.start
			}
			in.Extents = append(in.Extents, ei)
		}
	}
	if d.raw {
		name := path.Base(d.top.path)
		in.DescriptorName = strings.TrimSuffix(strings.TrimSuffix(name, ".vmdk"), "-flat") + ".vmdk"
		if in.DescriptorName == name {
			in.DescriptorName = strings.TrimSuffix(name, path.Ext(name)) + "-descriptor.vmdk"
		}
		in.Descriptor = GenerateFlatDescriptor(name, d.size, FlatDescriptorOptions{})
	}
	in.Warnings = d.Warnings()
	return in
}

func (d *Disk) chain() []*link {
	var out []*link
	for l := d.top; l != nil; l = l.parent {
		out = append(out, l)
	}
	return out
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}
