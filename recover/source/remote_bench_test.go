package source_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// BenchmarkRemoteWork does the work the commands do (a deep scan of the
// whole disk, and an export of every file of the volume to a local
// directory) on the local image, over loopback NBD (qemu-nbd) and over
// loopback SFTP (sshd), in the same run, and reports remote/local ratios.
//
// Over loopback, the local image is read from the page cache at memory
// speed, so the ratios are bounded by what the link itself carries. The
// peers measure that bound in the same run: nbdcopy (Debian libnbd-bin),
// the reference NBD client, copying the export to null:, and OpenSSH's
// ssh running cat on the image; "nbd/nbdcopy" and "sftp/ssh-cat" compare
// the scan with them. deepscan-sparse scans the image with its holes, as
// an image made by ddrescue or a thin export has them: the local scan
// reads holes from the page cache, the NBD client learns them from the
// server's block status and does not fetch them. SFTP cannot learn them.
func BenchmarkRemoteWork(b *testing.B) {
	res, err := vmfstest.Write(filepath.Join(b.TempDir(), "ds.img"), vmfstest.Spec{Version: 6, Label: "bench", Files: []vmfstest.Entry{
		{Path: "vm/vm-flat.vmdk", Size: 96 << 20, Seed: 1},
		{Path: "vm/vm-1-flat.vmdk", Size: 64 << 20, Seed: 2, Fragmented: true},
		{Path: "iso/tools.iso", Size: 32 << 20, Seed: 3},
		{Path: "vm/vm.vmx", Data: []byte("displayName = \"vm\"\n")},
	}})
	if err != nil {
		b.Fatal(err)
	}
	// A real disk has no holes: a sparse image would let the servers tell
	// the client where zeros are.
	image := filepath.Join(b.TempDir(), "dense.img")
	if out, err := exec.Command("cp", "--sparse=never", res.Image, image).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v: %s", err, out)
	}
	size := res.PartitionOffset + res.VolumeSize
	if fi, err := os.Stat(image); err == nil {
		size = fi.Size()
	}
	nbdSrv := remotetest.StartQemuNBD(b, image, "raw", "")
	sparseSrv := remotetest.StartQemuNBD(b, res.Image, "raw", "")
	sshSrv := remotetest.StartSSHD(b)
	b.Setenv("HOME", b.TempDir())
	b.Setenv("SSH_AUTH_SOCK", "")
	knownHosts := sshSrv.KnownHosts(sshSrv.HostKey)
	b.Setenv(remote.EnvKnownHosts, knownHosts)
	b.Setenv(remote.EnvIdentity, sshSrv.Identity)

	open := func(spec string) source.Disk {
		d, err := source.Open(spec, source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	deepScan := func(spec string) time.Duration {
		d := open(spec)
		defer d.Close()
		start := time.Now()
		f := deepscan.New(spec, "", d.Size())
		if err := deepscan.Scan(context.Background(), d, f, deepscan.Options{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	peer := func(name string, args ...string) func() time.Duration {
		if _, ok := testenv.LookTool(b, name); !ok {
			return nil
		}
		return func() time.Duration {
			start := time.Now()
			if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
				b.Fatalf("%s: %v: %s", name, err, out)
			}
			return time.Since(start)
		}
	}
	var sshCat func() time.Duration
	if _, ok := testenv.LookTool(b, "ssh"); ok {
		sshCat = peer("sh", "-c", fmt.Sprintf("ssh -q -p %d -i %s -o BatchMode=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o Ciphers=aes128-gcm@openssh.com %s@127.0.0.1 cat %s >/dev/null",
			sshSrv.Port, sshSrv.Identity, knownHosts, sshSrv.User, image))
	}
	work := []struct {
		name string
		run  func() time.Duration
	}{
		{"local", func() time.Duration { return deepScan(image) }},
		{"nbd", func() time.Duration { return deepScan(nbdSrv.URL("")) }},
		{"sftp", func() time.Duration { return deepScan(sshSrv.URL(image)) }},
		{"nbdcopy", peer("nbdcopy", nbdSrv.URL(""), "null:")},
		{"ssh-cat", sshCat},
	}

	b.Run("deepscan", func(b *testing.B) {
		times := make([]time.Duration, len(work))
		for b.Loop() {
			for i, w := range work {
				if w.run != nil {
					times[i] += w.run()
				}
			}
		}
		for i, w := range work {
			if times[i] > 0 {
				b.ReportMetric(float64(size)*float64(b.N)/times[i].Seconds()/1e6, w.name+"-MB/s")
			}
		}
		ratio := func(name string, fast, slow int) {
			if times[fast] > 0 && times[slow] > 0 {
				b.ReportMetric(times[fast].Seconds()/times[slow].Seconds(), name)
			}
		}
		ratio("nbd/local", 0, 1)
		ratio("sftp/local", 0, 2)
		ratio("nbd/nbdcopy", 3, 1)
		ratio("sftp/ssh-cat", 4, 2)
	})

	b.Run("deepscan-sparse", func(b *testing.B) {
		times := make([]time.Duration, 3)
		for b.Loop() {
			for i, spec := range []string{res.Image, sparseSrv.URL(""), sshSrv.URL(res.Image)} {
				times[i] += deepScan(spec)
			}
		}
		report(b, []string{"local", "nbd", "sftp"}, times, size)
	})

	specs := []string{image, nbdSrv.URL(""), sshSrv.URL(image)}
	names := []string{"local", "nbd", "sftp"}
	b.Run("export", func(b *testing.B) {
		times := make([]time.Duration, len(specs))
		for b.Loop() {
			for i, spec := range specs {
				d := open(spec)
				start := time.Now()
				cands, _, err := vmfs.Find(d, d.Size(), vmfs.FindOptions{})
				if err != nil || len(cands) != 1 {
					b.Fatalf("%s: Find = %d volumes, %v", names[i], len(cands), err)
				}
				vol, err := vmfs.Open([]vmfs.Device{io.NewSectionReader(d, cands[0].Offset, cands[0].Size)}, vmfs.Options{})
				if err != nil {
					b.Fatal(err)
				}
				dst, err := export.NewLocal(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				rep, err := export.Export(context.Background(), vol, []string{"vm", "iso"}, dst, export.Options{})
				if err != nil || rep.Exported != 4 {
					b.Fatalf("%s: export: %+v, %v", names[i], rep, err)
				}
				times[i] += time.Since(start)
				d.Close()
			}
		}
		report(b, names, times, 192<<20)
	})
}

func report(b *testing.B, names []string, times []time.Duration, bytes int64) {
	for i, name := range names {
		b.ReportMetric(float64(bytes)*float64(b.N)/times[i].Seconds()/1e6, name+"-MB/s")
		if i > 0 {
			b.ReportMetric(times[0].Seconds()/times[i].Seconds(), name+"/local")
		}
	}
}
