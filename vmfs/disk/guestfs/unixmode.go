package guestfs

import "io/fs"

// UnixMode is a Unix st_mode (file type in the top four bits of 16,
// setuid, setgid, sticky and permissions below) as io/fs says it: what
// ext and XFS inodes hold.
func UnixMode(mode uint16) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch mode & 0xF000 {
	case 0x4000:
		m |= fs.ModeDir
	case 0xA000:
		m |= fs.ModeSymlink
	case 0x1000:
		m |= fs.ModeNamedPipe
	case 0xC000:
		m |= fs.ModeSocket
	case 0x2000:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case 0x6000:
		m |= fs.ModeDevice
	case 0x8000:
	default:
		// No file type (damage, or a type Linux does not have): not a
		// regular file, whose bytes a reader would be asked for.
		m |= fs.ModeIrregular
	}
	return m
}
