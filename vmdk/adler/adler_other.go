//go:build !amd64

package adler

const useVector = false

func sumBlocks(p []byte, lanes *[12]uint64) { panic("adler: no vector kernel on this architecture") }
