package adler

import "golang.org/x/sys/cpu"

var useVector = cpu.X86.HasAVX2

// sumBlocks is the AVX2 kernel of updateVector: len(p) a multiple of
// vectorBlock, from vectorBlock to vectorMax.
//
//go:noescape
func sumBlocks(p []byte, lanes *[12]uint64)
