package session

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestSystemFile: on a generated VMFS6 volume the rule finds exactly the
// volume's own files at the root, by their descriptors and by their names;
// a name the old name rule crashed on (".sf") is plain data.
func TestSystemFile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "ds.img")
	if _, err := vmfstest.Write(img, vmfstest.Spec{Version: 6, Label: "sys", Files: []vmfstest.Entry{
		{Path: "vm1/vm1.vmx", Data: []byte("displayName = \"vm1\"\n")},
		{Path: "vm1/.hidden.sf", Data: []byte("user data")},
	}}); err != nil {
		t.Fatal(err)
	}
	v, sc, err := OpenVolume(context.Background(), []string{img}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var system []string
	err = fs.WalkDir(v.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if p != "." && SystemFile(p, info) {
			system = append(system, p)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".fbb.sf", ".fdc.sf", ".jbc.sf", ".pb2.sf", ".pbc.sf", ".sbc.sf", ".sdd.sf", ".vh.sf"}
	if !slices.Equal(system, want) {
		t.Errorf("system files %q, want %q", system, want)
	}
	for _, name := range []string{".sf", "..sf", ".A.sf", "a.sf", "vm1/.fdc.sf", ".fdc.sf.bak"} {
		if SystemFile(name, nil) {
			t.Errorf("%q taken for a system file by its name", name)
		}
	}
}

// TestOpenDestination: what the command line and the wizard both get from
// a destination and its options.
func TestOpenDestination(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	nopw := export.PasswordSources{Getenv: func(string) string { return "" }, NetrcPath: filepath.Join(dir, "no-netrc")}

	d, err := OpenDestination(filepath.Join(dir, "new", "deeper"), DestinationOptions{}, "", nopw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening a local destination created it: %v", err)
	}
	if l, ok := d.(*export.Local); !ok || l.Dir != filepath.Join(dir, "new", "deeper") {
		t.Errorf("local destination %#v", d)
	}
	for _, bad := range []string{file, filepath.Join(file, "below")} {
		if _, err := OpenDestination(bad, DestinationOptions{}, "", nopw); err == nil {
			t.Errorf("%s accepted as a folder", bad)
		}
	}
	if _, err := OpenDestination("ftp://u@127.0.0.1/x", DestinationOptions{ImplicitTLS: true}, "pw", nopw); !errors.Is(err, ErrBadDestination) {
		t.Errorf("implicit TLS on ftp://: %v", err)
	}
	if _, err := OpenDestination("ftp://u:secret@127.0.0.1/x", DestinationOptions{}, "", nopw); !errors.Is(err, ErrBadDestination) || !errors.Is(err, export.ErrPasswordInURL) {
		t.Errorf("password in the URL: %v", err)
	}
	if _, err := OpenDestination("ftps://u@127.0.0.1/x", DestinationOptions{CAFile: file}, "pw", nopw); err == nil {
		t.Errorf("a CA file without a certificate accepted")
	}
	if _, err := OpenDestination("ftp://u@127.0.0.1/x", DestinationOptions{}, "", nopw); !errors.Is(err, export.ErrNoPassword) {
		t.Errorf("no password anywhere: %v", err)
	}
	d, err = OpenDestination("ftps://u@127.0.0.1:990/x", DestinationOptions{ImplicitTLS: true, InsecureTLS: true}, "pw", nopw)
	if err != nil {
		t.Fatal(err)
	}
	if f := d.(*export.FTP); !f.Implicit || !f.TLS.InsecureSkipVerify {
		t.Errorf("FTP options not applied: %+v", f)
	}
}

func TestExpandHome(t *testing.T) {
	t.Setenv("HOME", "/home/someone")
	for in, want := range map[string]string{"~": "/home/someone", "~/out": "/home/someone/out", "~other/x": "~other/x", "a/~/b": "a/~/b"} {
		if got, err := ExpandHome(in); err != nil || got != want {
			t.Errorf("ExpandHome(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// sourceArgs: the options that change what is read come before the
// SOURCEs, each quoted for a shell, and -- ends several SOURCEs.
func TestSourceArgs(t *testing.T) {
	for _, c := range []struct {
		s    Scan
		n    int
		want string
	}{
		{Scan{Sources: []string{"ds.img"}, Volumes: make([]VolumeInfo, 1)}, 1, "ds.img"},
		{Scan{Sources: []string{"my ds.img"}, Volumes: make([]VolumeInfo, 3), opts: Options{Tolerant: true, ProbeAll: true, Maps: map[string]string{"my ds.img": "m.map"}}}, 2,
			"--tolerant --probe-all --map m.map --volume 2 'my ds.img'"},
		{Scan{Sources: []string{"a.img", "b.img"}, RAID: "raid5:left-symmetric:64k:offset=0:a.img,b.img", Volumes: make([]VolumeInfo, 1), opts: Options{Maps: map[string]string{"b.img": "b.map"}}}, 1,
			"--raid raid5:left-symmetric:64k:offset=0:a.img,b.img --map b.img=b.map a.img b.img --"},
		{Scan{Sources: []string{"a.img"}, Volumes: make([]VolumeInfo, 1), deep: &deepscan.Sources{}, opts: Options{ScanDir: "/var/scans"}}, 1,
			"--deep --scan-dir /var/scans a.img"},
	} {
		if got := c.s.sourceArgs(c.n); got != c.want {
			t.Errorf("sourceArgs(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}
