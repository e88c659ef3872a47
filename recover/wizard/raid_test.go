package wizard

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

// raidMembers stripes the test volume over a four-member RAID 5 and
// returns three of the members, shuffled (member 1 is gone).
func raidMembers(t *testing.T) []string {
	t.Helper()
	img, _ := testVolume(t)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	paths, err := raidtest.Stripe(f, st.Size(), raidtest.Geometry{Level: "raid5", Layout: "left-asymmetric", Chunk: 32 << 10, Members: 4}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return []string{paths[2], paths[0], paths[3]}
}

// TestRAIDAnswersAndResume recovers a VM from shuffled RAID 5 members with
// one missing, by answers with "raid": "auto"; the state then holds the
// spec detection assumed, not "auto", and a wizard resumed from it reads
// the same array.
func TestRAIDAnswersAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("searches a RAID geometry; make test runs it in its second, race-free pass")
	}
	ctx := context.Background()
	members := raidMembers(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "wizard.json")

	w := New(Options{StatePath: state})
	defer w.Close()
	if err := w.SetSources(members, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(ctx, ScanQuick); err == nil || !strings.Contains(err.Error(), "RAID array") {
		t.Fatalf("quick scan of the members on their own: %v, want nothing found with a RAID hint", err)
	}
	a := &Answers{RAID: "auto", Select: []string{"/vm1"}}
	a.Destination.Local = filepath.Join(dir, "out")
	var out strings.Builder
	if _, err := RunAnswers(ctx, w, a, &out, nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	st, err := LoadState(state)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.RAID, "raid5:left-asymmetric:32k:offset=0:") || !strings.Contains(st.RAID, ",missing,") {
		t.Fatalf("saved RAID spec %q, want the detected raid5 left-asymmetric 32k with a missing member", st.RAID)
	}
	t.Logf("detected: %s", st.RAID)
	if !strings.Contains(out.String(), "RAID "+st.RAID) {
		t.Errorf("answers output does not name the spec:\n%s", out.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "out", "vm1", "vm1.vmx"))
	if err != nil || string(got) != testVMX {
		t.Fatalf("exported vm1.vmx: %q, %v", got, err)
	}

	// Resume at the scan step: the saved spec is read again as it is.
	st.Step, st.Volumes, st.Volume, st.Selected, st.Report, st.Plan, st.Destination = StepScan, nil, 0, nil, nil, nil, nil
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Resume(Options{StatePath: state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	vols, err := r.Scan(ctx, ScanQuick)
	if err != nil || len(vols) != 1 || vols[0].Label != "wizard-ds" {
		t.Fatalf("resumed scan: %v, %v", vols, err)
	}
	if r.State().RAID != st.RAID {
		t.Errorf("resumed RAID spec %q, want %q", r.State().RAID, st.RAID)
	}
}

// TestRAIDNeedsSeveralSources refuses a spec for a single source and
// accepts turning RAID off again.
func TestRAIDNeedsSeveralSources(t *testing.T) {
	img, _ := testVolume(t)
	w := New(Options{})
	defer w.Close()
	if err := w.SetSources([]string{img}, false, false); err != nil {
		t.Fatal(err)
	}
	if err := w.SetRAID("raid1:a,b"); err == nil || !strings.Contains(err.Error(), "two or more") {
		t.Errorf("SetRAID with one source: %v", err)
	}
	if err := w.SetRAID(""); err != nil || w.State().RAID != "" {
		t.Errorf("SetRAID off: %v, %q", err, w.State().RAID)
	}
}

// TestTerminalRAID: the quick scan of RAID members finds nothing, the
// scan step then offers (and defaults to) reading them as one array, and
// the volume on it is found.
func TestTerminalRAID(t *testing.T) {
	if testing.Short() {
		t.Skip("searches a RAID geometry; make test runs it in its second, race-free pass")
	}
	members := raidMembers(t)
	w := New(Options{})
	defer w.Close()
	out, err := runTerminal(t, w, "1\n\n\n\nq\n", members...)
	if !errors.Is(err, ErrQuit) || w.Step() != StepBrowse {
		t.Fatalf("%v at %s\n%s", err, w.Step(), out)
	}
	for _, s := range []string{"members of a RAID array", "Scan [3]", "RAID spec [auto]", `"wizard-ds" VMFS6`} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if !strings.HasPrefix(w.State().RAID, "raid5:left-asymmetric:32k:") {
		t.Errorf("RAID spec %q", w.State().RAID)
	}
}
