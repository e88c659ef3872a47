package disk_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/disktest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

// cached is a disk read through a page cache of its own, as a metadata
// reader or a slow disk would be.
type cached struct {
	*blockcache.Reader
	d disk.Disk
}

func (c cached) Close() error { c.Reader.Close(); return c.d.Close() }

// Every way Open reads a disk (a local file, a file on an SSH host, an
// NBD export), and a page cache over one, passes the Disk conformance
// suite on the same image.
func TestDisksConform(t *testing.T) {
	want := disktest.Image(9<<20 + 512) // not a whole number of cache pages
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, want, 0o444); err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T, spec string, ro *remote.Options) disk.Disk {
		d, err := disk.Open(spec, disk.Options{Remote: ro})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	t.Run("local", func(t *testing.T) { disktest.Check(t, open(t, img, nil), want) })
	t.Run("cache", func(t *testing.T) {
		d := open(t, img, nil)
		disktest.Check(t, cached{blockcache.New(d, d.Size(), 64<<10, 1<<20, blockcache.Options{Name: img, Bypass: 1 << 20}), d}, want)
	})
	t.Run("nbd", func(t *testing.T) {
		srv := remotetest.StartQemuNBD(t, img, "raw", "")
		disktest.Check(t, open(t, srv.URL(""), &remote.Options{}), want)
	})
	t.Run("ssh", func(t *testing.T) {
		srv := remotetest.StartSSHD(t)
		ro := &remote.Options{KnownHosts: srv.KnownHosts(srv.HostKey), Identities: []string{srv.Identity}, NoAgent: true}
		d := open(t, srv.URL(img), ro)
		if _, ok := d.(disk.Transferrer); !ok {
			t.Errorf("a disk on an SSH host does not count what crossed the link (%T)", d)
		}
		disktest.Check(t, d, want)
	})
}
