package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/wizard"
)

func TestWizardAnswersCmd(t *testing.T) {
	img := previewVolume(t)
	dir := t.TempDir()
	answers := filepath.Join(dir, "answers.json")
	body := `{"filter": "disks", "select": ["*"], "preview": ["/vm1/vm1.vmx"], "destination": {"local": "` + filepath.Join(dir, "out") + `"}}`
	if err := os.WriteFile(answers, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &wizardOptions{answers: answers, state: filepath.Join(dir, "state.json"), workers: 2}
	var out, errOut bytes.Buffer
	g := &globalOptions{json: true, quiet: true}
	if err := runWizard(context.Background(), g, o, []string{img}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var r wizard.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Exported != 2 || !r.OK() || r.Verify == nil || r.Verify.Checked != 2 {
		t.Errorf("report %+v", r)
	}
	if !strings.Contains(errOut.String(), `Virtual machine "vm1"`) {
		t.Errorf("steps not on stderr:\n%s", errOut.String())
	}
	st, err := wizard.LoadState(o.state)
	if err != nil || st.Step != wizard.StepDone {
		t.Errorf("state %v %+v", err, st)
	}
	// --resume of the finished recovery says so, with its report.
	out.Reset()
	errOut.Reset()
	if err := runWizard(context.Background(), &globalOptions{quiet: true}, &wizardOptions{state: o.state, workers: 1, resume: true}, nil, strings.NewReader(""), &out, &errOut); err != nil {
		t.Errorf("resume finished: %v", err)
	}
	if !strings.Contains(errOut.String(), "was finished on") || !strings.Contains(errOut.String(), "nothing to resume") || !strings.Contains(out.String(), "Exported:    2 file(s)") {
		t.Errorf("resume finished:\n%s\n%s", errOut.String(), out.String())
	}

	// The answers on standard input.
	out.Reset()
	o2 := &wizardOptions{answers: "-", state: filepath.Join(dir, "stdin.json"), workers: 1}
	if err := runWizard(context.Background(), g, o2, []string{img}, strings.NewReader(body), &out, &errOut); err != nil {
		t.Fatalf("--answers -: %v", err)
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Complete != 2 {
		t.Errorf("second run from stdin: %v %+v", err, r)
	}

	// Usage errors.
	for name, c := range map[string]struct {
		o    wizardOptions
		args []string
	}{
		"bad answers":    {wizardOptions{answers: filepath.Join(dir, "state.json"), state: o.state, workers: 1}, []string{img}},
		"missing source": {wizardOptions{state: o.state, workers: 1}, []string{filepath.Join(dir, "none.img")}},
		"resume+source":  {wizardOptions{state: o.state, workers: 1, resume: true}, []string{img}},
		"workers -1":     {wizardOptions{state: o.state, workers: -1}, nil},
		"workers 65":     {wizardOptions{state: o.state, workers: export.MaxWorkers + 1}, nil},
	} {
		err := runWizard(context.Background(), g, &c.o, c.args, strings.NewReader(""), &out, &errOut)
		if exitCode(err) != exitUsage {
			t.Errorf("%s: %v (exit %d)", name, err, exitCode(err))
		}
	}
	// Nothing to resume after a finished wizard... and a fresh state file.
	err = runWizard(context.Background(), g, &wizardOptions{state: filepath.Join(dir, "none.json"), workers: 1, resume: true}, nil, strings.NewReader(""), &out, &errOut)
	if exitCode(err) != exitFailure || !strings.Contains(err.Error(), "no saved wizard state") {
		t.Errorf("resume without state: %v", err)
	}
	// Interactive, q or the input's end: left and saved, exit 5, neither
	// cancel's nor Ctrl-C's 130.
	for _, input := range []string{"", "q\n"} {
		err = runWizard(context.Background(), &globalOptions{quiet: true}, &wizardOptions{state: filepath.Join(dir, "i.json"), workers: 1}, []string{img}, strings.NewReader(input), &out, &errOut)
		if exitCode(err) != exitLeft || exitLeft == exitInterrupted {
			t.Errorf("input %q: %v (exit %d)", input, err, exitCode(err))
		}
	}
	err = runWizard(context.Background(), &globalOptions{quiet: true}, &wizardOptions{state: filepath.Join(dir, "i.json"), workers: 1, restart: true}, []string{img}, strings.NewReader("c\ny\n"), &out, &errOut)
	if exitCode(err) != exitInterrupted {
		t.Errorf("cancel: %v (exit %d)", err, exitCode(err))
	}
}

// The wizard exports as many files at once as the export command does by
// default (recover/wizard's TestExportSeveralFilesAtOnce: several).
func TestWizardWorkersDefaultIsExports(t *testing.T) {
	g := &globalOptions{}
	jobs, workers := newExportCmd(g).Flags().Lookup("jobs"), newWizardCmd(g).Flags().Lookup("workers")
	if workers.DefValue != jobs.DefValue || workers.DefValue != "0" {
		t.Errorf("wizard --workers defaults to %s, export --jobs to %s; want 0 (automatic) for both", workers.DefValue, jobs.DefValue)
	}
}
