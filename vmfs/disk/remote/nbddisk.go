package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
)

// NBDDisk is a read-only NBD export: a disk.Disk. It is safe for
// concurrent ReadAt.
type NBDDisk struct {
	t     Target
	opts  Options
	cache *blockcache.Reader
	size  int64

	mu     sync.Mutex // guards conn and gen; held while re-dialling
	conn   *nbdConn
	gen    int
	closed atomic.Bool
	link   linkState
	zeros  zeroMaps
	tls    *tls.Config  // nbds://
	moved  atomic.Int64 // bytes read from the server
}

// OpenNBD connects to an NBD server and opens the export t.Path.
func OpenNBD(t Target, opts Options) (*NBDDisk, error) {
	opts.defaults()
	tlsCfg, err := nbdTLSConfig(t, &opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	c, err := dialNBD(context.Background(), t.Host, t.Path, opts.DialTimeout, tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	d := &NBDDisk{t: t, opts: opts, conn: c, tls: tlsCfg, size: c.ex.size}
	pool := blockcache.NewPool(int64(opts.ChunkSize), opts.CacheSize)
	d.cache = pool.NewReader(d.size, d.fetch, blockcache.Options{Name: t.String(), ReadAhead: opts.ReadAhead, Zero: d.notAhead})
	return d, nil
}

func (d *NBDDisk) current() (*nbdConn, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn, d.gen
}

// ReadAt reads what the server says reads as zeros without asking for it.
func (d *NBDDisk) ReadAt(p []byte, off int64) (int, error) {
	if n := min(int64(len(p)), d.size-off); n > 0 && off >= 0 && !d.closed.Load() && d.readsZero(off, n) {
		clear(p[:n])
		d.cache.Skipped(off, n)
		if n < int64(len(p)) {
			return int(n), io.EOF
		}
		return int(n), nil
	}
	return d.cache.ReadAt(p, off)
}

// Size is the export's size in bytes.
func (d *NBDDisk) Size() int64 { return d.size }

func (d *NBDDisk) readsZero(off, n int64) bool {
	c, _ := d.current()
	zero, _ := d.zeros.covers(c, d.size, off, n)
	return zero
}

// notAhead says whether read-ahead should leave [off, off+n) alone: it
// reads as zeros, or the link dropped before the server could say, and
// a speculative fetch would move a gigabyte of holes once it is back.
func (d *NBDDisk) notAhead(off, n int64) bool {
	c, _ := d.current()
	zero, lost := d.zeros.covers(c, d.size, off, n)
	return zero || lost
}

func (d *NBDDisk) fetch(p []byte, off int64) error {
	if d.readsZero(off, int64(len(p))) {
		clear(p) // read-ahead running into a hole
		return nil
	}
	var gen int
	op := func() error {
		var c *nbdConn
		c, gen = d.current()
		return c.readAt(p, off)
	}
	what := func() string { return fmt.Sprintf("%s: read of %d bytes at offset %d", d.t, len(p), off) }
	err := retry(&d.opts, &d.link, d.closed.Load, what, op, func() error { return d.redial(gen) })
	if err == nil {
		d.moved.Add(int64(len(p)))
	}
	return err
}

// redial replaces the connection of generation gen, unless another reader
// already did.
func (d *NBDDisk) redial(gen int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != gen || d.closed.Load() {
		return nil
	}
	c, err := dialNBD(context.Background(), d.t.Host, d.t.Path, d.opts.DialTimeout, d.tls)
	if err != nil {
		return err
	}
	if c.ex.size != d.conn.ex.size {
		c.close()
		return fmt.Errorf("the export came back with %d bytes instead of %d: not the same disk", c.ex.size, d.conn.ex.size)
	}
	d.conn.close()
	d.conn, d.gen = c, d.gen+1
	return nil
}

// Structured says whether the server answers reads with structured replies.
func (d *NBDDisk) Structured() bool {
	c, _ := d.current()
	return c.ex.structured
}

// Transferred is the number of bytes read from the server so far (for a
// transfer rate).
func (d *NBDDisk) Transferred() int64 { return d.moved.Load() }

// Close disconnects (NBD_CMD_DISC).
func (d *NBDDisk) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.cache.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn.close()
	return nil
}

func (d *NBDDisk) String() string { return d.t.String() }

// nbdTLSConfig is the TLS configuration of an nbds:// target, nil for
// nbd://. The server's certificate must chain to opts.NBDCA (or the
// system's roots) and name the host.
func nbdTLSConfig(t Target, opts *Options) (*tls.Config, error) {
	if !t.TLS {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(t.Host)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if opts.NBDCA != "" {
		pem, err := os.ReadFile(opts.NBDCA)
		if err != nil {
			return nil, fmt.Errorf("NBD CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("NBD CA %s: no PEM certificate in it", opts.NBDCA)
		}
	}
	if opts.NBDCert != "" || opts.NBDKey != "" {
		cert, err := tls.LoadX509KeyPair(opts.NBDCert, opts.NBDKey)
		if err != nil {
			return nil, fmt.Errorf("NBD client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
