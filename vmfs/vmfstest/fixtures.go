package vmfstest

import (
	"bytes"
	"fmt"
	"strings"
)

// Fixture is a named volume of the representative set.
type Fixture struct {
	Name string
	Spec Spec
	// Huge fixtures hold files past 256 GiB: sparse, but hashing their
	// content for the .expected file takes many minutes.
	Huge bool
}

// MaxName is the longest file name of each version: VMFS5 dirents hold
// 128 bytes (no terminating NUL needed; vmfs-tools reads all 128); VMFS6
// dirents have a 256-byte field but ESXi limits names to 127 bytes and
// vmfs6-tools reads only 128 of them.
func MaxName(version int) int {
	if version == 6 {
		return 127
	}
	return 128
}

// Fixtures returns the representative set written by `make fixtures`:
// for VMFS5 and VMFS6 a volume covering every addressing mode, thin,
// fragmented, deleted, deep and long-named entries and symlinks; a
// directory of 10,240 entries; partition-table variants; and, when huge is
// set, a volume with a 300 GiB thin file.
func Fixtures(huge bool) []Fixture {
	var out []Fixture
	for _, v := range []int{5, 6} {
		out = append(out,
			Fixture{Name: fmt.Sprintf("vmfs%d-tree", v), Spec: Spec{Version: v, Label: fmt.Sprintf("VMFS%d tree", v), Seed: uint64(v), Files: treeEntries(v)}},
			Fixture{Name: fmt.Sprintf("vmfs%d-many", v), Spec: Spec{Version: v, Label: fmt.Sprintf("VMFS%d many", v), Seed: uint64(v) + 10, Files: manyEntries(10240)}},
		)
	}
	out = append(out,
		Fixture{Name: "vmfs5-mbr128", Spec: Spec{Version: 5, Label: "VMFS5 mbr", Partition: "mbr", StartSector: 128, Seed: 21, Files: smallEntries()}},
		Fixture{Name: "vmfs5-gpt", Spec: Spec{Version: 5, Label: "VMFS5 gpt", Partition: "gpt", StartSector: 2048, Seed: 22, Files: smallEntries()}},
		Fixture{Name: "vmfs6-gpt", Spec: Spec{Version: 6, Label: "VMFS6 gpt", Partition: "gpt", StartSector: 2048, Seed: 23, Files: smallEntries()}},
		Fixture{Name: "vmfs6-mbr", Spec: Spec{Version: 6, Label: "VMFS6 mbr", Partition: "mbr", Seed: 24, Files: smallEntries()}},
		Fixture{Name: "vmfs5-8mib", Spec: Spec{Version: 5, Label: "VMFS5 8 MiB blocks", BlockSize: 8 * mib, Seed: 25, Files: append(smallEntries(),
			Entry{Path: "blocks/direct", Size: 20*mib + 5, Seed: 251},
			Entry{Path: "blocks/pointers", Size: 20*mib + 6, Seed: 252, Addressing: Pointers})}},
	)
	for _, v := range []int{5, 6} {
		n := 8 - v // 3 extents on VMFS5, 2 on VMFS6
		out = append(out, Fixture{Name: fmt.Sprintf("vmfs%d-span%d", v, n), Spec: Spec{Version: v,
			Label: fmt.Sprintf("VMFS%d spanned", v), Seed: uint64(v) + 40, Extents: n, Size: int64(n) * 256 * mib,
			Files: append(smallEntries(), Entry{Path: "span/across-extents.bin", Size: int64(n-1)*256*mib + 3*mib + 7, Seed: 41,
				Holes: islands(int64(n-1)*256*mib+3*mib+7, 16*mib, mib)},
				Entry{Path: "span/at-end.bin", Size: 2*mib + 99, Seed: 42, AtEnd: true})}})
	}
	if huge {
		for _, v := range []int{5, 6} {
			out = append(out, Fixture{Name: fmt.Sprintf("vmfs%d-huge", v), Huge: true,
				Spec: Spec{Version: v, Label: fmt.Sprintf("VMFS%d huge", v), Seed: uint64(v) + 30, Files: HugeEntries()}})
		}
	}
	return out
}

// HugeEntries is a 300 GiB thin file with data in its first MiB, across
// the 256 GiB boundary (where VMFS5 needs double-indirect addressing) and
// in its last MiB.
func HugeEntries() []Entry {
	const size = 300 * gib
	return []Entry{
		{Path: "huge/disk-flat.vmdk", Size: size, Seed: 300, Thin: true, Holes: []Range{
			{Off: mib, Len: 256*gib - 2*mib},
			{Off: 256*gib + mib, Len: size - 256*gib - 2*mib}}},
		{Path: "huge/disk.vmdk", Data: []byte("# Disk DescriptorFile\nRW 629145600 VMFS \"disk-flat.vmdk\"\n")},
	}
}

// islands returns holes that leave data only in the first keep bytes of
// every period: a big allocated file with little data to write.
func islands(size, period, keep int64) []Range {
	var h []Range
	for off := keep; off < size; off += period {
		h = append(h, Range{Off: off, Len: min(period-keep, size-off)})
	}
	return h
}

// smallEntries is a tree like the real samples' ("directory" with empty,
// resident and small files and a symlink).
func smallEntries() []Entry {
	return []Entry{
		{Path: "directory/file1"},
		{Path: "directory/file2"},
		{Path: "directory/file3"},
		{Path: "directory/file4", Data: []byte("content\n")},
		{Path: "directory/file5", Data: append(bytes.Repeat([]byte("a"), 8192), '\n')},
		{Path: "directory/symlink", Kind: Symlink, Target: "file4"},
		{Path: "multi.bin", Size: 5*mib + 123, Seed: 77},
	}
}

// treeEntries covers every addressing mode and layout feature.
func treeEntries(v int) []Entry {
	resident, small, direct, indirect := int64(1000), int64(6000), int64(5*mib+123), int64(300*mib+77)
	if v == 6 {
		resident, small, indirect = 3584, 60000, 330*mib+77
	}
	e := smallEntries()
	e = append(e,
		Entry{Path: "sizes/empty"},
		Entry{Path: "sizes/resident-max", Size: resident, Seed: 1},
		Entry{Path: "sizes/resident-plus-one", Size: resident + 1, Seed: 2},
		Entry{Path: "sizes/small", Size: small, Seed: 3},
		Entry{Path: "sizes/one-block", Size: mib, Seed: 4},
		Entry{Path: "sizes/multi-block", Size: direct, Seed: 5},
		Entry{Path: "sizes/fragmented", Size: 7*mib + 1, Seed: 6, Fragmented: true},
		Entry{Path: "sizes/indirect", Size: indirect, Seed: 7, Thin: true, Holes: []Range{{Off: 2 * mib, Len: indirect - 4*mib}}},
		Entry{Path: "sizes/indirect-fragmented", Size: indirect, Seed: 8, Thin: true, Fragmented: true, Holes: []Range{{Off: mib / 2, Len: indirect - mib}}},
		Entry{Path: "thin/thin-flat.vmdk", Size: 200 * mib, Seed: 9, Thin: true,
			Holes: []Range{{Off: mib, Len: 99 * mib}, {Off: 102*mib + 7, Len: 97 * mib}}},
		Entry{Path: "thin/thick-with-zeros", Size: 3*mib + 9, Seed: 10, Holes: []Range{{Off: 100, Len: 2 * mib}}},
		Entry{Path: "thin/zeroedthick-flat.vmdk", Size: 20 * mib, Seed: 15, ZeroedThick: true, Holes: []Range{{Off: mib, Len: 19 * mib}}},
		Entry{Path: "forced/subblocks", Size: 3*(8*kib) + 5, Seed: 11, Addressing: SubBlocks},
		Entry{Path: "forced/pointers", Size: 3*mib + 1, Seed: 12, Addressing: Pointers},
		Entry{Path: "forced/blocks-small", Data: []byte("tiny file in a whole block\n"), Addressing: Blocks},
		Entry{Path: "links/relative", Kind: Symlink, Target: "../directory/file5"},
		Entry{Path: "links/absolute", Kind: Symlink, Target: "/directory/file4"},
		Entry{Path: "links/dangling", Kind: Symlink, Target: "does/not/exist"},
		Entry{Path: "links/to-dir", Kind: Symlink, Target: "../directory"},
		Entry{Path: "trash/kept.txt", Data: []byte("still here\n")},
		Entry{Path: "trash/deleted.bin", Size: 20000, Seed: 13, Deleted: true},
		Entry{Path: "trash/deleted-resident", Data: []byte("deleted but recoverable\n"), Deleted: true},
		Entry{Path: "trash/gone", Kind: Dir, Deleted: true},
		Entry{Path: "trash/gone/inner.txt", Data: []byte("inside a deleted directory\n"), Deleted: true},
		Entry{Path: "trash/zz-after", Data: []byte("listed after the deleted entries\n")},
	)
	if v == 5 {
		e = append(e, Entry{Path: "forced/double", Size: 2*mib + 3, Seed: 14, Addressing: Double})
	} else {
		e = append(e, Entry{Path: "forced/large-blocks", Size: 600*mib + 5, Seed: 16, Addressing: LargeBlocks,
			Holes: []Range{{Off: mib, Len: 510 * mib}, {Off: 513 * mib, Len: 86 * mib}}})
	}
	deep := "deep"
	for i := 1; i <= 24; i++ {
		deep += fmt.Sprintf("/level%02d", i)
	}
	e = append(e, Entry{Path: deep + "/leaf.txt", Data: []byte("bottom of a 24-level tree\n")})
	max := MaxName(v)
	e = append(e,
		Entry{Path: "names/" + strings.Repeat("n", max), Data: []byte("longest name\n")},
		Entry{Path: "names/" + strings.Repeat("d", max-1) + "/x", Data: []byte("in a long-named directory\n")},
		Entry{Path: "names/with space and ünïcödé", Data: []byte("utf-8 name\n")},
		Entry{Path: "names/mode-0600", Data: []byte("private\n"), Mode: 0o600},
	)
	return e
}

// manyEntries is one directory of n small files (resident or one
// sub-block), enough to force VMFS6 hash-table collisions and link blocks.
func manyEntries(n int) []Entry {
	e := make([]Entry, 0, n+1)
	for i := range n {
		e = append(e, Entry{Path: fmt.Sprintf("many/file-%05d.txt", i), Size: int64(i%200) + 1, Seed: uint64(i)})
	}
	return append(e, Entry{Path: "other/readme", Data: []byte("10240 files in /many\n")})
}
