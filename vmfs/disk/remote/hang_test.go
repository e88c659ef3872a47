package remote

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// hangOptions time a silent link out quickly.
func hangOptions(o Options) Options {
	o.IOTimeout, o.DialTimeout, o.RetryFor, o.ReadAhead = 3*time.Second, 2*time.Second, 20*time.Second, 1
	return o
}

// readDuringPause reads at off while the server is stopped (SIGSTOP) for
// a few seconds: the read must come back with the right data once the
// server answers again, over a new connection.
func readDuringPause(t *testing.T, r io.ReaderAt, data []byte, pause, resume func()) {
	t.Helper()
	buf := make([]byte, 64<<10)
	if _, err := r.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	pause()
	resumed := make(chan struct{})
	go func() {
		time.Sleep(5 * time.Second)
		resume()
		close(resumed)
	}()
	defer func() { <-resumed }()
	off := len(data) - len(buf) - 4096
	if _, err := r.ReadAt(buf, int64(off)); err != nil {
		t.Fatalf("read while the server hung: %v", err)
	}
	if !bytes.Equal(buf, data[off:off+len(buf)]) {
		t.Fatal("data read after the hang differs")
	}
}

func TestNBDServerHangs(t *testing.T) {
	t.Parallel()
	img, data := randomImage(t, 8<<20, 12)
	srv := startQemuNBD(t, img, "raw", "")
	tg, _ := ParseTarget(srv.URL(""))
	d, err := OpenNBD(tg, hangOptions(testOptions()))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	readDuringPause(t, d, data, srv.Pause, srv.Resume)
	if _, gen := d.current(); gen == 0 {
		t.Error("the hung connection was not replaced")
	}
}

func TestSSHServerHangs(t *testing.T) {
	t.Parallel()
	srv := startSSHD(t)
	img, data := randomImage(t, 8<<20, 13)
	f := srv.dial(t, hangOptions(srv.options()))
	file, err := f.Open(fsName(img))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	readDuringPause(t, file.(io.ReaderAt), data, srv.Pause, srv.Resume)
	if _, gen, _ := f.current(0); gen < 2 {
		t.Error("the hung connection was not replaced")
	}
}

// scanThroughRestart reads r sequentially in 1 MiB pieces, slowly enough
// that the server is killed (stop) once 4 MiB have come over, with
// read-ahead in flight, and started again 700 ms later.
func scanThroughRestart(t *testing.T, r io.ReaderAt, data []byte, transferred func() int64, stop, start func()) {
	t.Helper()
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		for transferred() < 4<<20 {
			time.Sleep(time.Millisecond)
		}
		stop()
		time.Sleep(700 * time.Millisecond)
		start()
	}()
	buf := make([]byte, 1<<20)
	for off := 0; off < len(data); off += len(buf) {
		if _, err := r.ReadAt(buf, int64(off)); err != nil {
			t.Fatalf("read at %d through the restart: %v", off, err)
		}
		if !bytes.Equal(buf, data[off:off+len(buf)]) {
			t.Fatalf("data at %d differs", off)
		}
		time.Sleep(40 * time.Millisecond)
	}
	<-restarted
}

// checkDownThenBack: once a read has given up on a down link, the next
// ones fail at once instead of waiting RetryFor each; when the server is
// back, reads work again.
func checkDownThenBack(t *testing.T, r io.ReaderAt, start func(), retryFor time.Duration) {
	t.Helper()
	for i := 0; i < 3; i++ {
		began := time.Now()
		_, err := r.ReadAt(make([]byte, 10), int64(i)<<20+77)
		if !errors.Is(err, ErrLinkDown) {
			t.Fatalf("read %d on the down link: err = %v, want ErrLinkDown", i, err)
		}
		if el := time.Since(began); el >= retryFor {
			t.Errorf("read %d on a link known down waited %s (RetryFor %s)", i, el, retryFor)
		}
	}
	start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := r.ReadAt(make([]byte, 10), 2<<20+99)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server is back but reads still fail: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
