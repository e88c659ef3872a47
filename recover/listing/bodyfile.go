package listing

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// A body file (The Sleuth Kit, format 3.x) has one line per entry, the
// input of mactime for a timeline:
//
//	MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime
//
// MD5 is 0 when not computed; times are seconds since 1970 UTC, 0 when
// unknown; mode_as_string is the type letter from the name, a slash, then
// ls's mode string whose first letter is the metadata's type ('r' for a
// regular file where ls writes '-'): "r/rrw-r--r--", "d/drwxr-xr-x". The
// name of a link ends in " -> target", and that of a file no directory
// names any more in " (deleted)", as TSK's fls -m writes them; the deep
// scan's other finds say " (orphan)" or " (carved)". TSK replaces control
// characters in names with '^'; a '|' would split the line where mactime
// does not expect it, so it becomes '^' too.

// provenancer is implemented by deep-scan findings (deepscan.Finding).
type provenancer interface{ Provenance() string }

// Metadata is what a file system records of an entry beyond fs.FileInfo:
// *vmfs.Attributes implements it (the descriptor's address, owner and
// times), and so does a deep-scan finding through the descriptor it was
// rebuilt from (zeros for a carved file, which has none), and an entry
// inside a virtual disk (guest.Info: the inode, MFT record or cluster).
type Metadata interface {
	Inode() uint64
	Owner() (uid, gid uint32)
	Times() (atime, mtime, ctime time.Time)
}

// Bodyfile returns e as a body-file line, without the newline.
func (e Entry) Bodyfile() string {
	var inode uint64
	var uid, gid uint32
	var atime, ctime time.Time
	mtime := e.MTime
	attrs := e.Attrs
	if attrs == nil {
		attrs = e.Guest
	}
	if m, ok := attrs.(Metadata); ok {
		inode = m.Inode()
		uid, gid = m.Owner()
		if a, mt, c := m.Times(); !a.IsZero() || !mt.IsZero() || !c.IsZero() {
			atime, mtime, ctime = a, mt, c
		}
	}
	name := bodyName(e.Path)
	if e.Target != "" {
		name += " -> " + bodyName(e.Target)
	}
	if p, ok := attrs.(provenancer); ok {
		switch k := p.Provenance(); k {
		case "deleted", "orphan", "carved":
			name += " (" + k + ")"
		}
	}
	return fmt.Sprintf("0|%s|%d|%s|%d|%d|%d|%d|%d|%d|0", name, inode, bodyMode(e), uid, gid, e.Size,
		unixOrZero(atime), unixOrZero(mtime), unixOrZero(ctime))
}

func bodyName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '|' {
			return '^'
		}
		return r
	}, s)
}

// bodyMode is TSK's mode_as_string: the name's type letter, '/', and the
// ls mode with the metadata's type letter.
func bodyMode(e Entry) string {
	var m fs.FileMode
	if e.Info != nil {
		m = e.Info.Mode()
	}
	ls := []byte(ModeString(m))
	switch ls[0] {
	case '-':
		ls[0] = 'r'
	case '?':
		ls[0] = '-'
	}
	return string(ls[0]) + "/" + string(ls)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return t.Unix()
}
