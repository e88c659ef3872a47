package export

import (
	"bytes"
	"context"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
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
	opts.Flatten = FlattenVMDK
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
