package preview

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/discover"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

func openVolume(t *testing.T, image string) *vmfs.Volume {
	t.Helper()
	srcs, err := source.ForDiscover([]string{image}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vol, s, err := discover.OpenVolume(srcs, "", discover.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return vol
}

// TestGeneratedVolume previews a VM on a generated VMFS5 and VMFS6 volume:
// the same results as on fstest.MapFS, read through the VMFS reader (thin
// flat extent with holes, sub-block and resident files).
func TestGeneratedVolume(t *testing.T) {
	for _, version := range []int{5, 6} {
		t.Run("vmfs"+string(rune('0'+version)), func(t *testing.T) {
			disk := guestDisk()
			img := filepath.Join(t.TempDir(), "ds.img")
			_, err := vmfstest.Write(img, vmfstest.Spec{Version: version, Label: "ds", Partition: "gpt", Files: []vmfstest.Entry{
				{Path: "web/web.vmx", Data: []byte(vmxText)},
				{Path: "web/web.vmdk", Data: []byte(descriptor("vmfs", "", "ffffffff", `RW 16384 VMFS "web-flat.vmdk"`))},
				{Path: "web/web-flat.vmdk", Data: disk, Thin: true, Holes: []vmfstest.Range{{Off: 512, Len: 1<<20 - 512}, {Off: 1<<20 + 512, Len: 3<<20 - 512}, {Off: 4<<20 + 2048, Len: 4<<20 - 2048}}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			vol := openVolume(t, img)
			r, err := Preview(context.Background(), vol, "web/web.vmx", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.VMX.Name != `web "prod" 01` || len(r.VMX.Disks) != 5 || !r.VMX.Disks[2].Complete || r.VMX.Disks[3].Found {
				t.Errorf("vmx %+v", r.VMX)
			}
			s := SummarizeVMDK(context.Background(), vol, "web/web.vmdk", Options{})
			if s.Error != "" || s.Capacity != 8<<20 || s.Table == nil || len(s.Table.Partitions) != 2 {
				t.Fatalf("vmdk %+v", s)
			}
			if s.Table.Partitions[0].FS != partition.FSNTFS || s.Table.Partitions[1].FS != partition.FSExt4 {
				t.Errorf("FS %q %q", s.Table.Partitions[0].FS, s.Table.Partitions[1].FS)
			}
			// Thin: three 1 MiB blocks hold data (the MBR's and the two
			// partitions' first blocks).
			if s.Allocated != 3<<20 {
				t.Errorf("allocated %d, want %d", s.Allocated, 3<<20)
			}
		})
	}
}

// TestRealVMFS3 previews the VMDKs on the real VMFS3 sample: descriptors
// written by ESX, 200 MiB flat extents of zeros.
func TestRealVMFS3(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacking a 1.2 GB sample; skipped with -short")
	}
	img, _ := vmfstest.RealSample(t, "vmfs3")
	vol := openVolume(t, img)
	for _, name := range []string{"thin.vmdk", "thick.vmdk", "zeroedthick.vmdk", "eagerzeroedthick.vmdk"} {
		r, err := Preview(context.Background(), vol, name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s := r.VMDK
		if s.Error != "" || s.Capacity != 200<<20 || len(s.Extents) != 1 || len(s.Missing) != 0 || s.Table != nil || s.WholeDiskFS != "" {
			t.Errorf("%s: %+v", name, s)
		}
		if r.Kind != KindVMDK || !bytes.Contains([]byte(r.Text), []byte("createType")) {
			t.Errorf("%s: kind %s text %q", name, r.Kind, r.Text)
		}
		if name == "thin.vmdk" && !s.Thin {
			t.Errorf("thin.vmdk not reported thin")
		}
	}
	r, err := Preview(context.Background(), vol, "thin-flat.vmdk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.VMDK.Kind == "" || r.VMDK.Capacity != 200<<20 {
		t.Errorf("flat: %+v", r.VMDK)
	}
}
