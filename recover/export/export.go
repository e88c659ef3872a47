package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Provenancer is implemented by a source file, or by its fs.FileInfo.Sys(),
// when it knows where it came from: "intact", "deleted", "orphan" or
// "carved".
type Provenancer interface{ Provenance() string }

// Warner is implemented by a source file, or by its fs.FileInfo.Sys(),
// that knows its content is incomplete: bytes that lay in unreadable
// sectors or on a missing disk and read as zeros. The manifest keeps the
// warnings with the file's entry, and the report counts such files.
type Warner interface{ Warnings() []string }

// Options tune an export. The zero value exports with one worker, never
// overwrites, and retries a dropped connection 5 times.
type Options struct {
	Overwrite bool // replace destination files that are in the way
	// Workers is how many files are copied at once, each with its own
	// connection. 0 chooses: up to autoWorkers files at once, so that
	// small files do not wait on each other's round trips and fsyncs, of
	// which one large file (largeFile bytes or more) at a time, so that
	// large files stream one after the other instead of sharing the disk.
	Workers int
	// Retries is how often one file is retried after a transient error
	// (reconnecting and continuing from the size the destination reports);
	// 0 means 5, negative means never.
	Retries int
	// Backoff is the first wait before a retry, doubled each time up to
	// 30 s; 0 means 1 s.
	Backoff time.Duration
	// Flatten, when set, is asked about every regular file whose name ends
	// in .vmdk; when it returns a Flat, the file is exported as that image
	// and the files it is made of are skipped. VMDKFlattener makes the one
	// the CLI uses.
	Flatten func(fsys fs.FS, name string) (*Flat, error)
	// Exclude, when set, leaves out entries found while walking a
	// directory (not the paths asked for) for which it returns true; the
	// CLI uses it for the volume's own metadata files.
	Exclude  func(name string, info fs.FileInfo) bool
	Progress Progress     // nil: no progress
	Logger   *slog.Logger // nil: no log
	// ReadBack re-reads every file from the destination after it is
	// written and compares its sha256 with the source's; a file that
	// differs fails and its temporary file is removed, so that a rerun
	// writes it afresh instead of continuing it. It costs a second transfer.
	ReadBack bool
	// ManifestEvery is how often the manifest is rewritten while the export
	// runs, so an interrupted export leaves a usable one; 0 means 10 s.
	ManifestEvery time.Duration
}

// Report is the outcome of an export.
type Report struct {
	Entries  []Entry // this run's entries, in source order
	Exported int     // files written now
	Complete int     // files found complete from an earlier run
	// Unchecked counts the complete files whose destination copy was not
	// read back (no Options.ReadBack): only its size and the source's hash
	// were compared with the manifest.
	Unchecked int
	Repaired  int   // exported files that replaced a damaged copy of an earlier run (Entry.Repaired)
	Failed    int   // files, links and directories that failed
	Skipped   int   // links and special files deliberately left out
	Warned    int   // exported or complete files whose content is known to be incomplete (Entry.Warnings)
	Bytes     int64 // bytes of the exported and complete files
	// Manifest is the manifest's path in the destination when this run
	// wrote it, "" when it could not (ManifestError says why).
	Manifest      string
	ManifestError error
}

// item is one thing the walk found to export.
type item struct {
	src   string
	dest  string
	kind  string
	info  fs.FileInfo
	index int
	bad   error  // the walk could not read it: recorded as failed
	skip  string // deliberately left out: recorded as skipped, with this reason
	flat  *Flat  // exported as this flattened image instead of its bytes
}

// Export copies the named paths of fsys ("." or none for everything) into
// dst. Per-file problems (an unreadable source, a file in the way) are
// recorded in the manifest and the export goes on; an error that stops the
// destination (ErrDestination), a cancelled context or an unusable manifest
// stops it, keeping what is done, and is returned with the report so far.
func Export(ctx context.Context, fsys fs.FS, paths []string, dst Destination, opts Options) (*Report, error) {
	oneLarge := opts.Workers <= 0
	if oneLarge {
		opts.Workers = autoWorkers
	}
	if opts.Retries == 0 {
		opts.Retries = 5
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.ManifestEvery == 0 {
		opts.ManifestEvery = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	prog := opts.Progress
	if prog == nil {
		prog = nopProgress{}
	}

	items, err := plan(fsys, paths, opts.Flatten, opts.Exclude)
	if err != nil {
		return &Report{}, err
	}

	// Each destination's Connect says what failed: connecting to a server,
	// opening a folder.
	conn, err := connectRetry(ctx, dst, opts)
	if err != nil {
		return &Report{}, err
	}
	ex := &exporter{fsys: fsys, dst: dst, opts: opts, prog: prog, entries: make([]*Entry, len(items)), keepPrev: map[int]bool{}, oneLarge: oneLarge}
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// Some FTP servers create no missing folder on upload: create the
	// destination's every level before anything is written into it.
	if err := conn.MkdirAll(ctx, "."); err != nil {
		return &Report{}, fmt.Errorf("creating %s: %w", dst, err)
	}
	if err := ex.loadPrevious(ctx, conn); err != nil {
		return &Report{}, err
	}

	var total int64
	files := 0
	for _, it := range items {
		if it.kind == KindFile {
			total += it.info.Size()
			files++
		}
	}
	prog.Start(files, total)
	defer prog.Finish()

	// Directories and links first, in order, on the first connection: files
	// need their directories, and links are cheap.
	var work []item
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			break
		}
		switch {
		case it.skip != "":
			e := ex.entryFor(it)
			e.Status, e.Error = StatusSkipped, it.skip
			ex.entries[it.index] = &e
		case it.kind == KindDir:
			// A directory that could only be read in part is still
			// created: what was read of it goes there.
			e := ex.entryFor(it)
			e.Status = StatusDir
			if it.bad != nil {
				e.Status, e.Error = StatusFailed, it.bad.Error()
			}
			if it.dest != "." {
				if err := conn.MkdirAll(ctx, it.dest); err != nil {
					e.Status, e.Error = StatusFailed, err.Error()
					if errors.Is(err, ErrDestination) {
						ex.setFatal(err)
					}
				}
			}
			ex.entries[it.index] = &e
		case it.bad != nil && it.kind == KindFile:
			e := ex.entryFor(it)
			e.Status, e.Error = StatusFailed, it.bad.Error()
			ex.entries[it.index] = &e
		case it.kind == KindFile:
			work = append(work, it)
		}
		if ex.fatal() != nil {
			break
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ex.fatal() == nil && ctx.Err() == nil {
		ex.runWorkers(ctx, cancel, &conn, work)
	}
	if conn == nil {
		// The first worker lost its connection and could not get another.
		var err error
		if conn, err = dst.Connect(context.WithoutCancel(ctx)); err != nil {
			return ex.report(), fmt.Errorf("reconnecting to %s to write the manifest: %w", dst, err)
		}
	}
	for _, it := range items {
		if it.kind != KindSymlink && it.kind != KindOther {
			continue
		}
		if ctx.Err() != nil || ex.fatal() != nil {
			break
		}
		e := ex.entryFor(it)
		if it.bad != nil {
			e.Status, e.Error = StatusFailed, it.bad.Error()
		} else {
			ex.link(ctx, conn, it, &e)
		}
		ex.entries[it.index] = &e
	}
	if ctx.Err() == nil && ex.fatal() == nil {
		ex.setTimes(ctx, conn, items)
	}

	// The manifest is written even when the context is cancelled: it is
	// what makes the work done so far usable and resumable.
	mctx := context.WithoutCancel(ctx)
	rep := ex.report()
	merr := ex.writeManifestRetry(mctx, &conn)
	if merr == nil {
		rep.Manifest = ManifestName
	} else {
		rep.ManifestError = merr
	}
	if err := ex.fatal(); err != nil {
		return rep, fmt.Errorf("export to %s stopped: %w", dst, err)
	}
	if err := ctx.Err(); err != nil {
		if cerr := context.Cause(ctx); cerr != nil && !errors.Is(cerr, context.Canceled) {
			return rep, cerr
		}
		return rep, err
	}
	if merr != nil {
		return rep, fmt.Errorf("writing manifest to %s: %w", dst, merr)
	}
	return rep, nil
}

// setTimes gives the links and directories created their source's
// modification time (when the source knows one), once nothing more is
// created in them. Where the destination cannot (vsftpd has no MFMT for a
// directory), they keep the time they were created at, without a word.
func (ex *exporter) setTimes(ctx context.Context, conn Conn, items []item) {
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		e := ex.entries[it.index]
		if e == nil || it.info == nil || it.info.ModTime().IsZero() || it.dest == "." || (e.Status != StatusLinked && e.Status != StatusDir) {
			continue
		}
		if err := conn.SetModTime(ctx, it.dest, it.info.ModTime()); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			ex.opts.Logger.Debug(fmt.Sprintf("%s keeps the time it was created at: %v", it.dest, err), "dest", it.dest)
		}
	}
}

// connectRetry connects, retrying transient failures (a busy FTP server's
// 421, a refused or dropped connection) with backoff.
func connectRetry(ctx context.Context, dst Destination, opts Options) (Conn, error) {
	backoff := opts.Backoff
	for attempt := 0; ; attempt++ {
		c, err := dst.Connect(ctx)
		if err == nil || !errors.Is(err, ErrTransient) || attempt >= opts.Retries {
			return c, err
		}
		opts.Logger.Warn(fmt.Sprintf("connecting again (attempt %d): %v", attempt+1, err), "dest", dst.String(), "attempt", attempt+1)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

type exporter struct {
	fsys fs.FS
	dst  Destination
	opts Options
	prog Progress

	mu        sync.Mutex
	entries   []*Entry         // this run, by item index
	previous  []Entry          // the manifest found in the destination
	prevByDst map[string]Entry // previous entries by destination path
	fatalErr  error
	lastWrite time.Time
	// keepPrev marks items refused because a different file is in the
	// way: the manifest keeps the earlier entry, which still describes
	// what the destination holds.
	keepPrev map[int]bool
	// oneLarge (Options.Workers 0): large files go to the first worker
	// only, one after the other, and the others take the small ones.
	oneLarge bool
}

const (
	autoWorkers = 4
	largeFile   = 64 << 20
)

// MaxWorkers is the most files Options.Workers may ask to copy at once.
const MaxWorkers = 64

// WorkersUsage says what Options.Workers means, for the flag that sets it:
// the export command's and the wizard's take the same.
var WorkersUsage = fmt.Sprintf("files copied in parallel (FTP: one connection each); 0: up to %d, one file of %d MiB or more at a time", autoWorkers, largeFile>>20)

// CheckWorkers refuses a count of workers outside 0 (automatic) to
// MaxWorkers.
func CheckWorkers(n int) error {
	if n < 0 || n > MaxWorkers {
		return fmt.Errorf("%d files at once: want 0 (automatic) to %d", n, MaxWorkers)
	}
	return nil
}

// isLarge says whether it is a file of largeFile bytes or more.
func (it item) isLarge() bool {
	if it.flat != nil {
		return it.flat.Size >= largeFile
	}
	return it.info != nil && it.info.Mode().IsRegular() && it.info.Size() >= largeFile
}

func (ex *exporter) fatal() error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.fatalErr
}

func (ex *exporter) setFatal(err error) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.fatalErr == nil {
		ex.fatalErr = err
	}
}

func (ex *exporter) entryFor(it item) Entry {
	e := newEntry(it.src)
	e.Dest = it.dest
	e.Renamed = it.dest != it.src
	e.Kind = it.kind
	if it.info != nil {
		e.ModTime = it.info.ModTime().UTC()
		if it.kind == KindFile {
			e.Size = it.info.Size()
		}
		if it.flat != nil {
			e.Size = it.flat.Size
		}
		if p, ok := it.info.Sys().(Provenancer); ok {
			e.Provenance = p.Provenance()
		}
		if w, ok := it.info.Sys().(Warner); ok {
			e.Warnings = w.Warnings()
		}
	}
	return e
}

func (ex *exporter) loadPrevious(ctx context.Context, conn Conn) error {
	ex.prevByDst = map[string]Entry{}
	rc, err := conn.Open(ctx, ManifestName)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		// An FTP server says "550" for a missing file and for a refused one
		// alike; a missing manifest is the common case.
		ex.opts.Logger.Debug(fmt.Sprintf("no manifest of an earlier run: %v", err))
		return nil
	}
	defer rc.Close()
	prev, err := ReadManifest(io.LimitReader(rc, 1<<30))
	if err != nil {
		return fmt.Errorf("previous manifest %s in %s: %w (move it away to start afresh)", ManifestName, ex.dst, err)
	}
	ex.previous = prev
	for _, e := range prev {
		ex.prevByDst[e.Dest] = e
	}
	return nil
}

// report builds the report and the merged manifest entries.
func (ex *exporter) report() *Report {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	rep := &Report{}
	for _, e := range ex.entries {
		if e == nil {
			continue
		}
		rep.Entries = append(rep.Entries, *e)
		switch e.Status {
		case StatusExported:
			rep.Exported++
			if e.Repaired {
				rep.Repaired++
			}
		case StatusComplete:
			rep.Complete++
			if !e.Verified {
				rep.Unchecked++
			}
		case StatusFailed:
			rep.Failed++
		case StatusSkipped:
			rep.Skipped++
		}
		if e.Status == StatusExported || e.Status == StatusComplete {
			rep.Bytes += e.Size
			if len(e.Warnings) > 0 {
				rep.Warned++
			}
		}
	}
	return rep
}

// manifestEntries merges the previous manifest with this run: entries of
// this run replace earlier ones with the same destination, the others stay.
func (ex *exporter) manifestEntries() []Entry {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	now := map[string]bool{}
	for i, e := range ex.entries {
		if e != nil && !ex.keepPrev[i] {
			now[e.Dest] = true
		}
	}
	var out []Entry
	for _, e := range ex.previous {
		if !now[e.Dest] {
			out = append(out, e)
		}
	}
	for i, e := range ex.entries {
		if e != nil && !ex.keepPrev[i] {
			out = append(out, *e)
		}
	}
	return out
}

func (ex *exporter) writeManifest(ctx context.Context, conn Conn) error {
	data := encodeManifest(ex.manifestEntries())
	tmp := tempName(ManifestName)
	s := newStream(ManifestName, bytes.NewReader(data), int64(len(data)), nil, 0, nil)
	if err := conn.Write(ctx, tmp, s); err != nil {
		return err
	}
	if n, err := conn.Size(ctx, tmp); err != nil || n != int64(len(data)) {
		if err == nil {
			err = fmt.Errorf("%s holds %d bytes after writing %d", tmp, n, len(data))
		}
		return err
	}
	// Every file the manifest names is renamed into place by now: settled
	// first, a power cut cannot leave a manifest naming a file that is
	// not there; settled after, the manifest itself is there.
	if err := conn.Settle(ctx); err != nil {
		return err
	}
	if err := conn.Rename(ctx, tmp, ManifestName); err != nil {
		return err
	}
	return conn.Settle(ctx)
}

// writeManifestRetry writes the manifest, reconnecting after transient
// errors like a file upload does.
func (ex *exporter) writeManifestRetry(ctx context.Context, conn *Conn) error {
	backoff := ex.opts.Backoff
	for attempt := 0; ; attempt++ {
		err := ex.writeManifest(ctx, *conn)
		if err == nil || !errors.Is(err, ErrTransient) || attempt >= ex.opts.Retries {
			return err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 30*time.Second)
		c, cerr := ex.dst.Connect(ctx)
		if cerr != nil {
			continue
		}
		(*conn).Close()
		*conn = c
	}
}

// maybeWriteManifest rewrites the manifest when the last write is older
// than Options.ManifestEvery.
func (ex *exporter) maybeWriteManifest(ctx context.Context, conn Conn) {
	ex.mu.Lock()
	due := time.Since(ex.lastWrite) >= ex.opts.ManifestEvery
	if due {
		ex.lastWrite = time.Now()
	}
	ex.mu.Unlock()
	if due {
		if err := ex.writeManifest(ctx, conn); err != nil {
			ex.opts.Logger.Warn(fmt.Sprintf("could not update the manifest (written again at the end): %v", err), "dest", ex.dst.String())
		}
	}
}

func (ex *exporter) runWorkers(ctx context.Context, cancel context.CancelFunc, first *Conn, work []item) {
	ex.mu.Lock()
	ex.lastWrite = time.Now()
	ex.mu.Unlock()
	// With oneLarge, large files go to the first worker on a queue of
	// their own, the rest to every worker.
	jobs, large := make(chan item), make(chan item)
	if !ex.oneLarge {
		close(large)
	}
	var wg sync.WaitGroup
	workers := min(ex.opts.Workers, max(1, len(work)))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own Conn
			conn := &own
			if w == 0 {
				conn = first // closed by Export
			} else {
				// A server that takes fewer connections than asked for
				// (FTP 421) leaves the work to the workers it took.
				var err error
				if own, err = ex.dst.Connect(ctx); err != nil {
					log := ex.opts.Logger.Warn
					if ex.oneLarge { // none was asked for
						log = ex.opts.Logger.Debug
					}
					log(fmt.Sprintf("working with fewer connections than asked for: connection %d: %v", w+1, err), "worker", w+1)
					return
				}
				defer func() {
					if own != nil {
						own.Close()
					}
				}()
			}
			do := func(it item) {
				e := ex.entryFor(it)
				var err error
				if *conn == nil {
					*conn, err = ex.dst.Connect(ctx)
				}
				if err == nil {
					err = ex.file(ctx, conn, it, &e)
				} else {
					*conn = nil
				}
				// A failed file is reported once, by the caller from the
				// report; progress shows that it ended.
				status := e.Status
				if err != nil {
					e.Status, e.Error = StatusFailed, err.Error()
					status = StatusFailed
					if ctx.Err() != nil {
						status = StatusInterrupted
					}
					if errors.Is(err, ErrDestination) {
						ex.setFatal(err)
						cancel()
					}
				}
				ex.prog.FileDone(it.src, status)
				ex.mu.Lock()
				if errors.Is(err, ErrExists) {
					if _, ok := ex.prevByDst[e.Dest]; ok {
						ex.keepPrev[it.index] = true
					}
				}
				ex.entries[it.index] = &e
				ex.mu.Unlock()
				if w == 0 && *conn != nil && ctx.Err() == nil {
					ex.maybeWriteManifest(ctx, *conn)
				}
			}
			if w == 0 {
				for it := range large {
					do(it)
				}
			}
			for it := range jobs {
				do(it)
			}
		}()
	}
	feed := func(ch chan<- item, pick func(item) bool) {
		defer close(ch)
		for _, it := range work {
			if !pick(it) {
				continue
			}
			select {
			case ch <- it:
			case <-ctx.Done():
				return
			}
		}
	}
	if ex.oneLarge {
		wg.Add(1)
		go func() {
			defer wg.Done()
			feed(large, item.isLarge)
		}()
		feed(jobs, func(it item) bool { return !it.isLarge() })
	} else {
		feed(jobs, func(item) bool { return true })
	}
	wg.Wait()
}

// link recreates a symbolic link when its target stays inside the
// destination, and records why not otherwise.
func (ex *exporter) link(ctx context.Context, conn Conn, it item, e *Entry) {
	if it.kind == KindOther {
		e.Status, e.Error = StatusSkipped, fmt.Sprintf("special file (%s) not exported", it.info.Mode().Type())
		return
	}
	target, err := fs.ReadLink(ex.fsys, it.src)
	if err != nil {
		e.Status, e.Error = StatusFailed, err.Error()
		return
	}
	e.Target = target
	if !linkInside(it.dest, target) {
		e.Status, e.Error = StatusSkipped, "link target leads outside the destination"
		return
	}
	err = conn.Symlink(ctx, target, it.dest)
	if errors.Is(err, fs.ErrExist) {
		switch prev, ok := ex.prevByDst[it.dest]; {
		case ok && prev.Status == StatusLinked && prev.Target == target:
			err = nil
		case ex.opts.Overwrite:
			if err = conn.Remove(ctx, it.dest); err == nil {
				err = conn.Symlink(ctx, target, it.dest)
			}
		default:
			err = fmt.Errorf("%s: %w", it.dest, ErrExists)
		}
	}
	switch {
	case err == nil:
		e.Status = StatusLinked
	case errors.Is(err, errors.ErrUnsupported):
		e.Status, e.Error = StatusSkipped, "destination has no symbolic links"
	default:
		e.Status, e.Error = StatusFailed, err.Error()
		if errors.Is(err, ErrDestination) {
			ex.setFatal(err)
		}
	}
}

// linkInside reports whether a link at dest with the given target resolves,
// lexically, to a place inside the destination root.
func linkInside(dest, target string) bool {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsAny(target, "\x00") {
		return false
	}
	dir, _ := splitPath(dest)
	p := path.Join(dir, target)
	return p != ".." && !strings.HasPrefix(p, "../")
}

// maxDepth bounds directory nesting: a damaged volume can hold a directory
// loop, which a walk by path would follow forever.
const maxDepth = 256

// plan walks the requested paths and gives every item its destination name.
// What cannot be read below a requested path is recorded as a failed item.
func plan(fsys fs.FS, paths []string, flatten func(fs.FS, string) (*Flat, error), exclude func(string, fs.FileInfo) bool) ([]item, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	names := newNameTable()
	dirDest := map[string]string{".": ""} // source dir -> destination dir
	parts := map[string]string{}          // files of flattened disks -> the disk
	seen := map[string]bool{}
	var items []item
	// destDir returns the destination of a source directory, creating the
	// mapping for its parents as needed.
	var destDir func(dir string) string
	destDir = func(dir string) string {
		if d, ok := dirDest[dir]; ok {
			return d
		}
		parent, base := splitPath(dir)
		if parent == "" {
			parent = "."
		}
		d := names.assign(destDir(parent), base)
		dirDest[dir] = d
		return d
	}
	visit := func(parent, base string, info fs.FileInfo, bad error) {
		src := base
		if parent != "." {
			src = parent + "/" + base
		}
		if parent == "" {
			src, parent = base, "."
		}
		if seen[src] {
			return
		}
		seen[src] = true
		kind := KindOther
		if info != nil {
			kind = kindOf(info)
		}
		if kind == KindDir && src == "." {
			if bad != nil {
				items = append(items, item{src: src, dest: ".", kind: kind, info: info, index: len(items), bad: bad})
			}
			return
		}
		var flat *Flat
		if flatten != nil && kind == KindFile && bad == nil && strings.HasSuffix(strings.ToLower(base), ".vmdk") {
			if flat, bad = flatten(fsys, src); bad != nil {
				bad = fmt.Errorf("flattening %s: %w", src, bad)
			}
			if flat != nil {
				base = flat.Name
				for _, p := range flat.Parts {
					parts[p] = src
				}
			}
		}
		var dest string
		if kind == KindDir {
			dest = destDir(src)
		} else {
			dest = names.assign(destDir(parent), base)
		}
		items = append(items, item{src: src, dest: dest, kind: kind, info: info, index: len(items), bad: bad, flat: flat})
	}
	for _, p := range paths {
		p = strings.TrimPrefix(path.Clean("/"+p), "/")
		if p == "" {
			p = "."
		}
		if !fs.ValidPath(p) {
			return nil, fmt.Errorf("%q: %w", p, fs.ErrInvalid)
		}
		info, err := fs.Lstat(fsys, p)
		if err != nil {
			return nil, err
		}
		// The directories above a requested path are created too, so that
		// "vm1/vm1.vmx" lands in vm1/ as it does in a whole export.
		for i := 0; i < len(p); i++ {
			if p[i] != '/' {
				continue
			}
			anc := p[:i]
			if ai, err := fs.Lstat(fsys, anc); err == nil && ai.IsDir() {
				ap, ab := splitPath(anc)
				visit(ap, ab, ai, nil)
			}
		}
		parent, base := splitPath(p)
		walk(fsys, parent, base, info, 0, exclude, visit)
	}
	for i := range items {
		if d, ok := parts[items[i].src]; ok && items[i].flat == nil {
			items[i].skip = "part of " + d + ", exported flattened"
		}
	}
	return items, nil
}

func kindOf(info fs.FileInfo) string {
	switch m := info.Mode(); {
	case m.IsDir():
		return KindDir
	case m.IsRegular():
		return KindFile
	case m&fs.ModeSymlink != 0:
		return KindSymlink
	default:
		return KindOther
	}
}

// walk visits parent/base and, for a directory, everything below it in name
// order. parent is "" for a path given by the caller without a directory.
func walk(fsys fs.FS, parent, base string, info fs.FileInfo, depth int, exclude func(string, fs.FileInfo) bool, visit func(string, string, fs.FileInfo, error)) {
	p := base
	if parent != "" && parent != "." {
		p = parent + "/" + base
	}
	if !info.IsDir() {
		visit(parent, base, info, nil)
		return
	}
	if depth > maxDepth {
		visit(parent, base, info, fmt.Errorf("directory %s nested deeper than %d levels (a directory loop?): %w", p, maxDepth, fs.ErrInvalid))
		return
	}
	ents, err := fs.ReadDir(fsys, p)
	if err != nil {
		visit(parent, base, info, fmt.Errorf("reading directory %s: %w", p, err))
		// Entries read before the error are still worth exporting.
	} else {
		visit(parent, base, info, nil)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, d := range ents {
		name := d.Name()
		child := p + "/" + name
		if p == "." {
			child = name
		}
		// Names that are not valid UTF-8 fail fs.ValidPath, but a volume may
		// still open them: try, and let Open say no.
		if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
			visit(p, name, nil, fmt.Errorf("directory %s holds an entry named %q that cannot be opened by path: %w", p, name, fs.ErrInvalid))
			continue
		}
		ci, err := d.Info()
		if err != nil {
			visit(p, name, nil, fmt.Errorf("%s: %w", child, err))
			continue
		}
		if exclude != nil && exclude(child, ci) {
			continue
		}
		walk(fsys, p, name, ci, depth+1, exclude, visit)
	}
}
