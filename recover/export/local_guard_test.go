package export

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
)

// A local destination with a guard never writes into, replaces or removes
// a source, whatever name of the destination reaches it: a temporary file,
// the manifest, an exported file's final name.
func TestLocalGuard(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "source.img")
	// A manifest's content, so that the one linked as the manifest reads.
	precious := encodeManifest([]Entry{{Source: "old", Dest: "old", Kind: KindFile, Status: StatusFailed}})
	if err := os.WriteFile(src, precious, 0o644); err != nil {
		t.Fatal(err)
	}
	guard := writeguard.New()
	if err := guard.AddPath(src); err != nil {
		t.Fatal(err)
	}
	intact := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, writeguard.ErrSource) || !errors.Is(err, ErrDestination) {
			t.Errorf("%s: %v, want a refusal that stops the export", what, err)
		}
		if got, _ := os.ReadFile(src); !bytes.Equal(got, precious) {
			t.Fatalf("%s changed the source: %q", what, got)
		}
	}
	for _, name := range []string{"part", "renamed", "removed", ManifestName} {
		dir := t.TempDir()
		if err := os.Link(src, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		dst := &Local{Dir: dir, Guard: guard}
		c, err := dst.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		switch name {
		case "part":
			data := []byte("new data")
			intact("writing a temporary file", c.Write(ctx, name, newStream("x", bytes.NewReader(data), int64(len(data)), nil, 0, nil)))
		case "renamed":
			os.WriteFile(filepath.Join(dir, "tmp"), []byte("new"), 0o644)
			intact("renaming over it", c.Rename(ctx, "tmp", name))
			if _, err := os.Stat(filepath.Join(dir, "tmp")); err == nil {
				t.Error("the copy that may not replace a source was left behind")
			}
		case "removed":
			intact("removing it", c.Remove(ctx, name))
		case ManifestName:
			_, err := Export(ctx, fstest.MapFS{"f": {Data: []byte("x")}}, nil, dst, Options{})
			intact("writing the manifest", err)
		}
	}
	// Without a source in the way, the guard lets everything through.
	dir := t.TempDir()
	rep, err := Export(ctx, fstest.MapFS{"f": {Data: []byte("x")}}, nil, &Local{Dir: dir, Guard: guard}, Options{})
	if err != nil || rep.Exported != 1 {
		t.Fatalf("export beside the guard: %v %+v", err, rep)
	}
}
