package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/preview"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

const previewVMX = `.encoding = "UTF-8"
displayName = "vm1"
guestOS = "windows2019srv-64"
numvcpus = "2"
memSize = "4096"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "vm1.vmdk"
scsi0:1.present = "TRUE"
scsi0:1.fileName = "lost.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000e"
ethernet0.networkName = "VM Network"
ethernet0.generatedAddress = "00:0c:29:01:02:03"
ethernet0.startConnected = "TRUE"
`

const previewVMDK = `# Disk DescriptorFile
version=1
CID=12345678
parentCID=ffffffff
createType="vmfs"

RW 4096 VMFS "vm1-flat.vmdk"

ddb.adapterType = "lsilogic"
`

// previewVolume writes a small VMFS6 volume with one VM.
func previewVolume(t *testing.T) string {
	t.Helper()
	flat := make([]byte, 2<<20)
	copy(flat[3:], "NTFS    ")
	flat[510], flat[511] = 0x55, 0xAA
	img := filepath.Join(t.TempDir(), "ds.img")
	_, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "ds1", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmx", Data: []byte(previewVMX)},
		{Path: "vm1/vm1.vmdk", Data: []byte(previewVMDK)},
		{Path: "vm1/vm1-flat.vmdk", Data: flat},
		{Path: "vm1/vm1.nvram", Data: []byte("NVRAM\x00\x01\x02")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPreviewCmdGolden(t *testing.T) {
	img := previewVolume(t)
	for _, c := range []struct {
		golden string
		args   []string
		json   bool
	}{
		{"preview-vmx.golden", []string{img, "/vm1/vm1.vmx"}, false},
		{"preview-vmx.json.golden", []string{img, "/vm1/vm1.vmx"}, true},
		{"preview-vmdk.golden", []string{img, "/vm1/vm1.vmdk"}, false},
		{"preview-nvram.golden", []string{img, "vm1/vm1.nvram"}, false},
		{"preview-dir.golden", []string{img, "/vm1"}, false},
	} {
		var out bytes.Buffer
		g := &globalOptions{json: c.json, quiet: true}
		if err := runPreview(context.Background(), g, &previewOptions{}, c.args, &out); err != nil {
			t.Fatalf("%s: %v", c.golden, err)
		}
		golden(t, c.golden, filepath.Dir(img), out.Bytes())
	}
}

func TestPreviewCmdJSONAndErrors(t *testing.T) {
	img := previewVolume(t)
	var out bytes.Buffer
	g := &globalOptions{json: true, quiet: true}
	if err := runPreview(context.Background(), g, &previewOptions{maxBytes: 16, offset: 4}, []string{img, "/vm1/vm1.vmdk"}, &out); err != nil {
		t.Fatal(err)
	}
	var r preview.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Kind != preview.KindVMDK || r.VMDK.Capacity != 2<<20 || r.VMDK.WholeDiskFS != "NTFS" || r.Offset != 4 || r.Shown != 16 || !r.Truncated {
		t.Errorf("JSON %+v %+v", r, r.VMDK)
	}
	err := runPreview(context.Background(), g, &previewOptions{}, []string{img, "/vm1/none"}, &out)
	if !errors.Is(err, fs.ErrNotExist) || exitCode(err) != exitFailure {
		t.Errorf("missing path: %v", err)
	}
	err = runPreview(context.Background(), g, &previewOptions{}, []string{img}, &out)
	if exitCode(err) != exitUsage {
		t.Errorf("no path: %v", err)
	}
	err = runPreview(context.Background(), g, &previewOptions{offset: -1}, []string{img, "/vm1"}, &out)
	if exitCode(err) != exitUsage {
		t.Errorf("negative offset: %v", err)
	}
}

// TestPreviewCmdDeep previews a file of a volume whose LVM header is gone:
// only --deep finds it.
func TestPreviewCmdDeep(t *testing.T) {
	img := previewVolume(t)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var out bytes.Buffer
	g := &globalOptions{quiet: true}
	if err := runPreview(context.Background(), g, &previewOptions{}, []string{img, "/vm1/vm1.vmx"}, &out); err == nil {
		t.Fatalf("the quick path found a volume without its LVM header")
	}
	deep := &previewOptions{vol: volumeFlags{deep: true, scanDir: t.TempDir()}}
	if err := runPreview(context.Background(), g, deep, []string{img, "/vm1/vm1.vmx"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `Virtual machine "vm1"`) {
		t.Errorf("output:\n%s", out.String())
	}
}
