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
// Write would), in the kernel: copy_file_range(2) when dst is a regular
// file (on XFS and Btrfs it can share the blocks), sendfile(2) to anything
// else (a pipe, /dev/null, a socket). src's offset is not used or moved,
// so src may be read at offsets by others meanwhile. It returns how many
// bytes it moved; an error means it stopped before n, and the error wraps
// errors.ErrUnsupported when the kernel will not copy between these two
// files at all, so that the caller need not ask again.
func Copy(dst, src *os.File, off, n int64) (int64, error) {
	info, err := dst.Stat()
	if err != nil {
		return 0, err
	}
	in, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	out, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	regular := info.Mode().IsRegular()
	var done int64
	var copyErr error
	step := func(dfd, sfd int) (again bool) {
		for done < n {
			want := int(min(n-done, maxCall))
			var k int
			var err error
			if regular {
				k, err = unix.CopyFileRange(sfd, &off, dfd, nil, want, 0)
				if done == 0 && refused(err) {
					regular = false // sendfile(2) may still do it
					continue
				}
			} else {
				k, err = unix.Sendfile(dfd, sfd, &off, want)
			}
			switch {
			case err == syscall.EAGAIN:
				return true // dst is not ready: the poller waits for it
			case err == syscall.EINTR:
				continue
			case err != nil && done == 0 && refused(err):
				copyErr = os.NewSyscallError(call(regular), errors.Join(errors.ErrUnsupported, err))
				return false
			case err != nil:
				copyErr = os.NewSyscallError(call(regular), err)
				return false
			case k == 0:
				copyErr = io.ErrUnexpectedEOF // src ends before off+n
				return false
			}
			done += int64(k)
		}
		return false
	}
	var connErr error
	err = in.Read(func(sfd uintptr) bool {
		connErr = out.Write(func(dfd uintptr) bool { return !step(int(dfd), int(sfd)) })
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

func call(regular bool) string {
	if regular {
		return "copy_file_range"
	}
	return "sendfile"
}
