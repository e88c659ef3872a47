package remotetest

import (
	"io"
	"net"
	"testing"
	"time"
)

// StartDelayProxy forwards connections from a loopback port to addr, and
// delivers every byte delay after it arrived, in both directions: a long
// link (round trip 2 × delay) whose bandwidth is not limited. It returns
// the port and stops with the test.
func StartDelayProxy(t testing.TB, addr string, delay time.Duration) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go delayCopy(s, c, delay)
			go delayCopy(c, s, delay)
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// delayCopy copies src to dst, each read delay after it arrived; it closes
// both when either side ends.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type piece struct {
		b  []byte
		at time.Time
	}
	q := make(chan piece, 4096)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- piece{b[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	defer dst.Close()
	defer src.Close()
	for p := range q {
		time.Sleep(time.Until(p.at.Add(delay)))
		if _, err := dst.Write(p.b); err != nil {
			io.Copy(io.Discard, src)
			return
		}
	}
}
