package session

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/export"
	"github.com/vmfsrecover/vmfsrecover/recover/writeguard"
)

// ExportOptions tune Export.
type ExportOptions struct {
	export.Options
	// SystemFiles also exports the volume's own metadata files (see
	// SystemFile) found in the selected folders.
	SystemFiles bool
	// Guests also exports, in a folder, the disks' directories
	// (NAME.vmdk@, see Volume.EnterDisks): the files inside the VMs.
	Guests bool
	// Sources are the local paths the volume is read from (SOURCE
	// arguments, their mapfiles): a local destination refuses to write
	// onto any file they read (package writeguard).
	Sources []string
}

// Export copies paths of fsys (files or folders; none means the whole
// volume) to dst, leaving out system files and the disks' directories
// unless asked for. A local
// destination folder is created here, and only here.
func Export(ctx context.Context, fsys fs.FS, paths []string, dst export.Destination, o ExportOptions) (*export.Report, error) {
	o.Exclude = func(name string, info fs.FileInfo) bool {
		return (!o.SystemFiles && SystemFile(name, info)) || (!o.Guests && GuestDiskDir(info))
	}
	if l, ok := dst.(*export.Local); ok {
		if _, err := export.NewLocal(l.Dir); err != nil {
			return nil, err
		}
		l.Guard = writeguard.ForSources(o.Sources)
	}
	return export.Export(ctx, fsys, paths, dst, o.Options)
}

// Verify reads back from dst every file of entries (an export's report or
// manifest) and compares it with its hash.
func Verify(ctx context.Context, dst export.Destination, entries []export.Entry, prog export.Progress) (*export.VerifyResult, error) {
	conn, err := dst.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return export.Verify(ctx, conn, entries, prog)
}

// ManifestPath names the manifest of an export to dst for people.
func ManifestPath(dst export.Destination) string {
	if l, ok := dst.(*export.Local); ok {
		return filepath.Join(l.Dir, export.ManifestName)
	}
	return dst.String() + "/" + export.ManifestName
}

// SplitManifest splits a manifest's location (a local path or a URL) into
// the destination it describes (its folder) and its name there.
func SplitManifest(manifest string) (root, name string, err error) {
	if !IsURL(manifest) {
		return filepath.Dir(manifest), filepath.Base(manifest), nil
	}
	i := strings.LastIndexByte(manifest, '/')
	if i < strings.Index(manifest, "://")+3 {
		return "", "", &badDestination{fmt.Errorf("--manifest %s: no file name in the URL", manifest)}
	}
	return manifest[:i], path.Clean(manifest[i+1:]), nil
}

// VerifyManifest reads the manifest at name in dst and verifies the
// destination against it. label names the manifest in errors (the path or
// URL the user gave).
func VerifyManifest(ctx context.Context, dst export.Destination, name, label string, prog export.Progress) (*export.VerifyResult, error) {
	conn, err := dst.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rc, err := conn.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("opening manifest: %w", err)
	}
	entries, err := export.ReadManifest(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return export.Verify(ctx, conn, entries, prog)
}
