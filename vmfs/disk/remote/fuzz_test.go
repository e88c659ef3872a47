package remote

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// serverHandshake builds what a fixed newstyle server sends for a client
// that asks for structured replies, base:allocation (context 7) and
// NBD_OPT_GO.
func serverHandshake(size int64, structured bool, blockInfo bool) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint64(b, nbdMagic)
	b = binary.BigEndian.AppendUint64(b, nbdOptMagic)
	b = binary.BigEndian.AppendUint16(b, nbdFlagFixedNewstyle|nbdFlagNoZeroes)
	rep := func(opt, typ uint32, data []byte) {
		b = binary.BigEndian.AppendUint64(b, nbdRepMagic)
		b = binary.BigEndian.AppendUint32(b, opt)
		b = binary.BigEndian.AppendUint32(b, typ)
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
	}
	if structured {
		rep(nbdOptStructuredReply, nbdRepAck, nil)
		ctx := binary.BigEndian.AppendUint32(nil, 7)
		rep(nbdOptSetMetaContext, nbdRepMetaCtx, append(ctx, nbdAllocContext...))
		rep(nbdOptSetMetaContext, nbdRepAck, nil)
	} else {
		rep(nbdOptStructuredReply, nbdRepErrUnsup, []byte("no"))
	}
	info := binary.BigEndian.AppendUint16(nil, nbdInfoExport)
	info = binary.BigEndian.AppendUint64(info, uint64(size))
	info = binary.BigEndian.AppendUint16(info, 1|2)
	rep(nbdOptGo, nbdRepInfo, info)
	if blockInfo {
		bi := binary.BigEndian.AppendUint16(nil, nbdInfoBlockSize)
		bi = binary.BigEndian.AppendUint32(bi, 1)
		bi = binary.BigEndian.AppendUint32(bi, 4096)
		bi = binary.BigEndian.AppendUint32(bi, 32<<20)
		rep(nbdOptGo, nbdRepInfo, bi)
	}
	rep(nbdOptGo, nbdRepAck, nil)
	return b
}

type readWriter struct {
	io.Reader
	io.Writer
}

func TestNegotiateHandshakes(t *testing.T) {
	for _, c := range []struct {
		structured, block bool
	}{{true, true}, {false, false}} {
		ex, err := negotiate(readWriter{bytes.NewReader(serverHandshake(1<<30, c.structured, c.block)), io.Discard}, "disk", nil)
		if err != nil || ex.size != 1<<30 || ex.structured != c.structured || ex.maxRequest != 32<<20 ||
			ex.hasAlloc != c.structured || (ex.hasAlloc && ex.allocCtx != 7) {
			t.Errorf("%+v: negotiate = %+v, %v", c, ex, err)
		}
	}
	// Oldstyle servers are named as such.
	old := binary.BigEndian.AppendUint64(nil, nbdMagic)
	old = binary.BigEndian.AppendUint64(old, nbdOldMagic)
	old = append(old, make([]byte, 140)...)
	if _, err := negotiate(readWriter{bytes.NewReader(old), io.Discard}, "", nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("oldstyle: err = %v, want ErrUnsupported", err)
	}
	// An option reply claiming 4 GiB is refused before allocating it.
	huge := serverHandshake(1<<30, true, false)[:18]
	huge = binary.BigEndian.AppendUint64(huge, nbdRepMagic)
	huge = binary.BigEndian.AppendUint32(huge, nbdOptStructuredReply)
	huge = binary.BigEndian.AppendUint32(huge, nbdRepAck)
	huge = binary.BigEndian.AppendUint32(huge, 0xFFFFFFFF)
	if _, err := negotiate(readWriter{bytes.NewReader(huge), io.Discard}, "", nil); !errors.Is(err, ErrProtocol) {
		t.Errorf("4 GiB option reply: err = %v, want ErrProtocol", err)
	}
}

func FuzzNBDNegotiate(f *testing.F) {
	f.Add(serverHandshake(1<<30, true, true))
	f.Add(serverHandshake(512, false, false))
	f.Add(serverHandshake(-1, true, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		ex, err := negotiate(readWriter{bytes.NewReader(data), io.Discard}, "disk", nil)
		if err == nil && (ex.size < 0 || ex.maxRequest < nbdDefaultMinRequests || ex.maxRequest > nbdDefaultMaxRequest) {
			t.Fatalf("accepted export %+v", ex)
		}
	})
}

// replyStream builds replies to reads of 4096 bytes at 8192 (cookie 1)
// and of 100 bytes at 0 (cookie 2).
func replyStream() []byte {
	var b []byte
	chunk := func(flags, typ uint16, cookie uint64, payload []byte) {
		b = binary.BigEndian.AppendUint32(b, nbdStructMagic)
		b = binary.BigEndian.AppendUint16(b, flags)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint64(b, cookie)
		b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
		b = append(b, payload...)
	}
	data := binary.BigEndian.AppendUint64(nil, 8192+1024)
	data = append(data, bytes.Repeat([]byte{0xAB}, 3072)...)
	chunk(0, nbdReplyOffsetData, 1, data)
	hole := binary.BigEndian.AppendUint64(nil, 8192)
	hole = binary.BigEndian.AppendUint32(hole, 1024)
	chunk(nbdReplyFlagDone, nbdReplyOffsetHole, 1, hole)
	e := binary.BigEndian.AppendUint32(nil, 5)
	e = binary.BigEndian.AppendUint16(e, 4)
	e = append(e, "bad!"...)
	chunk(nbdReplyFlagDone, nbdReplyError, 2, e)
	// Block status of [1 MiB, 2 MiB) (cookie 4): 64 KiB of data, then
	// zeros reaching past the request; a context not asked for is skipped.
	st := binary.BigEndian.AppendUint32(nil, 9)
	st = binary.BigEndian.AppendUint32(st, 1<<20)
	st = binary.BigEndian.AppendUint32(st, 0)
	chunk(0, nbdReplyBlockStatus, 4, st)
	st = binary.BigEndian.AppendUint32(nil, 7)
	st = binary.BigEndian.AppendUint32(st, 64<<10)
	st = binary.BigEndian.AppendUint32(st, 0)
	st = binary.BigEndian.AppendUint32(st, 2<<20)
	st = binary.BigEndian.AppendUint32(st, nbdStateZero|1)
	chunk(nbdReplyFlagDone, nbdReplyBlockStatus, 4, st)
	// A simple reply too (cookie 3, 16 bytes at 0).
	b = binary.BigEndian.AppendUint32(b, nbdSimpleMagic)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint64(b, 3)
	b = append(b, bytes.Repeat([]byte{1}, 16)...)
	return b
}

// runReplies feeds a reply stream to three pending reads and a block
// status request.
func runReplies(data []byte) (map[uint64]*nbdReq, error) {
	reqs := map[uint64]*nbdReq{
		1: {p: make([]byte, 4096), off: 8192, done: make(chan struct{})},
		2: {p: make([]byte, 100), off: 0, done: make(chan struct{})},
		3: {p: make([]byte, 16), off: 0, done: make(chan struct{})},
		4: {off: 1 << 20, status: true, statusLen: 1 << 20, statusCtx: 7, done: make(chan struct{})},
	}
	pending := map[uint64]*nbdReq{1: reqs[1], 2: reqs[2], 3: reqs[3], 4: reqs[4]}
	take := func(c uint64, remove bool) *nbdReq {
		r := pending[c]
		if remove {
			delete(pending, c)
		}
		return r
	}
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		if err := readReply(br, take); err != nil {
			return reqs, err
		}
	}
}

func TestReadReplyChunks(t *testing.T) {
	reqs, err := runReplies(replyStream())
	if err != io.EOF {
		t.Fatalf("stream ended with %v, want EOF", err)
	}
	r := reqs[1]
	if r.err != nil || r.got != 4096 || r.p[0] != 0 || r.p[1023] != 0 || r.p[1024] != 0xAB || r.p[4095] != 0xAB {
		t.Errorf("data+hole read: err %v, got %d", r.err, r.got)
	}
	var ne *NBDError
	if !errors.As(reqs[2].err, &ne) || ne.Errno != 5 || ne.Msg != "bad!" {
		t.Errorf("error chunk: %v", reqs[2].err)
	}
	if reqs[3].err != nil || reqs[3].p[15] != 1 {
		t.Errorf("simple reply: %v", reqs[3].err)
	}
	if r := reqs[4]; r.err != nil || r.statusEnd != 2<<20 || len(r.zeros) != 1 || r.zeros[0] != (allocmap.Range{Off: 1<<20 + 64<<10, Len: 1<<20 - 64<<10}) {
		t.Errorf("block status: %v, zeros %v up to %d", r.err, r.zeros, r.statusEnd)
	}
	// A data chunk outside its read is a protocol violation.
	bad := replyStream()
	binary.BigEndian.PutUint64(bad[20:], 0)
	if _, err := runReplies(bad); !errors.Is(err, ErrProtocol) {
		t.Errorf("chunk outside the read: err = %v, want ErrProtocol", err)
	}
}

func FuzzNBDReplies(f *testing.F) {
	f.Add(replyStream())
	f.Add(replyStream()[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, _ := runReplies(data)
		for c, r := range reqs {
			select {
			case <-r.done:
				if r.err == nil && r.got != int64(len(r.p)) && c != 3 {
					t.Fatalf("cookie %d completed with %d of %d bytes and no error", c, r.got, len(r.p))
				}
				end := r.off + int64(r.statusLen)
				if err := r.zeros.Validate(end); err != nil || r.statusEnd > end || (len(r.zeros) > 0 && r.zeros[0].Off < r.off) {
					t.Fatalf("block status %v up to %d outside [%d,%d): %v", r.zeros, r.statusEnd, r.off, end, err)
				}
			default:
			}
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"ssh://root@esx/dev/sdb", "nbd://h:10809/e", "ssh://u:pw@h/x", "ssh://[::1]:2/x", "nbd://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tg, err := ParseTarget(spec)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("%q: error %v is not ErrBadURL", spec, err)
			}
			return
		}
		if _, _, err := net.SplitHostPort(tg.Host); err != nil {
			t.Fatalf("%q: host %q has no port", spec, tg.Host)
		}
		if tg.Scheme == "ssh" && !strings.HasPrefix(tg.Path, "/") {
			t.Fatalf("%q: ssh path %q not absolute", spec, tg.Path)
		}
	})
}
