package deepscan

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// seSparseHead is the start of a SESparse extent of capacity sectors.
func seSparseHead(capacity int64) []byte {
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint64(b[0:], 0xCAFEBABE)
	binary.LittleEndian.PutUint64(b[8:], 0x200000001)
	binary.LittleEndian.PutUint64(b[16:], uint64(capacity))
	binary.LittleEndian.PutUint64(b[24:], 8)
	return b
}

// TestDeletedVMNamed: a VM deleted from a VMFS6 volume loses every name
// (the directory entries are zeroed); its descriptors, .vmx and extents
// name it back. A file nothing names keeps its fd-0x... name, and two
// extents of the same size are left nameless rather than guessed.
func TestDeletedVMNamed(t *testing.T) {
	desc := "# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n" +
		"RW 8192 VMFS \"web01-flat.vmdk\"\n\nddb.adapterType = \"lsilogic\"\n"
	snap := "# Disk DescriptorFile\nversion=1\nCID=5678abcd\nparentCID=1234abcd\ncreateType=\"seSparse\"\nparentFileNameHint=\"web01.vmdk\"\n\n" +
		"RW 8192 SESPARSE \"web01-000001-sesparse.vmdk\"\n"
	twin := "# Disk DescriptorFile\nversion=1\nCID=9abc0001\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n" +
		"RW 4096 VMFS \"data-flat.vmdk\"\n"
	for _, version := range []int{5, 6} {
		t.Run("vmfs"+string(rune('0'+version)), func(t *testing.T) { testDeletedVMNamed(t, version, desc, snap, twin) })
	}
}

func testDeletedVMNamed(t *testing.T, version int, desc, snap, twin string) {
	spec := vmfstest.Spec{Version: version, Label: "names", Partition: "gpt", Files: []vmfstest.Entry{
		{Path: "keep/keep.txt", Data: []byte("kept\n")},
		{Path: "web01", Kind: vmfstest.Dir, Deleted: true},
		{Path: "web01/web01.vmx", Data: []byte(".encoding = \"UTF-8\"\nconfig.version = \"8\"\ndisplayName = \"web01\"\nscsi0:0.fileName = \"web01-000001.vmdk\"\n"), Deleted: true},
		{Path: "web01/web01.vmdk", Data: []byte(desc), Deleted: true},
		{Path: "web01/web01-flat.vmdk", Size: 8192 * 512, Seed: 21, Deleted: true},
		{Path: "web01/web01-000001.vmdk", Data: []byte(snap), Deleted: true},
		{Path: "web01/web01-000001-sesparse.vmdk", Data: seSparseHead(8192), Deleted: true},
		{Path: "web01/vmware.log", Size: 5000, Seed: 22, Deleted: true},
		{Path: "web01/data.vmdk", Data: []byte(twin), Deleted: true},
		{Path: "web01/data-flat.vmdk", Size: 4096 * 512, Seed: 23, Deleted: true},
		{Path: "web01/other-flat.vmdk", Size: 4096 * 512, Seed: 24, Deleted: true},
	}}
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "disk.img"), spec)
	if err != nil {
		t.Fatal(err)
	}
	f, size := openFile(t, res.Image)
	got := entries(t, scanImage(t, f, size)[0].Tree)
	for _, p := range []string{"/web01/web01.vmx", "/web01/web01.vmdk", "/web01/web01-flat.vmdk", "/web01/web01-000001.vmdk", "/web01/web01-000001-sesparse.vmdk", "/web01/data.vmdk"} {
		if e, ok := got[p]; !ok || e.provenance != Deleted || e.hash != wantHash(t, res, p) {
			t.Errorf("%s: got %+v (present %v); entries %v", p, e, ok, keys(got))
		}
	}
	// vmware.log and the two same-size extents stay nameless.
	nameless := 0
	for p := range got {
		if strings.HasPrefix(p, "/web01/fd-0x") {
			nameless++
		}
	}
	if version == 6 && nameless != 3 {
		t.Errorf("%d nameless files in /web01, want 3 (the log and the two 2 MiB extents): %v", nameless, keys(got))
	}
	if _, ok := got["/keep/keep.txt"]; !ok {
		t.Errorf("intact file missing: %v", keys(got))
	}
}

func keys(m map[string]entryInfo) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
