package mount

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/recover/mount/mounttest"
	"github.com/vmfsrecover/vmfsrecover/vmdk/vmdktest"
)

// chainFS is a VM folder with a snapshot chain (an SESparse delta over a
// flat base), a base SESparse disk of its own with unallocated grains,
// and files that are no disks.
type chainFS struct {
	fsys               fstest.MapFS
	base, snap, sparse []byte // what base.raw, snap.raw and lone.raw read as
	sparseGrains       func(int64) vmdktest.Kind
}

func newChainFS(t *testing.T) chainFS {
	t.Helper()
	const size = 256 << 10
	dir := t.TempDir()
	base := vmdktest.Pattern(size, 1)
	data := vmdktest.Pattern(size, 2)
	snapGrains := func(g int64) vmdktest.Kind { return vmdktest.Kind(g % 3) } // unallocated, data, zero
	sparseGrains := func(g int64) vmdktest.Kind {
		if g%16 < 5 {
			return vmdktest.Data
		}
		return vmdktest.Unallocated
	}
	sesparse := func(name string, kind func(int64) vmdktest.Kind) []byte {
		p := filepath.Join(dir, name)
		if err := vmdktest.WriteSESparse(p, data, kind); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sectors := int64(size / 512)
	fsys := fstest.MapFS{
		"vm/base.vmdk":          {Data: []byte(vmdktest.Descriptor("vmfs", "VMFS", "base-flat.vmdk", sectors, 1, 0xFFFFFFFF, ""))},
		"vm/base-flat.vmdk":     {Data: base},
		"vm/snap.vmdk":          {Data: []byte(vmdktest.Descriptor("seSparse", "SESPARSE", "snap-sesparse.vmdk", sectors, 2, 1, "base.vmdk"))},
		"vm/snap-sesparse.vmdk": {Data: sesparse("snap", snapGrains)},
		"vm/lone.vmdk":          {Data: []byte(vmdktest.Descriptor("seSparse", "SESPARSE", "lone-sesparse.vmdk", sectors, 3, 0xFFFFFFFF, ""))},
		"vm/lone-sesparse.vmdk": {Data: sesparse("lone", sparseGrains)},
		"vm/vm.vmx":             {Data: []byte("displayName = \"vm\"\n")},
		"vm/orphan-flat.vmdk":   {Data: []byte("an extent without its descriptor")},
		"vm/own.vmdk":           {Data: []byte("not a disk: no image")},
		"vm/kept.vmdk":          {Data: []byte(vmdktest.Descriptor("vmfs", "VMFS", "base-flat.vmdk", sectors, 4, 0xFFFFFFFF, ""))},
		"vm/kept.raw":           {Data: []byte("a real file named like the image wins")},
	}
	return chainFS{
		fsys: fsys, base: base,
		snap:   vmdktest.Expected(base, data, 4096, snapGrains),
		sparse: vmdktest.Expected(nil, data, 4096, sparseGrains), sparseGrains: sparseGrains,
	}
}

func TestRawImagesBesideDisks(t *testing.T) {
	c := newChainFS(t)
	fsys := WithRawImages(c.fsys, nil)
	if err := fstest.TestFS(fsys, "vm/base.raw", "vm/snap.raw", "vm/lone.raw", "vm/kept.raw", "vm/vm.vmx"); err != nil {
		t.Fatal(err)
	}
	srv := mountForTest(t, fsys, Options{})
	seen := map[string]mounttest.Entry{}
	var names []string
	for _, e := range mounttest.Walk(t, srv.Dir) {
		seen[e.Path] = e
		names = append(names, e.Path)
	}
	for _, name := range []string{"/vm/orphan-flat.raw", "/vm/own.raw", "/vm/base-flat.raw", "/vm/snap-sesparse.raw", "/vm/vm.raw"} {
		if slices.Contains(names, name) {
			t.Errorf("%s listed: only disks get an image", name)
		}
	}
	for name, want := range map[string][]byte{"base": c.base, "snap": c.snap, "lone": c.sparse} {
		e, ok := seen["/vm/"+name+".raw"]
		if !ok {
			t.Errorf("no %s.raw beside %s.vmdk; listed: %q", name, name, names)
			continue
		}
		if e.Size != int64(len(want)) || e.Mode != 0o444 || !bytes.Equal(mounttest.ReadFile(t, filepath.Join(srv.Dir, e.Path)), want) {
			t.Errorf("%s: %v %d bytes; want %d bytes as the guest reads the disk", e.Path, e.Mode, e.Size, len(want))
		}
	}
	if got := mounttest.ReadFile(t, filepath.Join(srv.Dir, "vm/kept.raw")); string(got) != "a real file named like the image wins" {
		t.Errorf("vm/kept.raw: %q", got)
	}
}

// TestSeekDataAndHoles: lseek(SEEK_DATA/SEEK_HOLE) through the mount
// finds exactly the ranges of the file's allocation map (the lone sparse
// disk's image, holes where its grains are unallocated), and a file that
// has no map is data from start to end.
func TestSeekDataAndHoles(t *testing.T) {
	c := newChainFS(t)
	srv := mountForTest(t, WithRawImages(c.fsys, nil), Options{})
	var want [][2]int64
	for off := int64(0); off < int64(len(c.sparse)); off += 4096 {
		if c.sparseGrains(off/4096) != vmdktest.Data {
			continue
		}
		if n := len(want); n > 0 && want[n-1][0]+want[n-1][1] == off {
			want[n-1][1] += 4096
		} else {
			want = append(want, [2]int64{off, 4096})
		}
	}
	if got := mounttest.DataMap(t, filepath.Join(srv.Dir, "vm/lone.raw")); !slices.Equal(got, want) {
		t.Errorf("vm/lone.raw: data at %v, want %v", got, want)
	}
	if got := mounttest.DataMap(t, filepath.Join(srv.Dir, "vm/vm.vmx")); !slices.Equal(got, [][2]int64{{0, 19}}) {
		t.Errorf("vm/vm.vmx (no map): data at %v, want all of its 19 bytes", got)
	}
}
