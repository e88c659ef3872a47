package listing

import "io/fs"

// ModeString writes m as ls -l does: a type letter ('-', 'd', 'l', 'p',
// 's', 'c', 'b', '?'), then rwx for owner, group and others, with setuid
// and setgid as 's' (or 'S' without execute) in the owner's and group's
// execute place, and the sticky bit as 't' (or 'T') in the others'.
// fs.FileMode.String writes these bits as extra leading letters
// ("dtrwxr-xr-x", "Lrwxrwxrwx") that no ls user reads.
func ModeString(m fs.FileMode) string {
	b := []byte("?---------")
	switch {
	case m.IsRegular():
		b[0] = '-'
	case m&fs.ModeDir != 0:
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	const rwx = "rwx"
	for i := range 9 {
		if m&(1<<(8-i)) != 0 {
			b[1+i] = rwx[i%3]
		}
	}
	special := func(at int, set bool, lower byte) {
		if !set {
			return
		}
		if b[at] == 'x' {
			b[at] = lower
		} else {
			b[at] = lower - 'a' + 'A'
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's')
	special(6, m&fs.ModeSetgid != 0, 's')
	special(9, m&fs.ModeSticky != 0, 't')
	return string(b)
}
