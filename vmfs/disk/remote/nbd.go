package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// errLinkLost marks an error of the connection, not of the request: the
// caller re-establishes the link and retries.
var errLinkLost = errors.New("connection lost")

// linkLostError is an error of the link; its message is the cause's.
type linkLostError struct{ err error }

func (e *linkLostError) Error() string        { return e.err.Error() }
func (e *linkLostError) Unwrap() error        { return e.err }
func (e *linkLostError) Is(target error) bool { return target == errLinkLost }

func linkLost(err error) error { return &linkLostError{err} }

// nbdConn is one NBD connection in the transmission phase. Reads are
// pipelined: each request carries a cookie and a reader goroutine hands
// every reply to the request waiting for it.
type nbdConn struct {
	c       net.Conn
	ex      nbdExport
	timeout time.Duration // a reply must arrive within this while requests are pending

	wmu      sync.Mutex // serialises request writes
	mu       sync.Mutex
	pending  map[uint64]*nbdReq
	cookie   uint64
	err      error // set once the connection is dead
	closeErr error // why shutdown closed it, for readLoop to report
	dead     chan struct{}
}

// nbdReq is one NBD_CMD_READ or NBD_CMD_BLOCK_STATUS in flight.
type nbdReq struct {
	p    []byte // the read's buffer (nil for block status)
	off  int64
	got  int64 // bytes covered by structured chunks
	err  error
	done chan struct{}

	status    bool         // a block-status request
	statusLen uint32       // of the range it asks about, from off
	statusCtx uint32       // the meta context it asks about
	zeros     allocmap.Map // its answer: the ranges that read as zeros
	statusEnd int64        // and how far the answer reaches
}

// dialNBD connects to addr and negotiates export name; with tlsCfg, over
// TLS (NBD_OPT_STARTTLS).
func dialNBD(ctx context.Context, addr, name string, timeout time.Duration, tlsCfg *tls.Config) (*nbdConn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, linkLost(err)
	}
	c.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(c, 64<<10)
	rw := &struct {
		io.Reader
		io.Writer
	}{br, c}
	var upgrade func() error
	if tlsCfg != nil {
		upgrade = func() error {
			tc := tls.Client(c, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				var unknown x509.UnknownAuthorityError
				if errors.As(err, &unknown) {
					return fmt.Errorf("TLS handshake with %s: %w (name the CA that signed the server's certificate with --nbd-ca or %s)", addr, err, EnvNBDCA)
				}
				return fmt.Errorf("TLS handshake with %s: %w", addr, err)
			}
			c, br = tc, bufio.NewReaderSize(tc, 64<<10)
			rw.Reader, rw.Writer = br, tc
			return nil
		}
	}
	ex, err := negotiate(rw, name, upgrade)
	if err != nil {
		// Leave politely when the server is still listening (an unknown
		// export, a refused option); best effort.
		sendOpt(c, nbdOptAbort, nil)
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if !errors.Is(err, ErrExportUnknown) {
				return nil, linkLost(fmt.Errorf("NBD handshake: %w", err))
			}
		}
		return nil, err
	}
	c.SetDeadline(time.Time{})
	nc := &nbdConn{c: c, ex: ex, timeout: timeout, pending: map[uint64]*nbdReq{}, dead: make(chan struct{})}
	go nc.readLoop(br)
	return nc, nil
}

// fail marks the connection dead and completes every pending request.
// Only readLoop calls it: a request whose reply readLoop is reading is
// then never completed twice. Others call shutdown.
func (nc *nbdConn) fail(err error) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.err != nil {
		return
	}
	nc.err = err
	close(nc.dead)
	nc.c.Close()
	for k, r := range nc.pending {
		r.err = err
		close(r.done)
		delete(nc.pending, k)
	}
}

// shutdown closes the connection; readLoop, its read failing, then fails
// every pending request with err.
func (nc *nbdConn) shutdown(err error) {
	nc.mu.Lock()
	if nc.closeErr == nil {
		nc.closeErr = err
	}
	nc.mu.Unlock()
	nc.c.Close()
}

func (nc *nbdConn) readLoop(br *bufio.Reader) {
	for {
		if err := readReply(br, nc.take); err != nil {
			nc.mu.Lock()
			closeErr := nc.closeErr
			nc.mu.Unlock()
			switch {
			case closeErr != nil:
				nc.fail(closeErr)
			case errors.Is(err, ErrProtocol):
				nc.fail(err)
			default:
				nc.fail(linkLost(err))
			}
			return
		}
		nc.mu.Lock()
		if len(nc.pending) == 0 {
			nc.c.SetReadDeadline(time.Time{})
		} else {
			nc.c.SetReadDeadline(time.Now().Add(nc.timeout))
		}
		nc.mu.Unlock()
	}
}

// take finds the request of a cookie; remove drops it from the pending set.
func (nc *nbdConn) take(cookie uint64, remove bool) *nbdReq {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	r := nc.pending[cookie]
	if remove {
		delete(nc.pending, cookie)
	}
	return r
}

// readReply reads one reply (simple, or one structured chunk) and fills the
// request it belongs to, closing its done channel when the request is
// complete. A returned error means the stream can no longer be trusted.
func readReply(br *bufio.Reader, take func(cookie uint64, remove bool) *nbdReq) error {
	var hdr [20]byte
	if _, err := io.ReadFull(br, hdr[:4]); err != nil {
		return err
	}
	switch m := binary.BigEndian.Uint32(hdr[:]); m {
	case nbdSimpleMagic:
		if _, err := io.ReadFull(br, hdr[4:16]); err != nil {
			return err
		}
		errno := binary.BigEndian.Uint32(hdr[4:])
		cookie := binary.BigEndian.Uint64(hdr[8:])
		r := take(cookie, true)
		if r == nil {
			return protoErr("simple reply for unknown cookie %d", cookie)
		}
		if errno != 0 {
			r.err = &NBDError{Offset: r.off, Length: len(r.p), Errno: errno}
		} else if _, err := io.ReadFull(br, r.p); err != nil {
			r.err = linkLost(err)
			close(r.done)
			return err
		}
		close(r.done)
		return nil
	case nbdStructMagic:
		if _, err := io.ReadFull(br, hdr[4:20]); err != nil {
			return err
		}
		flags := binary.BigEndian.Uint16(hdr[4:])
		typ := binary.BigEndian.Uint16(hdr[6:])
		cookie := binary.BigEndian.Uint64(hdr[8:])
		length := binary.BigEndian.Uint32(hdr[16:])
		done := flags&nbdReplyFlagDone != 0
		r := take(cookie, done)
		if r == nil {
			return protoErr("structured reply for unknown cookie %d", cookie)
		}
		if err := readChunk(br, r, typ, length); err != nil {
			if !errors.Is(err, ErrProtocol) {
				err = linkLost(err)
			}
			if r.err == nil {
				r.err = err
			}
			if !done {
				take(cookie, true)
			}
			close(r.done)
			return err
		}
		if done {
			if r.err == nil && r.got != int64(len(r.p)) {
				r.err = protoErr("read of %d bytes at offset %d answered with %d bytes", len(r.p), r.off, r.got)
			}
			close(r.done)
		}
		return nil
	default:
		return protoErr("reply magic %#x", m)
	}
}

// readChunk reads the payload of one structured reply chunk into r.
func readChunk(br *bufio.Reader, r *nbdReq, typ uint16, length uint32) error {
	end := r.off + int64(len(r.p))
	switch typ {
	case nbdReplyNone:
		if length != 0 {
			return protoErr("NBD_REPLY_TYPE_NONE with %d bytes", length)
		}
	case nbdReplyOffsetData:
		if length < 8 || int64(length)-8 > int64(len(r.p)) {
			return protoErr("data chunk of %d bytes for a read of %d", length, len(r.p))
		}
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return err
		}
		off := int64(binary.BigEndian.Uint64(b[:]))
		n := int64(length) - 8
		if off < r.off || off > end-n {
			return protoErr("data chunk [%d,+%d) outside the read [%d,%d)", off, n, r.off, end)
		}
		if _, err := io.ReadFull(br, r.p[off-r.off:off-r.off+n]); err != nil {
			return err
		}
		r.got += n
	case nbdReplyBlockStatus:
		return readStatusChunk(br, r, length)
	case nbdReplyOffsetHole:
		if length != 12 {
			return protoErr("hole chunk of %d bytes, want 12", length)
		}
		var b [12]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return err
		}
		off := int64(binary.BigEndian.Uint64(b[:]))
		n := int64(binary.BigEndian.Uint32(b[8:]))
		if off < r.off || n > int64(len(r.p)) || off > end-n {
			return protoErr("hole chunk [%d,+%d) outside the read [%d,%d)", off, n, r.off, end)
		}
		clear(r.p[off-r.off : off-r.off+n])
		r.got += n
	default:
		if length > nbdMaxErrorChunk {
			return protoErr("chunk type %#x of %d bytes", typ, length)
		}
		b := make([]byte, length)
		if _, err := io.ReadFull(br, b); err != nil {
			return err
		}
		if typ&nbdReplyErrBit == 0 {
			return nil // an informational chunk type this client does not know
		}
		if len(b) < 6 {
			return protoErr("error chunk of %d bytes", len(b))
		}
		e := &NBDError{Offset: r.off, Length: len(r.p), Errno: binary.BigEndian.Uint32(b)}
		if ml := int(binary.BigEndian.Uint16(b[4:])); ml <= len(b)-6 {
			e.Msg = printable(b[6 : 6+ml])
		}
		if typ == nbdReplyErrorOffset && len(b) >= 14 {
			e.Offset = int64(binary.BigEndian.Uint64(b[len(b)-8:]))
		}
		if r.err == nil {
			r.err = e
		}
	}
	return nil
}

// readAt reads len(p) bytes at off, in requests of at most maxRequest
// bytes, all in flight at once.
func (nc *nbdConn) readAt(p []byte, off int64) error {
	if off < 0 || off > nc.ex.size || int64(len(p)) > nc.ex.size-off {
		return fmt.Errorf("read of %d bytes at offset %d beyond the export's %d bytes: %w", len(p), off, nc.ex.size, io.ErrUnexpectedEOF)
	}
	limit := int(nc.ex.maxRequest)
	var reqs []*nbdReq
	for done := 0; done < len(p); {
		n := min(limit, len(p)-done)
		r, err := nc.send(&nbdReq{p: p[done : done+n], off: off + int64(done)})
		if err != nil {
			for _, r := range reqs {
				<-r.done
			}
			return err
		}
		reqs = append(reqs, r)
		done += n
	}
	var first error
	for _, r := range reqs {
		<-r.done
		if r.err != nil && first == nil {
			first = r.err
		}
	}
	return first
}

// send sends request r (a read of len(r.p) bytes at r.off, or with
// r.status a block-status query) without waiting for its reply.
func (nc *nbdConn) send(r *nbdReq) (*nbdReq, error) {
	r.done = make(chan struct{})
	cmd, n := uint16(nbdCmdRead), uint32(len(r.p))
	if r.status {
		cmd, n = nbdCmdBlockStatus, r.statusLen
	}
	nc.mu.Lock()
	if nc.err != nil {
		err := nc.err
		nc.mu.Unlock()
		return nil, err
	}
	nc.cookie++
	cookie := nc.cookie
	nc.pending[cookie] = r
	nc.c.SetReadDeadline(time.Now().Add(nc.timeout))
	nc.mu.Unlock()

	nc.wmu.Lock()
	nc.c.SetWriteDeadline(time.Now().Add(nc.timeout))
	_, err := nc.c.Write(nbdRequest(cmd, cookie, r.off, n))
	nc.wmu.Unlock()
	if err != nil {
		nc.shutdown(linkLost(err))
	}
	return r, nil
}

// close sends NBD_CMD_DISC, as the protocol asks of a client that leaves.
func (nc *nbdConn) close() {
	nc.mu.Lock()
	dead := nc.err != nil
	nc.mu.Unlock()
	if !dead {
		nc.wmu.Lock()
		nc.c.SetWriteDeadline(time.Now().Add(time.Second))
		nc.c.Write(nbdRequest(nbdCmdDisc, 0, 0, 0))
		nc.wmu.Unlock()
	}
	nc.shutdown(net.ErrClosed)
}
