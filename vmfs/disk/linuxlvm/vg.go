package linuxlvm

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/ondisk"
)

// Classes of the errors, found with errors.Is.
var (
	ErrCorrupt     = errors.New("corrupt LVM2 metadata")
	ErrUnsupported = errors.New("LVM2 volume type not supported")
	ErrMissingPV   = errors.New("LVM2 physical volume missing")
)

// Device is one disk (or partition) that may be an LVM2 physical volume.
type Device struct {
	Name string // as the caller names it, in messages
	R    io.ReaderAt
	Size int64
}

// PV is a physical volume of a volume group.
type PV struct {
	Name       string  // as the metadata names it: pv0, pv1...
	UUID       string  // as LVM prints it, with dashes
	Device     *Device // nil when missing
	LastDevice string  // the device path the host last saw it on
	PEStart    int64   // byte offset of the first extent on the device
	PECount    int64
}

// VG is a volume group.
type VG struct {
	Name       string
	UUID       string
	Seqno      int64 // metadata sequence number, raised at every change
	ExtentSize int64 // bytes
	PVs        []*PV
	Missing    []*PV // PVs of the group whose device is not among those given
	LVs        []*LV // the logical volumes a user sees, by name
	// Warnings are what Find met and worked around: a damaged metadata
	// copy replaced by another, copies of different ages.
	Warnings []string
}

// Find reads the LVM2 labels and metadata of devs and returns the volume
// groups they form, sorted by name; devices without an LVM2 label are
// skipped. A group spread over several devices is put together from all
// of them; its PVs that are not among devs are in Missing. The error
// joins the problems of devices that carry a label but whose group could
// not be read (each an *ondisk.FormatError): groups that could be read
// are returned beside it.
func Find(devs []Device) ([]*VG, error) {
	newest := map[string]*metadataCopy{} // by VG UUID
	var warnings = map[string][]string{}
	labels := map[string]*Device{} // canonical PV UUID -> device
	var errs []error
	problems := map[string][]error{} // device name -> its metadata copies that failed
	allFailed := map[string]bool{}
	noMetadata := map[string]string{} // device name -> PV UUID
	dups := map[string][]string{}     // PV UUID -> the devices that repeat it
	for i := range devs {
		d := &devs[i]
		l, ok, err := readLabel(d.R, d.Size)
		if !ok {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name, err))
			continue
		}
		if other := labels[canonicalUUID(l.uuid)]; other != nil {
			// A copy of a disk given beside it: the first is read.
			dups[canonicalUUID(l.uuid)] = append(dups[canonicalUUID(l.uuid)], d.Name)
			continue
		}
		labels[canonicalUUID(l.uuid)] = d
		if len(l.metadata) == 0 {
			noMetadata[d.Name] = l.uuid
		}
		var bad []error
		for _, a := range l.metadata {
			c, err := readCopy(d, a)
			if err != nil {
				bad = append(bad, fmt.Errorf("%s: %w", d.Name, err))
				continue
			}
			id, _ := c.vg.str("id")
			seq, _ := c.vg.int("seqno")
			if old := newest[id]; old != nil {
				oldSeq, _ := old.vg.int("seqno")
				if oldSeq != seq {
					warnings[id] = append(warnings[id], fmt.Sprintf("metadata copies of seqno %d (%s) and %d (%s): the newest is used", oldSeq, old.dev, seq, d.Name))
				}
				if oldSeq >= seq {
					continue
				}
			}
			newest[id] = c
		}
		if len(bad) > 0 && len(bad) == len(l.metadata) {
			// Every copy on the device is damaged: look for texts left
			// in the areas' circular buffers.
			for _, a := range l.metadata {
				_, c, err := scanMetadata(d.R, a)
				if err != nil {
					continue
				}
				c.dev = d.Name
				id, _ := c.vg.str("id")
				seq, _ := c.vg.int("seqno")
				if old := newest[id]; old == nil {
					newest[id] = c
					warnings[id] = append(warnings[id], fmt.Sprintf("metadata of seqno %d found by scanning the damaged metadata area of %s at byte %d: a later change may be lost", seq, d.Name, a.offset))
				}
				bad = nil
			}
		}
		if len(bad) > 0 {
			problems[d.Name] = bad
			allFailed[d.Name] = len(bad) == len(l.metadata)
		}
	}
	var out []*VG
	for id, c := range newest {
		vg, err := buildVG(c.vg, c.cfg, labels)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.dev, err))
			continue
		}
		vg.Warnings = append(warnings[id], vg.Warnings...)
		for _, pv := range vg.PVs {
			if names := dups[canonicalUUID(pv.UUID)]; len(names) > 0 && pv.Device != nil {
				vg.Warnings = append(vg.Warnings, fmt.Sprintf("PV %s (UUID %s) is on %s and again on %s: %s is read", pv.Name, pv.UUID, pv.Device.Name, strings.Join(names, ", "), pv.Device.Name))
			}
		}
		out = append(out, vg)
	}
	// A device whose metadata copies all failed is still fine when a
	// group read elsewhere holds it; otherwise its failure is the answer.
	for _, d := range devs {
		bad := problems[d.Name]
		_, bare := noMetadata[d.Name]
		if len(bad) == 0 && !bare {
			continue
		}
		held := false
		for _, vg := range out {
			for _, pv := range vg.PVs {
				if pv.Device != nil && pv.Device.Name == d.Name {
					held = true
					for _, err := range bad {
						vg.Warnings = append(vg.Warnings, fmt.Sprintf("a metadata copy is damaged, another was used: %v", err))
					}
				}
			}
		}
		switch {
		case held:
		case bare:
			errs = append(errs, fmt.Errorf("%s: PV %s holds no metadata and no group found lists it (the PVs of its group that hold the metadata are not given): %w", d.Name, printUUID(noMetadata[d.Name]), ErrMissingPV))
		case allFailed[d.Name]:
			errs = append(errs, bad...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}

// metadataCopy is the text of one metadata area, parsed.
type metadataCopy struct {
	cfg *section // the whole text
	vg  *section // its volume group
	dev string
}

func readCopy(d *Device, a area) (*metadataCopy, error) {
	text, err := readMetadata(d.R, a)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(text)
	if err != nil {
		return nil, err
	}
	vg, err := vgSection(cfg)
	if err != nil {
		return nil, err
	}
	return &metadataCopy{cfg, vg, d.Name}, nil
}

// vgSection returns the one section of the metadata text: the group.
func vgSection(cfg *section) (*section, error) {
	if len(cfg.subs) != 1 {
		return nil, &ondisk.FormatError{Struct: "LVM metadata", Off: -1, Msg: fmt.Sprintf("%d top-level sections, want one volume group", len(cfg.subs)), Err: ErrCorrupt}
	}
	vg := cfg.subs[0]
	if _, ok := vg.str("id"); !ok {
		return nil, &ondisk.FormatError{Struct: "LVM metadata of " + vg.name, Off: -1, Msg: "no id", Err: ErrCorrupt}
	}
	return vg, nil
}

func buildVG(s, cfg *section, labels map[string]*Device) (*VG, error) {
	bad := func(st, format string, args ...any) error {
		return &ondisk.FormatError{Struct: "LVM metadata of " + st, Off: -1, Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
	}
	id, _ := s.str("id")
	vg := &VG{Name: s.name, UUID: printUUID(id)}
	vg.Seqno, _ = s.int("seqno")
	ext, ok := s.int("extent_size")
	if !ok || ext <= 0 || ext > 1<<32 {
		return nil, bad(s.name, "extent size %d sectors", ext)
	}
	if format, ok := cfg.str("contents"); ok && format != "Text Format Volume Group" {
		vg.Warnings = append(vg.Warnings, fmt.Sprintf("metadata contents %q", format))
	}
	vg.ExtentSize = ext * sectorSize
	pvs := map[string]*PV{}
	if sec := s.sub("physical_volumes"); sec != nil {
		for _, p := range sec.subs {
			pid, _ := p.str("id")
			start, _ := p.int("pe_start")
			count, _ := p.int("pe_count")
			if start < 0 || count < 0 || count > 1<<40 || start > 1<<50 {
				return nil, bad(s.name+"/"+p.name, "pe_start %d, pe_count %d", start, count)
			}
			pv := &PV{Name: p.name, UUID: printUUID(pid), PEStart: start * sectorSize, PECount: count}
			pv.LastDevice, _ = p.str("device")
			pv.Device = labels[canonicalUUID(pid)]
			if pv.Device == nil {
				vg.Missing = append(vg.Missing, pv)
			} else if end := pv.PEStart + count*vg.ExtentSize; end > pv.Device.Size {
				vg.Warnings = append(vg.Warnings, fmt.Sprintf("PV %s (%s): its %d extents end at byte %d, past the device's %d bytes", pv.Name, pv.Device.Name, count, end, pv.Device.Size))
			}
			pvs[p.name] = pv
			vg.PVs = append(vg.PVs, pv)
		}
	}
	lvs, err := buildLVs(vg, s, pvs)
	if err != nil {
		return nil, err
	}
	vg.LVs = lvs
	return vg, nil
}
