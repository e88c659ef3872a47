package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func main() {
	out := flag.String("out", "testdata/generated", "output directory")
	huge := flag.Bool("huge", false, "also write the volumes with a 300 GiB file")
	run := flag.String("run", "", "only fixtures whose name matches this regular expression")
	list := flag.Bool("list", false, "list the fixture names and exit")
	flag.Parse()
	if err := mkvmfs(*out, *huge, *run, *list); err != nil {
		fmt.Fprintln(os.Stderr, "mkvmfs:", err)
		os.Exit(1)
	}
}

func mkvmfs(out string, huge bool, run string, list bool) error {
	re, err := regexp.Compile(run)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, fx := range vmfstest.Fixtures(huge) {
		if !re.MatchString(fx.Name) {
			continue
		}
		if list {
			fmt.Println(fx.Name)
			continue
		}
		start := time.Now()
		img := filepath.Join(out, fx.Name+".img")
		r, err := vmfstest.Write(img, fx.Spec)
		if err != nil {
			return fmt.Errorf("%s: %w", fx.Name, err)
		}
		listing, err := r.Expected()
		if err != nil {
			return fmt.Errorf("%s: %w", fx.Name, err)
		}
		tmp := filepath.Join(out, fx.Name+".expected.tmp")
		if err := os.WriteFile(tmp, []byte(listing), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(out, fx.Name+".expected")); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: VMFS%d, %d entries, volume %d MiB, partition at %d (%s)\n",
			img, r.Version, len(r.Entries), r.VolumeSize>>20, r.PartitionOffset, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
