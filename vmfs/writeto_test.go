package vmfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestWriteToInParts: WriteTo reads each chunk in parts at once
// (readParallel); from any offset it moves what ReadAt reads, over
// fragmented runs, holes and to-be-zeroed blocks, and a read error in a
// chunk's later part leaves exactly the bytes before it written.
func TestWriteToInParts(t *testing.T) {
	const mib = 1 << 20
	size := int64(5*mib + 4321)
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "parts.img"), vmfstest.Spec{Version: 5, Label: "parts", Files: []vmfstest.Entry{
		{Path: "frag", Size: size, Seed: 3, Fragmented: true, Holes: []vmfstest.Range{{Off: 3 * mib / 2, Len: mib}}, Thin: true},
		{Path: "tbz", Size: size, Seed: 4, Holes: []vmfstest.Range{{Off: mib, Len: 2 * mib}}, ZeroedThick: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	vol := openResult(t, res)
	contents := map[string][]byte{}
	for _, name := range []string{"frag", "tbz"} {
		want, err := fs.ReadFile(vol, name) // Read, that is ReadAt
		if err != nil {
			t.Fatal(err)
		}
		contents[name] = want
		for _, from := range []int64{0, 1, 777777, mib, size - 300000, size - 1} {
			f, err := vol.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.(io.Seeker).Seek(from, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			n, err := f.(io.WriterTo).WriteTo(&got)
			f.Close()
			if err != nil || n != size-from || !bytes.Equal(got.Bytes(), want[from:]) {
				t.Fatalf("%s from %d: WriteTo moved %d bytes (%v), want %d equal to ReadAt's", name, from, n, err, size-from)
			}
		}
	}

	// Fail the volume's reads of frag's bytes from file offset 3.5 MiB on:
	// a later part of the chunk at 3 MiB.
	want := contents["frag"]
	img, err := os.ReadFile(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	bad := int64(bytes.Index(img, want[7*mib/2:][:64]))
	if bad < 0 || bytes.Count(img, want[7*mib/2:][:64]) != 1 {
		t.Fatal("frag's bytes at 3.5 MiB are not once in the image")
	}
	dev := openImage(t, res.Image)
	failing := &failAt{Device: dev, off: bad}
	vol2, err := Open([]Device{io.NewSectionReader(failing, res.PartitionOffset, dev.Size()-res.PartitionOffset)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	failing.armed = true
	f, err := vol2.Open("frag")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got bytes.Buffer
	n, err := f.(io.WriterTo).WriteTo(&got)
	if !errors.Is(err, errInjected) || n != 7*mib/2 || !bytes.Equal(got.Bytes(), want[:n]) {
		t.Fatalf("WriteTo over a bad read at file offset 3.5 MiB: %d bytes, %v; want %d bytes of the file and the read error", n, err, 7*mib/2)
	}
}

var errInjected = errors.New("injected read error")

// failAt fails, once armed, every read that covers byte off.
type failAt struct {
	Device
	off   int64
	armed bool
}

func (d *failAt) ReadAt(p []byte, off int64) (int, error) {
	if d.armed && off <= d.off && d.off < off+int64(len(p)) {
		return 0, errInjected
	}
	return d.Device.ReadAt(p, off)
}
