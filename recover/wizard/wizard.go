package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
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
	Format   int       `json:"format"`
	Step     Step      `json:"step"`
	Updated  time.Time `json:"updated"`
	Sources  []string  `json:"sources,omitempty"`
	Tolerant bool      `json:"tolerant,omitempty"`
	ProbeAll bool      `json:"probe_all,omitempty"`
	ScanMode string    `json:"scan_mode,omitempty"`
	// Volumes are those the last scan found; Volume is the 1-based number
	// of the one chosen.
	Volumes []VolumeInfo `json:"volumes,omitempty"`
	Volume  int          `json:"volume,omitempty"`
	Filter  string       `json:"filter,omitempty"`
	Search  string       `json:"search,omitempty"`
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
type VolumeInfo struct {
	Number    int    `json:"number"`
	Label     string `json:"label"`
	UUID      string `json:"uuid"`
	Version   int    `json:"vmfs_version"`
	Size      int64  `json:"size"`
	Extents   int    `json:"extents"`
	Missing   int    `json:"missing_extents,omitempty"`
	OpenError string `json:"open_error,omitempty"`
	// Deep-scan volumes: the source they were rebuilt from, where they
	// start on it, and what was found by provenance.
	Deep   bool   `json:"deep,omitempty"`
	Source string `json:"source,omitempty"`
	Origin int64  `json:"origin,omitempty"`
	Found  string `json:"found,omitempty"`
}

func (v VolumeInfo) String() string {
	if v.Deep {
		return fmt.Sprintf("%d: %q VMFS%d %s, rebuilt from %s at byte %d: %s", v.Number, v.Label, v.Version, v.UUID, v.Source, v.Origin, v.Found)
	}
	s := fmt.Sprintf("%d: %q VMFS%d %s, %s", v.Number, v.Label, v.Version, preview.Size(v.Size), v.UUID)
	if v.Extents > 1 || v.Missing > 0 {
		s += fmt.Sprintf(", %d extent(s)", v.Extents)
	}
	if v.Missing > 0 {
		s += fmt.Sprintf(", %d MISSING", v.Missing)
	}
	if v.OpenError != "" {
		s += ", cannot open: " + v.OpenError
	}
	return s
}

// Destination is where the export goes.
type Destination struct {
	Kind      string `json:"kind"`          // local or ftp
	Dir       string `json:"dir,omitempty"` // local: absolute folder
	URL       string `json:"url,omitempty"` // ftp:// or ftps://, without password
	Overwrite bool   `json:"overwrite,omitempty"`
	// Verify reads every exported file back and compares its sha256.
	Verify bool `json:"verify"`
}

// Options tune a wizard.
type Options struct {
	Logger  *slog.Logger // nil: no log
	Workers int          // parallel files in the export; 0 means 1
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
	// Now stamps saved states; nil means time.Now.
	Now func() time.Time
}

// Wizard is one recovery in progress. It is not safe for concurrent use.
type Wizard struct {
	st   State
	opts Options
	sess *discover.Session
	// fsys is the chosen volume: a *vmfs.Volume after a quick scan, a
	// *deepscan.Tree after a deep one; anomalies are its warnings.
	fsys      fs.FS
	anomalies func() []string
	deep      *deepscan.Sources
	pass      string // FTP password, never saved
	// walkCache is the walk of the volume behind List.
	walkCache []walked
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
	w.fsys, w.anomalies = nil, nil
	w.walkCache = nil
	var errs []error
	if w.deep != nil {
		errs = append(errs, w.deep.Close())
		w.deep = nil
	}
	if w.sess != nil {
		errs = append(errs, w.sess.Close())
		w.sess = nil
	}
	return errors.Join(errs...)
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
// spanned volume) and moves to the scan step. Nothing is opened yet.
func (w *Wizard) SetSources(sources []string, tolerant, probeAll bool) error {
	if err := w.at("SetSources", StepSources); err != nil {
		return err
	}
	if len(sources) == 0 {
		return fmt.Errorf("no source given")
	}
	w.Close()
	w.st.Sources, w.st.Tolerant, w.st.ProbeAll = slices.Clone(sources), tolerant, probeAll
	w.st.Volumes, w.st.Volume, w.st.Selected = nil, 0, nil
	return w.move("SetSources", StepScan)
}

// Scan opens the sources and looks for volumes. A quick scan that finds
// some moves to the volume step; one that finds none stays at the scan
// step and returns ErrNothingFound, so that a deep scan can follow.
func (w *Wizard) Scan(ctx context.Context, mode string) ([]VolumeInfo, error) {
	if err := w.at("Scan", StepScan); err != nil {
		return nil, err
	}
	switch mode {
	case ScanQuick, "":
		mode = ScanQuick
	case ScanDeep:
		return w.scanDeep(ctx)
	default:
		return nil, fmt.Errorf("unknown scan mode %q (quick or deep)", mode)
	}
	w.Close()
	sess, err := discover.Open(w.st.Sources, discover.Options{Tolerant: w.st.Tolerant, ProbeAll: w.st.ProbeAll})
	if err != nil {
		return nil, err
	}
	w.sess = sess
	w.st.ScanMode = mode
	w.st.Volumes = volumeInfos(sess)
	w.st.Volume, w.st.Selected = 0, nil
	if len(w.st.Volumes) == 0 {
		if err := w.move("Scan", StepScan); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w on %s: try a deep scan, --probe-all, or other sources", ErrNothingFound, strings.Join(w.st.Sources, ", "))
	}
	return slices.Clone(w.st.Volumes), w.move("Scan", StepVolume)
}

// Warnings are the anomalies met while opening the sources and the volume.
func (w *Wizard) Warnings() []string {
	var ws []string
	if w.sess != nil {
		ws = append(ws, w.sess.Warnings...)
	}
	if w.deep != nil {
		ws = append(ws, w.deep.Warnings...)
	}
	if w.anomalies != nil {
		ws = append(ws, w.anomalies()...)
	}
	return ws
}

func volumeInfos(s *discover.Session) []VolumeInfo {
	var vs []VolumeInfo
	for i, v := range s.Volumes {
		vs = append(vs, VolumeInfo{
			Number: i + 1, Label: v.Label, UUID: v.UUID, Version: v.Version, Size: v.Size,
			Extents: len(v.Set.Extents), Missing: v.Set.Missing, OpenError: v.OpenError,
		})
	}
	return vs
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
	w.fsys, w.anomalies, w.walkCache = nil, nil, nil
	w.st.Volume = number
	if _, err := w.volume(ctx); err != nil {
		w.st.Volume = 0
		return err
	}
	w.st.Selected = nil
	return w.move("ChooseVolume", StepBrowse)
}

// volume returns the open volume, opening the sources again after a resume.
func (w *Wizard) volume(ctx context.Context) (fs.FS, error) {
	if w.fsys != nil {
		return w.fsys, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if w.st.Volume == 0 {
		return nil, fmt.Errorf("%w: no volume chosen", ErrBadState)
	}
	if w.st.ScanMode == ScanDeep {
		return w.deepVolume(ctx)
	}
	if w.sess == nil {
		sess, err := discover.Open(w.st.Sources, discover.Options{Tolerant: w.st.Tolerant, ProbeAll: w.st.ProbeAll})
		if err != nil {
			return nil, err
		}
		w.sess = sess
	}
	if w.st.Volume > len(w.sess.Volumes) {
		return nil, fmt.Errorf("%w: volume %d is no longer found on %s", ErrBadState, w.st.Volume, strings.Join(w.st.Sources, ", "))
	}
	v := &w.sess.Volumes[w.st.Volume-1]
	if want := w.st.Volumes[w.st.Volume-1]; v.UUID != want.UUID {
		return nil, fmt.Errorf("%w: volume %d is now %q %s, was %q %s", ErrBadState, w.st.Volume, v.Label, v.UUID, want.Label, want.UUID)
	}
	vol, err := w.sess.OpenVolume(v)
	if err != nil {
		return nil, err
	}
	w.fsys, w.anomalies = vol, vol.Anomalies
	return vol, nil
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
func (w *Wizard) SetFTPPassword(p string) { w.pass = p }

// FTPPasswordSet reports whether SetFTPPassword was given one.
func (w *Wizard) FTPPasswordSet() bool { return w.pass != "" }

// destination builds the export destination from the state.
func (w *Wizard) destination() (export.Destination, error) {
	d := w.st.Destination
	if d == nil {
		return nil, fmt.Errorf("%w: no destination", ErrBadState)
	}
	switch d.Kind {
	case DestLocal:
		return export.NewLocal(d.Dir)
	case DestFTP:
		f, err := export.ParseFTPURL(d.URL)
		if err != nil {
			return nil, err
		}
		if w.pass != "" {
			f.SetPassword(w.pass)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown destination kind %q (local or ftp)", d.Kind)
}

// SetDestination checks a destination (a local folder is created and
// opened; an FTP server is connected to and logged in to), works out the
// plan (sizes, free space) and moves to the confirm step.
func (w *Wizard) SetDestination(ctx context.Context, d Destination) (*Plan, error) {
	if err := w.at("SetDestination", StepDestination); err != nil {
		return nil, err
	}
	switch d.Kind {
	case DestLocal:
		if d.Dir == "" {
			return nil, fmt.Errorf("no destination folder given")
		}
		abs, err := absDir(d.Dir)
		if err != nil {
			return nil, err
		}
		if err := w.notOnSource(abs); err != nil {
			return nil, err
		}
		d.Dir, d.URL = abs, ""
	case DestFTP:
		f, err := export.ParseFTPURL(d.URL)
		if err != nil {
			return nil, err
		}
		d.URL, d.Dir = f.String(), ""
	default:
		return nil, fmt.Errorf("unknown destination kind %q (local or ftp)", d.Kind)
	}
	old := w.st.Destination
	w.st.Destination = &d
	dst, err := w.destination()
	if err == nil {
		err = testDestination(ctx, dst)
	}
	if err != nil {
		w.st.Destination = old
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

func testDestination(ctx context.Context, dst export.Destination) error {
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
// not nil, makes a progress display for the export and another for the
// verification. Per-file
// failures are in the report; an error that stops the export (a
// cancelled context, a full destination) keeps the wizard at the export
// step, and calling Export again resumes.
func (w *Wizard) Export(ctx context.Context, progress func() export.Progress) (*Report, error) {
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
	newProgress := func() export.Progress {
		if progress == nil {
			return nil
		}
		return progress()
	}
	rep, err := export.Export(ctx, vol, w.st.Selected, dst, export.Options{
		Overwrite: d.Overwrite, Workers: w.opts.Workers, Progress: newProgress(), Logger: w.opts.Logger,
	})
	r := newReport(rep, dst, d)
	w.st.Report = r
	if err != nil {
		if serr := w.save(); serr != nil {
			err = errors.Join(err, serr)
		}
		return r, err
	}
	if d.Verify {
		r.verify(ctx, dst, rep.Entries, newProgress())
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
