// Package fsread gives random access, an io.ReaderAt, to a file of any
// io/fs.FS: the file itself when it has ReadAt (VMFS files, os.File,
// fstest.MapFS), otherwise a reader that goes forward by reading, uses Seek
// where the file has it, and opens the file again to go back where it has
// not. Export streams a file forward and preview reads a head and a tail:
// both work on any fs.FS with it, fast where the file allows.
package fsread
