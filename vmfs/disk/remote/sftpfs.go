package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// FS is the file tree of an SSH host, read over SFTP: an fs.FS (with
// StatFS and ReadDirFS) whose files implement io.ReaderAt and io.Seeker.
// Names are paths from the host's root without the leading slash
// ("dev/sdb", "vmfs/volumes/ds1/vm/vm.vmdk"). It is safe for concurrent
// use; a dropped connection is re-established and open files carry on.
type FS struct {
	t      Target
	opts   Options
	dialer *sshDialer
	pool   *blockcache.Pool

	mu       sync.Mutex // guards the connection; held while re-dialling
	sc       *ssh.Client
	lanes    []*sftp.Client // SFTP sessions on sc
	nextLane atomic.Uint32
	gen      int
	dead     chan struct{} // closed when the current connection ends
	closed   atomic.Bool
	link     linkState
	moved    atomic.Int64 // file bytes read from the host
}

// DialSSH connects and authenticates to t.Host and starts SFTP.
func DialSSH(t Target, opts Options) (*FS, error) {
	opts.defaults()
	f := &FS{t: t, opts: opts, pool: blockcache.NewPool(int64(opts.ChunkSize), opts.CacheSize)}
	f.dialer = &sshDialer{t: t, opts: &f.opts}
	if err := f.connect(); err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return f, nil
}

// connect replaces the connection; f.mu must be held or f unshared.
func (f *FS) connect() error {
	sc, err := f.dialer.dial()
	if err != nil {
		return err
	}
	packet := f.opts.SFTPPacket
	if packet <= 0 {
		packet = 32 << 10 // the size every SFTP server must take
		if bytes.Contains(sc.ServerVersion(), []byte("OpenSSH")) {
			// OpenSSH's sftp-server (ESXi's too) answers reads up to 255
			// KiB and shortens longer ones; fewer packets, twice the speed.
			packet = 255 << 10
		}
	}
	start := func() (*sftp.Client, error) {
		return sftp.NewClient(sc, sftp.UseConcurrentReads(true), sftp.MaxConcurrentRequestsPerFile(64), sftp.MaxPacketUnchecked(packet))
	}
	cl, err := start()
	if err != nil {
		sc.Close()
		return linkLost(fmt.Errorf("starting SFTP on %s (is the sftp subsystem enabled in sshd_config?): %w", f.t.Host, err))
	}
	// More sessions on the same connection over a long link: each SSH
	// channel has a 2 MiB window, so one session moves 2 MiB per round
	// trip, whatever the bandwidth. On a short one they only cost CPU. A
	// server that allows fewer sessions (sshd's MaxSessions) gets fewer.
	lanes := []*sftp.Client{cl}
	want := sessionsFor(roundTrip(sc), f.opts.SFTPSessions)
	for len(lanes) < want {
		c, err := start()
		if err != nil {
			break
		}
		lanes = append(lanes, c)
	}
	f.closeLanes()
	dead := make(chan struct{})
	go func() { sc.Wait(); close(dead) }()
	go keepalive(sc, max(time.Second, f.opts.IOTimeout/3), dead)
	f.sc, f.lanes, f.dead = sc, lanes, dead
	f.gen++
	return nil
}

// sessionsFor is how many SFTP sessions keep a link of round trip rtt
// busy at 1 GB/s (one per 2 ms: a session's 2 MiB window per round trip),
// at most most.
func sessionsFor(rtt time.Duration, most int) int {
	return max(1, min(most, int((rtt+2*time.Millisecond-1)/(2*time.Millisecond))))
}

// roundTrip measures the link's round trip: the quickest of three SSH
// global requests answered by the server. A server that does not answer
// within 2 s gets 0 (one session) rather than holding up the connection.
func roundTrip(sc *ssh.Client) time.Duration {
	best := time.Duration(0)
	for range 3 {
		start := time.Now()
		answered := make(chan error, 1)
		go func() {
			_, _, err := sc.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				return best
			}
		case <-time.After(2 * time.Second):
			return best
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return best
}

// closeLanes ends the SFTP sessions and the connection; f.mu is held.
func (f *FS) closeLanes() error {
	for _, c := range f.lanes {
		c.Close()
	}
	if f.sc == nil {
		return nil
	}
	return f.sc.Close()
}

// current returns the SFTP session of lane (any number: it wraps around
// the sessions there are) and the connection's generation.
func (f *FS) current(lane int) (*sftp.Client, int, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lanes[lane%len(f.lanes)], f.gen, f.dead
}

// redial replaces the connection of generation gen, unless another caller
// already did.
func (f *FS) redial(gen int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != gen || f.closed.Load() {
		return nil
	}
	return f.connect()
}

// lost says whether err came from the link rather than the server.
func lost(err error, dead chan struct{}) bool {
	select {
	case <-dead:
		return true
	default:
	}
	// A send on a connection the server just closed fails with a wrapped
	// io.EOF ("failed to send packet: EOF") before dead is closed; a bare
	// io.EOF is the end of the file.
	var ne net.Error
	return errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) && err != io.EOF ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// do runs op on the current client of lane 0, re-dialling over a dropped
// link; see doLane.
func (f *FS) do(what string, op func(cl *sftp.Client, gen int) error) error {
	return f.doLane(0, what, op)
}

// doLane runs op on the SFTP session of lane, re-dialling over a dropped
// link.
func (f *FS) doLane(lane int, what string, op func(cl *sftp.Client, gen int) error) error {
	var gen int
	try := func() error {
		cl, g, dead := f.current(lane)
		gen = g
		if err := op(cl, g); err != nil {
			if lost(err, dead) {
				return linkLost(err)
			}
			return err
		}
		return nil
	}
	return retry(&f.opts, &f.link, f.closed.Load, func() string { return f.t.Host + ": " + what }, try, func() error { return f.redial(gen) })
}

// remotePath turns an fs.FS name into the host's absolute path.
func remotePath(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return path.Join("/", name), nil
}

// pathErr keeps fs.ErrNotExist and friends visible to errors.Is.
func pathErr(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Stat follows links, like os.Stat.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	rp, err := remotePath("stat", name)
	if err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	err = f.do("stat "+rp, func(cl *sftp.Client, _ int) (err error) {
		fi, err = cl.Stat(rp)
		return err
	})
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return fi, nil
}

// ReadDir lists a directory sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	rp, err := remotePath("readdir", name)
	if err != nil {
		return nil, err
	}
	var infos []os.FileInfo
	err = f.do("readdir "+rp, func(cl *sftp.Client, _ int) (err error) {
		infos, err = cl.ReadDir(rp)
		return err
	})
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	out := make([]fs.DirEntry, len(infos))
	for i, fi := range infos {
		out[i] = fs.FileInfoToDirEntry(fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Open opens a file read-only, or a directory for ReadDir.
func (f *FS) Open(name string) (fs.File, error) {
	fi, err := f.Stat(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	rp, _ := remotePath("open", name)
	if fi.IsDir() {
		return &sftpDir{fsys: f, name: name, info: fi}, nil
	}
	sf := &sftpFile{fsys: f, name: name, rpath: rp, info: fi, size: fi.Size()}
	if err := f.do("open "+rp, func(cl *sftp.Client, gen int) error { _, err := sf.handle(cl, gen); return err }); err != nil {
		return nil, pathErr("open", name, err)
	}
	if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0 || sf.size == 0 {
		// SFTP reports no size for block devices (and some servers' device
		// files look like empty regular files): find the end by reading.
		if sf.size, err = probeSize(sf.probeReadAt); err != nil {
			sf.close()
			return nil, pathErr("open", name, fmt.Errorf("finding the size of the device: %w", err))
		}
	}
	sf.Reader = f.pool.NewReader(sf.size, sf.fetch, blockcache.Options{Name: f.t.Host + ":" + rp, ReadAhead: f.opts.ReadAhead})
	return sf, nil
}

// Transferred is the number of file bytes read from the host so far.
func (f *FS) Transferred() int64 { return f.moved.Load() }

// Close ends the SSH connection.
func (f *FS) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closeLanes()
}

// sftpFile is an open remote file.
type sftpFile struct {
	*blockcache.Reader
	fsys  *FS
	name  string
	rpath string
	info  fs.FileInfo
	size  int64

	mu  sync.Mutex
	h   map[*sftp.Client]*sftp.File // the file open in each session (lane)
	gen int                         // connection generation the handles belong to
	pos int64                       // for Read and Seek
}

// handle returns the file open in session cl, opening it there unless it
// already is on generation gen; handles of an older generation are
// dropped.
func (sf *sftpFile) handle(cl *sftp.Client, gen int) (*sftp.File, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.gen != gen {
		sf.dropHandles() // of a dead connection
		sf.gen = gen
	}
	if h := sf.h[cl]; h != nil {
		return h, nil
	}
	h, err := cl.OpenFile(sf.rpath, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	if sf.h == nil {
		sf.h = map[*sftp.Client]*sftp.File{}
	}
	sf.h[cl] = h
	return h, nil
}

// dropHandles closes every handle in the background (on a dead link the
// reply may never come); sf.mu is held.
func (sf *sftpFile) dropHandles() {
	for _, h := range sf.h {
		go h.Close()
	}
	sf.h = nil
}

// rawReadAt reads from the host, uncached, retrying over a dropped link.
// Successive reads go to successive SFTP sessions.
func (sf *sftpFile) rawReadAt(p []byte, off int64) (int, error) {
	var n int
	var eof bool
	lane := int(sf.fsys.nextLane.Add(1))
	err := sf.fsys.doLane(lane, fmt.Sprintf("%s: read of %d bytes at offset %d", sf.rpath, len(p), off), func(cl *sftp.Client, gen int) error {
		h, err := sf.handle(cl, gen)
		if err != nil {
			return err
		}
		n, err = h.ReadAt(p, off)
		eof = err == io.EOF
		if eof {
			return nil
		}
		return err
	})
	if err == nil && eof {
		err = io.EOF
	}
	return n, err
}

// probeReadAt is rawReadAt for probeSize. OpenSSH's sftp-server seeks
// before it reads, and Linux refuses a seek past the end of a block device
// with EINVAL, which comes back as SSH_FX_BAD_MESSAGE: past the end, too.
func (sf *sftpFile) probeReadAt(p []byte, off int64) (int, error) {
	n, err := sf.rawReadAt(p, off)
	var se *sftp.StatusError
	if errors.As(err, &se) && se.Code == sshFxBadMessage {
		err = io.EOF
	}
	return n, err
}

// sshFxBadMessage is SSH_FX_BAD_MESSAGE, the status sftp-server sends for
// EINVAL.
const sshFxBadMessage = 5

// fetch fills a cache chunk, which always lies inside the file.
func (sf *sftpFile) fetch(p []byte, off int64) error {
	n, err := sf.rawReadAt(p, off)
	sf.fsys.moved.Add(int64(n))
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("%s:%s: %d bytes at offset %d, but the file ends there: it shrank after it was opened", sf.fsys.t.Host, sf.rpath, len(p)-n, off+int64(n))
	}
	return err
}

// probeSize finds the size of a file that does not report it (a block
// device over SFTP) by binary search on where reads stop.
func probeSize(readAt func(p []byte, off int64) (int, error)) (int64, error) {
	var b [1]byte
	readable := func(off int64) (bool, error) {
		n, err := readAt(b[:], off)
		if n == 1 {
			return true, nil
		}
		if err == io.EOF || err == nil {
			return false, nil
		}
		return false, fmt.Errorf("probing at offset %d: %w", off, err)
	}
	ok, err := readable(0)
	if err != nil || !ok {
		return 0, err
	}
	lo, hi := int64(0), int64(1<<20)
	for {
		ok, err := readable(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo = hi
		if hi >= 1<<60 {
			return 0, fmt.Errorf("device still readable at offset %d", hi)
		}
		hi *= 2
	}
	for hi-lo > 1 { // lo readable, hi not
		mid := lo + (hi-lo)/2
		ok, err := readable(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

func (sf *sftpFile) Size() int64 { return sf.size }

// Stat reports the probed size for devices.
func (sf *sftpFile) Stat() (fs.FileInfo, error) { return sizedInfo{sf.info, sf.size}, nil }

func (sf *sftpFile) Read(p []byte) (int, error) {
	sf.mu.Lock()
	pos := sf.pos
	sf.mu.Unlock()
	n, err := sf.ReadAt(p, pos)
	sf.mu.Lock()
	sf.pos = pos + int64(n)
	sf.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (sf *sftpFile) Seek(off int64, whence int) (int64, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		off += sf.pos
	case io.SeekEnd:
		off += sf.size
	case io.SeekStart:
	default:
		return sf.pos, fmt.Errorf("seek %s: whence %d: %w", sf.name, whence, fs.ErrInvalid)
	}
	if off < 0 {
		return sf.pos, fmt.Errorf("seek %s: negative offset: %w", sf.name, fs.ErrInvalid)
	}
	sf.pos = off
	return off, nil
}

func (sf *sftpFile) Close() error {
	sf.close()
	return nil
}

func (sf *sftpFile) close() {
	if sf.Reader != nil {
		sf.Reader.Close()
	}
	sf.mu.Lock()
	sf.dropHandles()
	sf.mu.Unlock()
}

type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }

// sftpDir is an open directory.
type sftpDir struct {
	fsys    *FS
	name    string
	info    fs.FileInfo
	entries []fs.DirEntry
	read    bool
}

func (d *sftpDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *sftpDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *sftpDir) Close() error { return nil }

func (d *sftpDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		es, err := d.fsys.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.entries, d.read = es, true
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.entries))
	out := d.entries[:k]
	d.entries = d.entries[k:]
	return out, nil
}
