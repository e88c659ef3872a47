package export

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// concurrencyDest is a local destination that records how many files are
// being written at once, all of them and large ones.
type concurrencyDest struct {
	*Local
	mu                          sync.Mutex
	active, large               int
	maxActive, maxLarge, writes int
}

type concurrencyConn struct {
	Conn
	d *concurrencyDest
}

func (d *concurrencyDest) Connect(ctx context.Context) (Conn, error) {
	c, err := d.Local.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &concurrencyConn{Conn: c, d: d}, nil
}

func (c *concurrencyConn) Write(ctx context.Context, name string, s *Stream) error {
	big := s.Size() >= largeFile
	d := c.d
	d.mu.Lock()
	d.active++
	d.writes++
	d.maxActive = max(d.maxActive, d.active)
	if big {
		d.large++
		d.maxLarge = max(d.maxLarge, d.large)
	}
	d.mu.Unlock()
	time.Sleep(30 * time.Millisecond) // long enough for the others to start
	err := c.Conn.Write(ctx, name, s)
	d.mu.Lock()
	d.active--
	if big {
		d.large--
	}
	d.mu.Unlock()
	return err
}

// TestAutomaticWorkers: with Workers 0, small files are copied several at
// a time and large ones one at a time; an explicit count is kept.
func TestAutomaticWorkers(t *testing.T) {
	fsys := newTestFS()
	for i := range 8 {
		fsys.file(fmt.Sprintf("vm/small%d.vmx", i), randBytes(uint64(i), 3000))
	}
	for i := range 3 {
		// All hole: the 64 MiB are never read, nor made resident.
		name := fmt.Sprintf("vm/large%d-flat.vmdk", i)
		fsys.file(name, make([]byte, largeFile))
		fsys.alloc[name] = allocmap.Map{}
	}
	for _, tc := range []struct {
		workers             int
		wantActive, wantBig int
	}{
		{workers: 0, wantActive: autoWorkers, wantBig: 1},
		{workers: 3, wantActive: 3, wantBig: 3},
	} {
		local, err := NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		local.NoSync = true
		d := &concurrencyDest{Local: local}
		rep, err := Export(context.Background(), fsys, nil, d, Options{Workers: tc.workers})
		if err != nil || rep.Exported != 11 {
			t.Fatalf("workers %d: %v, %+v", tc.workers, err, rep)
		}
		if d.maxLarge != tc.wantBig || d.maxActive != tc.wantActive {
			t.Errorf("workers %d: %d files at once, %d large; want %d and %d", tc.workers, d.maxActive, d.maxLarge, tc.wantActive, tc.wantBig)
		}
	}
}
