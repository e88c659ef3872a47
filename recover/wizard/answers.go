package wizard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
)

// Answers are the choices of a non-interactive wizard, read from a JSON
// file, e.g.
//
//	{"sources": ["datastore.img"], "volume": 1, "filter": "vms",
//	 "select": ["/vm1"], "preview": ["/vm1/vm1.vmx"],
//	 "destination": {"local": "/srv/recovered"}}
//
// or, through the menus into a VM's disk:
//
//	{"sources": ["datastore.img"], "filter": "vms",
//	 "open": ["vm1", "vm1.vmdk", "p2", "home"], "select": ["alice"],
//	 "destination": {"local": "/srv/recovered"}}
type Answers struct {
	Sources  []string `json:"sources"`
	Tolerant bool     `json:"tolerant"`
	ProbeAll bool     `json:"probe_all"`
	// Scan is quick (the default), deep, or auto: quick, then deep when
	// the quick scan finds nothing.
	Scan string `json:"scan"`
	// RAID reads the sources as the members of one RAID array: "auto"
	// detects it, a spec (as --raid takes it) gives it.
	RAID string `json:"raid"`
	// Volume is the 1-based number of the volume, or its label or UUID (as
	// scan shows them); empty picks the only one.
	Volume VolumeChoice `json:"volume"`
	Filter string       `json:"filter"` // vms, disks, all (default), deleted, guests
	Search string       `json:"search"`
	// Open walks the menus from the filtered list before selecting, as
	// the terminal's o and .. do: each entry opens an item of the list
	// shown by its path or, inside a folder, its name (a VM, then one of
	// its disks, then a partition or logical volume, then folders), or a
	// folder by its path (relative to the open one); ".." goes up. E.g.
	// ["vm1", "vm1.vmdk", "p2", "home/alice"].
	Open []string `json:"open"`
	// Select lists what to export: an item of the list shown by its path
	// (a VM's folder, a disk with its extents) or, inside a folder, its
	// name; any volume path; or "*" for every item listed.
	Select  []string `json:"select"`
	Preview []string `json:"preview"` // files shown before the export
	// Destination is a local folder or an FTP URL (the password comes from
	// VMFSRECOVER_FTP_PASSWORD or a netrc file, never from this file), with
	// the FTP options implicit_tls, ca_file and insecure_skip_verify.
	Destination struct {
		Local     string `json:"local"`
		FTP       string `json:"ftp"`
		Overwrite bool   `json:"overwrite"`
		Verify    *bool  `json:"verify"` // default true
		session.DestinationOptions
	} `json:"destination"`
	// Force exports even when the free space looks too small.
	Force bool `json:"force"`
}

// VolumeChoice names a volume in an answers file: a JSON number (1-based)
// or a string (a number, a label, a file-system UUID).
type VolumeChoice string

// UnmarshalJSON takes a number or a string.
func (v *VolumeChoice) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*v = VolumeChoice(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("volume: a number, a label or a UUID, not %s", b)
	}
	*v = VolumeChoice(s)
	return nil
}

// pick finds the volume among those found.
func (v VolumeChoice) pick(vols []VolumeInfo) (int, error) {
	if v == "" {
		if len(vols) != 1 {
			return 0, fmt.Errorf("%w: %d volumes found, say which with \"volume\"", ErrAnswers, len(vols))
		}
		return 1, nil
	}
	if n, ok := number(string(v)); ok {
		return n, nil
	}
	for _, vol := range vols {
		if vol.Label == string(v) || vol.UUID == string(v) {
			return vol.Number, nil
		}
	}
	return 0, fmt.Errorf("%w: no volume %q among %d found", ErrAnswers, string(v), len(vols))
}

// ErrAnswers: the answers file is unusable or lacks a needed answer.
var ErrAnswers = errors.New("bad answers")

// LoadAnswers reads an answers file; unknown keys are refused, so that a
// typo cannot silently change what is recovered.
func LoadAnswers(r io.Reader) (*Answers, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var a Answers
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAnswers, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON object", ErrAnswers)
	}
	switch a.Scan {
	case "", ScanQuick, ScanDeep, "auto":
	default:
		return nil, fmt.Errorf("%w: scan %q (quick, deep or auto)", ErrAnswers, a.Scan)
	}
	if a.Filter != "" && !contains(Filters, a.Filter) {
		return nil, fmt.Errorf("%w: filter %q (%s)", ErrAnswers, a.Filter, strings.Join(Filters, ", "))
	}
	if a.Destination.Local != "" && a.Destination.FTP != "" {
		return nil, fmt.Errorf("%w: destination has both local and ftp", ErrAnswers)
	}
	return &a, nil
}

// LoadAnswersFile reads an answers file by name.
func LoadAnswersFile(name string) (*Answers, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := LoadAnswers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return a, nil
}

// RunAnswers drives w from its current step to the end with the answers,
// telling out what each step did. A wizard resumed at a later step skips
// the answers of the steps already done.
func RunAnswers(ctx context.Context, w *Wizard, a *Answers, out io.Writer, progress func(label string) export.Progress) (*Report, error) {
	for !w.Step().Final() {
		if err := ctx.Err(); err != nil {
			return w.Report(), err
		}
		step := w.Step()
		fmt.Fprintf(out, "== step %d: %s\n", step.Number(), step)
		var err error
		switch step {
		case StepSources:
			if len(a.Sources) == 0 {
				return nil, fmt.Errorf("%w: no sources", ErrAnswers)
			}
			err = w.SetSources(a.Sources, a.Tolerant, a.ProbeAll)
		case StepScan:
			err = answerScan(ctx, w, a, out)
		case StepVolume:
			vols := w.State().Volumes
			var n int
			if n, err = a.Volume.pick(vols); err != nil {
				return nil, err
			}
			err = w.ChooseVolume(ctx, n)
			if err == nil {
				fmt.Fprintf(out, "volume %s\n", vols[n-1])
			}
		case StepBrowse:
			err = answerBrowse(ctx, w, a, out)
		case StepPreview:
			err = w.Next()
		case StepDestination:
			var p *Plan
			p, err = w.SetDestination(ctx, answerDestination(a))
			if err == nil {
				p.WriteText(out)
			}
		case StepConfirm:
			err = w.Confirm(a.Force)
		case StepExport:
			var r *Report
			r, err = w.Export(ctx, progress)
			if r != nil && err == nil {
				r.WriteText(out)
			}
		case StepReport:
			err = w.Finish()
		}
		if err != nil {
			return w.Report(), fmt.Errorf("step %s: %w", step, err)
		}
	}
	return w.Report(), nil
}

func answerScan(ctx context.Context, w *Wizard, a *Answers, out io.Writer) error {
	if a.RAID != "" && w.State().RAID == "" {
		if err := w.SetRAID(a.RAID); err != nil {
			return err
		}
	}
	mode := a.Scan
	if mode == "auto" || mode == "" {
		mode = ScanQuick
	}
	if w.State().ScanMode == ScanQuick && a.Scan == "auto" {
		mode = ScanDeep // resumed after a quick scan that found nothing
	}
	vols, err := w.Scan(ctx, mode)
	if errors.Is(err, ErrNothingFound) && a.Scan == "auto" {
		fmt.Fprintf(out, "quick scan: %v; deep scan\n", err)
		vols, err = w.Scan(ctx, ScanDeep)
	}
	if err != nil {
		return err
	}
	if spec := w.State().RAID; spec != "" {
		fmt.Fprintf(out, "RAID %s\n", spec)
	}
	for _, v := range vols {
		fmt.Fprintf(out, "found %s\n", v)
	}
	for _, warn := range w.Warnings() {
		fmt.Fprintf(out, "warning: %s\n", warn)
	}
	return nil
}

func answerBrowse(ctx context.Context, w *Wizard, a *Answers, out io.Writer) error {
	items, err := w.List(ctx, a.Filter, a.Search)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d item(s) with filter %s", len(items), w.State().Filter)
	if a.Search != "" {
		fmt.Fprintf(out, " and search %q", a.Search)
	}
	fmt.Fprintln(out)
	for _, o := range a.Open {
		if o == ".." {
			items, err = w.Up(ctx)
		} else {
			var dir string
			if dir, err = w.folderOf(items, o); err == nil {
				items, err = w.Enter(ctx, dir)
			}
		}
		if err != nil {
			return fmt.Errorf("open %q: %w", o, err)
		}
		writeItems(out, w.State(), items)
	}
	if len(a.Select) == 0 {
		return fmt.Errorf("%w: nothing to select (\"select\")", ErrAnswers)
	}
	for _, s := range a.Select {
		if s == "*" {
			for _, it := range items {
				if err := w.Select(ctx, it.Paths...); err != nil {
					return err
				}
			}
			continue
		}
		paths := []string{s}
		if it, ok := w.itemAt(items, s); ok {
			paths = it.Paths
		}
		if err := w.Select(ctx, paths...); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "selected: /%s\n", strings.Join(w.State().Selected, ", /"))
	for _, p := range a.Preview {
		r, err := w.Preview(ctx, p, preview.Options{})
		if err != nil {
			return err
		}
		if err := r.WriteText(out); err != nil {
			return err
		}
	}
	return w.Next()
}

// maxItemLines bounds the items an answered run prints of one folder.
const maxItemLines = 100

// writeItems tells what an opened folder (or the list) holds.
func writeItems(out io.Writer, st State, items []Item) {
	where := "the list"
	if st.Folder != "" {
		where = "/" + strings.TrimPrefix(st.Folder, ".")
	}
	fmt.Fprintf(out, "open %s: %d item(s)\n", where, len(items))
	for i, it := range items {
		if i == maxItemLines {
			fmt.Fprintf(out, "  ... %d more\n", len(items)-i)
			break
		}
		fmt.Fprintf(out, "  %s\n", it.line())
	}
}

func answerDestination(a *Answers) Destination {
	d := Destination{Kind: DestLocal, Dir: a.Destination.Local, Overwrite: a.Destination.Overwrite, Verify: true}
	if a.Destination.FTP != "" {
		d.Kind, d.Dir, d.URL = DestFTP, "", a.Destination.FTP
		d.DestinationOptions = a.Destination.DestinationOptions
	}
	if a.Destination.Verify != nil {
		d.Verify = *a.Destination.Verify
	}
	return d
}

// WriteText renders the plan for the confirm step.
func (p *Plan) WriteText(w io.Writer) error {
	ew := &textout.ErrWriter{W: w}
	ew.Printf("Destination: %s\n", p.Destination)
	ew.Printf("To export:   %d file(s), %d folder(s), %d link(s), %s (%s of data, the rest holes)\n",
		p.Files, p.Dirs, p.Links, preview.Size(p.Bytes), preview.Size(p.Allocated))
	if p.Unreadable > 0 {
		ew.Printf("Unreadable:  %d entries (they will be reported as failures)\n", p.Unreadable)
	}
	if p.Free >= 0 {
		verdict := "enough"
		if p.Free < p.Needed {
			verdict = "NOT ENOUGH"
		}
		ew.Printf("Space:       %s needed, %s free: %s\n", preview.Size(p.Needed), preview.Size(p.Free), verdict)
	} else {
		ew.Printf("Space:       %s needed; free space unknown at this destination\n", preview.Size(p.Needed))
	}
	return ew.Err
}
