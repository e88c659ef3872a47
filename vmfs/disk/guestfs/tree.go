package guestfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// Tree serves ReadDir, Stat, Lstat and ReadLink for
// a reader of a file system without symbolic links (FAT, exFAT) from its
// own directory entries of type E; the reader embeds it.
type Tree[E any] struct{ t TreeOf[E] }

// TreeOf is what a Tree asks of the reader.
type TreeOf[E any] struct {
	Type   string                           // as FS.Type, for errors
	Lookup func(op, name string) (E, error) // the entry of a path; an *fs.PathError
	IsDir  func(E) bool
	List   func(dir E) ([]E, error)           // a directory's entries, as listed
	Name   func(E) string                     // an entry's name as listed
	Info   func(e E, name string) fs.FileInfo // an entry as listed under name
}

// NewTree returns the Tree of the reader that t describes.
func NewTree[E any](t TreeOf[E]) Tree[E] { return Tree[E]{t} }

// ReadDir lists a directory.
func (t Tree[E]) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := t.t.Lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !t.t.IsDir(e) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	list, err := t.t.List(e)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(list))
	for i, x := range list {
		out[i] = fs.FileInfoToDirEntry(t.t.Info(x, t.t.Name(x)))
	}
	return out, nil
}

// Stat describes a file or directory.
func (t Tree[E]) Stat(name string) (fs.FileInfo, error) {
	e, err := t.t.Lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return t.t.Info(e, path.Base(name)), nil
}

// Lstat is Stat: the file system has no symbolic links.
func (t Tree[E]) Lstat(name string) (fs.FileInfo, error) { return t.Stat(name) }

// ReadLink fails: the file system has no symbolic links.
func (t Tree[E]) ReadLink(name string) (string, error) {
	if _, err := t.t.Lookup("readlink", name); err != nil {
		return "", err
	}
	return "", &fs.PathError{Op: "readlink", Path: name, Err: fmt.Errorf("%w: %s has no symbolic links", fs.ErrInvalid, t.t.Type)}
}
