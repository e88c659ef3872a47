package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// NBD protocol constants (the "newstyle" protocol of NBD's proto.md).
const (
	nbdMagic       = 0x4e42444d41474943 // "NBDMAGIC"
	nbdOptMagic    = 0x49484156454f5054 // "IHAVEOPT"
	nbdOldMagic    = 0x00420281861253   // oldstyle negotiation: unsupported
	nbdRepMagic    = 0x0003e889045565a9 // option reply
	nbdReqMagic    = 0x25609513
	nbdSimpleMagic = 0x67446698
	nbdStructMagic = 0x668e33ef

	nbdFlagFixedNewstyle = 1 << 0 // handshake flags (server) and client flags
	nbdFlagNoZeroes      = 1 << 1

	nbdOptExportName      = 1
	nbdOptAbort           = 2
	nbdOptStartTLS        = 5
	nbdOptGo              = 7
	nbdOptStructuredReply = 8
	nbdOptSetMetaContext  = 10

	nbdRepAck       = 1
	nbdRepInfo      = 3
	nbdRepMetaCtx   = 4
	nbdRepErrBit    = 1 << 31
	nbdRepErrUnsup  = nbdRepErrBit | 1
	nbdRepErrPolicy = nbdRepErrBit | 2
	nbdRepErrUnknow = nbdRepErrBit | 6 // export not known

	nbdInfoExport    = 0
	nbdInfoBlockSize = 3

	nbdCmdRead        = 0
	nbdCmdDisc        = 2
	nbdCmdBlockStatus = 7

	nbdReplyFlagDone      = 1
	nbdReplyNone          = 0
	nbdReplyOffsetData    = 1
	nbdReplyOffsetHole    = 2
	nbdReplyBlockStatus   = 5
	nbdReplyErrBit        = 1 << 15
	nbdReplyError         = nbdReplyErrBit | 1
	nbdReplyErrorOffset   = nbdReplyErrBit | 2
	nbdMaxOptReply        = 64 << 10 // an option reply longer than this is a protocol error
	nbdMaxErrorChunk      = 64 << 10
	nbdDefaultMaxRequest  = 32 << 20 // the largest read the NBD spec says every server takes
	nbdDefaultMinRequests = 512
)

// ErrProtocol reports a server that broke the NBD protocol.
var ErrProtocol = errors.New("NBD protocol violation")

// ErrExportUnknown: the NBD server has no export of that name.
var ErrExportUnknown = errors.New("NBD export not found")

// ErrUnsupported: the server speaks a protocol variant this client does not
// (oldstyle negotiation, no fixed newstyle, TLS required).
var ErrUnsupported = errors.New("unsupported by this client")

// NBDError is an error the NBD server returned for one request.
type NBDError struct {
	Offset int64  // of the request
	Length int    // of the request
	Errno  uint32 // NBD error value (EIO=5, EINVAL=22, ...)
	Msg    string // server's message, if it sent one
}

func (e *NBDError) Error() string {
	s := fmt.Sprintf("NBD server error %d (%s) reading %d bytes at offset %d", e.Errno, nbdErrName(e.Errno), e.Length, e.Offset)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func nbdErrName(n uint32) string {
	switch n {
	case 1:
		return "EPERM"
	case 5:
		return "EIO"
	case 12:
		return "ENOMEM"
	case 22:
		return "EINVAL"
	case 28:
		return "ENOSPC"
	case 75:
		return "EOVERFLOW"
	case 95:
		return "ENOTSUP"
	case 108:
		return "ESHUTDOWN"
	}
	return "unknown"
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// nbdExport is what the handshake learnt about the export.
type nbdExport struct {
	size       int64
	flags      uint16 // transmission flags
	structured bool   // structured replies negotiated
	allocCtx   uint32 // id of the base:allocation meta context, if hasAlloc
	hasAlloc   bool   // the server answers NBD_CMD_BLOCK_STATUS
	minBlock   uint32
	prefBlock  uint32
	maxRequest uint32 // largest read to send
}

// negotiate runs the fixed newstyle handshake on rw for export name. With
// upgrade, it asks for TLS first and calls upgrade to start it on the
// connection under rw; the rest goes over TLS.
func negotiate(rw io.ReadWriter, name string, upgrade func() error) (nbdExport, error) {
	var ex nbdExport
	noZeroes, err := greet(rw)
	if err != nil {
		return ex, err
	}
	if upgrade != nil {
		if err := startTLS(rw, upgrade); err != nil {
			return ex, err
		}
	}
	if err := askStructured(rw, name, &ex); err != nil {
		return ex, err
	}
	return goExport(rw, name, noZeroes, ex)
}

// greet reads the server's greeting and answers with the client flags. It
// reports whether the server leaves out the 124 zero bytes that end an
// NBD_OPT_EXPORT_NAME reply.
func greet(rw io.ReadWriter) (noZeroes bool, err error) {
	var hello [18]byte
	if _, err := io.ReadFull(rw, hello[:]); err != nil {
		return false, fmt.Errorf("reading server greeting: %w", err)
	}
	if binary.BigEndian.Uint64(hello[0:]) != nbdMagic {
		return false, protoErr("greeting does not start with NBDMAGIC (got %x): not an NBD server", hello[0:8])
	}
	switch binary.BigEndian.Uint64(hello[8:]) {
	case nbdOptMagic:
	case nbdOldMagic:
		return false, fmt.Errorf("oldstyle NBD negotiation: %w (run the server in newstyle mode, e.g. qemu-nbd without --old or nbdkit without -o)", ErrUnsupported)
	default:
		return false, protoErr("unknown negotiation magic %x", hello[8:16])
	}
	hflags := binary.BigEndian.Uint16(hello[16:])
	if hflags&nbdFlagFixedNewstyle == 0 {
		return false, fmt.Errorf("server does not offer fixed newstyle negotiation: %w", ErrUnsupported)
	}
	cflags := uint32(nbdFlagFixedNewstyle)
	noZeroes = hflags&nbdFlagNoZeroes != 0
	if noZeroes {
		cflags |= nbdFlagNoZeroes
	}
	return noZeroes, binary.Write(rw, binary.BigEndian, cflags)
}

// startTLS asks for TLS and calls upgrade to start it on the connection
// under rw once the server agrees.
func startTLS(rw io.ReadWriter, upgrade func() error) error {
	if err := sendOpt(rw, nbdOptStartTLS, nil); err != nil {
		return err
	}
	rep, data, err := readOptReply(rw, nbdOptStartTLS)
	if err != nil {
		return err
	}
	if rep != nbdRepAck {
		return fmt.Errorf("%w: the server does not offer TLS (%s%s); nbd:// reads it without, if the link is trusted", ErrUnsupported, repErrName(rep), optMsg(data))
	}
	return upgrade()
}

// askStructured asks for structured replies, which let the server answer
// reads with holes and report errors with a message, and then for the
// base:allocation context that NBD_CMD_BLOCK_STATUS answers in.
func askStructured(rw io.ReadWriter, name string, ex *nbdExport) error {
	if err := sendOpt(rw, nbdOptStructuredReply, nil); err != nil {
		return err
	}
	rep, _, err := readOptReply(rw, nbdOptStructuredReply)
	if err != nil {
		return err
	}
	ex.structured = rep == nbdRepAck
	if rep != nbdRepAck && rep&nbdRepErrBit == 0 {
		return protoErr("reply %#x to NBD_OPT_STRUCTURED_REPLY", rep)
	}
	if ex.structured {
		if ex.allocCtx, ex.hasAlloc, err = setAllocContext(rw, name); err != nil {
			return err
		}
	}
	return nil
}

// goExport sends NBD_OPT_GO for export name with the information types we
// ask for, and reads the replies up to the acknowledgement; a server that
// does not know NBD_OPT_GO gets NBD_OPT_EXPORT_NAME instead.
func goExport(rw io.ReadWriter, name string, noZeroes bool, ex nbdExport) (nbdExport, error) {
	payload := make([]byte, 0, 4+len(name)+4)
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(name)))
	payload = append(payload, name...)
	payload = binary.BigEndian.AppendUint16(payload, 1)
	payload = binary.BigEndian.AppendUint16(payload, nbdInfoBlockSize)
	if err := sendOpt(rw, nbdOptGo, payload); err != nil {
		return ex, err
	}
	haveExport := false
	for {
		rep, data, err := readOptReply(rw, nbdOptGo)
		if err != nil {
			return ex, err
		}
		switch {
		case rep == nbdRepInfo:
			isExport, err := ex.info(data)
			if err != nil {
				return ex, err
			}
			haveExport = haveExport || isExport
		case rep == nbdRepAck:
			if !haveExport {
				return ex, protoErr("NBD_OPT_GO acknowledged without NBD_INFO_EXPORT")
			}
			return ex.check()
		case rep == nbdRepErrUnsup:
			return exportName(rw, name, noZeroes, ex)
		case rep == nbdRepErrUnknow:
			return ex, fmt.Errorf("%w: %q%s", ErrExportUnknown, name, optMsg(data))
		case rep&nbdRepErrBit != 0:
			return ex, fmt.Errorf("NBD server refused export %q: %s%s", name, repErrName(rep), optMsg(data))
		default:
			return ex, protoErr("unexpected reply %#x to NBD_OPT_GO", rep)
		}
	}
}

// info decodes one NBD_REP_INFO reply into ex; isExport says it was
// NBD_INFO_EXPORT (size and transmission flags). Unknown types are skipped.
func (ex *nbdExport) info(data []byte) (isExport bool, err error) {
	if len(data) < 2 {
		return false, protoErr("NBD_REP_INFO of %d bytes", len(data))
	}
	switch binary.BigEndian.Uint16(data) {
	case nbdInfoExport:
		if len(data) != 12 {
			return false, protoErr("NBD_INFO_EXPORT of %d bytes, want 12", len(data))
		}
		ex.size = int64(binary.BigEndian.Uint64(data[2:]))
		ex.flags = binary.BigEndian.Uint16(data[10:])
		return true, nil
	case nbdInfoBlockSize:
		if len(data) != 14 {
			return false, protoErr("NBD_INFO_BLOCK_SIZE of %d bytes, want 14", len(data))
		}
		ex.minBlock = binary.BigEndian.Uint32(data[2:])
		ex.prefBlock = binary.BigEndian.Uint32(data[6:])
		ex.maxRequest = binary.BigEndian.Uint32(data[10:])
	}
	return false, nil
}

// nbdAllocContext is the meta context that says which ranges of an export
// are holes and which read as zeros.
const nbdAllocContext = "base:allocation"

// setAllocContext asks for the base:allocation meta context, which lets
// the client learn where the export reads as zeros without reading it. A
// server that does not offer it is no error.
func setAllocContext(rw io.ReadWriter, name string) (id uint32, ok bool, err error) {
	payload := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	payload = append(payload, name...)
	payload = binary.BigEndian.AppendUint32(payload, 1)
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(nbdAllocContext)))
	payload = append(payload, nbdAllocContext...)
	if err := sendOpt(rw, nbdOptSetMetaContext, payload); err != nil {
		return 0, false, err
	}
	for {
		rep, data, err := readOptReply(rw, nbdOptSetMetaContext)
		switch {
		case err != nil:
			return 0, false, err
		case rep == nbdRepMetaCtx:
			if len(data) < 4 {
				return 0, false, protoErr("NBD_REP_META_CONTEXT of %d bytes", len(data))
			}
			if string(data[4:]) == nbdAllocContext {
				id, ok = binary.BigEndian.Uint32(data), true
			}
		case rep == nbdRepAck:
			return id, ok, nil
		case rep&nbdRepErrBit != 0:
			return 0, false, nil
		default:
			return 0, false, protoErr("unexpected reply %#x to NBD_OPT_SET_META_CONTEXT", rep)
		}
	}
}

// exportName is the pre-NBD_OPT_GO way to enter transmission.
func exportName(rw io.ReadWriter, name string, noZeroes bool, ex nbdExport) (nbdExport, error) {
	ex.hasAlloc = false // meta contexts only count with NBD_OPT_GO
	if err := sendOpt(rw, nbdOptExportName, []byte(name)); err != nil {
		return ex, err
	}
	n := 10
	if !noZeroes {
		n += 124
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rw, buf); err != nil {
		return ex, fmt.Errorf("NBD_OPT_EXPORT_NAME %q: %w (the server closes the connection when the export does not exist)", name, err)
	}
	ex.size = int64(binary.BigEndian.Uint64(buf))
	ex.flags = binary.BigEndian.Uint16(buf[8:])
	return ex.check()
}

func (ex nbdExport) check() (nbdExport, error) {
	if ex.size < 0 {
		return ex, protoErr("export size %d overflows", uint64(ex.size))
	}
	if ex.minBlock != 0 && (ex.minBlock&(ex.minBlock-1) != 0 || ex.minBlock > 64<<10) {
		return ex, protoErr("minimum block size %d", ex.minBlock)
	}
	if ex.maxRequest == 0 || ex.maxRequest > nbdDefaultMaxRequest {
		ex.maxRequest = nbdDefaultMaxRequest
	}
	if ex.maxRequest < nbdDefaultMinRequests {
		return ex, protoErr("maximum request size %d", ex.maxRequest)
	}
	return ex, nil
}

func sendOpt(w io.Writer, opt uint32, data []byte) error {
	buf := make([]byte, 16, 16+len(data))
	binary.BigEndian.PutUint64(buf, nbdOptMagic)
	binary.BigEndian.PutUint32(buf[8:], opt)
	binary.BigEndian.PutUint32(buf[12:], uint32(len(data)))
	_, err := w.Write(append(buf, data...))
	return err
}

// readOptReply reads one option reply to opt; its payload is bounded.
func readOptReply(r io.Reader, opt uint32) (uint32, []byte, error) {
	var hdr [20]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("reading reply to option %d: %w", opt, err)
	}
	if m := binary.BigEndian.Uint64(hdr[:]); m != nbdRepMagic {
		return 0, nil, protoErr("option reply magic %#x", m)
	}
	if got := binary.BigEndian.Uint32(hdr[8:]); got != opt {
		return 0, nil, protoErr("reply for option %d while waiting for option %d", got, opt)
	}
	rep := binary.BigEndian.Uint32(hdr[12:])
	n := binary.BigEndian.Uint32(hdr[16:])
	if n > nbdMaxOptReply {
		return 0, nil, protoErr("option reply of %d bytes", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, fmt.Errorf("reading reply to option %d: %w", opt, err)
	}
	return rep, data, nil
}

func optMsg(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	return ": " + printable(data)
}

// printable keeps a server's message from carrying terminal escapes.
func printable(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

func repErrName(rep uint32) string {
	switch rep {
	case nbdRepErrPolicy:
		return "NBD_REP_ERR_POLICY (forbidden by server policy)"
	case nbdRepErrBit | 3:
		return "NBD_REP_ERR_INVALID"
	case nbdRepErrBit | 4:
		return "NBD_REP_ERR_PLATFORM"
	case nbdRepErrBit | 5:
		return "NBD_REP_ERR_TLS_REQD (the server requires TLS: use nbds://)"
	case nbdRepErrBit | 7:
		return "NBD_REP_ERR_SHUTDOWN"
	case nbdRepErrBit | 8:
		return "NBD_REP_ERR_BLOCK_SIZE_REQD"
	case nbdRepErrBit | 9:
		return "NBD_REP_ERR_TOO_BIG"
	}
	return fmt.Sprintf("error %#x", rep)
}

// nbdRequest encodes one transmission request.
func nbdRequest(cmd uint16, cookie uint64, off int64, n uint32) []byte {
	var b [28]byte
	binary.BigEndian.PutUint32(b[0:], nbdReqMagic)
	binary.BigEndian.PutUint16(b[6:], cmd)
	binary.BigEndian.PutUint64(b[8:], cookie)
	binary.BigEndian.PutUint64(b[16:], uint64(off))
	binary.BigEndian.PutUint32(b[24:], n)
	return b[:]
}
