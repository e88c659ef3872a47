package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid"
)

// Scan modes.
const (
	ScanQuick = "quick" // partition tables, bare images, the usual offsets
	ScanDeep  = "deep"  // every byte of the sources (package deepscan)
)

// Destination kinds.
const (
	DestLocal = "local"
	DestFTP   = "ftp"
)

// State is what a wizard remembers between steps and between runs. It holds
// no password.
type State struct {
	Format  int       `json:"format"`
	Step    Step      `json:"step"`
	Updated time.Time `json:"updated"`
	Sources []string  `json:"sources,omitempty"`
	// Maps are the GNU ddrescue mapfiles of imaged sources, by source
	// (both absolute): what they do not mark rescued is lost.
	Maps     map[string]string `json:"maps,omitempty"`
	Tolerant bool              `json:"tolerant,omitempty"`
	ProbeAll bool              `json:"probe_all,omitempty"`
	ScanMode string            `json:"scan_mode,omitempty"`
	// RAID, when set, reads the sources as the members of one RAID array:
	// "auto" until a scan has assembled it, then the spec it was assembled
	// with (level, layout, chunk, offset, members in order), so that a
	// resumed wizard reads the same array without detecting it again.
	RAID string `json:"raid,omitempty"`
	// Volumes are those the last scan found; Volume is the 1-based number
	// of the one chosen.
	Volumes []VolumeInfo `json:"volumes,omitempty"`
	Volume  int          `json:"volume,omitempty"`
	Filter  string       `json:"filter,omitempty"`
	Search  string       `json:"search,omitempty"`
	// Folder is the folder of the volume open in the menus (Enter), "."
	// its root; empty when the filtered list is shown. Top is the folder
	// opened from the list, above which Up returns to it.
	Folder string `json:"folder,omitempty"`
	Top    string `json:"top,omitempty"`
	// Selected are the volume paths to export ("vm1", "iso/a.iso"),
	// sorted, none inside another.
	Selected    []string     `json:"selected,omitempty"`
	Previewed   string       `json:"previewed,omitempty"`
	Destination *Destination `json:"destination,omitempty"`
	Plan        *Plan        `json:"plan,omitempty"`
	Report      *Report      `json:"report,omitempty"`
}

const stateFormat = 1

// VolumeInfo is one volume found by a scan.
type VolumeInfo = session.VolumeInfo

// Destination is where the export goes.
type Destination struct {
	Kind      string `json:"kind"`          // local or ftp
	Dir       string `json:"dir,omitempty"` // local: absolute folder
	URL       string `json:"url,omitempty"` // ftp:// or ftps://, without password
	Overwrite bool   `json:"overwrite,omitempty"`
	// Verify reads every exported file back and compares its sha256.
	Verify bool `json:"verify"`
	// The FTP options (TLS, certificate authorities) as the command line
	// has them; a relative CAFile is made absolute.
	session.DestinationOptions
}

// Options tune a wizard.
type Options struct {
	Logger  *slog.Logger // nil: no log
	Workers int          // files exported at once: export.Options.Workers (0: automatic, as export's)
	// StatePath is where the state is saved after every step; empty means
	// nowhere (tests, one-shot runs).
	StatePath string
	// ScanDir is the folder whose .vmfsrecover/ keeps deep-scan files, so
	// that a resumed wizard does not scan again; empty means the working
	// directory.
	ScanDir string
	// DeepProgress, when set, is asked for a progress display of the deep
	// scan of each source.
	DeepProgress deepscan.ProgressFunc
	// Notify, when set, is told what happens to each deep-scan file
	// (reused, saved, not saved).
	Notify func(deepscan.Event)
	// Maps name, by SOURCE as given to SetSources, the GNU ddrescue
	// mapfile of an imaged source (the command line's --map).
	Maps map[string]string
	// FTP are the defaults of an FTP destination's options (the command
	// line's --ca-file, --implicit-tls, ...); Timeout is never saved and
	// always comes from here.
	FTP session.DestinationOptions
	// Password is where an FTP password comes from when none was set with
	// SetFTPPassword: the environment, a netrc file, then Prompt (which
	// Terminal sets to its own prompt when nil).
	Password export.PasswordSources
	// Now stamps saved states; nil means time.Now.
	Now func() time.Time
}

// Wizard is one recovery in progress. It is not safe for concurrent use.
type Wizard struct {
	st   State
	opts Options
	scan *session.Scan
	// vol is the chosen volume: a *vmfs.Volume after a quick scan, a
	// *deepscan.Tree after a deep one.
	vol  *session.Volume
	pass string // FTP password, never saved
	// dst is the destination opened for this process (its FTP password
	// resolved once); nil after a resume or a new destination.
	dst export.Destination
	// walkCache is the walk of the volume behind List; guestCache the
	// items of the guests filter.
	walkCache  []walked
	guestCache []Item
}

// New starts a wizard at the sources step.
func New(opts Options) *Wizard {
	return &Wizard{st: State{Format: stateFormat, Step: StepSources}, opts: opts}
}

// State returns a copy of the state.
func (w *Wizard) State() State {
	s := w.st
	s.Sources = slices.Clone(s.Sources)
	s.Selected = slices.Clone(s.Selected)
	s.Volumes = slices.Clone(s.Volumes)
	return s
}

// Step is the current step.
func (w *Wizard) Step() Step { return w.st.Step }

// Close releases the sources.
func (w *Wizard) Close() error {
	var err error
	if w.vol != nil {
		err = w.vol.Close()
	}
	w.vol, w.walkCache, w.guestCache = nil, nil, nil
	if w.scan == nil {
		return err
	}
	err = errors.Join(err, w.scan.Close())
	w.scan = nil
	return err
}

func (w *Wizard) logger() *slog.Logger {
	if w.opts.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.opts.Logger
}

// at checks that the wizard stands at one of steps before an action.
func (w *Wizard) at(action string, steps ...Step) error {
	if slices.Contains(steps, w.st.Step) {
		return nil
	}
	return &TransitionError{From: w.st.Step, Action: action}
}

// move goes to step to, if the table allows it, and saves the state.
func (w *Wizard) move(action string, to Step) error {
	if !Allowed(w.st.Step, to) {
		return &TransitionError{From: w.st.Step, To: to, Action: action}
	}
	w.logger().Debug("wizard step", "from", w.st.Step, "to", to, "action", action)
	w.st.Step = to
	return w.save()
}

// Back returns to the step before (see Prev).
func (w *Wizard) Back() error {
	p, ok := prev[w.st.Step]
	if !ok {
		return &TransitionError{From: w.st.Step, Action: "Back"}
	}
	return w.move("Back", p)
}

// Cancel abandons the wizard; the saved state says so.
func (w *Wizard) Cancel() error {
	if err := w.move("Cancel", StepCancelled); err != nil {
		return err
	}
	return w.Close()
}

// SetSources names the disks, images or VMDKs to read (several for a
// spanned volume) and moves to the scan step. Nothing is opened yet. Local
// sources are kept as absolute paths ("~/" expanded), so that the wizard
// resumes from any folder.
func (w *Wizard) SetSources(sources []string, tolerant, probeAll bool) error {
	if err := w.at("SetSources", StepSources); err != nil {
		return err
	}
	if len(sources) == 0 {
		return fmt.Errorf("no source given")
	}
	abs := make([]string, len(sources))
	var maps map[string]string
	for i, s := range sources {
		a, err := absSource(s)
		if err != nil {
			return err
		}
		abs[i] = a
		if m := w.opts.Maps[s]; m != "" {
			if m, err = absSource(m); err != nil {
				return err
			}
			if maps == nil {
				maps = map[string]string{}
			}
			maps[a] = m
		}
	}
	w.Close()
	w.st.Sources, w.st.Maps, w.st.Tolerant, w.st.ProbeAll = abs, maps, tolerant, probeAll
	w.st.Volumes, w.st.Volume, w.st.Selected, w.st.RAID = nil, 0, nil, ""
	return w.move("SetSources", StepScan)
}

// Scan opens the sources and looks for volumes. A scan that finds some
// moves to the volume step; one that finds none stays at the scan step and
// returns ErrNothingFound, so that a deep scan can follow. A deep scan
// reuses or resumes its scan files in Options.ScanDir; one interrupted
// through ctx keeps its findings there for the next time.
func (w *Wizard) Scan(ctx context.Context, mode string) ([]VolumeInfo, error) {
	if err := w.at("Scan", StepScan); err != nil {
		return nil, err
	}
	switch mode {
	case ScanQuick, "":
		mode = ScanQuick
	case ScanDeep:
	default:
		return nil, fmt.Errorf("unknown scan mode %q (quick or deep)", mode)
	}
	w.Close()
	w.st.ScanMode = mode
	w.st.Volumes, w.st.Volume, w.st.Selected = nil, 0, nil
	sc, err := w.openScan(ctx)
	if err != nil {
		if mode == ScanDeep {
			return nil, errors.Join(err, w.save())
		}
		return nil, err
	}
	w.scan = sc
	if sc.RAID != "" {
		w.st.RAID = sc.RAID
	}
	w.st.Volumes = slices.Clone(sc.Volumes)
	if len(w.st.Volumes) == 0 && mode == ScanQuick {
		// No VMFS: the sources may be a VM's disks, read as such.
		if v, err := sc.OpenGuests(ctx, session.GuestOptions{}); err == nil {
			w.vol = v
			w.st.Volumes = []VolumeInfo{{Number: 1, Label: "the partitions and files of the virtual disks " + strings.Join(w.st.Sources, ", "), Guest: true}}
		}
	}
	if len(w.st.Volumes) == 0 {
		if err := w.move("Scan", StepScan); err != nil {
			return nil, err
		}
		if mode == ScanDeep {
			return nil, fmt.Errorf("%w: the deep scan of %s found no VMFS metadata", ErrNothingFound, strings.Join(w.st.Sources, ", "))
		}
		hint := "try a deep scan, --probe-all, or other sources"
		if len(w.st.Sources) > 1 && w.st.RAID == "" {
			hint = "if the sources are the members of a RAID array, read them as one; or try a deep scan, --probe-all, or other sources"
		}
		return nil, fmt.Errorf("%w on %s: %s", ErrNothingFound, strings.Join(w.st.Sources, ", "), hint)
	}
	return slices.Clone(w.st.Volumes), w.move("Scan", StepVolume)
}

// SetRAID decides, at the scan step, whether the sources are read as the
// members of one RAID array: "" reads them as separate disks, "auto"
// detects the array at the next scan, and a spec (as --raid takes it,
// members named as the sources are) gives it. Nothing is opened yet; the
// next Scan assembles the array and keeps the spec it used.
func (w *Wizard) SetRAID(spec string) error {
	if err := w.at("SetRAID", StepScan); err != nil {
		return err
	}
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || spec == "auto":
	case len(w.st.Sources) < 2:
		return fmt.Errorf("a RAID array needs two or more member sources, have %d", len(w.st.Sources))
	default:
		if _, err := raid.Parse(spec); err != nil {
			return err
		}
	}
	w.Close()
	w.st.RAID = spec
	w.st.Volumes, w.st.Volume, w.st.Selected = nil, 0, nil
	return w.save()
}

// openScan opens the sources with the saved choices.
func (w *Wizard) openScan(ctx context.Context) (*session.Scan, error) {
	return session.ScanSources(ctx, w.st.Sources, session.Options{
		Tolerant: w.st.Tolerant, ProbeAll: w.st.ProbeAll, Deep: w.st.ScanMode == ScanDeep,
		ScanDir: w.opts.ScanDir, DeepProgress: w.opts.DeepProgress, Notify: w.opts.Notify,
		Maps: w.st.Maps, RAID: w.st.RAID,
	})
}

// Warnings are the anomalies met while opening the sources and the volume.
func (w *Wizard) Warnings() []string {
	var ws []string
	if w.scan != nil {
		ws = append(ws, w.scan.Warnings()...)
	}
	if w.vol != nil {
		ws = append(ws, w.vol.Anomalies()...)
	}
	return ws
}

// ChooseVolume opens the volume with the given 1-based number and moves to
// browse. A spanned volume with missing extents opens only in tolerant mode.
func (w *Wizard) ChooseVolume(ctx context.Context, number int) error {
	if err := w.at("ChooseVolume", StepVolume); err != nil {
		return err
	}
	if number < 1 || number > len(w.st.Volumes) {
		return fmt.Errorf("no volume %d: choose 1 to %d", number, len(w.st.Volumes))
	}
	if w.vol != nil {
		w.vol.Close()
	}
	w.vol, w.walkCache, w.guestCache = nil, nil, nil
	w.st.Volume, w.st.Folder, w.st.Top = number, "", ""
	if _, err := w.volume(ctx); err != nil {
		w.st.Volume = 0
		return err
	}
	w.st.Selected = nil
	return w.move("ChooseVolume", StepBrowse)
}

// volume returns the open volume, opening the sources again after a
// resume (a deep scan then reads its scan files).
func (w *Wizard) volume(ctx context.Context) (fs.FS, error) {
	if w.vol != nil {
		return w.vol.FS, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if w.st.Volume == 0 {
		return nil, fmt.Errorf("%w: no volume chosen", ErrBadState)
	}
	if w.scan == nil {
		sc, err := w.openScan(ctx)
		if err != nil {
			return nil, err
		}
		w.scan = sc
	}
	if w.st.Volumes[w.st.Volume-1].Guest {
		v, err := w.scan.OpenGuests(ctx, session.GuestOptions{})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadState, err)
		}
		w.vol = v
		return v.FS, nil
	}
	v, err := w.scan.Open(w.st.Volume, &w.st.Volumes[w.st.Volume-1])
	if errors.Is(err, session.ErrChanged) {
		err = fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if err != nil {
		return nil, err
	}
	v.EnterDisks(ctx, session.GuestOptions{}, w.st.Tolerant)
	w.vol = v
	return v.FS, nil
}

// FS is the chosen volume as a file system (for front ends that show more
// than List does).
func (w *Wizard) FS(ctx context.Context) (fs.FS, error) {
	if err := w.at("FS", StepBrowse, StepPreview, StepDestination, StepConfirm, StepExport, StepReport); err != nil {
		return nil, err
	}
	return w.volume(ctx)
}

// Select adds volume paths (files or folders, "/vm1" or "vm1") to the
// selection. Paths must exist.
func (w *Wizard) Select(ctx context.Context, paths ...string) error {
	if err := w.at("Select", StepBrowse, StepPreview); err != nil {
		return err
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return err
	}
	sel := slices.Clone(w.st.Selected)
	for _, p := range paths {
		p = clean(p)
		if _, err := lstat(vol, p); err != nil {
			return err
		}
		sel = append(sel, p)
	}
	w.st.Selected = normalizeSelection(sel)
	return w.save()
}

// Unselect removes paths from the selection; a path inside a selected
// folder cannot be removed on its own.
func (w *Wizard) Unselect(paths ...string) error {
	if err := w.at("Unselect", StepBrowse, StepPreview); err != nil {
		return err
	}
	for _, p := range paths {
		p = clean(p)
		i := slices.Index(w.st.Selected, p)
		if i < 0 {
			return fmt.Errorf("%s is not selected on its own", "/"+p)
		}
		w.st.Selected = slices.Delete(w.st.Selected, i, i+1)
	}
	return w.save()
}

// ClearSelection empties the selection.
func (w *Wizard) ClearSelection() error {
	if err := w.at("ClearSelection", StepBrowse, StepPreview); err != nil {
		return err
	}
	w.st.Selected = nil
	return w.save()
}

// normalizeSelection sorts, removes duplicates and paths inside a selected
// folder ("." selects everything).
func normalizeSelection(sel []string) []string {
	slices.Sort(sel)
	sel = slices.Compact(sel)
	var out []string
	for _, p := range sel {
		covered := false
		for _, q := range out {
			if q == "." || strings.HasPrefix(p, q+"/") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	if slices.Contains(out, ".") {
		return []string{"."}
	}
	return out
}

// Preview shows a file of the volume and moves to the preview step.
func (w *Wizard) Preview(ctx context.Context, name string, opts preview.Options) (*preview.Result, error) {
	if err := w.at("Preview", StepBrowse, StepPreview); err != nil {
		return nil, err
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return nil, err
	}
	opts.Tolerant = opts.Tolerant || w.st.Tolerant
	r, err := preview.Preview(ctx, vol, clean(name), opts)
	if err != nil {
		return nil, err
	}
	w.st.Previewed = r.Path
	return r, w.move("Preview", StepPreview)
}

// Next leaves browse or preview for the destination step; the selection
// must not be empty.
func (w *Wizard) Next() error {
	if err := w.at("Next", StepBrowse, StepPreview); err != nil {
		return err
	}
	if len(w.st.Selected) == 0 {
		return ErrEmptySelection
	}
	return w.move("Next", StepDestination)
}

// SetFTPPassword sets the password of an FTP destination; it is kept in
// memory only.
func (w *Wizard) SetFTPPassword(p string) { w.pass, w.dst = p, nil }

// destination opens the export destination of the state, once per
// process: an FTP password is asked for (or read from the environment or
// a netrc file) only the first time.
func (w *Wizard) destination() (export.Destination, error) {
	if w.dst != nil {
		return w.dst, nil
	}
	d := w.st.Destination
	if d == nil {
		return nil, fmt.Errorf("%w: no destination", ErrBadState)
	}
	var to string
	switch d.Kind {
	case DestLocal:
		to = d.Dir
	case DestFTP:
		to = d.URL
	default:
		return nil, fmt.Errorf("unknown destination kind %q (local or ftp)", d.Kind)
	}
	o := d.DestinationOptions
	o.Timeout = w.opts.FTP.Timeout
	dst, err := session.OpenDestination(to, o, w.pass, w.opts.Password)
	if err != nil {
		return nil, err
	}
	w.dst = dst
	return dst, nil
}

// SetDestination checks a destination (a local folder must be one or be
// creatable, and is created only by the export; an FTP server is connected
// to and logged in to), works out the plan (sizes, free space) and moves
// to the confirm step. An FTP destination takes the options it leaves
// unset from Options.FTP.
func (w *Wizard) SetDestination(ctx context.Context, d Destination) (*Plan, error) {
	if err := w.at("SetDestination", StepDestination); err != nil {
		return nil, err
	}
	switch d.Kind {
	case DestLocal:
		abs, err := session.LocalDir(d.Dir)
		if err != nil {
			return nil, err
		}
		if err := w.notOnSource(abs); err != nil {
			return nil, err
		}
		d.Dir, d.URL, d.DestinationOptions = abs, "", session.DestinationOptions{}
	case DestFTP:
		f, err := export.ParseFTPURL(d.URL)
		if err != nil {
			return nil, err
		}
		d.URL, d.Dir = f.String(), ""
		def := w.opts.FTP
		d.ImplicitTLS = d.ImplicitTLS || def.ImplicitTLS
		d.InsecureTLS = d.InsecureTLS || def.InsecureTLS
		if d.CAFile == "" {
			d.CAFile = def.CAFile
		}
		if d.CAFile != "" {
			if d.CAFile, err = filepath.Abs(d.CAFile); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("unknown destination kind %q (local or ftp)", d.Kind)
	}
	old, oldDst := w.st.Destination, w.dst
	w.st.Destination, w.dst = &d, nil
	dst, err := w.destination()
	if err == nil {
		err = testDestination(ctx, dst)
	}
	if err != nil {
		w.st.Destination, w.dst = old, oldDst
		return nil, err
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return nil, err
	}
	p, err := makePlan(ctx, vol, w.st.Selected, &d)
	if err != nil {
		return nil, err
	}
	w.st.Plan = p
	return p, w.move("SetDestination", StepConfirm)
}

// testDestination connects to an FTP server and logs in; a local folder is
// only checked (session.LocalDir), since nothing may be created there
// before the export is confirmed.
func testDestination(ctx context.Context, dst export.Destination) error {
	if _, ok := dst.(*export.Local); ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := dst.Connect(ctx)
	if err != nil {
		return fmt.Errorf("destination %s: %w", dst, err)
	}
	return c.Close()
}

// Plan is the plan shown at the confirm step.
func (w *Wizard) Plan() *Plan { return w.st.Plan }

// Confirm accepts the plan and moves to the export step. A local
// destination without room for the selection's data is refused with
// ErrNoSpace unless force is set.
func (w *Wizard) Confirm(force bool) error {
	if err := w.at("Confirm", StepConfirm); err != nil {
		return err
	}
	if p := w.st.Plan; p != nil && p.Free >= 0 && p.Free < p.Needed && !force {
		return fmt.Errorf("%w: %s needed, %s free at %s", ErrNoSpace, preview.Size(p.Needed), preview.Size(p.Free), p.Destination)
	}
	return w.move("Confirm", StepExport)
}

// Export copies the selection to the destination, then verifies it when
// the destination asks for it, and moves to the report step. progress, when
// not nil, makes the progress display of the work its label names:
// "export", then "verify". Per-file
// failures are in the report; an error that stops the export (a
// cancelled context, a full destination) keeps the wizard at the export
// step, and calling Export again resumes.
func (w *Wizard) Export(ctx context.Context, progress func(label string) export.Progress) (*Report, error) {
	if err := w.at("Export", StepExport); err != nil {
		return nil, err
	}
	vol, err := w.volume(ctx)
	if err != nil {
		return nil, err
	}
	dst, err := w.destination()
	if err != nil {
		return nil, err
	}
	d := w.st.Destination
	newProgress := func(label string) export.Progress {
		if progress == nil {
			return nil
		}
		return progress(label)
	}
	rep, err := session.Export(ctx, vol, w.st.Selected, dst, session.ExportOptions{Sources: w.st.Sources, Options: export.Options{
		Overwrite: d.Overwrite, Workers: w.opts.Workers, Progress: newProgress("export"), Logger: w.opts.Logger,
	}})
	r := newReport(rep, dst)
	w.st.Report = r
	if err != nil {
		if serr := w.save(); serr != nil {
			err = errors.Join(err, serr)
		}
		return r, err
	}
	if d.Verify {
		r.verify(ctx, dst, rep.Entries, newProgress("verify"))
		if err := ctx.Err(); err != nil {
			return r, errors.Join(err, w.save())
		}
	}
	return r, w.move("Export", StepReport)
}

// Report is the outcome of the export step.
func (w *Wizard) Report() *Report { return w.st.Report }

// Finish closes the report and the wizard.
func (w *Wizard) Finish() error {
	if err := w.at("Finish", StepReport); err != nil {
		return err
	}
	if err := w.move("Finish", StepDone); err != nil {
		return err
	}
	return w.Close()
}

// clean turns "/a/b", "a/b/" or "" into the fs.FS form.
func clean(p string) string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// number parses a 1-based choice.
func number(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil && n > 0
}

func lstat(fsys fs.FS, p string) (fs.FileInfo, error) {
	if l, ok := fsys.(fs.ReadLinkFS); ok {
		return l.Lstat(p)
	}
	return fs.Stat(fsys, p)
}

// absSource makes a local SOURCE absolute; a remote one (ssh://, nbd://)
// stays as it is.
func absSource(s string) (string, error) {
	if strings.Contains(s, "://") {
		return s, nil
	}
	s, err := session.ExpandHome(s)
	if err != nil {
		return "", err
	}
	return filepath.Abs(s)
}
