package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/faultfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/mapfile"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/remote/remotetest"
)

// TestImageInterruptedAndResumed images a disk with unreadable sectors
// (real EIO through FUSE), interrupts it, resumes it with the same
// command, and checks the image and the mapfile: exactly the bad sectors
// lost, GNU ddrescuelog agreeing.
func TestImageInterruptedAndResumed(t *testing.T) {
	ddrescuelog := testenv.Tool(t, "ddrescuelog")
	if err := faultfs.Available(); err != nil {
		testenv.Lacks(t, "%v", err)
	}
	data := make([]byte, 6<<20)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	var bad allocmap.Map
	for _, s := range []int64{10, 4096, 4097, 9000} {
		bad = bad.Add(allocmap.Range{Off: s * 512, Len: 512})
	}
	// The disk's server (a child process) signals after its third read
	// and holds that read while the rescue is cancelled: the user
	// pressing Ctrl-C in the middle of it.
	d, err := faultfs.Start(t.TempDir(), data, bad, faultfs.Options{SignalAfter: 3})
	if err != nil {
		testenv.Lacks(t, "%v", err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}()
	dir := t.TempDir()
	img, mapPath := filepath.Join(dir, "disk.img"), filepath.Join(dir, "disk.map")
	o := &imageOptions{globalOptions: &globalOptions{quiet: true}, output: img, mapPath: mapPath}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.Signalled:
			cancel()
		case <-ctx.Done():
		}
	}()
	err = runImage(ctx, o, d.Path, io.Discard)
	if !errors.Is(err, context.Canceled) || exitCode(err) != exitInterrupted {
		t.Fatalf("interrupted image: %v (exit %d)", err, exitCode(err))
	}
	m, _, err := loadMap(mapPath, int64(len(data)))
	if err != nil {
		t.Fatalf("no mapfile saved on interruption: %v", err)
	}
	if m.Lost().Total() == bad.Total() {
		t.Fatal("the interruption came after the whole disk was read")
	}

	// An existing image without its mapfile is never written over.
	o2 := *o
	o2.mapPath = filepath.Join(dir, "other.map")
	if err := runImage(context.Background(), &o2, d.Path, io.Discard); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "exists") {
		t.Errorf("image over an existing FILE without its map: %v", err)
	}

	var out bytes.Buffer
	err = runImage(context.Background(), o, d.Path, &out)
	if exitCode(err) != exitPartial {
		t.Fatalf("resumed image: %v (exit %d), want exit 3 for the bad sectors", err, exitCode(err))
	}
	got, _ := os.ReadFile(img)
	want := bytes.Clone(data)
	for _, r := range bad {
		clear(want[r.Off:r.End()])
	}
	if !bytes.Equal(got, want) {
		t.Error("the image differs from the disk outside the bad sectors")
	}
	list, err := exec.Command(ddrescuelog, "-b512", "--list-blocks=-", mapPath).Output()
	if err != nil {
		t.Fatalf("ddrescuelog rejects the mapfile: %v", err)
	}
	if got := strings.Join(strings.Fields(string(list)), " "); got != "10 4096 4097 9000" {
		t.Errorf("bad sectors in the mapfile: %s", got)
	}
}

// TestImageRefusesToWriteOverItsSource: the image or the map given as the
// source itself (here through a symbolic link) is refused before anything
// is written.
func TestImageRefusesToWriteOverItsSource(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, bytes.Repeat([]byte{7}, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*imageOptions{
		{output: link, mapPath: filepath.Join(dir, "map")},
		{output: filepath.Join(dir, "img"), mapPath: link},
	} {
		o.globalOptions = &globalOptions{quiet: true}
		err := runImage(context.Background(), o, src, io.Discard)
		if !errors.Is(err, writeguard.ErrSource) {
			t.Errorf("image -o %s --map %s: %v, want a refusal", o.output, o.mapPath, err)
		}
	}
	if b, _ := os.ReadFile(src); !bytes.Equal(b, bytes.Repeat([]byte{7}, 1<<20)) {
		t.Fatal("the source was written")
	}
}

// TestImageOverNBDResumesAfterTheLinkDrops images an nbd:// source whose
// server goes away in the middle: image stops with the link down (not with
// sectors marked bad), and the same command, once the server is back,
// finishes the image exactly.
func TestImageOverNBDResumesAfterTheLinkDrops(t *testing.T) {
	data := make([]byte, 8<<20)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Every read takes 100 ms, so the rescue is still running when the
	// server stops.
	srv := remotetest.StartNBDKitWith(t, raw, []string{"--filter=delay"}, []string{"delay-read=100ms"})
	t.Setenv(remote.EnvRetryFor, "1s")
	img, mapPath := filepath.Join(dir, "disk.img"), filepath.Join(dir, "disk.map")
	o := &imageOptions{globalOptions: &globalOptions{quiet: true}, output: img, mapPath: mapPath}
	stopped := make(chan struct{})
	go func() { time.Sleep(300 * time.Millisecond); srv.Stop(); close(stopped) }()
	err := runImage(context.Background(), o, srv.URL(""), io.Discard)
	<-stopped
	if err == nil {
		t.Fatal("the image finished although the server stopped")
	}
	if !errors.Is(err, remote.ErrLinkDown) || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("image with the server gone: %v", err)
	}
	if m, _, lerr := loadMap(mapPath, int64(len(data))); lerr == nil && m.Total(mapfile.BadSector) > 0 {
		t.Fatalf("the dropped link marked %d bytes bad", m.Total(mapfile.BadSector))
	}
	srv.Start()
	if err := runImage(context.Background(), o, srv.URL(""), io.Discard); err != nil {
		t.Fatalf("resumed image: %v", err)
	}
	if got, _ := os.ReadFile(img); !bytes.Equal(got, data) {
		t.Error("the resumed image differs from the disk")
	}
}
