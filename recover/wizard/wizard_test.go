package wizard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

const testVMX = `displayName = "Web One"
guestOS = "ubuntu-64"
numvcpus = "2"
memSize = "2048"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "vm1.vmdk"
`

const testVMDK = `# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

RW 4096 VMFS "vm1-flat.vmdk"
`

// testVolume writes a VMFS6 volume with two VMs, an ISO folder, a thin
// disk with holes and a deleted file, and returns its image and what a
// reader must find.
func testVolume(t testing.TB) (string, *vmfstest.Result) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "ds.img")
	res, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "wizard-ds", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmx", Data: []byte(testVMX)},
		{Path: "vm1/vm1.vmdk", Data: []byte(testVMDK)},
		{Path: "vm1/vm1-flat.vmdk", Size: 2 << 20, Seed: 1, Thin: true, Holes: []vmfstest.Range{{Off: 1 << 20, Len: 1 << 20}}},
		{Path: "vm1/vmware.log", Data: []byte("log line\n")},
		{Path: "vm2/vm2.vmx", Data: []byte("displayName = \"Second\"\n")},
		{Path: "vm2/vm2.nvram", Size: 9000, Seed: 2},
		{Path: "iso/tools.iso", Size: 70000, Seed: 3},
		{Path: "iso/latest", Kind: vmfstest.Symlink, Target: "tools.iso"},
		{Path: "old/gone.txt", Data: []byte("deleted"), Deleted: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img, res
}

// walkTo drives a fresh wizard up to step to, with the volume's VM vm1
// selected and a local destination below dir.
func walkTo(t *testing.T, img, dir string, to Step, opts Options) *Wizard {
	t.Helper()
	ctx := context.Background()
	w := New(opts)
	t.Cleanup(func() { w.Close() })
	for w.Step() != to {
		var err error
		switch w.Step() {
		case StepSources:
			err = w.SetSources([]string{img}, false, false)
		case StepScan:
			_, err = w.Scan(ctx, ScanQuick)
		case StepVolume:
			err = w.ChooseVolume(ctx, 1)
		case StepBrowse:
			if err = w.Select(ctx, "/vm1"); err == nil {
				if to == StepPreview {
					_, err = w.Preview(ctx, "vm1/vm1.vmx", preview.Options{})
				} else {
					err = w.Next()
				}
			}
		case StepPreview:
			err = w.Next()
		case StepDestination:
			_, err = w.SetDestination(ctx, Destination{Kind: DestLocal, Dir: filepath.Join(dir, "out"), Verify: true})
		case StepConfirm:
			err = w.Confirm(false)
		case StepExport:
			_, err = w.Export(ctx, nil)
		case StepReport:
			err = w.Finish()
		default:
			t.Fatalf("cannot walk from %s to %s", w.Step(), to)
		}
		if err != nil {
			t.Fatalf("at %s: %v", w.Step(), err)
		}
	}
	return w
}

// TestAllowedTable pins the whole transition table: every pair of steps,
// against the list of moves written out by hand.
func TestAllowedTable(t *testing.T) {
	want := map[[2]Step]bool{}
	for _, p := range [][2]Step{
		{StepSources, StepScan},
		{StepScan, StepScan}, {StepScan, StepVolume}, {StepScan, StepSources},
		{StepVolume, StepBrowse}, {StepVolume, StepScan},
		{StepBrowse, StepPreview}, {StepBrowse, StepDestination}, {StepBrowse, StepVolume},
		{StepPreview, StepPreview}, {StepPreview, StepDestination}, {StepPreview, StepBrowse},
		{StepDestination, StepConfirm}, {StepDestination, StepBrowse},
		{StepConfirm, StepExport}, {StepConfirm, StepDestination},
		{StepExport, StepReport}, {StepExport, StepConfirm},
		{StepReport, StepDone}, {StepReport, StepBrowse},
	} {
		want[p] = true
	}
	for _, s := range Steps {
		if !s.Final() {
			want[[2]Step{s, StepCancelled}] = true
		}
	}
	n := 0
	for _, from := range append(Steps, "bogus") {
		for _, to := range append(Steps, "bogus") {
			if got := Allowed(from, to); got != want[[2]Step{from, to}] {
				t.Errorf("Allowed(%s, %s) = %v", from, to, got)
			}
			if Allowed(from, to) {
				n++
			}
		}
	}
	if n != 29 {
		t.Errorf("%d moves allowed, want 29", n)
	}
	if _, ok := Prev(StepSources); ok {
		t.Errorf("sources has a step before it")
	}
	if StepConfirm.Number() != 7 || StepDone.Number() != 0 {
		t.Errorf("numbers %d %d", StepConfirm.Number(), StepDone.Number())
	}
}

// actions tries every action of the machine; at each step exactly those the
// table allows must pass the step check.
var actions = map[string]struct {
	steps []Step
	do    func(ctx context.Context, w *Wizard) error
}{
	"SetSources":     {[]Step{StepSources}, func(ctx context.Context, w *Wizard) error { return w.SetSources(nil, false, false) }},
	"Scan":           {[]Step{StepScan}, func(ctx context.Context, w *Wizard) error { _, err := w.Scan(ctx, "bogus"); return err }},
	"SetRAID":        {[]Step{StepScan}, func(ctx context.Context, w *Wizard) error { return w.SetRAID("raid5:64k:a,b") }},
	"ChooseVolume":   {[]Step{StepVolume}, func(ctx context.Context, w *Wizard) error { return w.ChooseVolume(ctx, 99) }},
	"List":           {[]Step{StepBrowse, StepPreview}, func(ctx context.Context, w *Wizard) error { _, err := w.List(ctx, "bogus", ""); return err }},
	"Select":         {[]Step{StepBrowse, StepPreview}, func(ctx context.Context, w *Wizard) error { return w.Select(ctx, "/no/such") }},
	"Unselect":       {[]Step{StepBrowse, StepPreview}, func(ctx context.Context, w *Wizard) error { return w.Unselect("/no/such") }},
	"ClearSelection": {[]Step{StepBrowse, StepPreview}, nil},
	"Preview": {[]Step{StepBrowse, StepPreview}, func(ctx context.Context, w *Wizard) error {
		_, err := w.Preview(ctx, "/no/such", preview.Options{})
		return err
	}},
	"Next": {[]Step{StepBrowse, StepPreview}, nil},
	"SetDestination": {[]Step{StepDestination}, func(ctx context.Context, w *Wizard) error {
		_, err := w.SetDestination(ctx, Destination{Kind: "tape"})
		return err
	}},
	"Confirm": {[]Step{StepConfirm}, nil},
	"Export":  {[]Step{StepExport}, nil},
	"Finish":  {[]Step{StepReport}, nil},
}

// TestEveryStepEveryAction walks a real recovery and, at every step, tries
// every action: those not allowed there fail with a *TransitionError and
// leave the step alone; those allowed (given input they must reject) fail
// otherwise. Then Back and Cancel are taken from every step.
func TestEveryStepEveryAction(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	ctx := context.Background()
	for _, step := range Steps[:9] {
		t.Run(string(step), func(t *testing.T) {
			w := walkTo(t, img, dir, step, Options{})
			for name, a := range actions {
				if a.do == nil {
					if slices.Contains(a.steps, step) {
						continue // the walk takes it
					}
					switch name {
					case "ClearSelection":
						a.do = func(ctx context.Context, w *Wizard) error { return w.ClearSelection() }
					case "Next":
						a.do = func(ctx context.Context, w *Wizard) error { return w.Next() }
					case "Confirm":
						a.do = func(ctx context.Context, w *Wizard) error { return w.Confirm(true) }
					case "Export":
						a.do = func(ctx context.Context, w *Wizard) error { _, err := w.Export(ctx, nil); return err }
					case "Finish":
						a.do = func(ctx context.Context, w *Wizard) error { return w.Finish() }
					}
				}
				err := a.do(ctx, w)
				var te *TransitionError
				isTransition := errors.As(err, &te) && errors.Is(err, ErrTransition)
				if allowed := slices.Contains(a.steps, step); allowed == isTransition {
					t.Errorf("%s at %s: %v (allowed here: %v)", name, step, err, allowed)
				}
				if err == nil {
					t.Errorf("%s at %s with bad input succeeded", name, step)
				}
				if w.Step() != step {
					t.Fatalf("%s at %s moved to %s", name, step, w.Step())
				}
			}
			// Back.
			p, ok := Prev(step)
			err := w.Back()
			if ok != (err == nil) || (ok && w.Step() != p) {
				t.Errorf("Back from %s: %v, now at %s", step, err, w.Step())
			}
			if !ok && !errors.Is(err, ErrTransition) {
				t.Errorf("Back from %s: %v", step, err)
			}
			// Cancel, then nothing more.
			if err := w.Cancel(); err != nil || w.Step() != StepCancelled {
				t.Errorf("Cancel from %s: %v, at %s", w.Step(), err, w.Step())
			}
			if err := w.Back(); !errors.Is(err, ErrTransition) {
				t.Errorf("Back after cancel: %v", err)
			}
			if err := w.Cancel(); !errors.Is(err, ErrTransition) {
				t.Errorf("Cancel after cancel: %v", err)
			}
		})
	}
	// Done is final too.
	w := walkTo(t, img, dir, StepDone, Options{})
	if err := w.Cancel(); !errors.Is(err, ErrTransition) {
		t.Errorf("Cancel after done: %v", err)
	}
}

// TestBackThenForward goes back from each step and forward again, ending
// with the same export.
func TestBackThenForward(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	ctx := context.Background()
	w := walkTo(t, img, dir, StepReport, Options{})
	if err := w.Back(); err != nil || w.Step() != StepBrowse {
		t.Fatalf("back from report: %v %s", err, w.Step())
	}
	if got := w.State().Selected; !slices.Equal(got, []string{"vm1"}) {
		t.Errorf("selection after back: %q", got)
	}
	if err := w.Select(ctx, "iso/tools.iso"); err != nil {
		t.Fatal(err)
	}
	if err := w.Next(); err != nil {
		t.Fatal(err)
	}
	if err := w.Back(); err != nil || w.Step() != StepBrowse {
		t.Fatalf("back from destination: %v %s", err, w.Step())
	}
	if err := w.Back(); err != nil || w.Step() != StepVolume {
		t.Fatalf("back from browse: %v %s", err, w.Step())
	}
	if err := w.Back(); err != nil || w.Step() != StepScan {
		t.Fatalf("back from volume: %v %s", err, w.Step())
	}
	if err := w.Back(); err != nil || w.Step() != StepSources {
		t.Fatalf("back from scan: %v %s", err, w.Step())
	}
	if err := w.SetSources([]string{img}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); err != nil {
		t.Fatal(err)
	}
	if err := w.ChooseVolume(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if len(w.State().Selected) != 0 {
		t.Errorf("a new volume keeps the old selection")
	}
}

func TestScanNothingAndDeep(t *testing.T) {
	zeros := filepath.Join(t.TempDir(), "zeros.img")
	if err := os.WriteFile(zeros, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w := New(Options{ScanDir: t.TempDir()})
	defer w.Close()
	if err := w.SetSources([]string{zeros}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); !errors.Is(err, ErrNothingFound) || w.Step() != StepScan {
		t.Fatalf("quick scan of zeros: %v, at %s", err, w.Step())
	}
	// The deep scan finds nothing on zeros either: the step stays.
	if _, err := w.Scan(ctx, ScanDeep); !errors.Is(err, ErrNothingFound) || w.Step() != StepScan {
		t.Fatalf("deep scan: %v, at %s", err, w.Step())
	}
	if w.State().ScanMode != ScanDeep {
		t.Errorf("scan mode %q", w.State().ScanMode)
	}
	if err := w.Back(); err != nil || w.Step() != StepSources {
		t.Fatalf("back: %v", err)
	}
	if err := w.SetSources([]string{filepath.Join(t.TempDir(), "none.img")}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); !errors.Is(err, fs.ErrNotExist) || w.Step() != StepScan {
		t.Errorf("missing source: %v at %s", err, w.Step())
	}
}

func TestListFilters(t *testing.T) {
	img, _ := testVolume(t)
	w := walkTo(t, img, t.TempDir(), StepBrowse, Options{})
	ctx := context.Background()
	paths := func(items []Item) []string {
		var ps []string
		for _, it := range items {
			ps = append(ps, it.Path)
		}
		return ps
	}
	vms, err := w.List(ctx, FilterVMs, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(vms); !slices.Equal(got, []string{"/vm1", "/vm2"}) || vms[0].Info != "Web One, 1 disk(s) complete" || vms[1].Info != "Second, no disk" || vms[0].Size != int64(len(testVMX)+len(testVMDK)+2<<20+9) {
		t.Errorf("vms %+v", vms)
	}
	disks, err := w.List(ctx, FilterDisks, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 1 || !slices.Equal(disks[0].Paths, []string{"vm1/vm1.vmdk", "vm1/vm1-flat.vmdk"}) || disks[0].Size != int64(len(testVMDK))+2<<20 {
		t.Errorf("disks %+v", disks)
	}
	all, err := w.List(ctx, FilterAll, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/iso/latest", "/iso/tools.iso", "/vm1/vm1-flat.vmdk", "/vm1/vm1.vmdk", "/vm1/vm1.vmx", "/vm1/vmware.log", "/vm2/vm2.nvram", "/vm2/vm2.vmx"}
	if got := paths(all); !slices.Equal(got, want) {
		t.Errorf("all %q", got)
	}
	found, err := w.List(ctx, FilterAll, "VMX")
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(found); !slices.Equal(got, []string{"/vm1/vm1.vmx", "/vm2/vm2.vmx"}) {
		t.Errorf("search %q", got)
	}
	if vm, err := w.List(ctx, FilterVMs, "web one"); err != nil || len(vm) != 1 {
		t.Errorf("search by VM name: %v %+v", err, vm)
	}
	// A live volume lists no deleted files; a deep scan would.
	if del, err := w.List(ctx, FilterDeleted, ""); err != nil || len(del) != 0 {
		t.Errorf("deleted %v %+v", err, del)
	}
	if _, err := w.List(ctx, "bogus", ""); err == nil {
		t.Errorf("unknown filter accepted")
	}
	if st := w.State(); st.Filter != FilterDeleted {
		t.Errorf("filter remembered: %q", st.Filter)
	}
	// Selection: folders cover their files, duplicates go.
	if err := w.Select(ctx, "/vm1/vm1.vmx", "vm2/", "/vm1", "vm2"); err != nil {
		t.Fatal(err)
	}
	if got := w.State().Selected; !slices.Equal(got, []string{"vm1", "vm2"}) {
		t.Errorf("selection %q", got)
	}
	if err := w.Unselect("/vm1/vm1.vmx"); err == nil {
		t.Errorf("unselecting a file inside a selected folder succeeded")
	}
	if err := w.Unselect("/vm2"); err != nil || !slices.Equal(w.State().Selected, []string{"vm1"}) {
		t.Errorf("unselect: %v %q", err, w.State().Selected)
	}
	if err := w.Select(ctx, "/"); err != nil || !slices.Equal(w.State().Selected, []string{"."}) {
		t.Errorf("select all: %v %q", err, w.State().Selected)
	}
	if err := w.ClearSelection(); err != nil || w.Next() != ErrEmptySelection {
		t.Errorf("empty selection goes on: %v", err)
	}
}

// TestExportAndReport recovers a VM and checks every byte against the
// generator, and the report's numbers.
func TestExportAndReport(t *testing.T) {
	img, res := testVolume(t)
	dir := t.TempDir()
	ctx := context.Background()
	w := walkTo(t, img, dir, StepConfirm, Options{})
	p := w.Plan()
	if p.Files != 4 || p.Dirs != 1 || p.Bytes != int64(len(testVMX)+len(testVMDK)+2<<20+9) || p.Allocated >= p.Bytes || p.Free <= 0 || p.Needed != p.Allocated {
		t.Errorf("plan %+v", p)
	}
	if err := w.Confirm(false); err != nil {
		t.Fatal(err)
	}
	r, err := w.Export(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exported != 4 || r.Failed != 0 || !r.Verified || r.Verify == nil || r.Verify.Checked != 4 || !r.OK() || r.Manifest != filepath.Join(dir, "out", export.ManifestName) {
		t.Errorf("report %+v", r)
	}
	for _, name := range []string{"vm1/vm1.vmx", "vm1/vm1.vmdk", "vm1/vm1-flat.vmdk", "vm1/vmware.log"} {
		b, err := os.ReadFile(filepath.Join(dir, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want, err := res.Lookup("/" + name).SHA256()
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s differs from what the generator wrote", name)
		}
	}
	var sb strings.Builder
	if err := r.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "Verify:      OK, 4 file(s)") {
		t.Errorf("report text:\n%s", sb.String())
	}
	if err := w.Finish(); err != nil || w.Step() != StepDone {
		t.Errorf("finish: %v", err)
	}
}

func TestConfirmNoSpace(t *testing.T) {
	img, _ := testVolume(t)
	w := walkTo(t, img, t.TempDir(), StepConfirm, Options{})
	w.st.Plan.Free = 10
	if err := w.Confirm(false); !errors.Is(err, ErrNoSpace) || w.Step() != StepConfirm {
		t.Errorf("confirm without space: %v at %s", err, w.Step())
	}
	if err := w.Confirm(true); err != nil || w.Step() != StepExport {
		t.Errorf("forced: %v at %s", err, w.Step())
	}
}

func TestDestinationChecks(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	w := walkTo(t, img, dir, StepDestination, Options{})
	ctx := context.Background()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, nil, 0o644)
	for _, d := range []Destination{
		{Kind: DestLocal},
		{Kind: DestLocal, Dir: file},
		{Kind: DestLocal, Dir: img},
		{Kind: DestFTP, URL: "ftp://user:secret@127.0.0.1/x"},
		{Kind: DestFTP, URL: "http://example/"},
	} {
		if _, err := w.SetDestination(ctx, d); err == nil || w.Step() != StepDestination {
			t.Errorf("%+v accepted", d)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error repeats the password: %v", err)
		}
	}
	for _, d := range []string{filepath.Dir(img), filepath.Dir(filepath.Dir(img)), filepath.Dir(img) + "/./"} {
		if _, err := w.SetDestination(ctx, Destination{Kind: DestLocal, Dir: d}); !errors.Is(err, ErrDestOnSource) {
			t.Errorf("destination %s holding the source: %v", d, err)
		}
	}
	// Through a symbolic link too.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Dir(img), link); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SetDestination(ctx, Destination{Kind: DestLocal, Dir: link}); !errors.Is(err, ErrDestOnSource) {
		t.Errorf("destination through a link: %v", err)
	}
	if _, err := w.SetDestination(ctx, Destination{Kind: DestFTP, URL: "ftp://user@127.0.0.1:1/x"}); err == nil {
		t.Errorf("FTP connection test passed with nothing listening")
	}
	if w.State().Destination != nil {
		t.Errorf("a failed destination was kept: %+v", w.State().Destination)
	}
}

// TestStateSavedAndResumed saves the state after each step, resumes a new
// wizard from it at every step, and finishes the recovery from there.
func TestStateSavedAndResumed(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	ctx := context.Background()
	for _, step := range []Step{StepScan, StepVolume, StepBrowse, StepPreview, StepDestination, StepConfirm, StepExport, StepReport} {
		t.Run(string(step), func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state", "wizard.json")
			w := walkTo(t, img, dir, step, Options{StatePath: state})
			w.Close()
			st, err := LoadState(state)
			if err != nil {
				t.Fatal(err)
			}
			if st.Step != step || st.Updated.IsZero() {
				t.Fatalf("saved at %s, want %s", st.Step, step)
			}
			r, err := Resume(Options{StatePath: state})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			a := &Answers{Sources: []string{img}, Select: []string{"/vm1"}}
			a.Destination.Local = filepath.Join(dir, "out")
			if _, err := RunAnswers(ctx, r, a, &strings.Builder{}, nil); err != nil {
				t.Fatal(err)
			}
			if r.Step() != StepDone {
				t.Errorf("ended at %s", r.Step())
			}
		})
	}
}

// TestExportInterruptedResumes cancels the export, then resumes it from the
// saved state.
func TestExportInterruptedResumes(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "wizard.json")
	w := walkTo(t, img, dir, StepExport, Options{StatePath: state})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Export(ctx, nil); !errors.Is(err, context.Canceled) || w.Step() != StepExport {
		t.Fatalf("cancelled export: %v at %s", err, w.Step())
	}
	w.Close()
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Step() != StepExport {
		t.Fatalf("resumed at %s", r.Step())
	}
	rep, err := r.Export(context.Background(), nil)
	if err != nil || !rep.OK() || rep.Exported+rep.Complete != 4 {
		t.Fatalf("resumed export: %v %+v", err, rep)
	}
	// Exporting the same again finds everything complete.
	if err := r.Back(); err != nil || r.Step() != StepBrowse {
		t.Fatalf("back from report: %v at %s", err, r.Step())
	}
	if err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetDestination(context.Background(), *r.State().Destination); err != nil {
		t.Fatal(err)
	}
	if err := r.Confirm(false); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Export(context.Background(), nil)
	if err != nil || rep.Complete != 4 || rep.Exported != 0 {
		t.Errorf("second export: %v %+v", err, rep)
	}
}

func TestLoadStateErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadState(filepath.Join(dir, "none.json")); !errors.Is(err, ErrNoState) {
		t.Errorf("missing: %v", err)
	}
	for name, body := range map[string]string{
		"garbage":      "{",
		"format":       `{"format": 9, "step": "sources"}`,
		"step":         `{"format": 1, "step": "flying"}`,
		"no sources":   `{"format": 1, "step": "scan"}`,
		"no volume":    `{"format": 1, "step": "browse", "sources": ["x"]}`,
		"volume range": `{"format": 1, "step": "browse", "sources": ["x"], "volume": 2, "volumes": [{"number": 1}]}`,
		"no dest":      `{"format": 1, "step": "export", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "selected": ["a"]}`,
		"bad path":     `{"format": 1, "step": "browse", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "selected": ["../etc"]}`,
		"bad folder":   `{"format": 1, "step": "browse", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "folder": "/vm1", "top": "/vm1"}`,
		"no top":       `{"format": 1, "step": "browse", "sources": ["x"], "volume": 1, "volumes": [{"number": 1}], "folder": "vm1"}`,
	} {
		p := filepath.Join(dir, "s.json")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadState(p); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestResumeChangedSource: the sources no longer hold the volume chosen.
func TestResumeChangedSource(t *testing.T) {
	img, _ := testVolume(t)
	state := filepath.Join(t.TempDir(), "wizard.json")
	w := walkTo(t, img, t.TempDir(), StepBrowse, Options{StatePath: state})
	w.Close()
	other := filepath.Join(t.TempDir(), "other.img")
	if _, err := vmfstest.Write(other, vmfstest.Spec{Version: 5, Label: "other", Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, img); err != nil {
		t.Fatal(err)
	}
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.List(context.Background(), FilterAll, ""); !errors.Is(err, ErrBadState) {
		t.Errorf("changed volume: %v", err)
	}
	// The terminal says so once and stops (it printed the error at
	// every turn without reading a line, for ever).
	screen, err := runTerminal(t, r, "q\n")
	if !errors.Is(err, ErrBadState) || strings.Contains(screen, "error:") {
		t.Errorf("terminal on a changed volume: %v\n%s", err, screen)
	}
}

// TestTerminalSourceGone: a resumed wizard whose source is gone fails at
// the browse step, says so once, tries once more and stops with the error
// (it printed it for ever without reading a line).
func TestTerminalSourceGone(t *testing.T) {
	img, _ := testVolume(t)
	state := filepath.Join(t.TempDir(), "wizard.json")
	w := walkTo(t, img, t.TempDir(), StepBrowse, Options{StatePath: state})
	w.Close()
	os.Remove(img)
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	screen, err := runTerminal(t, r, "q\n")
	if !errors.Is(err, fs.ErrNotExist) || strings.Count(screen, "error:") != 1 {
		t.Errorf("source gone: %v\n%s", err, screen)
	}
}

// TestPlanAndLinks: a selected link is planned and exported as a link, not
// as the file it points to.
func TestPlanAndLinks(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	ctx := context.Background()
	w := walkTo(t, img, dir, StepBrowse, Options{})
	if err := w.Select(ctx, "/iso/latest", "/vm2"); err != nil {
		t.Fatal(err)
	}
	if err := w.Next(); err != nil {
		t.Fatal(err)
	}
	p, err := w.SetDestination(ctx, Destination{Kind: DestLocal, Dir: filepath.Join(dir, "out"), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Links != 1 || p.Files != 2 || p.Dirs != 1 || p.Bytes != 9000+int64(len("displayName = \"Second\"\n")) {
		t.Errorf("plan %+v", p)
	}
	if err := w.Confirm(false); err != nil {
		t.Fatal(err)
	}
	r, err := w.Export(ctx, nil)
	if err != nil || r.Linked != 1 || r.Exported != 2 || !r.OK() {
		t.Fatalf("%v %+v", err, r)
	}
	if target, err := os.Readlink(filepath.Join(dir, "out", "iso", "latest")); err != nil || target != "tools.iso" {
		t.Errorf("link: %v %q", err, target)
	}
}

func TestVMInfo(t *testing.T) {
	fsys := fstest.MapFS{
		"a/a.vmx":         {Data: []byte("displayName = \"A\"\nscsi0:0.fileName = \"a.vmdk\"\nscsi0:1.fileName = \"gone.vmdk\"\nide0:0.deviceType = \"cdrom-image\"\nide0:0.fileName = \"x.iso\"\n")},
		"a/a.vmdk":        {Data: []byte(testVMDK)},
		"a/vm1-flat.vmdk": {Data: make([]byte, 4096*512)},
	}
	w := New(Options{})
	if got := w.vmInfo(context.Background(), fsys, "a/a.vmx"); got != "A, 2 disk(s), 1 INCOMPLETE" {
		t.Errorf("vmInfo = %q", got)
	}
	if got := w.vmInfo(context.Background(), fsys, "a/none.vmx"); got != "" {
		t.Errorf("missing vmx: %q", got)
	}
}
