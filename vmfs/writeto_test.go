package vmfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestWriteToInKernel: to an output file, WriteTo hands the runs of
// blocks that lie in the local image to the kernel (a file in one run
// passes no byte through Write), and reads the rest (holes, to-be-zeroed
// blocks) itself; to a regular file, a pipe, and a file opened to append
// (which the kernel refuses, so it all goes through Write), from any
// offset, the output is what ReadAt reads.
func TestWriteToInKernel(t *testing.T) {
	const mib = 1 << 20
	size := int64(5*mib + 4321)
	res, err := vmfstest.Write(filepath.Join(t.TempDir(), "kernel.img"), vmfstest.Spec{Version: 5, Label: "kernel", Files: []vmfstest.Entry{
		{Path: "run", Size: size, Seed: 2},
		{Path: "frag", Size: size, Seed: 3, Fragmented: true, Holes: []vmfstest.Range{{Off: 3 * mib / 2, Len: mib}}, Thin: true},
		{Path: "tbz", Size: size, Seed: 4, Holes: []vmfstest.Range{{Off: mib, Len: 2 * mib}}, ZeroedThick: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	vol := openBacked(t, res.Image)
	dir := t.TempDir()
	for _, name := range []string{"run", "frag", "tbz"} {
		want, err := fs.ReadFile(vol, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range [][2]int64{{0, 1}, {777777, 2*mib + 5}, {size - 10, 100}, {size, 5}} {
			got, err := writeRange(vol, name, r[0], r[1], filepath.Join(dir, "range"))
			end := min(r[0]+r[1], size)
			if err != nil || !bytes.Equal(got, want[r[0]:end]) {
				t.Fatalf("%s: WriteRange(%d, %d) wrote %d bytes (%v), want the %d ReadAt reads", name, r[0], r[1], len(got), err, end-r[0])
			}
		}
		for _, from := range []int64{0, 1, 777777, size - 1} {
			for _, sink := range []string{"file", "pipe", "append"} {
				got, written := writeToSink(t, vol, name, from, sink, filepath.Join(dir, "out"))
				if !bytes.Equal(got, want[from:]) {
					t.Fatalf("%s from %d to a %s: %d bytes out, differing from ReadAt's %d", name, from, sink, len(got), size-from)
				}
				switch {
				case sink == "append" && written != size-from:
					t.Errorf("%s from %d, to a file opened to append: %d bytes through Write, want all %d", name, from, written, size-from)
				case sink != "append" && name == "run" && written != 0:
					t.Errorf("run from %d to a %s: %d bytes through Write, want none", from, sink, written)
				case sink != "append" && from == 0 && written > 2*mib:
					t.Errorf("%s to a %s: %d bytes through Write, want only its holes'", name, sink, written)
				}
			}
		}
	}
}

// writeRange writes n bytes of file name at off through WriteRange to a
// regular file at path and returns what the file received; the offset of
// the open file must not move.
func writeRange(vol *Volume, name string, off, n int64, path string) ([]byte, error) {
	f, err := vol.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	k, err := f.(*File).WriteRange(out, off, n)
	out.Close()
	if err != nil {
		return nil, err
	}
	if pos, _ := f.(io.Seeker).Seek(0, io.SeekCurrent); pos != 0 {
		return nil, fmt.Errorf("the file's offset moved to %d", pos)
	}
	got, err := os.ReadFile(path)
	if err == nil && int64(len(got)) != k {
		err = fmt.Errorf("WriteRange says %d bytes, the file holds %d", k, len(got))
	}
	return got, err
}

// writeToSink writes file name from offset from through WriteTo to a
// regular file at path, a pipe, or a file at path opened to append, and
// returns what the sink received and how many bytes went through Write.
func writeToSink(t *testing.T, vol *Volume, name string, from int64, sink, path string) ([]byte, int64) {
	t.Helper()
	f, err := vol.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.(io.Seeker).Seek(from, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out *os.File
	var read chan []byte
	switch sink {
	case "pipe":
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		read = make(chan []byte)
		go func() {
			b, _ := io.ReadAll(r)
			read <- b
		}()
		out = w
	case "append":
		out, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	default:
		out, err = os.Create(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	dst := &countingDest{f: out}
	n, err := f.(io.WriterTo).WriteTo(dst)
	out.Close()
	if err != nil || n != f.(*File).Size()-from {
		t.Fatalf("%s from %d to a %s: WriteTo = %d, %v", name, from, sink, n, err)
	}
	if read != nil {
		return <-read, dst.written
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return got, dst.written
}

// countingDest is a zerocopy.Dest that counts the bytes given to Write.
type countingDest struct {
	f       *os.File
	written int64
}

func (d *countingDest) Write(p []byte) (int, error) {
	n, err := d.f.Write(p)
	d.written += int64(n)
	return n, err
}

func (d *countingDest) OutputFile() *os.File { return d.f }

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
