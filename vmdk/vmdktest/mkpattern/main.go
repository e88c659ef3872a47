// Command mkpattern writes vmdktest.Pattern bytes to a file: the
// deterministic raw disk every VMDK fixture is converted from.
//
//	go run ./vmdk/vmdktest/mkpattern -size 527872 -seed 1 -o pattern.raw
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

func main() {
	size := flag.Int64("size", 1<<20, "bytes")
	seed := flag.Uint64("seed", 1, "pattern seed")
	out := flag.String("o", "", "output file")
	flag.Parse()
	if *out == "" || *size <= 0 {
		fmt.Fprintln(os.Stderr, "usage: mkpattern -size N -seed S -o FILE")
		os.Exit(2)
	}
	if err := os.WriteFile(*out, vmdktest.Pattern(*size, *seed), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
