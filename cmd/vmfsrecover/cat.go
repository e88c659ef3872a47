package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/vmfsrecover/vmfsrecover/internal/zerocopy"
)

// byteRange is the part of a file or disk a command writes; the zero value
// is all of it.
type byteRange struct{ offset, length int64 }

func (b *byteRange) addFlags(cmd *cobra.Command, of string) {
	cmd.Flags().Int64Var(&b.offset, "offset", 0, "first byte of the "+of+" to write")
	cmd.Flags().Int64Var(&b.length, "length", 0, "bytes to write from --offset (0: to the end)")
}

// section returns the range of r, of size bytes, that b names.
func (b byteRange) section(r io.ReaderAt, size int64) (*io.SectionReader, error) {
	n, err := b.within(size)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(r, b.offset, n), nil
}

// within returns the length of the range b names in size bytes, or an
// exitUsage error when the range is not inside them.
func (b byteRange) within(size int64) (int64, error) {
	n := b.length
	if n == 0 {
		n = size - b.offset
	}
	if b.offset < 0 || n <= 0 || b.offset > size-n {
		if b.length == 0 {
			return 0, withExitCode(exitUsage, fmt.Errorf("--offset %d: outside the %d bytes", b.offset, size))
		}
		return 0, withExitCode(exitUsage, fmt.Errorf("--offset %d --length %d: outside the %d bytes", b.offset, b.length, size))
	}
	return n, nil
}

func newCatCmd(g *globalOptions) *cobra.Command {
	var rng byteRange
	var vol volumeFlags
	cmd := &cobra.Command{
		Use:   "cat SOURCE PATH [--offset N --length N]",
		Short: "Write a file of a VMFS volume to standard output",
		Long: `cat writes the content of PATH, a file on the VMFS volume found on SOURCE,
to standard output. Holes and lazily zeroed blocks read as zeros.
--offset and --length write only that byte range of the file: one guest file
system of a -flat.vmdk, as 'stat --search' places them.

` + fmt.Sprintf(sourcesHelp, "cat lun1.img lun2.img -- /vm1/vm1.vmx") + `

` + exitCodesHelp,
		Example: `  vmfsrecover cat datastore.img /vm1/vm1.vmx
  vmfsrecover cat disk1.img disk2.img -- /vm1/vm1-flat.vmdk > vm1-flat.vmdk
  vmfsrecover cat ds.img /vm1/vm1-flat.vmdk --offset 1048576 --length 1073741824 > part1.img`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCat(cmd.Context(), g, &vol, rng, argsWithDash(cmd, args), cmd.OutOrStdout())
		},
	}
	rng.addFlags(cmd, "file")
	addVolumeFlags(cmd, &vol)
	return cmd
}

func runCat(ctx context.Context, g *globalOptions, vf *volumeFlags, rng byteRange, args []string, out io.Writer) (err error) {
	a, err := splitSources("cat", args, 1, 1)
	if err != nil {
		return err
	}
	paths := a.paths
	vol, closer, err := openFS(ctx, g, vf, a.sources)
	if err != nil {
		return a.explain(err)
	}
	defer closeWith(&err, closer)
	f, err := vol.Open(paths[0])
	if err != nil {
		return a.explain(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.IsDir() {
		return &fs.PathError{Op: "cat", Path: "/" + paths[0], Err: fmt.Errorf("is a directory")}
	}
	offset, size := int64(0), info.Size()
	if rng != (byteRange{}) {
		if _, ok := f.(io.ReaderAt); !ok {
			return withExitCode(exitUsage, fmt.Errorf("/%s: --offset and --length need a file read at offsets", paths[0]))
		}
		if size, err = rng.within(size); err != nil {
			return err
		}
		offset = rng.offset
	}
	// A VMFS file writes whole runs of blocks (WriteRange), in the kernel
	// where it can (ctxWriter names out's file to it); a file read at
	// offsets (a guest file's) is read a MiB ahead of the writes; any other
	// reader is copied 1 MiB at a time. ctxWriter hides out's ReadFrom (an
	// *os.File's reads 32 KiB at a time).
	w := ctxWriter{ctx, out}
	if rw, ok := f.(rangeWriter); ok {
		_, err = rw.WriteRange(w, offset, size)
		return err
	}
	if _, ok := f.(io.WriterTo); !ok || rng != (byteRange{}) {
		if ra, ok := f.(io.ReaderAt); ok {
			_, err = copyAhead(w, io.NewSectionReader(ra, offset, size), size)
			return err
		}
	}
	_, err = io.CopyBuffer(w, f, make([]byte, 1<<20))
	return err
}

// rangeWriter is a file that writes a byte range of itself to a writer
// (a VMFS file: vmfs.File.WriteRange).
type rangeWriter interface {
	WriteRange(w io.Writer, off, n int64) (int64, error)
}

// copyAhead writes the n bytes of r to w, reading the next MiB while the
// last one is written, so that a file read through several layers (a
// guest file system in a VMDK on a volume) costs what the slower of
// reading and writing does, not their sum.
func copyAhead(w io.Writer, r io.ReaderAt, n int64) (int64, error) {
	const chunk, depth = 1 << 20, 3
	type piece struct {
		b   []byte
		err error
	}
	free := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, chunk)
	}
	full := make(chan piece, depth)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(full)
		for off := int64(0); off < n; {
			var b []byte
			select {
			case b = <-free:
			case <-done:
				return
			}
			b = b[:min(chunk, n-off)]
			k, err := r.ReadAt(b, off)
			if k == len(b) {
				err = nil
			} else if err == nil || err == io.EOF {
				err = fmt.Errorf("short read at byte %d: %w", off+int64(k), io.ErrUnexpectedEOF)
			}
			select {
			case full <- piece{b[:k], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
			off += int64(k)
		}
	}()
	var written int64
	for p := range full {
		m, err := w.Write(p.b)
		written += int64(m)
		if err == nil {
			err = p.err
		}
		if err != nil {
			return written, err
		}
		free <- p.b[:cap(p.b)]
	}
	return written, nil
}

// ctxWriter stops a long copy when the context is cancelled. It is a
// zerocopy.Dest: a VMFS file's WriteRange may copy in the kernel to the file
// w writes to (standard output) until the context is done, and after that
// meets Write's error.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (c ctxWriter) OutputFile() *os.File {
	if c.ctx.Err() != nil {
		return nil
	}
	return zerocopy.Target(c.w)
}
