package remote

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// loopDevice attaches image read-only to a loop device for the test.
func loopDevice(t *testing.T, image string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Lacks(t, "loop devices need root")
	}
	losetup := testenv.Tool(t, "losetup")
	out, err := exec.Command(losetup, "-f", "--show", "-r", image).CombinedOutput()
	if err != nil {
		testenv.Lacks(t, "no loop device here: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "-d", dev).Run() })
	return dev
}

// A block device over SFTP reports size 0; its size is probed and it reads
// like the image behind it, also through package vmdk as a raw disk.
func TestSSHBlockDevice(t *testing.T) {
	img, data := randomImage(t, 5<<20+3*512, 17)
	dev := loopDevice(t, img)
	srv := startSSHD(t)
	f := srv.dial(t, srv.options())
	fi, err := fs.Stat(f, fsName(dev))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeDevice == 0 {
		t.Fatalf("%s: mode %v, not a device", dev, fi.Mode())
	}
	file, err := f.Open(fsName(dev))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	st, _ := file.Stat()
	if st.Size() != int64(len(data)) {
		t.Fatalf("probed size %d, want %d (SFTP said %d)", st.Size(), len(data), fi.Size())
	}
	checkReads(t, file.(io.ReaderAt), data)

	d, err := vmdk.OpenFS(f, fsName(dev), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != int64(len(data)) {
		t.Fatalf("vmdk.OpenFS: size %d, want %d", d.Size(), len(data))
	}
}
