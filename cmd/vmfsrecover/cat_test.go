package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/internal/testenv"
	"github.com/vmfsrecover/vmfsrecover/internal/zerocopy"
	"github.com/vmfsrecover/vmfsrecover/vmfs/vmfstest"
)

// TestCatToFile: cat to an output file (where a VMFS file's runs are
// copied in the kernel) writes what cat to a buffer does, whole and as a
// byte range.
func TestCatToFile(t *testing.T) {
	res := genVolume(t, 5)
	g := &globalOptions{quiet: true}
	args := []string{res.Image, "/vm1/disk-flat.vmdk"}
	var want bytes.Buffer
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, args, &want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := runCat(context.Background(), g, &volumeFlags{}, byteRange{}, args, out); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("cat to a file: %d bytes (%v), differing from cat to a buffer's %d", len(got), err, want.Len())
	}

	// A byte range (--offset, --length) too.
	if err := out.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rng := byteRange{offset: 1<<20 - 7, length: 1<<20 + 9}
	if err := runCat(context.Background(), g, &volumeFlags{}, rng, args, out); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want.Bytes()[rng.offset:rng.offset+rng.length]) {
		t.Fatalf("cat --offset %d --length %d to a file: %d bytes (%v), differing from the file's bytes there", rng.offset, rng.length, len(got), err)
	}

	// Once the context is done, ctxWriter names no file to copy to in
	// the kernel, so the copy meets Write's error.
	ctx, cancel := context.WithCancel(context.Background())
	w := ctxWriter{ctx, out}
	if zerocopy.Target(w) != out {
		t.Fatal("ctxWriter with a live context does not name its file")
	}
	cancel()
	if zerocopy.Target(w) != nil {
		t.Fatal("ctxWriter names its file after its context was cancelled")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel: %v, want context.Canceled", err)
	}
}

// TestCatSharesBlocksOnXFS: cat of a file of a volume image on XFS to a
// file on the same XFS shares the image's blocks (copy_file_range(2)
// reflinks them) instead of writing them again; filefrag says "shared".
func TestCatSharesBlocksOnXFS(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.xfs")
	filefrag := testenv.Tool(t, "filefrag")
	fsImg := filepath.Join(t.TempDir(), "xfs.img")
	if err := os.WriteFile(fsImg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(fsImg, 512<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", fsImg).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v\n%s", err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop", fsImg, mnt).CombinedOutput(); err != nil {
		testenv.Lacks(t, "cannot loop-mount an XFS image here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	res, err := vmfstest.Write(filepath.Join(mnt, "ds.img"), vmfstest.Spec{Version: 6, Label: "reflink", Files: []vmfstest.Entry{
		{Path: "vm1/disk-flat.vmdk", Size: 64 << 20, Seed: 6},
	}})
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(mnt, "copy")
	out, err := os.Create(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := runCat(context.Background(), &globalOptions{quiet: true}, &volumeFlags{}, byteRange{}, []string{res.Image, "/vm1/disk-flat.vmdk"}, out); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := runCat(context.Background(), &globalOptions{quiet: true}, &volumeFlags{}, byteRange{}, []string{res.Image, "/vm1/disk-flat.vmdk"}, &want); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(copyPath); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the copy on XFS: %d bytes (%v), differing from the file's %d", len(got), err, want.Len())
	}
	frag, err := exec.Command(filefrag, "-v", copyPath).CombinedOutput()
	if err != nil {
		t.Fatalf("filefrag: %v\n%s", err, frag)
	}
	if !strings.Contains(string(frag), "shared") {
		t.Fatalf("the copy's extents are not shared with the image:\n%s", frag)
	}
}
