package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/raid/raidtest"
)

func main() {
	var g raidtest.Geometry
	var chunk, out string
	flag.StringVar(&g.Level, "level", "raid5", "linear, raid0, raid1, raid5, raid6 or raid10")
	flag.StringVar(&g.Layout, "layout", "left-symmetric", "mdadm layout name (raid5 and raid6)")
	flag.StringVar(&chunk, "chunk", "64k", "chunk size: bytes, or with a k or m suffix")
	flag.IntVar(&g.Members, "members", 4, "number of members")
	flag.StringVar(&out, "out", ".", "folder for the member images")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mkraid [flags] IMAGE")
		flag.PrintDefaults()
		os.Exit(2)
	}
	var err error
	if g.Chunk, err = parseSize(chunk); err != nil {
		fail(err)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fail(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fail(err)
	}
	paths, err := raidtest.Stripe(f, st.Size(), g, out)
	if err != nil {
		fail(err)
	}
	fmt.Println(strings.Join(paths, "\n"))
}

// parseSize reads 65536, 64k or 1m.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("chunk size %q: want bytes, or a number with k or m", s)
	}
	return n * mult, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkraid:", err)
	os.Exit(1)
}
