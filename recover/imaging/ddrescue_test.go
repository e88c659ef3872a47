package imaging

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/faultfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
)

// TestMain lets the test binary serve faultfs's disks as a child.
func TestMain(m *testing.M) {
	faultfs.ServeIfAsked()
	os.Exit(m.Run())
}

// faultyDisk mounts an 8 MiB random disk with bad sectors through FUSE,
// served by a child process.
func faultyDisk(t *testing.T) (path string, data []byte, bad allocmap.Map) {
	t.Helper()
	if err := faultfs.Available(); err != nil {
		testenv.Lacks(t, "%v", err)
	}
	data = make([]byte, 8<<20)
	rand.New(rand.NewSource(2)).Read(data)
	for _, s := range []int64{7, 2048, 2049, 5000, 16383} {
		bad = bad.Add(allocmap.Range{Off: s * 512, Len: 512})
	}
	bad = allocmap.Normalize(append(bad, allocmap.Range{Off: 12000 * 512, Len: 40 * 512}))
	d, err := faultfs.Start(t.TempDir(), data, bad, faultfs.Options{})
	if err != nil {
		testenv.Lacks(t, "%v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d.Path, data, bad
}

func readMap(t *testing.T, path string) *mapfile.Map {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mapfile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rescueFile(t *testing.T, src, img, mapPath string, m *mapfile.Map) *mapfile.Map {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, _ := in.Stat()
	out, err := os.OpenFile(img, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := out.Truncate(st.Size()); err != nil {
		t.Fatal(err)
	}
	m.Resize(st.Size())
	save := func(m *mapfile.Map) error {
		var b bytes.Buffer
		m.Write(&b, mapfile.Header{Program: "vmfsrecover test"})
		return os.WriteFile(mapPath, b.Bytes(), 0o644)
	}
	if err := Run(context.Background(), in, st.Size(), out, m, save, Options{}); err != nil {
		t.Fatal(err)
	}
	return readMap(t, mapPath)
}

func sameImage(t *testing.T, img string, data []byte, bad allocmap.Map) {
	t.Helper()
	got, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(data)
	for _, r := range bad {
		clear(want[r.Off:r.End()])
	}
	// GNU ddrescue does not extend its image over bad sectors at the end.
	if len(got) < len(want) && allocmap.IsZero(want[len(got):]) {
		want = want[:len(got)]
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the disk outside its bad sectors", img)
	}
}

// TestSameResultAsGNUDdrescue images one faulty disk (real EIO through
// FUSE) with GNU ddrescue and with Run: both find exactly the bad sectors,
// and both images hold every other byte.
func TestSameResultAsGNUDdrescue(t *testing.T) {
	ddrescue := testenv.Tool(t, "ddrescue")
	src, data, bad := faultyDisk(t)
	dir := t.TempDir()
	if out, err := exec.Command(ddrescue, "-b512", src, filepath.Join(dir, "gnu.img"), filepath.Join(dir, "gnu.map")).CombinedOutput(); err != nil {
		t.Fatalf("ddrescue: %v\n%s", err, out)
	}
	gnu := readMap(t, filepath.Join(dir, "gnu.map"))
	ours := rescueFile(t, src, filepath.Join(dir, "our.img"), filepath.Join(dir, "our.map"), mapfile.New(int64(len(data))))
	for name, m := range map[string]*mapfile.Map{"GNU ddrescue": gnu, "ours": ours} {
		if fmt.Sprint(m.Lost()) != fmt.Sprint(bad) || m.Total(mapfile.BadSector) != bad.Total() {
			t.Errorf("%s: lost %v, want the bad sectors %v", name, m.Lost(), bad)
		}
	}
	sameImage(t, filepath.Join(dir, "gnu.img"), data, bad)
	sameImage(t, filepath.Join(dir, "our.img"), data, bad)
}

// TestResumesGNUDdrescueMapfile: a rescue GNU ddrescue left half done
// (size-limited, then without scraping) resumes in Run from its mapfile
// and image, and ends with exactly the bad sectors lost.
func TestResumesGNUDdrescueMapfile(t *testing.T) {
	ddrescue, ddrescuelog := testenv.Tool(t, "ddrescue"), testenv.Tool(t, "ddrescuelog")
	src, data, bad := faultyDisk(t)
	for _, args := range [][]string{{"-s", "5MiB"}, {"-n"}} {
		t.Run(args[0], func(t *testing.T) {
			dir := t.TempDir()
			img, mapPath := filepath.Join(dir, "img"), filepath.Join(dir, "map")
			cmd := append([]string{"-b512"}, args...)
			if out, err := exec.Command(ddrescue, append(cmd, src, img, mapPath)...).CombinedOutput(); err != nil {
				t.Fatalf("ddrescue %v: %v\n%s", args, err, out)
			}
			m := readMap(t, mapPath)
			if m.Total(mapfile.BadSector) == bad.Total() {
				t.Fatalf("ddrescue %v left nothing to resume: %+v", args, m.Blocks)
			}
			done := rescueFile(t, src, img, mapPath, m)
			if fmt.Sprint(done.Lost()) != fmt.Sprint(bad) {
				t.Errorf("after resuming: lost %v, want %v", done.Lost(), bad)
			}
			sameImage(t, img, data, bad)
			// and GNU ddrescue takes our mapfile back: nothing left to do
			out, err := exec.Command(ddrescuelog, "-b512", "--list-blocks=?*/", mapPath).CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) != 0 {
				t.Errorf("ddrescuelog on our resumed map: %v, unfinished sectors %q", err, out)
			}
		})
	}
}
