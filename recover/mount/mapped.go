package mount

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// mappings are the read-only memory maps of the local files (images) that
// files' bytes lie in as they are (disk.Backed), one per file for the
// life of the mount. A read of such bytes is answered with the mapped
// bytes themselves: the kernel copies them from its page cache of the
// image into the reader's buffer, where a copy through a buffer of the
// server would cost a second pass over every byte. An error reading the
// image under the map (a bad sector) fails the reply's write with EFAULT,
// which the kernel hands the reader as EIO, as a failed ReadAt would be.
type mappings struct {
	mu     sync.Mutex
	byFile map[*os.File][]byte // nil: not mappable (not a regular file, or mmap failed)
}

// of returns f mapped whole, or nil when it cannot be.
func (m *mappings) of(f *os.File) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.byFile[f]; ok {
		return b
	}
	if m.byFile == nil {
		m.byFile = map[*os.File][]byte{}
	}
	var b []byte
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > 0 && int64(int(st.Size())) == st.Size() {
		b, err = unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			b = nil
		}
	}
	m.byFile[f] = b
	return b
}

// unmapAll releases the maps once nothing replies from them any more.
func (m *mappings) unmapAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for f, b := range m.byFile {
		if b != nil {
			unix.Munmap(b)
		}
		delete(m.byFile, f)
	}
}
