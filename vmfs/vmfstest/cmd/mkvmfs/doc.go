// Command mkvmfs writes the representative set of generated VMFS5/VMFS6
// volumes (package vmfstest) as NAME.img, a sparse image, beside
// NAME.expected, its listing in the format of the real samples' .expected
// files. `make fixtures` runs it.
//
// Usage:
//
//	mkvmfs [-out DIR] [-huge] [-run REGEXP] [-list]
//	mkvmfs -spec SPEC.json -out VOLUME.img
//
// The second form writes one volume from a JSON vmfstest.Spec, e.g.
//
//	{"Version": 6, "Label": "demo", "Files": [
//	  {"Path": "vm1/vm1-flat.vmdk", "Size": 2147483648, "Seed": 1},
//	  {"Path": "vm1/link", "Kind": "symlink", "Target": "vm1-flat.vmdk"},
//	  {"Path": "old.log", "Data": "aGVsbG8K", "Deleted": true}]}
//
// (Data is base64, as encoding/json writes []byte.)
//
// -huge adds the volumes with a 300 GiB thin file: they cost little disk,
// but hashing the file for the .expected listing reads 300 GiB of zeros
// (about 15 minutes without SHA instructions).
package main
