package faultfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// childEnv carries the child's orders (a childSpec in JSON).
const childEnv = "VMFSRECOVER_FAULTFS_CHILD"

// stall is how long the child holds the read it signals after, so that
// what the parent does on the signal lands before the read returns.
const stall = 300 * time.Millisecond

type childSpec struct {
	Dir         string       `json:"dir"`
	Image       string       `json:"image"`
	Bad         allocmap.Map `json:"bad"`
	SignalAfter int64        `json:"signal_after"`
}

// Options tune Start.
type Options struct {
	// SignalAfter makes Disk.Signalled fire once the child has served
	// that many reads; the child holds that read a moment (300 ms) so that
	// the test can act in the middle of a reader's work (cancel a rescue).
	SignalAfter int
}

// Disk is a faulty disk served by a child process.
type Disk struct {
	Path string // the file: mountpoint/disk
	// Signalled is closed once the child has served Options.SignalAfter
	// reads (never without).
	Signalled <-chan struct{}

	cmd   *exec.Cmd
	image string // the temporary copy of the image the child reads
	ended chan error
}

// ServeIfAsked serves the faulty disk and exits when the process is the
// child Start runs; otherwise it returns at once. Call it first in the
// TestMain of every package whose tests call Start.
func ServeIfAsked() {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := serveChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "faultfs child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// Start mounts image at dir/disk, served by the test binary run again as
// a child (see ServeIfAsked); reads touching bad fail with EIO. Close
// unmounts it and ends the child.
func Start(dir string, image []byte, bad allocmap.Map, o Options) (*Disk, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "faultfs-image-")
	if err != nil {
		return nil, err
	}
	_, err = tmp.Write(image)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	spec, _ := json.Marshal(childSpec{Dir: dir, Image: tmp.Name(), Bad: bad, SignalAfter: int64(o.SignalAfter)})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("starting the faulty disk's server: %w", err)
	}
	signalled := make(chan struct{})
	ready := make(chan struct{})
	d := &Disk{Path: filepath.Join(dir, Name), Signalled: signalled, cmd: cmd, image: tmp.Name(), ended: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			switch sc.Text() {
			case "ready":
				close(ready)
			case "signal":
				close(signalled)
			}
		}
		d.ended <- cmd.Wait()
	}()
	select {
	case <-ready:
		return d, nil
	case err := <-d.ended:
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("the faulty disk's server ended before mounting: %v: %s", err, strings.TrimSpace(stderr.String()))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-d.ended
		os.Remove(tmp.Name())
		return nil, errors.New("the faulty disk's server did not mount within 30 s")
	}
}

// Close unmounts the disk and ends its server.
func (d *Disk) Close() error {
	defer os.Remove(d.image)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := <-d.ended; err != nil {
		return fmt.Errorf("the faulty disk's server: %w", err)
	}
	return nil
}

func serveChild(specJSON string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	img, err := os.Open(spec.Image)
	if err != nil {
		return err
	}
	defer img.Close()
	fi, err := img.Stat()
	if err != nil {
		return err
	}
	file := &faultyFile{image: img, size: fi.Size(), bad: spec.Bad, signalAt: spec.SignalAfter, signal: func() {
		fmt.Println("signal")
		time.Sleep(stall)
	}}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	server, err := mount(spec.Dir, file)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	ended := make(chan struct{})
	go func() { server.Wait(); close(ended) }()
	select {
	case <-ended:
		return nil
	case <-stop:
	}
	if err := server.Unmount(); err != nil {
		// Still in use: leave lazily, as the parent is done with it.
		if err := syscall.Unmount(spec.Dir, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting %s: %w", spec.Dir, err)
		}
	}
	<-ended
	return nil
}
