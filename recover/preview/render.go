package preview

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText renders r for a person: the summary first, then the text or
// hex dump.
func (r *Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("%s  (%s, %s)\n", r.Path, r.Kind, Size(r.Size))
	switch r.Kind {
	case KindSymlink:
		ew.printf("-> %s\n", r.Target)
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
			ew.printf("  ... (first %d entries)\n", len(r.Entries))
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
		ew.printf("--- text, bytes %d-%d of %d ---\n", r.Offset, r.Offset+r.Shown, r.Size)
		ew.printf("%s", r.Text)
		if !strings.HasSuffix(r.Text, "\n") && r.Text != "" {
			ew.printf("\n")
		}
	case r.Hex != "" || r.Kind == KindBinary:
		ew.printf("--- hex, bytes %d-%d of %d ---\n", r.Offset, r.Offset+r.Shown, r.Size)
		ew.printf("%s", r.Hex)
	}
	if r.Truncated && r.Kind != KindDir {
		ew.printf("--- %d more bytes not shown ---\n", r.Size-r.Offset-r.Shown)
	}
	return ew.err
}

func (v *VMX) write(ew *errWriter) {
	ew.printf("Virtual machine %q\n", v.Name)
	ew.printf("  guest OS:  %s\n", orDash(v.GuestOS))
	cpus := fmt.Sprint(v.CPUs)
	if v.CoresPerSocket > 0 {
		cpus += fmt.Sprintf(" (%d per socket)", v.CoresPerSocket)
	}
	ew.printf("  CPUs:      %s\n", cpus)
	if v.MemoryMB > 0 {
		ew.printf("  memory:    %d MiB\n", v.MemoryMB)
	} else {
		ew.printf("  memory:    -\n")
	}
	if v.HardwareVersion != "" {
		ew.printf("  hardware:  version %s\n", v.HardwareVersion)
	}
	if v.Firmware != "" {
		ew.printf("  firmware:  %s\n", v.Firmware)
	}
	ew.printf("  disks:     %d\n", len(v.Disks))
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
	ew.printf("  network adapters: %d\n", len(v.NICs))
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
		ew.printf("  warning: %s\n", w)
	}
}

func (s *VMDK) write(ew *errWriter) {
	if s.Error != "" {
		ew.printf("Virtual disk: cannot open: %s\n", s.Error)
		return
	}
	kind := s.Kind
	if s.CreateType != "" {
		kind += ", createType " + s.CreateType
	}
	ew.printf("Virtual disk (%s)\n", kind)
	ew.printf("  capacity:  %s (%d bytes)\n", Size(s.Capacity), s.Capacity)
	ew.printf("  allocated: %s (%d bytes)\n", Size(s.Allocated), s.Allocated)
	if s.Thin {
		ew.printf("  thin provisioned\n")
	}
	if s.AdapterType != "" {
		ew.printf("  adapter:   %s\n", s.AdapterType)
	}
	ew.printf("  chain:     %d link(s)\n", len(s.Chain))
	for i, l := range s.Chain {
		ew.printf("    %d. %s (%s) CID %s", i, l.Path, l.Kind, orDash(l.CID))
		if l.ParentHint != "" {
			ew.printf(", parent %s", l.ParentHint)
		}
		ew.printf("\n")
	}
	ew.printf("  extents:   %d\n", len(s.Extents))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	for _, e := range s.Extents {
		fmt.Fprintf(tw, "    link %d\t%s\t%s\t%s\t%s\t%s\n", e.Link, e.Type, e.Format, Size(e.Size), orDash(e.File), e.Note)
	}
	tw.Flush()
	if len(s.Missing) > 0 {
		ew.printf("  MISSING (read as zeros): %s\n", strings.Join(s.Missing, ", "))
	}
	switch {
	case s.Table != nil:
		ew.printf("  partition table: %s, %d-byte sectors, %d partition(s)\n", strings.ToUpper(s.Table.Scheme), s.Table.SectorSize, len(s.Table.Partitions))
		for _, p := range s.Table.Partitions {
			fmt.Fprintf(tw, "    %d\t%s\t%s\tat %d\t%s\t%s\n", p.Index, Size(p.Size), p.Type, p.Start, orDash(p.FS), p.Name)
		}
		tw.Flush()
	case s.WholeDiskFS != "":
		ew.printf("  no partition table; the whole disk holds %s\n", s.WholeDiskFS)
	default:
		ew.printf("  no partition table, no known file system at sector 0\n")
	}
	for _, w := range s.Warnings {
		ew.printf("  warning: %s\n", w)
	}
}

// Size renders a byte count for people: "0 B", "512 B", "1.5 KiB", "200 MiB".
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := -1
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", f)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[i]) + "iB"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so that rendering code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) {
	fmt.Fprintf(e, format, a...)
}
