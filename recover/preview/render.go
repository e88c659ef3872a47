package preview

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
)

// WriteText renders r for a person: the summary first, then the text or
// hex dump.
func (r *Result) WriteText(w io.Writer) error {
	ew := &textout.ErrWriter{W: w}
	ew.Printf("%s  (%s, %s)\n", r.Path, r.Kind, Size(r.Size))
	switch r.Kind {
	case KindSymlink:
		ew.Printf("-> %s\n", r.Target)
	case KindDir:
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		for _, e := range r.Entries {
			if e.Dir {
				fmt.Fprintf(tw, "  %s/\t\n", e.Name)
			} else {
				fmt.Fprintf(tw, "  %s\t%s\n", e.Name, Size(e.Size))
			}
		}
		tw.Flush()
		if r.Truncated {
			ew.Printf("  ... (first %d entries)\n", len(r.Entries))
		}
	}
	if r.VMX != nil {
		r.VMX.write(ew)
	}
	if r.VMDK != nil {
		r.VMDK.write(ew)
	}
	switch {
	case r.Text != "" || (r.Kind == KindText && r.Shown == 0):
		ew.Printf("--- text, bytes %d-%d of %d ---\n", r.Offset, r.Offset+r.Shown, r.Size)
		ew.Printf("%s", r.Text)
		if !strings.HasSuffix(r.Text, "\n") && r.Text != "" {
			ew.Printf("\n")
		}
	case r.Hex != "" || r.Kind == KindBinary:
		ew.Printf("--- hex, bytes %d-%d of %d ---\n", r.Offset, r.Offset+r.Shown, r.Size)
		ew.Printf("%s", r.Hex)
	}
	if r.Truncated && r.Kind != KindDir {
		ew.Printf("--- %d more bytes not shown ---\n", r.Size-r.Offset-r.Shown)
	}
	return ew.Err
}

func (v *VMX) write(ew *textout.ErrWriter) {
	ew.Printf("Virtual machine %q\n", v.Name)
	ew.Printf("  guest OS:  %s\n", orDash(v.GuestOS))
	cpus := fmt.Sprint(v.CPUs)
	if v.CoresPerSocket > 0 {
		cpus += fmt.Sprintf(" (%d per socket)", v.CoresPerSocket)
	}
	ew.Printf("  CPUs:      %s\n", cpus)
	if v.MemoryMB > 0 {
		ew.Printf("  memory:    %d MiB\n", v.MemoryMB)
	} else {
		ew.Printf("  memory:    -\n")
	}
	if v.HardwareVersion != "" {
		ew.Printf("  hardware:  version %s\n", v.HardwareVersion)
	}
	if v.Firmware != "" {
		ew.Printf("  firmware:  %s\n", v.Firmware)
	}
	ew.Printf("  disks:     %d\n", len(v.Disks))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	for _, d := range v.Disks {
		state := "MISSING"
		switch {
		case d.Path == "":
			state = "not on this volume"
		case d.Complete:
			state = "found"
		case d.Found:
			state = "INCOMPLETE"
		}
		size := ""
		if d.Capacity > 0 {
			size = Size(d.Capacity)
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", d.Device, d.File, state, size, d.DeviceType)
		for _, m := range d.Missing {
			fmt.Fprintf(tw, "    \t  missing: %s\t\t\t\n", m)
		}
		if d.Note != "" && !d.Complete {
			fmt.Fprintf(tw, "    \t  %s\t\t\t\n", d.Note)
		}
	}
	tw.Flush()
	ew.Printf("  network adapters: %d\n", len(v.NICs))
	for _, n := range v.NICs {
		conn := "connected at power on"
		switch {
		case !n.Connected:
			conn = "not connected at power on"
		case n.ConnectedByDefault:
			conn = "connected at power on (startConnected not set: VMware's default)"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%q\t%s\t%s\n", n.Device, n.Type, n.Network, orDash(n.MAC), conn)
	}
	tw.Flush()
	for _, w := range v.Warnings {
		ew.Printf("  warning: %s\n", w)
	}
}

func (s *VMDK) write(ew *textout.ErrWriter) {
	if s.Error != "" {
		ew.Printf("Virtual disk: cannot open: %s\n", s.Error)
		return
	}
	kind := s.Kind
	if s.CreateType != "" {
		kind += ", createType " + s.CreateType
	}
	ew.Printf("Virtual disk (%s)\n", kind)
	ew.Printf("  capacity:  %s (%d bytes)\n", Size(s.Capacity), s.Capacity)
	ew.Printf("  allocated: %s (%d bytes)\n", Size(s.Allocated), s.Allocated)
	if s.Thin {
		ew.Printf("  thin provisioned\n")
	}
	if s.AdapterType != "" {
		ew.Printf("  adapter:   %s\n", s.AdapterType)
	}
	ew.Printf("  chain:     %d link(s)\n", len(s.Chain))
	for i, l := range s.Chain {
		ew.Printf("    %d. %s (%s) CID %s", i, l.Path, l.Kind, orDash(l.CID))
		if l.ParentHint != "" {
			ew.Printf(", parent %s", l.ParentHint)
		}
		ew.Printf("\n")
	}
	ew.Printf("  extents:   %d\n", len(s.Extents))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	for _, e := range s.Extents {
		fmt.Fprintf(tw, "    link %d\t%s\t%s\t%s\t%s\t%s\n", e.Link, e.Type, e.Format, Size(e.Size), orDash(e.File), e.Note)
	}
	tw.Flush()
	if len(s.Missing) > 0 {
		ew.Printf("  MISSING (read as zeros): %s\n", strings.Join(s.Missing, ", "))
	}
	switch {
	case s.Table != nil:
		ew.Printf("  partition table: %s, %d-byte sectors, %d partition(s)\n", strings.ToUpper(s.Table.Scheme), s.Table.SectorSize, len(s.Table.Partitions))
		for _, p := range s.Table.Partitions {
			fmt.Fprintf(tw, "    %d\t%s\t%s\tat %d\t%s\t%s\n", p.Index, Size(p.Size), p.Type, p.Start, orDash(p.FS), p.Name)
		}
		tw.Flush()
	case s.WholeDiskFS != "":
		ew.Printf("  no partition table; the whole disk holds %s\n", s.WholeDiskFS)
	default:
		ew.Printf("  no partition table, no known file system at sector 0\n")
	}
	for _, w := range s.Warnings {
		ew.Printf("  warning: %s\n", w)
	}
}

// Size renders a byte count for people: "0 B", "512 B", "1.5 KiB", "200 MiB".
func Size(n int64) string { return textout.BytesShort(n) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
