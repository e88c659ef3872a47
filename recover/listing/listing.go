// Package listing walks an io/fs.FS (a VMFS volume, or deep-scan findings)
// and describes each entry: the view behind `ls`, the expected-listing
// format of the test volumes, and the hashes a manifest records.
package listing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"
)

// Entry describes one file, directory or link.
type Entry struct {
	Path   string    `json:"path"` // absolute inside the volume: "/dir/file"
	Type   string    `json:"type"` // file, dir, symlink, other
	Size   int64     `json:"size"`
	Mode   string    `json:"mode"`
	MTime  time.Time `json:"mtime"`
	Target string    `json:"target,omitempty"` // symlinks
	SHA256 string    `json:"sha256,omitempty"` // files, when asked
	Attrs  any       `json:"vmfs,omitempty"`   // FileInfo.Sys(), e.g. *vmfs.Attributes
	// Inside a virtual disk (package guest): the layer the entry lies in
	// (partition, logical volume, file system), its state (live or
	// deleted), and what the file system's reader says of it.
	Layer string      `json:"layer,omitempty"`
	State string      `json:"state,omitempty"`
	Guest any         `json:"guest,omitempty"`
	Info  fs.FileInfo `json:"-"`
}

// Layered is the FileInfo.Sys() of an entry inside a virtual disk.
type Layered interface {
	LayerState() (layer, state string)
}

// Options tune Walk.
type Options struct {
	Recursive bool
	Hash      bool // compute SHA-256 of every regular file
}

// Walk describes name (a file, or a directory's entries) and calls fn for
// each entry in path order. A directory that cannot be read is reported
// through fn's err argument and the walk goes on.
func Walk(ctx context.Context, fsys fs.FS, name string, opts Options, fn func(e Entry, err error) error) error {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		e, err := Describe(fsys, name, opts.Hash)
		return fn(e, err)
	}
	return fs.WalkDir(fsys, name, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			return fn(Entry{Path: abs(p)}, err)
		}
		if p == name {
			return nil
		}
		// The entry's own FileInfo spares a lookup of its path: in a guest
		// file system one that reads every directory on the way.
		var e Entry
		if info, ierr := d.Info(); ierr == nil {
			e, err = describe(fsys, p, info, opts.Hash)
		} else {
			e, err = Describe(fsys, p, opts.Hash)
		}
		if ferr := fn(e, err); ferr != nil {
			return ferr
		}
		if d.IsDir() && !opts.Recursive {
			return fs.SkipDir
		}
		return nil
	})
}

// Describe builds the Entry of one path, without following a final link.
func Describe(fsys fs.FS, p string, hash bool) (Entry, error) {
	info, err := lstat(fsys, p)
	if err != nil {
		return Entry{Path: abs(p)}, err
	}
	return describe(fsys, p, info, hash)
}

// describe builds the Entry of path p, whose Lstat is info.
func describe(fsys fs.FS, p string, info fs.FileInfo, hash bool) (Entry, error) {
	var err error
	e := Entry{Path: abs(p), Size: info.Size(), Mode: ModeString(info.Mode()), MTime: info.ModTime(), Attrs: info.Sys(), Info: info}
	if l, ok := e.Attrs.(Layered); ok {
		e.Layer, e.State = l.LayerState()
		e.Guest, e.Attrs = e.Attrs, nil
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		e.Type = "symlink"
		e.Target, err = fs.ReadLink(fsys, p)
	case info.IsDir():
		e.Type = "dir"
	case info.Mode().IsRegular():
		e.Type = "file"
		if hash {
			e.SHA256, err = HashFile(fsys, p)
		}
	default:
		e.Type = "other"
	}
	return e, err
}

func lstat(fsys fs.FS, p string) (fs.FileInfo, error) {
	if l, ok := fsys.(fs.ReadLinkFS); ok {
		return l.Lstat(p)
	}
	return fs.Stat(fsys, p)
}

// HashFile returns the hex SHA-256 of a file's content.
func HashFile(fsys fs.FS, p string) (string, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Expected renders e as one line of the test volumes' expected listings:
// "<f|d|l> <size> <sha256|-|target> <path>".
func (e Entry) Expected() string {
	switch e.Type {
	case "dir":
		return fmt.Sprintf("d %d - %s", e.Size, e.Path)
	case "symlink":
		return fmt.Sprintf("l %d %s %s", e.Size, e.Target, e.Path)
	}
	return fmt.Sprintf("f %d %s %s", e.Size, e.SHA256, e.Path)
}

func abs(p string) string {
	switch {
	case p == ".":
		return "/"
	case fs.ValidPath(p): // clean already: what a walk gives, every entry
		return "/" + p
	}
	return path.Join("/", p)
}
