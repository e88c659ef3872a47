package export

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

func TestFlattenVMDK(t *testing.T) {
	data := make([]byte, 4<<20)
	copy(data, randBytes(31, 300000))
	copy(data[3<<20:], randBytes(32, 5000))
	fsys := newTestFS()
	fsys.file("vm/disk.vmdk", []byte(vmdk.GenerateFlatDescriptor("disk-flat.vmdk", int64(len(data)), vmdk.FlatDescriptorOptions{})))
	fsys.file("vm/disk-flat.vmdk", data)
	fsys.file("vm/lonely-flat.vmdk", []byte("an extent without descriptor"))
	fsys.file("vm/vm.vmx", []byte("displayName = \"vm\"\n"))
	opts := testOpts()
	opts.Flatten = VMDKFlattener(nil)
	d, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Export(context.Background(), fsys, nil, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	es := byDest(rep.Entries)
	if e := es["vm/disk.raw"]; e.Status != StatusExported || e.Source != "vm/disk.vmdk" || e.Size != int64(len(data)) || e.SHA256 != sumHex(data) {
		t.Fatalf("flattened entry %+v", e)
	}
	if e := es["vm/disk-flat.vmdk"]; e.Status != StatusSkipped {
		t.Errorf("extent of a flattened disk: %+v", e)
	}
	for _, n := range []string{"vm/lonely-flat.vmdk", "vm/vm.vmx"} {
		if e := es[n]; e.Status != StatusExported {
			t.Errorf("%s: %+v", n, e)
		}
	}
	if got := readDest(t, connect(t, d), "vm/disk.raw"); !bytes.Equal(got, data) {
		t.Fatal("flattened image differs from the flat extent")
	}
}

// TestFlattenUnmappedFromParent: a snapshot whose guest unmapped every
// grain flattens to zeros by default, as VMware reads it, and to the
// parent's data with UnmappedFromParent.
func TestFlattenUnmappedFromParent(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "s-sesparse.vmdk")
	unmapped := func(int64) vmdktest.Kind { return vmdktest.Unmapped }
	if err := vmdktest.WriteSESparse(child, make([]byte, 64<<10), unmapped); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	base := bytes.Repeat([]byte{0xB0}, 64<<10)
	fsys := newTestFS()
	fsys.file("vm/b.vmdk", []byte(vmdktest.Descriptor("vmfs", "VMFS", "b-flat.vmdk", 128, 1, 0xFFFFFFFF, "")))
	fsys.file("vm/b-flat.vmdk", base)
	fsys.file("vm/s.vmdk", []byte(vmdktest.Descriptor("seSparse", "SESPARSE", "s-sesparse.vmdk", 128, 2, 1, "b.vmdk")))
	fsys.file("vm/s-sesparse.vmdk", sparse)
	for _, fromParent := range []bool{false, true} {
		flat, err := VMDKFlattener(&vmdk.Options{UnmappedFromParent: fromParent})(fsys, "vm/s.vmdk")
		if err != nil || flat == nil {
			t.Fatalf("flatten: %v %v", flat, err)
		}
		img, err := flat.Open()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, flat.Size)
		_, err = img.ReadAt(got, 0)
		img.Close()
		want := make([]byte, 64<<10)
		if fromParent {
			want = base
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("UnmappedFromParent %v: image differs from %x... (%v)", fromParent, want[:2], err)
		}
	}
}
