package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func main() {
	out := flag.String("out", "testdata/generated", "output directory")
	huge := flag.Bool("huge", false, "also write the volumes with a 300 GiB file")
	run := flag.String("run", "", "only fixtures whose name matches this regular expression")
	list := flag.Bool("list", false, "list the fixture names and exit")
	spec := flag.String("spec", "", "write one volume from this JSON vmfstest.Spec instead, as -out (an .img path)")
	flag.Parse()
	var err error
	if *spec != "" {
		err = fromJSON(*spec, *out)
	} else {
		err = mkvmfs(*out, *huge, *run, *list)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkvmfs:", err)
		os.Exit(1)
	}
}

// fromJSON writes the volume a JSON spec describes, and its .expected.
func fromJSON(specPath, img string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec vmfstest.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	return writeOne(img, strings.TrimSuffix(img, filepath.Ext(img))+".expected", spec)
}

func writeOne(img, expected string, spec vmfstest.Spec) error {
	start := time.Now()
	r, err := vmfstest.Write(img, spec)
	if err != nil {
		return err
	}
	listing, err := r.Expected()
	if err != nil {
		return err
	}
	if err := os.WriteFile(expected+".tmp", []byte(listing), 0o644); err != nil {
		return err
	}
	if err := os.Rename(expected+".tmp", expected); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: VMFS%d, %d entries, volume %d MiB in %d image(s), partition at %d (%s)\n",
		img, r.Version, len(r.Entries), r.VolumeSize>>20, len(r.Images), r.PartitionOffset, time.Since(start).Round(time.Millisecond))
	return nil
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
		if err := writeOne(filepath.Join(out, fx.Name+".img"), filepath.Join(out, fx.Name+".expected"), fx.Spec); err != nil {
			return fmt.Errorf("%s: %w", fx.Name, err)
		}
	}
	return nil
}
