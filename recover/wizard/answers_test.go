package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

func TestLoadAnswers(t *testing.T) {
	a, err := LoadAnswers(strings.NewReader(`{"sources": ["a.img"], "scan": "auto", "volume": 2, "filter": "disks",
		"select": ["*"], "destination": {"ftp": "ftp://u@h/d", "verify": false}, "force": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := answerDestination(a); d.Kind != DestFTP || d.URL != "ftp://u@h/d" || d.Verify || a.Volume != "2" {
		t.Errorf("answers %+v, destination %+v", a, d)
	}
	for name, body := range map[string]string{
		"typo":       `{"sorces": ["a.img"]}`,
		"scan":       `{"scan": "slow"}`,
		"filter":     `{"filter": "big"}`,
		"two dests":  `{"destination": {"local": "/x", "ftp": "ftp://h/"}}`,
		"two values": `{} {}`,
		"not json":   `sources: a.img`,
		"wrong type": `{"volume": ["one"]}`,
	} {
		if _, err := LoadAnswers(strings.NewReader(body)); !errors.Is(err, ErrAnswers) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LoadAnswersFile(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestRunAnswersDisks selects every disk of the disks filter: the
// descriptor brings its flat extent along.
func TestRunAnswersDisks(t *testing.T) {
	img, _ := testVolume(t)
	dir := t.TempDir()
	a, err := LoadAnswers(strings.NewReader(`{"sources": [` + quote(img) + `], "filter": "disks", "select": ["*"],
		"preview": ["/vm1/vm1.vmx"], "destination": {"local": ` + quote(filepath.Join(dir, "out")) + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	w := New(Options{})
	defer w.Close()
	var out strings.Builder
	r, err := RunAnswers(context.Background(), w, a, &out, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Exported != 2 || !r.OK() || w.Step() != StepDone {
		t.Errorf("report %+v", r)
	}
	if got := w.State().Selected; !slices.Equal(got, []string{"vm1/vm1-flat.vmdk", "vm1/vm1.vmdk"}) {
		t.Errorf("selected %q", got)
	}
	for _, s := range []string{"== step 1: sources", `found 1: "wizard-ds" VMFS6`, "1 item(s) with filter disks", `Virtual machine "Web One"`,
		"To export:   2 file(s)", "Verify:      OK, 2 file(s)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "vm1", "vm1-flat.vmdk")); err != nil {
		t.Error(err)
	}
}

func TestRunAnswersMissing(t *testing.T) {
	img, _ := testVolume(t)
	zeros := filepath.Join(t.TempDir(), "zeros.img")
	os.WriteFile(zeros, make([]byte, 1<<20), 0o644)
	ctx := context.Background()
	for name, c := range map[string]struct {
		a    Answers
		want error
		at   Step
	}{
		"no sources":  {Answers{}, ErrAnswers, StepSources},
		"no select":   {Answers{Sources: []string{img}}, ErrAnswers, StepBrowse},
		"auto, none":  {Answers{Sources: []string{zeros}, Scan: "auto"}, ErrNothingFound, StepScan},
		"quick, none": {Answers{Sources: []string{zeros}}, ErrNothingFound, StepScan},
		"no volume":   {Answers{Sources: []string{img}, Volume: "3"}, nil, StepVolume},
		"no label":    {Answers{Sources: []string{img}, Volume: "other-ds"}, ErrAnswers, StepVolume},
		"no such":     {Answers{Sources: []string{img}, Select: []string{"/nothing"}}, os.ErrNotExist, StepBrowse},
		"no dest":     {Answers{Sources: []string{img}, Select: []string{"/vm2"}}, nil, StepDestination},
	} {
		w := New(Options{ScanDir: t.TempDir()})
		var out strings.Builder
		_, err := RunAnswers(ctx, w, &c.a, &out, nil)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || w.Step() != c.at {
			t.Errorf("%s: %v at %s", name, err, w.Step())
		}
		if name == "auto, none" && !strings.Contains(out.String(), "quick scan: no VMFS volume found") {
			t.Errorf("auto: no quick scan first:\n%s", out.String())
		}
		w.Close()
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func TestVolumeChoice(t *testing.T) {
	vols := []VolumeInfo{{Number: 1, Label: "a", UUID: "u-1"}, {Number: 2, Label: "b", UUID: "u-2"}}
	for body, want := range map[string]int{`{"volume": 2}`: 2, `{"volume": "2"}`: 2, `{"volume": "b"}`: 2, `{"volume": "u-1"}`: 1} {
		a, err := LoadAnswers(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := a.Volume.pick(vols); err != nil || n != want {
			t.Errorf("%s: %d %v", body, n, err)
		}
	}
	if _, err := VolumeChoice("").pick(vols); !errors.Is(err, ErrAnswers) {
		t.Errorf("no choice among two: %v", err)
	}
	if n, err := VolumeChoice("").pick(vols[:1]); err != nil || n != 1 {
		t.Errorf("the only one: %d %v", n, err)
	}
}

// The wizard takes a remote SOURCE unchanged: a whole recovery from an NBD
// export, quick scan and deep scan, with the same result as from the image.
func TestRunAnswersNBDSource(t *testing.T) {
	img, _ := testVolume(t)
	srv := remotetest.StartQemuNBD(t, img, "raw", "")
	for _, scan := range []string{"quick", "deep"} {
		t.Run(scan, func(t *testing.T) {
			dir := t.TempDir()
			a, err := LoadAnswers(strings.NewReader(`{"sources": [` + quote(srv.URL("")) + `], "scan": "` + scan + `", "filter": "disks", "select": ["*"],
				"destination": {"local": ` + quote(filepath.Join(dir, "out")) + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			w := New(Options{StatePath: filepath.Join(dir, "state.json"), ScanDir: dir})
			defer w.Close()
			var out strings.Builder
			r, err := RunAnswers(context.Background(), w, a, &out, nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if r.Exported != 2 || !r.OK() || w.Step() != StepDone {
				t.Errorf("report %+v\n%s", r, out.String())
			}
			if !strings.Contains(out.String(), "Verify:      OK, 2 file(s)") {
				t.Errorf("output lacks the verification:\n%s", out.String())
			}
		})
	}
}

// A file exported with bytes known to be lost makes the report not OK and
// is listed with its warning.
func TestReportWarnings(t *testing.T) {
	dir := t.TempDir()
	dst, err := export.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := &export.Report{Exported: 2, Warned: 1, Entries: []export.Entry{
		{Source: "vm/a-flat.vmdk", Status: export.StatusExported, Warnings: []string{"bytes 0-512 lay in unreadable sectors of the source and read as zeros"}},
		{Source: "vm/b.vmx", Status: export.StatusExported},
	}}
	r := newReport(rep, dst)
	if r.OK() || r.Warned != 1 {
		t.Errorf("report OK %v, warned %d", r.OK(), r.Warned)
	}
	var out strings.Builder
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Incomplete:  1 file(s)", "WARNING /vm/a-flat.vmdk: bytes 0-512 lay in unreadable sectors"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

// The report names the manifest only when the export wrote it (issue 12
// item 13: it named one after the destination refused every write).
func TestReportManifestNotWritten(t *testing.T) {
	dst, err := export.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rep  *export.Report
		want string
	}{
		{&export.Report{Manifest: export.ManifestName}, "Manifest:    " + filepath.Join(dst.Dir, export.ManifestName) + "\n"},
		{&export.Report{ManifestError: errors.New("no space left on device")}, "Manifest:    not written: no space left on device\n"},
		{nil, "Manifest:    not written\n"},
	} {
		var out strings.Builder
		if err := newReport(tc.rep, dst).WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("report lacks %q:\n%s", tc.want, out.String())
		}
	}
}
