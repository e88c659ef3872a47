package zerocopy

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A Dest is a writer whose bytes go to an *os.File, which a copy may
// write in the kernel instead of calling Write. OutputFile returns nil
// when the bytes must go through Write after all (a writer that stops a
// copy once its context is done checks that in Write).
type Dest interface {
	io.Writer
	OutputFile() *os.File
}

// Target returns the file that w's bytes can be written to in the kernel:
// w itself if it is an *os.File, what a Dest names, or nil.
func Target(w io.Writer) *os.File {
	switch d := w.(type) {
	case *os.File:
		return d
	case Dest:
		return d.OutputFile()
	}
	return nil
}

// maxCall is the most one system call is asked to move: sendfile(2) moves
// at most 0x7ffff000 bytes a call.
const maxCall = 1 << 30

// Copy writes the n bytes of src at off to dst, at dst's own offset (as
// Write would), in the kernel: copy_file_range(2) between regular files
// (on XFS and Btrfs it can share the blocks), sendfile(2) where that is
// refused (a pipe, /dev/null, a socket, a block device source). src's
// offset is not used or moved, so src may be read at offsets by others
// meanwhile. It returns how many bytes it moved; an error means it
// stopped before n, and the error wraps errors.ErrUnsupported when the
// kernel will not copy between these two files at all, so that the
// caller need not ask again.
func Copy(dst, src *os.File, off, n int64) (int64, error) {
	in, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	out, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	call := "copy_file_range"
	var done int64
	var copyErr error
	// step copies until done or an error (true), or until dst cannot
	// take more for now (false: the poller waits for it).
	step := func(dfd, sfd int) bool {
		for done < n {
			want := int(min(n-done, maxCall))
			var k int
			var err error
			if call == "copy_file_range" {
				k, err = unix.CopyFileRange(sfd, &off, dfd, nil, want, 0)
				if done == 0 && refused(err) {
					call = "sendfile" // it may still do it
					continue
				}
			} else {
				k, err = unix.Sendfile(dfd, sfd, &off, want)
			}
			switch {
			case err == syscall.EAGAIN:
				return false
			case err == syscall.EINTR:
				continue
			case err != nil && done == 0 && refused(err):
				copyErr = os.NewSyscallError(call, errors.Join(errors.ErrUnsupported, err))
				return true
			case err != nil:
				copyErr = os.NewSyscallError(call, err)
				return true
			case k == 0:
				copyErr = io.ErrUnexpectedEOF // src ends before off+n
				return true
			}
			done += int64(k)
		}
		return true
	}
	var connErr error
	err = in.Read(func(sfd uintptr) bool {
		connErr = out.Write(func(dfd uintptr) bool { return step(int(dfd), int(sfd)) })
		return true
	})
	return done, errors.Join(copyErr, connErr, err)
}

// refused reports whether err is the kernel declining to copy between
// two files (their kinds, file systems or open flags), not a failure of
// either.
func refused(err error) bool {
	switch err {
	case syscall.EINVAL, syscall.ENOSYS, syscall.EXDEV, syscall.EOPNOTSUPP, syscall.EBADF:
		return true
	}
	return false
}
