package wizard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/recover/session"
)

// ErrQuit: the person left the wizard to resume it later (q, or the end of
// the input).
var ErrQuit = errors.New("wizard left; resume it later")

// Terminal is the wizard's keyboard front end: numbered lists and one-line
// answers, nothing but text on a line-buffered terminal. It needs no cursor
// addressing, colours or alternate screen, so it works over SSH, on a serial
// console, in a screen reader and in tmux, and what happened stays in the
// scrollback. At every prompt b goes back, c cancels, q leaves to resume
// later and ? explains the step.
type Terminal struct {
	In  io.Reader
	Out io.Writer
	// ReadPassword reads a line without echo (golang.org/x/term on a
	// terminal); nil reads it as a visible line.
	ReadPassword func() (string, error)
	// Progress makes the progress display of the work a label names
	// ("export", "verify"); nil shows none.
	Progress func(label string) export.Progress
	// Tolerant and ProbeAll are passed to SetSources.
	Tolerant, ProbeAll bool
	// Sources, when set, answer the sources step.
	Sources []string
	// RAID, when set, reads the sources as the members of one RAID array
	// (Wizard.SetRAID).
	RAID string
	// PageSize is the number of items listed at once (default 20).
	PageSize int
	// ScreenLines, when set, is the terminal's height: a longer preview is
	// shown a screen at a time, so that its header is not scrolled away.
	ScreenLines int

	lines *lineReader
	page  int
	items []Item
	// previewed is the item shown by the last p command: s at the preview
	// step selects all of it (a disk with its extents, a whole VM).
	previewed *Item
}

// Run drives w until it is done or cancelled. It returns ErrQuit when the
// person leaves (the state is saved), the context's error when interrupted.
func (t *Terminal) Run(ctx context.Context, w *Wizard) error {
	if t.lines == nil {
		t.lines = newLineReader(t.In)
	}
	if t.PageSize <= 0 {
		t.PageSize = 20
	}
	if w.opts.Password.Prompt == nil {
		w.opts.Password.Prompt = func(q string) (string, error) { return t.password(ctx, q) }
	}
	// The step and the lines read when a step last failed: a step that
	// fails again without a new answer would fail for ever.
	failedAt, failedReads := Step(""), -1
	for !w.Step().Final() {
		if err := ctx.Err(); err != nil {
			return err
		}
		step := w.Step()
		t.printf("\n[%d/9] %s\n", step.Number(), stepTitles[step])
		var err error
		switch step {
		case StepSources:
			err = t.sources(ctx, w)
		case StepScan:
			err = t.scan(ctx, w)
		case StepVolume:
			err = t.volume(ctx, w)
		case StepBrowse:
			err = t.browse(ctx, w)
		case StepPreview:
			err = t.afterPreview(ctx, w)
		case StepDestination:
			err = t.destination(ctx, w)
		case StepConfirm:
			err = t.confirm(ctx, w)
		case StepExport:
			err = t.export(ctx, w)
		case StepReport:
			err = t.report(ctx, w)
		}
		switch {
		case errors.Is(err, errBack):
			if berr := w.Back(); berr != nil {
				t.printf("%v\n", berr)
			}
		case errors.Is(err, errCancel):
			if cerr := w.Cancel(); cerr != nil {
				return cerr
			}
			t.printf("Recovery cancelled.\n")
		case errors.Is(err, ErrQuit), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return err
		case errors.Is(err, ErrBadState):
			// The saved choices no longer fit the sources: the step would
			// fail the same way at every turn.
			return fmt.Errorf("%w; start again (vmfsrecover wizard --restart)", err)
		case err != nil && step == failedAt && t.lines.reads == failedReads:
			return err
		case err != nil:
			t.printf("error: %v\n", err)
			failedAt, failedReads = step, t.lines.reads
		}
	}
	return nil
}

var stepTitles = map[Step]string{
	StepSources:     "Sources: the disks, images or VMDK files to read",
	StepScan:        "Scan the sources for VMFS volumes",
	StepVolume:      "Choose a volume",
	StepBrowse:      "Browse and select what to recover",
	StepPreview:     "Preview",
	StepDestination: "Destination: where the recovered files go",
	StepConfirm:     "Confirm",
	StepExport:      "Export",
	StepReport:      "Report",
}

var (
	errBack   = errors.New("back")
	errCancel = errors.New("cancel")
)

const commonHelp = "At every prompt: b goes back, c cancels the recovery, q leaves it to resume later (vmfsrecover wizard --resume), ? shows this help.\n"

// ask prompts and reads one answer, handling the commands every prompt
// knows. help is shown for "?".
func (t *Terminal) ask(ctx context.Context, prompt, help string) (string, error) {
	for {
		t.printf("%s", prompt)
		line, err := t.lines.read(ctx)
		if errors.Is(err, errLineTooLong) {
			t.printf("\n%v\n", err)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				t.printf("\n")
				return "", ErrQuit
			}
			return "", err
		}
		line = strings.TrimSpace(line)
		switch strings.ToLower(line) {
		case "?", "h", "help":
			t.printf("%s%s", help, commonHelp)
			continue
		case "b", "back":
			return "", errBack
		case "q", "quit":
			return "", ErrQuit
		case "c", "cancel":
			ok, err := t.yesNo(ctx, "Cancel the recovery? Nothing more will be exported. [y/N] ", false)
			if err != nil {
				return "", err
			}
			if ok {
				return "", errCancel
			}
			continue
		}
		return line, nil
	}
}

func (t *Terminal) yesNo(ctx context.Context, prompt string, def bool) (bool, error) {
	for {
		t.printf("%s", prompt)
		line, err := t.lines.read(ctx)
		if errors.Is(err, errLineTooLong) {
			t.printf("\n%v\n", err)
			continue
		}
		if errors.Is(err, io.EOF) {
			return false, ErrQuit
		}
		if err != nil {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		t.printf("Please answer y or n.\n")
	}
}

func (t *Terminal) printf(format string, a ...any) { fmt.Fprintf(t.Out, format, a...) }

func (t *Terminal) sources(ctx context.Context, w *Wizard) error {
	if len(t.Sources) > 0 {
		srcs := t.Sources
		t.Sources = nil
		t.printf("Sources: %s\n", strings.Join(srcs, " "))
		return t.setSources(w, srcs)
	}
	if disks := localDisks("/sys/block"); len(disks) > 0 {
		t.printf("Disks on this machine (read-only access is enough):\n")
		for _, d := range disks {
			t.printf("  %s\n", d)
		}
	}
	prompt := "Source(s), separated by spaces (quote names with spaces): "
	last := w.State().Sources
	if len(last) > 0 {
		// Back from the scan step: Enter keeps what was given.
		prompt = fmt.Sprintf("Source(s), separated by spaces (quote names with spaces) [%s]: ", joinWords(last))
	}
	line, err := t.ask(ctx, prompt,
		"Name the raw disks (/dev/sdb), disk or partition images, or VMDK files that hold the datastore;\nseveral for a volume spanned over disks, in any order. They are only read.\n")
	if err != nil {
		return err
	}
	srcs, err := splitWords(line)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		srcs = last
	}
	if len(srcs) == 0 {
		return fmt.Errorf("no source given")
	}
	for _, s := range srcs {
		if strings.Contains(s, "://") {
			continue
		}
		p, err := session.ExpandHome(s)
		if err == nil {
			_, err = os.Stat(p)
		}
		if err != nil {
			return err
		}
	}
	return t.setSources(w, srcs)
}

// setSources completes the sources step with the terminal's choices.
func (t *Terminal) setSources(w *Wizard, srcs []string) error {
	if err := w.SetSources(srcs, t.Tolerant, t.ProbeAll); err != nil || t.RAID == "" {
		return err
	}
	return w.SetRAID(t.RAID)
}

func (t *Terminal) scan(ctx context.Context, w *Wizard) error {
	st := w.State()
	def := "1"
	if st.ScanMode != "" && len(st.Volumes) == 0 {
		def = "2" // the last scan found nothing, or a deep scan was interrupted
		if len(st.Sources) > 1 && st.RAID == "" && st.ScanMode == ScanQuick {
			def = "3" // several disks and nothing on any: RAID members, most likely
		}
	}
	t.printf("Sources: %s\n", strings.Join(st.Sources, " "))
	if st.RAID != "" {
		t.printf("Read as one RAID array: %s\n", st.RAID)
	}
	t.printf("  1) quick scan: partition tables, bare images, the usual offsets (seconds)\n  2) deep scan: every byte, for lost tables, reformatted or damaged volumes (slow)\n")
	answers := "1 or 2"
	if len(st.Sources) > 1 {
		answers = "1, 2 or 3"
		if st.RAID == "" {
			t.printf("  3) the sources are the members of one RAID array: assemble it, then a quick scan\n")
		} else {
			t.printf("  3) read the sources as separate disks again\n")
		}
	}
	line, err := t.ask(ctx, "Scan ["+def+"]: ", "The quick scan finds intact volumes; the deep scan reads every byte. A RAID array's members\n"+
		"(a failed controller's disks) are read as one disk: its level, member order, chunk size and layout\n"+
		"are detected from md or DDF metadata or from what the data must look like, or given as a spec\n"+
		"such as raid5:left-symmetric:64k:offset=0:a.img,b.img,missing,d.img.\n")
	if err != nil {
		return err
	}
	if line == "" {
		line = def
	}
	if line == "3" && len(st.Sources) > 1 {
		return t.raid(ctx, w)
	}
	mode := map[string]string{"1": ScanQuick, "2": ScanDeep, "quick": ScanQuick, "deep": ScanDeep}[strings.ToLower(line)]
	if mode == "" {
		return fmt.Errorf("answer %s", answers)
	}
	t.printf("Scanning...\n")
	return t.runScan(ctx, w, mode)
}

// raid turns reading the sources as one RAID array on (asking for a spec,
// auto by default, and scanning) or off.
func (t *Terminal) raid(ctx context.Context, w *Wizard) error {
	if w.State().RAID != "" {
		return w.SetRAID("")
	}
	line, err := t.ask(ctx, "RAID spec [auto]: ", "auto detects the array; or give level:layout:chunk:offset=N:members, parts left out detected.\n")
	if err != nil {
		return err
	}
	if line == "" {
		line = "auto"
	}
	if err := w.SetRAID(line); err != nil {
		return err
	}
	t.printf("Assembling and scanning...\n")
	return t.runScan(ctx, w, ScanQuick)
}

// runScan runs the scan and prints its warnings; finding nothing is
// printed, not returned as an error.
func (t *Terminal) runScan(ctx context.Context, w *Wizard, mode string) error {
	_, err := w.Scan(ctx, mode)
	for _, warn := range w.Warnings() {
		t.printf("warning: %s\n", warn)
	}
	if errors.Is(err, ErrNothingFound) {
		t.printf("%v\n", err)
		return nil
	}
	return err
}

func (t *Terminal) volume(ctx context.Context, w *Wizard) error {
	vols := w.State().Volumes
	for _, v := range vols {
		t.printf("  %s\n", v)
	}
	def := ""
	if len(vols) == 1 {
		def = "1"
	}
	line, err := t.ask(ctx, "Volume number ["+def+"]: ", "Choose the volume to recover from by its number.\n")
	if err != nil {
		return err
	}
	if line == "" {
		line = def
	}
	n, ok := number(line)
	if !ok {
		return fmt.Errorf("answer a volume number")
	}
	t.page, t.items = 0, nil
	if err := w.ChooseVolume(ctx, n); err != nil {
		return err
	}
	for _, warn := range w.Warnings() {
		t.printf("warning: %s\n", warn)
	}
	return nil
}

const browseHelp = `Commands, one per line:
  NUMBERS        select or unselect listed items (1 3 5-7)
  a              select every item listed        n   clear the selection
  f FILTER       vms, disks, all, deleted or guests (files inside the VMs' disks)
  / TEXT         search (/ alone: no search); across all guests with f guests
  o NUMBER       open an item: a VM shows its disks, a disk its partitions and
                 logical volumes (file system, size, readable or not), a
                 partition or folder its files
  o PATH         open a folder of the volume     ..  up one level
  p NUMBER       preview an item                 > <  next or previous page
  s PATH         select a path of the volume     d   done: go on with the selection
`

func (t *Terminal) browse(ctx context.Context, w *Wizard) error {
	st := w.State()
	folder := st.Folder
	if t.items == nil && folder == "" && st.Filter == "" && st.Volume > 0 && st.Volumes[st.Volume-1].Guest {
		folder = "." // the sources are a VM's disks: start at their partitions
	}
	if t.items == nil && folder != "" {
		items, err := w.Enter(ctx, folder)
		if err != nil && ctx.Err() == nil {
			// Gone since it was saved: the list instead of this error
			// at every turn.
			t.printf("error: %v; showing the list\n", err)
			items, err = w.List(ctx, st.Filter, st.Search)
		}
		if err != nil {
			return err
		}
		t.items, t.page = items, 0
	}
	if t.items == nil {
		filter := st.Filter
		if filter == "" {
			filter = FilterVMs
		}
		items, err := w.List(ctx, filter, st.Search)
		if err != nil {
			return err
		}
		if len(items) == 0 && st.Filter == "" {
			// No VM on the volume: show every file instead.
			if items, err = w.List(ctx, FilterAll, st.Search); err != nil {
				return err
			}
		}
		t.items = items
		t.page = 0
	}
	t.showItems(w)
	line, err := t.ask(ctx, "Command (? for help, d when done): ", browseHelp)
	if err != nil {
		return err
	}
	return t.browseCommand(ctx, w, line)
}

func (t *Terminal) showItems(w *Wizard) {
	st := w.State()
	search := ""
	if st.Search != "" {
		search = fmt.Sprintf(", search %q", st.Search)
	}
	if st.Folder != "" {
		t.printf("In /%s (.. goes up): %d item(s). Selected: %s\n", strings.TrimPrefix(st.Folder, "."), len(t.items), selectionText(st.Selected))
	} else {
		t.printf("Filter %s%s: %d item(s). Selected: %s\n", st.Filter, search, len(t.items), selectionText(st.Selected))
	}
	pages := (len(t.items) + t.PageSize - 1) / t.PageSize
	if t.page >= pages {
		t.page = max(0, pages-1)
	}
	for i := t.page * t.PageSize; i < min(len(t.items), (t.page+1)*t.PageSize); i++ {
		it := t.items[i]
		mark := " "
		if covered(st.Selected, it.Paths) {
			mark = "x"
		}
		t.printf("  %4d [%s] %s\n", i+1, mark, it.line())
	}
	if pages > 1 {
		t.printf("  page %d of %d (> next, < previous)\n", t.page+1, pages)
	}
	switch {
	case len(t.items) == 0 && st.Folder != "":
		t.printf("  empty folder; .. goes up\n")
	case len(t.items) == 0 && st.Filter == FilterDeleted && st.ScanMode != ScanDeep:
		t.printf("  none: a quick scan lists the live file tree; deleted and orphaned files come from a deep scan\n")
	case len(t.items) == 0:
		t.printf("  nothing matches; try f all, another search (/ TEXT), or / to clear it\n")
	}
}

func selectionText(sel []string) string {
	all := "/" + strings.Join(sel, ", /")
	switch {
	case len(sel) == 0:
		return "nothing"
	case sel[0] == ".":
		return "the whole volume"
	case len(all) > 70:
		return fmt.Sprintf("%d paths", len(sel))
	}
	return all
}

// covered reports whether every path is selected, itself or through a
// selected folder.
func covered(sel, paths []string) bool {
	for _, p := range paths {
		ok := false
		for _, s := range sel {
			if s == "." || s == p || strings.HasPrefix(p, s+"/") {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return len(paths) > 0
}

func (t *Terminal) browseCommand(ctx context.Context, w *Wizard, line string) error {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	relist := func(filter, search string) error {
		items, err := w.List(ctx, filter, search)
		if err != nil {
			return err
		}
		t.items, t.page = items, 0
		return nil
	}
	switch {
	case line == "":
		return nil
	case cmd == "d" || cmd == "done":
		return w.Next()
	case cmd == "f":
		return relist(arg, w.State().Search)
	case strings.HasPrefix(line, "/"):
		return relist(w.State().Filter, strings.TrimSpace(line[1:]))
	case cmd == ">":
		t.page++
		return nil
	case cmd == "<":
		t.page = max(0, t.page-1)
		return nil
	case cmd == "a":
		for _, it := range t.items {
			if err := w.Select(ctx, it.Paths...); err != nil {
				return err
			}
		}
		return nil
	case cmd == "n":
		return w.ClearSelection()
	case line == "..":
		items, err := w.Up(ctx)
		if err != nil {
			return err
		}
		t.items, t.page = items, 0
		return nil
	case cmd == "o":
		if arg == "" {
			return fmt.Errorf("o needs an item number or a folder's path")
		}
		dir := arg
		if n, ok := number(arg); ok {
			if n > len(t.items) {
				return fmt.Errorf("o needs an item number from 1 to %d", len(t.items))
			}
			if dir = t.items[n-1].Folder; dir == "" {
				return fmt.Errorf("item %d is a %s, nothing to open (p %d previews it)", n, t.items[n-1].Kind, n)
			}
		} else {
			var err error
			if dir, err = w.folderOf(t.items, arg); err != nil {
				return err
			}
		}
		items, err := w.Enter(ctx, dir)
		if err != nil {
			return err
		}
		t.items, t.page = items, 0
		return nil
	case cmd == "s":
		if arg == "" {
			return fmt.Errorf("s needs a path")
		}
		return w.Select(ctx, arg)
	case cmd == "p":
		n, ok := number(arg)
		if !ok || n > len(t.items) {
			return fmt.Errorf("p needs an item number from 1 to %d", len(t.items))
		}
		it := t.items[n-1]
		t.previewed = &it
		target := it.Path
		if it.Kind == "vm" {
			// A VM previews as its .vmx.
			for _, e := range w.walkItems() {
				if strings.HasPrefix(e.path, strings.TrimPrefix(it.Path, "/")+"/") && strings.HasSuffix(strings.ToLower(e.path), ".vmx") {
					target = e.path
					break
				}
			}
		}
		r, err := w.Preview(ctx, target, preview.Options{MaxText: 8 << 10, MaxHex: 256})
		if err != nil {
			return err
		}
		var b strings.Builder
		if err := r.WriteText(&b); err != nil {
			return err
		}
		return t.pageText(ctx, b.String())
	}
	nums, err := parseNumbers(line, len(t.items))
	if err != nil {
		return fmt.Errorf("%v (? for help)", err)
	}
	sel := w.State().Selected
	for _, n := range nums {
		it := t.items[n-1]
		if covered(sel, it.Paths) {
			for _, p := range it.Paths {
				if err := w.Unselect(p); err != nil {
					return err
				}
			}
		} else if err := w.Select(ctx, it.Paths...); err != nil {
			return err
		}
		sel = w.State().Selected
	}
	return nil
}

// pageText shows text a screen at a time when it is longer than the
// screen (see ScreenLines), repeating its first line, the header, on every
// page after the first. Enter shows the next page; any other answer stops.
func (t *Terminal) pageText(ctx context.Context, text string) error {
	lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	per := t.ScreenLines - 1 // the last line holds the prompt
	if t.ScreenLines <= 0 || len(lines) <= per || per < 3 {
		t.printf("%s", text)
		return nil
	}
	header := strings.TrimSuffix(lines[0], "\n")
	from := 0
	for {
		n := per
		if from > 0 {
			t.printf("(continued) %s\n", header)
			n--
		}
		to := min(from+n, len(lines))
		t.printf("%s", strings.Join(lines[from:to], ""))
		if to == len(lines) {
			t.printf("\n")
			return nil
		}
		ans, err := t.ask(ctx, fmt.Sprintf("-- lines %d-%d of %d; Enter for more, x to stop: ", from+1, to, len(lines)),
			"Enter shows the next screen of the preview; any other answer stops it.\n")
		if errors.Is(err, errBack) || (err == nil && ans != "") {
			return nil
		}
		if err != nil {
			return err
		}
		from = to
	}
}

// parseNumbers reads "1 3 5-7" (commas work too) with every number in
// 1..max.
func parseNumbers(s string, max int) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 1 || b < a || b > max {
			return nil, fmt.Errorf("%q is not an item number or range within 1-%d", f, max)
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

func (t *Terminal) afterPreview(ctx context.Context, w *Wizard) error {
	line, err := t.ask(ctx, "Enter: back to the list, s: select it, d: go on with the selection: ",
		"The preview shows a file without exporting it.\n")
	if err != nil {
		return err
	}
	switch strings.ToLower(line) {
	case "":
		return errBack
	case "s":
		paths := []string{w.State().Previewed}
		if t.previewed != nil {
			paths = t.previewed.Paths
		}
		if err := w.Select(ctx, paths...); err != nil {
			return err
		}
		return errBack
	case "d":
		return w.Next()
	}
	return fmt.Errorf("answer Enter, s or d")
}

func (t *Terminal) destination(ctx context.Context, w *Wizard) error {
	t.printf("Selected: %s\n  1) a local folder\n  2) an FTP or FTPS server (ftp://user@host/dir, ftps://...)\n", selectionText(w.State().Selected))
	line, err := t.ask(ctx, "Destination [1]: ", "Recovered files are never written next to the sources.\n")
	if err != nil {
		return err
	}
	d := Destination{Kind: DestLocal, Verify: true}
	switch line {
	case "", "1":
		return t.localDestination(ctx, w, d)
	case "2":
		url, err := t.ask(ctx, "FTP URL (no password in it): ", "ftp://user@host:21/dir for FTP, ftps://user@host/dir for explicit TLS.\n")
		if err != nil {
			return err
		}
		d.Kind, d.URL = DestFTP, url
	default:
		return fmt.Errorf("answer 1 or 2")
	}
	t.printf("Testing the destination...\n")
	_, err = w.SetDestination(ctx, d)
	return err
}

// localDestination asks for the folder until one will do (b goes back to
// the choice of a folder or a server). Nothing is created before the
// export is confirmed.
func (t *Terminal) localDestination(ctx context.Context, w *Wizard, d Destination) error {
	for {
		dir, err := t.ask(ctx, "Folder (created when the export starts): ", "A folder on another disk than the sources; ~ is your home folder.\n")
		if errors.Is(err, errBack) {
			return nil // the destination step again
		}
		if err != nil {
			return err
		}
		if dir == "" {
			t.printf("error: no folder given\n")
			continue
		}
		d.Dir = dir
		_, err = w.SetDestination(ctx, d)
		if err == nil || errors.Is(err, ErrQuit) || ctx.Err() != nil {
			return err
		}
		t.printf("error: %v\n", err)
	}
}

func (t *Terminal) password(ctx context.Context, question string) (string, error) {
	t.printf("%s(not shown; Enter for none) ", question)
	var p string
	var err error
	if t.ReadPassword != nil {
		p, err = t.ReadPassword()
		t.printf("\n")
	} else {
		p, err = t.lines.read(ctx)
		p = strings.TrimRight(p, "\r\n")
	}
	if errors.Is(err, io.EOF) {
		return "", ErrQuit
	}
	return p, err
}

func (t *Terminal) confirm(ctx context.Context, w *Wizard) error {
	if p := w.Plan(); p != nil {
		p.WriteText(t.Out)
	}
	t.printf("The export checks every file's size, records its sha256 in the manifest and reads it all back at the end.\n")
	line, err := t.ask(ctx, "Start the export? [y/N] ", "y starts the export; n or b goes back to the destination.\n")
	if err != nil {
		return err
	}
	switch strings.ToLower(line) {
	case "y", "yes":
	case "", "n", "no":
		return errBack
	default:
		return fmt.Errorf("answer y or n")
	}
	err = w.Confirm(false)
	if errors.Is(err, ErrNoSpace) {
		t.printf("%v\n", err)
		ok, yerr := t.yesNo(ctx, "Export anyway (it stops when the destination is full, keeping what is done)? [y/N] ", false)
		if yerr != nil || !ok {
			return yerr
		}
		err = w.Confirm(true)
	}
	return err
}

func (t *Terminal) export(ctx context.Context, w *Wizard) error {
	t.printf("Exporting to %s ...\n", w.State().Destination.String())
	_, err := w.Export(ctx, t.Progress)
	if err != nil && ctx.Err() == nil {
		t.printf("The export stopped: %v\n", err)
		ok, yerr := t.yesNo(ctx, "Try again (complete files are kept and skipped)? [Y/n] ", true)
		if yerr != nil {
			return yerr
		}
		if !ok {
			return errBack
		}
		return nil
	}
	return err
}

func (t *Terminal) report(ctx context.Context, w *Wizard) error {
	if r := w.Report(); r != nil {
		r.WriteText(t.Out)
	}
	line, err := t.ask(ctx, "Enter: finish, b: back to the list to recover more: ", "")
	if err != nil {
		return err
	}
	if line != "" {
		return fmt.Errorf("answer Enter or b")
	}
	if err := w.Finish(); err != nil {
		return err
	}
	t.printf("Done.\n")
	return nil
}

// localDisks lists the block devices the kernel shows in sysfs (Linux),
// with size and model, leaving out empty and virtual ones (loop, ram,
// zram, empty CD drives). Elsewhere it lists nothing.
func localDisks(sysBlock string) []string {
	ents, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "zram") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(sysBlock, name, "size"))
		if err != nil {
			continue
		}
		sectors, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || sectors <= 0 {
			continue
		}
		d := fmt.Sprintf("/dev/%s  %s", name, preview.Size(sectors*512))
		if m, err := os.ReadFile(filepath.Join(sysBlock, name, "device", "model")); err == nil && strings.TrimSpace(string(m)) != "" {
			d += "  " + strings.TrimSpace(string(m))
		}
		out = append(out, d)
	}
	return out
}

// String names a destination for people.
func (d *Destination) String() string {
	if d == nil {
		return ""
	}
	if d.Kind == DestFTP {
		return d.URL
	}
	return d.Dir
}

// joinWords writes words so that splitWords reads them back: a word with a
// space, quote or backslash in it is quoted.
func joinWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t'\"\\") {
			out[i] = w
			continue
		}
		out[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
	}
	return strings.Join(out, " ")
}

// splitWords splits a line into words; double or single quotes keep
// spaces inside a word, a backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	// Byte by byte: every special character is ASCII, and a name that is
	// not valid UTF-8 (a Linux file name may be anything) stays as it is.
	in, quote, esc := false, byte(0), false
	for i := 0; i < len(s); i++ {
		r := s[i]
		switch {
		case esc:
			cur.WriteByte(r)
			esc, in = false, true
		case r == '\\' && quote != '\'':
			esc = true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(r)
			in = true
		}
	}
	if quote != 0 || esc {
		return nil, fmt.Errorf("unfinished quote or escape in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// lineReader reads lines on request in its own goroutine, so that a prompt
// can give up when the context is cancelled (Ctrl-C) while no one reads the
// input between prompts.
type lineReader struct {
	req     chan struct{}
	resp    chan lineResult
	pending bool
	reads   int // lines read so far
}

type lineResult struct {
	line string
	err  error
}

func newLineReader(r io.Reader) *lineReader {
	l := &lineReader{req: make(chan struct{}), resp: make(chan lineResult, 1)}
	br := bufio.NewReaderSize(r, maxLine)
	go func() {
		for range l.req {
			l.resp <- readLine(br)
		}
	}()
	return l
}

// maxLine bounds an answer: a longer line (pasted binary, a runaway
// script) is refused instead of growing memory.
const maxLine = 64 << 10

// errLineTooLong: an input line longer than maxLine.
var errLineTooLong = fmt.Errorf("input line longer than %d bytes ignored", maxLine)

func readLine(br *bufio.Reader) lineResult {
	b, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err == nil || err == io.EOF {
			err = errLineTooLong
		}
		return lineResult{"", err}
	}
	line := string(b)
	if err == io.EOF && line != "" {
		err = nil
	}
	return lineResult{line, err}
}

func (l *lineReader) read(ctx context.Context) (string, error) {
	if !l.pending {
		select {
		case l.req <- struct{}{}:
			l.pending = true
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	select {
	case r := <-l.resp:
		l.pending = false
		l.reads++
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// AskResume offers to continue a saved wizard.
func (t *Terminal) AskResume(ctx context.Context, st *State) (bool, error) {
	if t.lines == nil {
		t.lines = newLineReader(t.In)
	}
	t.printf("A recovery was left at step %d (%s), %s, reading %s.\n", st.Step.Number(), st.Step,
		st.Updated.Local().Format("2006-01-02 15:04"), strings.Join(st.Sources, " "))
	return t.yesNo(ctx, "Resume it? [Y/n] ", true)
}
