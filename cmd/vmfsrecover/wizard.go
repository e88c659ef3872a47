package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	xterm "golang.org/x/term"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
	"github.com/vmfsrecover/vmfsrecover/recover/wizard"
)

type wizardOptions struct {
	answers  string
	state    string
	resume   bool
	restart  bool
	tolerant bool
	probeAll bool
	maps     []string // --map, as volumeFlags.maps
	raid     string   // --raid, as volumeFlags.raid
	workers  int
	dest     exportFlags // the FTP options of a destination
}

func newWizardCmd(g *globalOptions) *cobra.Command {
	o := &wizardOptions{}
	cmd := &cobra.Command{
		Use:   "wizard [SOURCE...]",
		Short: "Guided recovery: from a disk to verified recovered files, step by step",
		Long: `wizard guides you from a source to verified recovered files:

  1 sources      the disks, images or VMDK files to read (or the SOURCE arguments)
  2 scan         quick, or deep (every byte: lost partition tables, damaged
                 or reformatted volumes, deleted files) when the quick scan
                 finds nothing
  3 volume       which of the volumes found
  4 browse       filter (virtual machines, disks, all files, deleted, guests:
                 the files inside the VMs' disks), search by name, select;
                 or open a VM to see its disks, a disk to see its partitions
                 and logical volumes (file system, size, readable or not),
                 one of those to see its folders and files (o NUMBER, .. up)
  5 preview      look at a file without exporting it
  6 destination  a local folder, or an FTP/FTPS server (connection tested)
  7 confirm      sizes and free space
  8 export       with progress, a sha256 manifest, resumable
  9 report       counts, bytes, failures, manifest path, verification

It asks one question at a time on plain lines of text, so it works in any
terminal, over SSH, on a serial console and with a screen reader. At every
prompt: b goes back, c cancels, q leaves (resume later with --resume), ?
explains. The state is saved after every step in --state (default
$XDG_STATE_HOME/vmfsrecover/wizard.json), deep-scan files beside it in
.vmfsrecover/; an interrupted deep scan or export resumes where it stopped.

--answers FILE runs the same steps without questions, from a JSON file:

  {"sources": ["datastore.img"], "scan": "quick", "volume": 1,
   "filter": "vms", "search": "", "select": ["/vm1"], "preview": ["/vm1/vm1.vmx"],
   "destination": {"local": "/srv/recovered", "overwrite": false, "verify": true},
   "force": false}

"volume" is a number, a label or a UUID from the scan (may be left out
when there is one volume). "open" walks the menus before selecting, as o
and .. do: each entry an item of the list shown, by path or (inside a
folder) by name, a folder's path, or "..":
  "filter": "vms", "open": ["vm1", "vm1.vmdk", "p2", "home/alice"],
  "select": ["report.txt"]
"select" takes items of the list shown (a VM's folder, a disk with its
extents; inside a folder, by name), volume paths, or "*" for every item
listed; "scan" may be "auto"
(quick, then deep when nothing is found); "destination" may be
{"ftp": "ftps://user@host/dir", "ca_file": "nas-ca.pem", "implicit_tls": false,
"insecure_skip_verify": false}, with the password in VMFSRECOVER_FTP_PASSWORD
or ~/.netrc; --ca-file, --implicit-tls, --insecure-skip-verify and --timeout
apply to an FTP destination typed or answered, as in export.
With --json the report is printed as JSON and the steps go to stderr.

` + exitCodesHelp,
		Example: `  vmfsrecover wizard
  vmfsrecover wizard /dev/sdb
  vmfsrecover wizard --resume
  vmfsrecover wizard --answers recover.json datastore.img
  echo '{"filter": "vms", "select": ["*"], "destination": {"local": "/srv/out"}}' | vmfsrecover wizard --answers - /dev/sdb`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWizard(cmd.Context(), g, o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.answers, "answers", "", "take every choice from this JSON file (- for standard input) instead of asking")
	f.StringVar(&o.state, "state", "", "where the wizard's state is saved (default $XDG_STATE_HOME/vmfsrecover/wizard.json)")
	f.BoolVar(&o.resume, "resume", false, "continue the wizard saved in --state")
	f.BoolVar(&o.restart, "restart", false, "start afresh even when a saved wizard could be resumed")
	f.BoolVar(&o.tolerant, "tolerant", false, "read damaged volumes: missing extents and unreadable metadata read as zeros and are reported")
	f.BoolVar(&o.probeAll, "probe-all", false, "also probe every 1 MiB boundary for VMFS (lost partition tables)")
	f.StringArrayVar(&o.maps, "map", nil, "GNU ddrescue mapfile of a SOURCE image (from image or ddrescue): bytes it does not mark rescued are reported lost; with several SOURCEs, SOURCE=MAPFILE (repeat --map); saved for --resume")
	f.StringVar(&o.raid, "raid", "", `read the SOURCEs as the members of a RAID array: "auto" or a spec, as ls --raid takes it (the wizard's scan step also offers it); the spec assembled is saved for --resume`)
	f.IntVar(&o.workers, "workers", 0, export.WorkersUsage+" (as export --jobs)")
	cmd.MarkFlagsMutuallyExclusive("resume", "restart")
	addDestinationFlags(cmd, &o.dest)
	return cmd
}

// defaultStatePath follows the XDG base directory convention.
func defaultStatePath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no --state given and no home folder: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "vmfsrecover", "wizard.json"), nil
}

func runWizard(ctx context.Context, g *globalOptions, o *wizardOptions, args []string, in io.Reader, out, errOut io.Writer) (err error) {
	if err := o.check(args); err != nil {
		return err
	}
	if o.state == "" {
		if o.state, err = defaultStatePath(); err != nil {
			return err
		}
	}
	var maps map[string]string
	if len(o.maps) > 0 {
		if maps, err = mapsBySource(args, o.maps); err != nil {
			return err
		}
	}
	wopts := wizard.Options{
		Maps:      maps,
		StatePath: o.state, Workers: o.workers, Logger: plainLogger(g, errOut),
		// Deep-scan files live beside the state, so that a resumed wizard
		// reuses them wherever it is started from.
		ScanDir:      filepath.Dir(o.state),
		DeepProgress: g.deepProgress(),
		Notify:       func(e deepscan.Event) { g.note(e.String()) },
		FTP:          session.DestinationOptions{ImplicitTLS: o.dest.implicitTLS, CAFile: o.dest.caFile, InsecureTLS: o.dest.insecureTLS, Timeout: o.dest.timeout},
	}
	answers, err := o.loadAnswers(args, in)
	if err != nil {
		return err
	}
	progress := func(label string) export.Progress { return progressTo(g, errOut, label) }
	term := o.terminal(args, in, out, progress)

	w, err := openWizard(ctx, o, wopts, answers == nil && len(args) == 0, term, out)
	if err != nil {
		return err
	}
	defer closeWith(&err, w.Close)
	if o.resume && w.Step().Final() {
		return resumedFinished(g, w, o.state, out, errOut)
	}

	var rep *wizard.Report
	if answers != nil {
		log := out
		if g.json {
			log = errOut
		}
		rep, err = wizard.RunAnswers(ctx, w, answers, log, progress)
	} else {
		err = term.Run(ctx, w)
		rep = w.Report()
	}
	return o.outcome(g, w, rep, err, out, errOut)
}

// check refuses flags that do not go together.
func (o *wizardOptions) check(args []string) error {
	if err := checkSources(args, false); err != nil {
		return err
	}
	if o.resume && len(args) > 0 {
		return withExitCode(exitUsage, fmt.Errorf("--resume continues the saved sources; give no SOURCE"))
	}
	if o.resume && o.raid != "" {
		return withExitCode(exitUsage, fmt.Errorf("--resume reads the RAID array the saved wizard assembled; give no --raid"))
	}
	if err := export.CheckWorkers(o.workers); err != nil {
		return withExitCode(exitUsage, fmt.Errorf("--workers: %w", err))
	}
	return nil
}

// loadAnswers reads the --answers file (- for stdin), with the SOURCEs
// and flags of the command line over it; nil without --answers.
func (o *wizardOptions) loadAnswers(args []string, in io.Reader) (*wizard.Answers, error) {
	if o.answers == "" {
		return nil, nil
	}
	var answers *wizard.Answers
	var err error
	if o.answers == "-" {
		answers, err = wizard.LoadAnswers(in)
	} else {
		answers, err = wizard.LoadAnswersFile(o.answers)
	}
	if err != nil {
		return nil, withExitCode(exitUsage, err)
	}
	if len(args) > 0 {
		answers.Sources = args
	}
	answers.Tolerant = answers.Tolerant || o.tolerant
	answers.ProbeAll = answers.ProbeAll || o.probeAll
	if o.raid != "" {
		answers.RAID = o.raid
	}
	return answers, nil
}

// terminal is the wizard's question-and-answer front end on in and out:
// paged to the screen's height and asking passwords without echo when
// they are a terminal.
func (o *wizardOptions) terminal(args []string, in io.Reader, out io.Writer, progress func(string) export.Progress) *wizard.Terminal {
	term := &wizard.Terminal{In: in, Out: out, Sources: args, Tolerant: o.tolerant, ProbeAll: o.probeAll, RAID: o.raid, Progress: progress}
	if f, ok := out.(*os.File); ok && isTerminal(f) {
		if _, h, err := xterm.GetSize(int(f.Fd())); err == nil {
			term.ScreenLines = h
		}
	}
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		term.ReadPassword = func() (string, error) {
			b, err := readPassword(f)
			return string(b), err
		}
	}
	return term
}

// outcome turns how the wizard ended into what the command says and its
// exit status.
func (o *wizardOptions) outcome(g *globalOptions, w *wizard.Wizard, rep *wizard.Report, err error, out, errOut io.Writer) error {
	switch {
	case errors.Is(err, wizard.ErrQuit):
		fmt.Fprintf(errOut, "The wizard is saved in %s; continue with: vmfsrecover wizard --resume", o.state)
		if o.state != mustDefault() {
			fmt.Fprintf(errOut, " --state %s", o.state)
		}
		fmt.Fprintln(errOut)
		return withExitCode(exitLeft, err)
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(errOut, "Interrupted; the wizard is saved in %s (--resume continues it)\n", o.state)
		return err
	case errors.Is(err, wizard.ErrAnswers):
		return withExitCode(exitUsage, err)
	case err != nil:
		return err
	case w.Step() == wizard.StepCancelled:
		return withExitCode(exitInterrupted, fmt.Errorf("recovery cancelled"))
	}
	if g.json && rep != nil {
		if err := json.NewEncoder(out).Encode(rep); err != nil {
			return err
		}
	}
	switch {
	case rep == nil:
		return nil
	case rep.Mismatched():
		return withExitCode(exitVerify, fmt.Errorf("verification found %d file(s) that differ from the manifest", len(rep.Verify.Mismatches)))
	case !rep.OK():
		return withExitCode(exitPartial, fmt.Errorf("%d item(s) failed; see the report and %s", rep.Failed, rep.Manifest))
	}
	return nil
}

// resumedFinished tells that the saved recovery has nothing left to do,
// with its report when it finished.
func resumedFinished(g *globalOptions, w *wizard.Wizard, state string, out, errOut io.Writer) error {
	st := w.State()
	how := "finished"
	if st.Step == wizard.StepCancelled {
		how = "cancelled"
	}
	fmt.Fprintf(errOut, "The recovery saved in %s was %s on %s; there is nothing to resume. Start a new one with: vmfsrecover wizard --restart [SOURCE...]\n",
		state, how, st.Updated.Local().Format("2006-01-02 15:04"))
	r := w.Report()
	switch {
	case r == nil || st.Step != wizard.StepDone:
		return nil
	case g.json:
		return json.NewEncoder(out).Encode(r)
	}
	return r.WriteText(out)
}

func mustDefault() string {
	p, _ := defaultStatePath()
	return p
}

// openWizard resumes the saved wizard when asked to (or, interactively,
// when the person agrees), else starts a new one.
func openWizard(ctx context.Context, o *wizardOptions, wopts wizard.Options, mayAsk bool, t *wizard.Terminal, out io.Writer) (*wizard.Wizard, error) {
	if o.resume {
		return wizard.Resume(wopts)
	}
	if o.restart || !mayAsk {
		return wizard.New(wopts), nil
	}
	st, err := wizard.LoadState(wopts.StatePath)
	if err != nil || st.Step.Final() {
		// Nothing to resume (or an unreadable state, which a new wizard
		// replaces at its first step).
		return wizard.New(wopts), nil
	}
	ok, err := t.AskResume(ctx, st)
	if err != nil {
		return nil, err
	}
	if ok {
		return wizard.Resume(wopts)
	}
	return wizard.New(wopts), nil
}

func isTerminal(f *os.File) bool { return xterm.IsTerminal(int(f.Fd())) }

func readPassword(f *os.File) ([]byte, error) { return xterm.ReadPassword(int(f.Fd())) }
