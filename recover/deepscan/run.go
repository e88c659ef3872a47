package deepscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/fingerprint"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

// RunOptions tune Run.
type RunOptions struct {
	Options
	// Dir is where the scan file lives (its .vmfsrecover subfolder).
	Dir string
	// Fallback is where the scan file goes when Dir cannot be written
	// ("": nowhere else). A scan file already there is found too.
	Fallback string
	// Rescan ignores a saved scan file and scans from the start.
	Rescan bool
	// Guard, when set, refuses a scan file path that reaches a source.
	Guard *writeguard.Guard
	// Notify, when set, is told what happens to the scan file (Event).
	Notify func(Event)
}

// EventKind says what happened to a source's scan file.
type EventKind int

const (
	Reused  EventKind = iota // a complete scan file was loaded: nothing scanned
	Resumed                  // a partial scan file was loaded: the scan goes on from where it stopped
	Stale                    // a scan file was found but no longer matches the source: scanned again
	Moved                    // Dir cannot be written: the scan file goes to the fallback folder
	Unsaved                  // no scan file can be written: an interrupted scan will start over
)

// Event is something the user must know about a scan file, because it
// changes what the results mean or whether work is kept.
type Event struct {
	Kind     EventKind
	Source   string
	ScanFile string
	Saved    time.Time // when the scan file was last written (Reused, Resumed, Stale)
	Summary  string    // what it holds (Reused, Resumed)
	Done     int64     // bytes it covers (Resumed)
	Size     int64     // of the source
	Reason   string    // why (Stale, Moved, Unsaved)
}

const timeFormat = "2006-01-02 15:04:05 MST"

func (e Event) String() string {
	when := e.Saved.Local().Format(timeFormat)
	switch e.Kind {
	case Reused:
		return fmt.Sprintf("%s: using the deep scan saved in %s at %s (%s), not scanning again", e.Source, e.ScanFile, when, e.Summary)
	case Resumed:
		return fmt.Sprintf("%s: resuming the deep scan saved in %s at %s from byte %d of %d (%s so far)", e.Source, e.ScanFile, when, e.Done, e.Size, e.Summary)
	case Stale:
		return fmt.Sprintf("%s: the scan file %s (saved %s) is not used: %s; scanning again", e.Source, e.ScanFile, when, e.Reason)
	case Moved:
		return fmt.Sprintf("%s: %s; the scan file goes to %s", e.Source, e.Reason, e.ScanFile)
	default:
		return fmt.Sprintf("%s: the deep scan is not saved (%s): if it is interrupted it starts over, and later commands scan again", e.Source, e.Reason)
	}
}

// Run returns the findings for a source: from its scan file when a
// complete scan was saved for this source and it has not changed since,
// else by scanning (resuming a partial scan) and saving the findings as
// it goes. It returns the scan file's path, "" when nothing could be
// saved.
func Run(ctx context.Context, r io.ReaderAt, size int64, spec string, opts RunOptions) (*Findings, string, error) {
	fp, err := fingerprint.Take(r, size)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", spec, err)
	}
	notify := opts.Notify
	if notify == nil {
		notify = func(Event) {}
	}
	dirs := []string{opts.Dir}
	if opts.Fallback != "" && filepath.Clean(opts.Fallback) != filepath.Clean(opts.Dir) {
		dirs = append(dirs, opts.Fallback)
	}
	stamp := fileStamp(spec)
	var f *Findings
	found := ""
	if !opts.Rescan {
		f, found = lookup(r, fp, spec, stamp, dirs, notify)
		if f != nil && f.Complete() {
			notify(Event{Kind: Reused, Source: spec, ScanFile: found, Saved: f.Saved, Summary: f.Summary(), Size: size})
			return f, found, nil
		}
	}
	if f == nil {
		f = New(spec, fp.ID(), size)
	}
	if f.Done > 0 {
		notify(Event{Kind: Resumed, Source: spec, ScanFile: found, Saved: f.Saved, Summary: f.Summary(), Done: f.Done, Size: size})
	}
	path, why := saveTarget(found, fp.ID(), dirs, spec, notify)
	if err := opts.Guard.Check(path); err != nil {
		return nil, "", err
	}
	if path == "" {
		notify(Event{Kind: Unsaved, Source: spec, Size: size, Reason: why})
	}
	inner := opts.Checkpoint
	opts.Checkpoint = func(f *Findings) error {
		if path != "" {
			f.File = stamp
			if err := opts.Guard.Check(path); err != nil {
				return err
			}
			if err := f.Save(path); err != nil {
				notify(Event{Kind: Unsaved, Source: spec, Size: size, Reason: err.Error()})
				path = ""
			}
		}
		if inner != nil {
			return inner(f)
		}
		return nil
	}
	err = Scan(ctx, r, f, opts.Options)
	return f, path, err
}

// lookup finds the scan file of a source in dirs and checks that it still
// matches it; the path it was found at is returned with it.
func lookup(r io.ReaderAt, fp fingerprint.Print, spec string, stamp *FileStamp, dirs []string, notify func(Event)) (*Findings, string) {
	stale := false
	for _, dir := range dirs {
		path := ScanFilePath(dir, fp.ID())
		f, err := Load(path)
		var unreadable *fs.PathError
		switch {
		case errors.As(err, &unreadable): // none there (or a folder that cannot be read)
			continue
		case err != nil:
			notify(Event{Kind: Stale, Source: spec, ScanFile: path, Size: fp.Size, Reason: err.Error()})
			stale = true
			continue
		}
		if reason := f.changed(r, fp, stamp); reason != "" {
			notify(Event{Kind: Stale, Source: spec, ScanFile: path, Saved: f.Saved, Size: fp.Size, Reason: reason})
			stale = true
			continue
		}
		return f, path
	}
	if stale {
		return nil, ""
	}
	// A scan file of a source with the same size, start and end but other
	// content elsewhere: this source changed since, or is another disk
	// (a copy, a later ddrescue pass). It is kept, and not used.
	for _, dir := range dirs {
		others, _ := filepath.Glob(filepath.Join(dir, ".vmfsrecover", "scan-"+fingerprint.EndsOf(fp.ID())+"-*.json"))
		sort.Strings(others)
		for _, o := range others {
			if o == ScanFilePath(dir, fp.ID()) {
				continue
			}
			if f, err := Load(o); err == nil {
				notify(Event{Kind: Stale, Source: spec, ScanFile: o, Saved: f.Saved, Size: fp.Size,
					Reason: "it was made for a disk of the same size, start and end whose content differs elsewhere (this source changed since, or is another disk); it is kept"})
				return nil, ""
			}
		}
	}
	return nil, ""
}

// changed says why saved findings no longer describe the source, or "".
func (f *Findings) changed(r io.ReaderAt, fp fingerprint.Print, stamp *FileStamp) string {
	if f.Identity != fp.ID() || f.Size != fp.Size {
		return fmt.Sprintf("it was made for a source of %d bytes with fingerprint %s, this one has %d bytes and %s", f.Size, f.Identity, fp.Size, fp.ID())
	}
	if f.File != nil && stamp != nil && f.File.Path == stamp.Path && (f.File.Size != stamp.Size || !f.File.ModTime.Equal(stamp.ModTime)) {
		return fmt.Sprintf("%s was modified at %s, after the scan saw it as of %s", stamp.Path,
			stamp.ModTime.Local().Format(timeFormat), f.File.ModTime.Local().Format(timeFormat))
	}
	parts := make([]fingerprint.Part, len(f.Anchors))
	for i, a := range f.Anchors {
		parts[i] = fingerprint.Part{Off: a.Offset, Len: int64(a.Len)}
	}
	differ := make([]bool, len(parts))
	fingerprint.ReadEach(r, parts, func(i int, b []byte, err error) {
		differ[i] = err != nil || len(b) != f.Anchors[i].Len || anchorSum(b) != f.Anchors[i].SHA256
	})
	for i, d := range differ {
		if d {
			a := f.Anchors[i]
			return fmt.Sprintf("the %s it found at disk offset %#x is no longer there (the source changed since the scan)", a.Kind, a.Offset)
		}
	}
	return ""
}

// saveTarget picks where findings are saved: beside the scan file found,
// else in the first of dirs that can be written. It says (Moved, or
// returns why for Unsaved) when that is not dirs[0].
func saveTarget(found, id string, dirs []string, spec string, notify func(Event)) (path, unsaved string) {
	if found != "" && writable(filepath.Dir(filepath.Dir(found))) == nil {
		return found, ""
	}
	var why []string
	for i, dir := range dirs {
		err := writable(dir)
		if err == nil {
			path = ScanFilePath(dir, id)
			if i > 0 {
				notify(Event{Kind: Moved, Source: spec, ScanFile: path, Reason: strings.Join(why, "; ")})
			}
			return path, ""
		}
		why = append(why, err.Error())
	}
	return "", strings.Join(why, "; ")
}

// writable says why a scan file cannot be created in dir/.vmfsrecover,
// or nil, by creating (and removing) a temporary file there.
func writable(dir string) error {
	sub := filepath.Join(dir, ".vmfsrecover")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return fmt.Errorf("%s cannot be written: %w", dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(sub, ".probe-*")
	if err != nil {
		return fmt.Errorf("%s cannot be written: %w", sub, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// unwrapPath drops the system call and path of a *fs.PathError: the
// message names the folder already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileStamp is the stamp of a local source file, nil for a device, a
// remote source or what cannot be read.
func fileStamp(spec string) *FileStamp {
	if remote.IsRemote(spec) {
		return nil
	}
	abs, err := filepath.Abs(spec)
	if err != nil {
		return nil
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return &FileStamp{Path: abs, Size: fi.Size(), ModTime: fi.ModTime().UTC()}
}
