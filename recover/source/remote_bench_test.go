package source_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/recover/source/remote"
	"github.com/vmfsrecover/vmfsrecover/recover/source/remote/remotetest"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// BenchmarkRemoteWork does the work the commands do (a deep scan of the
// whole disk, and an export of every file of the volume to a local
// directory) on the local image, over loopback NBD (qemu-nbd) and over
// loopback SFTP (sshd), in the same run, and reports remote/local ratios.
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
	// A real disk has no holes: a sparse image would let the local scan
	// skip them (SEEK_DATA) and qemu-nbd send them as holes.
	image := filepath.Join(b.TempDir(), "dense.img")
	if out, err := exec.Command("cp", "--sparse=never", res.Image, image).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v: %s", err, out)
	}
	size := res.PartitionOffset + res.VolumeSize
	if fi, err := os.Stat(image); err == nil {
		size = fi.Size()
	}
	nbdSrv := remotetest.StartQemuNBD(b, image, "raw", "")
	sshSrv := remotetest.StartSSHD(b)
	b.Setenv("HOME", b.TempDir())
	b.Setenv("SSH_AUTH_SOCK", "")
	b.Setenv(remote.EnvKnownHosts, sshSrv.KnownHosts(sshSrv.HostKey))
	b.Setenv(remote.EnvIdentity, sshSrv.Identity)

	specs := []string{image, nbdSrv.URL(""), sshSrv.URL(image)}
	names := []string{"local", "nbd", "sftp"}
	open := func(spec string) source.Disk {
		d, err := source.Open(spec, source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return d
	}

	b.Run("deepscan", func(b *testing.B) {
		times := make([]time.Duration, len(specs))
		for b.Loop() {
			for i, spec := range specs {
				d := open(spec)
				start := time.Now()
				f := deepscan.New(spec, "", d.Size())
				if err := deepscan.Scan(context.Background(), d, f, deepscan.Options{}); err != nil {
					b.Fatal(err)
				}
				times[i] += time.Since(start)
				d.Close()
			}
		}
		report(b, names, times, size)
	})

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
