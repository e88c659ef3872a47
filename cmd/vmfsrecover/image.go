package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vmfsrecover/vmfsrecover/internal/textout"
	"github.com/vmfsrecover/vmfsrecover/recover/imaging"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
)

type imageOptions struct {
	*globalOptions
	output  string
	mapPath string
	retries int
}

func newImageCmd(g *globalOptions) *cobra.Command {
	o := &imageOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "image SOURCE -o FILE --map MAPFILE",
		Short: "Copy a failing disk to an image first, with a GNU ddrescue mapfile of what could not be read",
		Long: `image copies SOURCE (a local device or image, ssh://, nbd://) byte for byte
into the image FILE, the way GNU ddrescue does: the good areas first in large
reads, then the edges of the failed areas sector by sector, then every
remaining sector once (--retries more passes over the bad ones). MAPFILE, a
GNU ddrescue mapfile, records what was read; it is saved every 30 seconds and
when image stops. Run the same command again to resume after Ctrl-C, a
dropped link or a crash; a mapfile written by GNU ddrescue resumes too.
FILE is sparse: areas never read hold zeros.

Then recover from the image, naming its map, so that every file says which
of its bytes lay in areas that could not be read:

  vmfsrecover ls -r --map MAPFILE FILE /

FILE and MAPFILE must not be SOURCE (or on it); an existing FILE is only
written when MAPFILE says what it holds.

` + exitCodesHelp,
		Example: `  vmfsrecover image /dev/sdb -o /mnt/big/sdb.img --map /mnt/big/sdb.map
  vmfsrecover image ssh://root@rescue/dev/sdb -o sdb.img --map sdb.map --retries 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImage(cmd.Context(), o, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "image file to write (required)")
	cmd.Flags().StringVar(&o.mapPath, "map", "", "GNU ddrescue mapfile: read to resume, written as the rescue goes (required)")
	cmd.Flags().IntVar(&o.retries, "retries", 0, "passes over the bad sectors after scraping")
	cmd.MarkFlagRequired("output")
	cmd.MarkFlagRequired("map")
	return cmd
}

// imageResult is the summary of image, and its --json form.
type imageResult struct {
	Source     string `json:"source"`
	Output     string `json:"output"`
	Map        string `json:"map"`
	Size       int64  `json:"size"`
	Rescued    int64  `json:"rescued"`
	Bad        int64  `json:"bad_sector_bytes"`
	BadAreas   int    `json:"bad_areas"`
	Unfinished int64  `json:"unfinished"` // non-tried, non-trimmed, non-scraped
	Finished   bool   `json:"finished"`
}

func runImage(ctx context.Context, o *imageOptions, spec string, stdout io.Writer) error {
	guard, err := o.guard(spec)
	if err != nil {
		return err
	}
	src, err := disk.Open(spec, disk.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	size := src.Size()
	m, resumed, err := loadMap(o.mapPath, size)
	if err != nil {
		return err
	}
	out, err := o.openImage(guard, size, resumed)
	if err != nil {
		return err
	}
	defer out.Close()
	if resumed && !o.quiet {
		fmt.Fprintf(os.Stderr, "resuming from %s: %s rescued, %s bad, %s not tried yet\n", o.mapPath,
			textout.Bytes(m.Total(mapfile.Finished)), textout.Bytes(m.Total(mapfile.BadSector)), textout.Bytes(m.Total(mapfile.NonTried)))
	}
	runErr := o.rescue(ctx, guard, src, out, m)
	if cerr := out.Close(); runErr == nil && cerr != nil {
		runErr = fmt.Errorf("closing %s: %w", o.output, cerr)
	}
	return o.report(spec, size, m, runErr, stdout)
}

// guard checks the flags and that neither the image nor the mapfile is
// the source; it returns the guard that keeps every later write off it.
func (o *imageOptions) guard(spec string) (*writeguard.Guard, error) {
	if o.retries < 0 {
		return nil, withExitCode(exitUsage, fmt.Errorf("--retries %d: must be 0 or more", o.retries))
	}
	guard := writeguard.New()
	if !remote.IsRemote(spec) {
		if err := guard.AddPath(spec); err != nil {
			return nil, withExitCode(exitUsage, fmt.Errorf("SOURCE %s: %w", spec, err))
		}
	}
	for _, p := range []string{o.output, o.mapPath} {
		if err := guard.Check(p); err != nil {
			return nil, err
		}
	}
	if sameFile(o.output, o.mapPath) {
		return nil, withExitCode(exitUsage, fmt.Errorf("--map %s is the image itself", o.mapPath))
	}
	return guard, nil
}

// openImage opens the image file for writing, sized to the source: a new
// file, or the one a resumed mapfile describes.
func (o *imageOptions) openImage(guard *writeguard.Guard, size int64, resumed bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if !resumed {
		// Only a mapfile says what an existing image holds.
		flags |= os.O_EXCL
	}
	out, err := os.OpenFile(o.output, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, withExitCode(exitUsage, fmt.Errorf("%s exists and no mapfile %s says what it holds: name its mapfile with --map, or write to a new FILE", o.output, o.mapPath))
	}
	if err != nil {
		return nil, err
	}
	if err := o.checkImage(guard, out, size); err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}

func (o *imageOptions) checkImage(guard *writeguard.Guard, out *os.File, size int64) error {
	if err := guard.CheckFile(o.output, out); err != nil {
		return err
	}
	if st, err := out.Stat(); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return withExitCode(exitUsage, fmt.Errorf("%s is not a regular file: image writes a sparse image file", o.output))
	} else if st.Size() < size {
		if err := out.Truncate(size); err != nil {
			return fmt.Errorf("sizing %s to %d bytes: %w", o.output, size, err)
		}
	}
	return nil
}

// rescue copies src into out as imaging.Run does, saving the mapfile as
// it goes and showing the progress.
func (o *imageOptions) rescue(ctx context.Context, guard *writeguard.Guard, src disk.Disk, out *os.File, m *mapfile.Map) error {
	started := time.Now().Format(time.DateTime)
	save := func(m *mapfile.Map) error {
		return saveMap(guard, o.mapPath, m, mapfile.Header{
			Program:     "vmfsrecover",
			CommandLine: strings.Join(os.Args, " "),
			StartTime:   started,
			CurrentTime: time.Now().Format(time.DateTime),
		})
	}
	var received func() int64
	if t, ok := src.(disk.Transferrer); ok {
		received = t.Transferred
	}
	size := src.Size()
	var last imaging.Stats // the display's detail reads it between updates
	update, finish := o.byteProgressTo(os.Stderr, "image", size, received, func() string {
		return fmt.Sprintf("%s: rescued %s, bad %s, %d read errors", last.Phase, textout.Bytes(last.Rescued), textout.Bytes(last.Bad), last.ReadErrors)
	})
	defer finish()
	return imaging.Run(ctx, src, size, out, m, save, imaging.Options{
		Retries: o.retries,
		Progress: func(s imaging.Stats) {
			last = s
			update(s.Size-s.NonTried-s.NonTrimmed-s.NonScraped, s.Size)
		},
	})
}

// report prints what the rescue holds and says how to go on.
func (o *imageOptions) report(spec string, size int64, m *mapfile.Map, runErr error, stdout io.Writer) error {
	res := imageResult{Source: spec, Output: o.output, Map: o.mapPath, Size: size,
		Rescued: m.Total(mapfile.Finished), Bad: m.Total(mapfile.BadSector)}
	res.Unfinished = size - res.Rescued - res.Bad
	res.Finished = res.Unfinished == 0
	for _, b := range m.Blocks {
		if b.Status == mapfile.BadSector {
			res.BadAreas++
		}
	}
	if o.json {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else if !o.quiet {
		fmt.Fprintf(stdout, "%s: rescued %d of %d bytes (%.3f%%); %d bytes in %d bad areas; %d bytes not read yet\n",
			o.output, res.Rescued, size, 100*float64(res.Rescued)/float64(size), res.Bad, res.BadAreas, res.Unfinished)
		fmt.Fprintf(stdout, "mapfile %s\n", o.mapPath)
	}
	switch {
	case errors.Is(runErr, context.Canceled):
		// main says "interrupted"; how to go on is image's to say.
		fmt.Fprintf(os.Stderr, "the mapfile %s is saved: run the same command again to resume\n", o.mapPath)
		return runErr
	case runErr != nil:
		return fmt.Errorf("%w (the mapfile %s is saved: run the same command again to resume)", runErr, o.mapPath)
	case res.Bad > 0:
		return withExitCode(exitPartial, fmt.Errorf("%s: %d bytes could not be read; recover with --map %s to see which files they hit", spec, res.Bad, o.mapPath))
	}
	if !o.quiet && !o.json {
		fmt.Fprintf(stdout, "next: vmfsrecover scan --map %s %s\n", o.mapPath, o.output)
	}
	return nil
}

// loadMap reads the mapfile at path to resume a rescue, or starts a new
// one when there is none. resumed says which.
func loadMap(path string, size int64) (m *mapfile.Map, resumed bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return mapfile.New(size), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	m, err = mapfile.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Blocks) == 0 {
		return mapfile.New(size), false, nil
	}
	if err := m.Fit(size); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return m, true, nil
}

// saveMap writes m beside path and renames it over path, so that a crash
// leaves the old mapfile or the new one, never half of one.
func saveMap(guard *writeguard.Guard, path string, m *mapfile.Map, h mapfile.Header) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("saving the mapfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := guard.CheckFile(tmp.Name(), tmp); err != nil {
		tmp.Close()
		return err
	}
	err = m.Write(tmp, h)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = guard.Check(path)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("saving the mapfile %s: %w", path, err)
	}
	return nil
}

// sameFile says whether a and b name one existing file.
func sameFile(a, b string) bool {
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}
