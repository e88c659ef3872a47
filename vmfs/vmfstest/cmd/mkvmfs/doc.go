// Command mkvmfs writes the representative set of generated VMFS5/VMFS6
// volumes (package vmfstest) as NAME.img, a sparse image, beside
// NAME.expected, its listing in the format of the real samples' .expected
// files. `make fixtures` runs it.
//
// Usage:
//
//	mkvmfs [-out DIR] [-huge] [-run REGEXP] [-list]
//
// -huge adds the volumes with a 300 GiB thin file: they cost little disk,
// but hashing the file for the .expected listing reads 300 GiB of zeros
// (about 15 minutes without SHA instructions).
package main
