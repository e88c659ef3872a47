// Package mounttest reads a FUSE mount for a test from a child process,
// the test binary run again: a process that reads a FUSE mount it serves
// itself can hang (the kernel waits on a request, a poll or a page fault,
// that only the same process can answer while it is busy with the read).
// Every function here runs its reads, stats and refused writes in the
// child and reports what it saw; the package's TestMain calls RunIfAsked
// first so that the child does the job and exits.
package mounttest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv carries the child's job (a job in JSON).
const childEnv = "VMFSRECOVER_MOUNTTEST_CHILD"

type job struct {
	Kind   string     `json:"kind"` // walk, ranges, hold, try
	Path   string     `json:"path"`
	Ranges [][2]int64 `json:"ranges,omitempty"`
	Skip   []string   `json:"skip,omitempty"`
	Ops    []Op       `json:"ops,omitempty"`
}

// Entry is one file, directory or link below the mount as the child saw
// it (lstat, readlink, and for regular files all their bytes).
type Entry struct {
	Path    string      `json:"path"` // "/" and the slash path below the mount
	Mode    fs.FileMode `json:"mode"`
	Size    int64       `json:"size"`
	MTime   time.Time   `json:"mtime"`
	Links   uint64      `json:"links"`
	Blksize int64       `json:"blksize"`
	Blocks  int64       `json:"blocks"`           // of 512 bytes, as du counts
	Target  string      `json:"target,omitempty"` // of a symbolic link
	SHA256  string      `json:"sha256,omitempty"` // of a regular file
}

// Op is a call the child tries: Call is one of open-write, open-append,
// create, truncate, mkdir, remove, rmdir, rename, chmod, chtimes, symlink,
// link, setxattr (changes), or read (the whole file); Path the file it acts
// on; To the second path of rename, symlink (the new link) and link.
type Op struct {
	Call string `json:"call"`
	Path string `json:"path"`
	To   string `json:"to,omitempty"`
}

// RunIfAsked does the child's job and exits when the process is a child
// this package started; otherwise it returns at once.
func RunIfAsked() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	var j job
	err := json.Unmarshal([]byte(spec), &j)
	if err == nil {
		err = j.run(os.Stdout, os.Stdin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mounttest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// start runs the child for j; its stdin is a pipe the caller may write.
func start(t testing.TB, j job) (*exec.Cmd, io.WriteCloser, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	spec, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, in, &stdout, &stderr
}

// run runs the child for j to its end and decodes its answer into v.
func run(t testing.TB, j job, v any) {
	t.Helper()
	cmd, in, stdout, stderr := start(t, j)
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child reading the mount (%s %s): %v: %s", j.Kind, j.Path, err, stderr)
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("the child's answer (%s %s): %v: %q", j.Kind, j.Path, err, stdout)
	}
}

// Walk lists the tree below dir (dir itself left out) in lexical order,
// read by a child. Entries whose name ends in one of skip are listed but
// neither read nor entered.
func Walk(t testing.TB, dir string, skip ...string) []Entry {
	t.Helper()
	var out []Entry
	run(t, job{Kind: "walk", Path: dir, Skip: skip}, &out)
	return out
}

// ReadRanges reads file at each range (offset, length) in turn, then
// whole, in a child, and returns the bytes of each read.
func ReadRanges(t testing.TB, file string, ranges [][2]int64) [][]byte {
	t.Helper()
	var out [][]byte
	run(t, job{Kind: "ranges", Path: file, Ranges: ranges}, &out)
	return out
}

// SHA256 reads file whole in a child and returns its sha256 in hex.
func SHA256(t testing.TB, file string) string {
	t.Helper()
	var sum string
	run(t, job{Kind: "sha256", Path: file}, &sum)
	return sum
}

// DataMap walks file with lseek(SEEK_DATA) and lseek(SEEK_HOLE) in a
// child, as cp --sparse does, and returns the ranges (offset, length) the
// kernel says hold data.
func DataMap(t testing.TB, file string) [][2]int64 {
	t.Helper()
	var m [][2]int64
	run(t, job{Kind: "datamap", Path: file}, &m)
	return m
}

// MappedSHA256 maps file into memory in a child (mmap, read-only) and
// returns the sha256 of its bytes in hex.
func MappedSHA256(t testing.TB, file string) string {
	t.Helper()
	var sum string
	run(t, job{Kind: "mmap", Path: file}, &sum)
	return sum
}

// ReadFile reads file whole in a child.
func ReadFile(t testing.TB, file string) []byte {
	t.Helper()
	return ReadRanges(t, file, nil)[0]
}

// Try makes the child attempt each op and returns each one's error (nil
// when it succeeded) as the syscall.Errno the kernel gave, in order.
func Try(t testing.TB, ops []Op) []error {
	t.Helper()
	var codes []int
	run(t, job{Kind: "try", Ops: ops}, &codes)
	errs := make([]error, len(codes))
	for i, c := range codes {
		if c != 0 {
			errs[i] = syscall.Errno(c)
		}
	}
	return errs
}

// Held is a file a child keeps open.
type Held struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
}

// Hold opens file in a child and returns once it is open; the child
// keeps it open until Release.
func Hold(t testing.TB, file string) *Held {
	t.Helper()
	spec, err := json.Marshal(job{Kind: "hold", Path: file})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	h := &Held{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = h.stderr
	if h.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.in.Close(); cmd.Wait() })
	h.out = bufio.NewReader(stdout)
	if line, err := h.out.ReadString('\n'); line != "open\n" {
		h.in.Close()
		cmd.Wait()
		t.Fatalf("the child did not open %s: %v: %s", file, err, h.stderr)
	}
	return h
}

// Release lets the child read the file from its start to its end, close
// it and exit, and returns what it read.
func (h *Held) Release() ([]byte, error) {
	h.in.Close()
	b, err := io.ReadAll(h.out)
	if werr := h.cmd.Wait(); werr != nil {
		return nil, fmt.Errorf("%w: %s", werr, h.stderr)
	}
	return b, err
}

func (j job) run(out io.Writer, in io.Reader) error {
	switch j.Kind {
	case "walk":
		ents, err := walk(j.Path, j.Skip)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(ents)
	case "ranges":
		got, err := readRanges(j.Path, j.Ranges)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(got)
	case "sha256":
		sum, err := hashFile(j.Path)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(sum)
	case "mmap":
		sum, err := hashMapped(j.Path)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(sum)
	case "datamap":
		m, err := dataMap(j.Path)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(m)
	case "try":
		codes := make([]int, len(j.Ops))
		for i, op := range j.Ops {
			var errno syscall.Errno
			if err := op.do(); errors.As(err, &errno) {
				codes[i] = int(errno)
			} else if err != nil {
				return fmt.Errorf("%s %s: %w", op.Call, op.Path, err)
			}
		}
		return json.NewEncoder(out).Encode(codes)
	case "hold":
		f, err := os.Open(j.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintln(out, "open")
		io.Copy(io.Discard, bufio.NewReader(in)) // until the parent closes stdin
		_, err = io.Copy(out, f)
		return err
	}
	return fmt.Errorf("unknown job %q", j.Kind)
}

func walk(dir string, skip []string) ([]Entry, error) {
	var ents []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := Entry{
			Path: "/" + filepath.ToSlash(p[len(dir)+1:]), Mode: fi.Mode(), Size: fi.Size(),
			MTime: fi.ModTime(), Links: uint64(st.Nlink), Blksize: int64(st.Blksize), Blocks: st.Blocks,
		}
		skipped := slices.ContainsFunc(skip, func(s string) bool { return strings.HasSuffix(p, s) })
		switch {
		case skipped:
			if fi.IsDir() {
				ents = append(ents, e)
				return fs.SkipDir
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if e.SHA256, err = hashFile(p); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
		}
		ents = append(ents, e)
		return nil
	})
	return ents, err
}

func dataMap(name string) ([][2]int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := [][2]int64{}
	for off := int64(0); ; {
		start, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("SEEK_DATA from %d: %w", off, err)
		}
		end, err := f.Seek(start, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("SEEK_HOLE from %d: %w", start, err)
		}
		if end <= start {
			return nil, fmt.Errorf("SEEK_HOLE from %d gave %d", start, end)
		}
		m = append(m, [2]int64{start, end - start})
		off = end
	}
}

func hashMapped(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return "", fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(b)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func hashFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	// 1 MiB at a time, as cat does (st_blksize).
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readRanges(name string, ranges [][2]int64) ([][]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var got [][]byte
	for _, r := range ranges {
		buf := make([]byte, r[1])
		n, err := f.ReadAt(buf, r[0])
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("at %d: %w", r[0], err)
		}
		got = append(got, buf[:n])
	}
	whole, err := io.ReadAll(f)
	return append(got, whole), err
}

func (op Op) do() error {
	switch op.Call {
	case "open-write":
		return closeIfOpened(os.OpenFile(op.Path, os.O_WRONLY, 0))
	case "open-append":
		return closeIfOpened(os.OpenFile(op.Path, os.O_RDWR|os.O_APPEND, 0))
	case "create":
		return closeIfOpened(os.Create(op.Path))
	case "truncate":
		return os.Truncate(op.Path, 0)
	case "mkdir":
		return os.Mkdir(op.Path, 0o755)
	case "remove":
		return syscall.Unlink(op.Path)
	case "rmdir":
		return syscall.Rmdir(op.Path)
	case "rename":
		return os.Rename(op.Path, op.To)
	case "chmod":
		return os.Chmod(op.Path, 0o777)
	case "chtimes":
		return os.Chtimes(op.Path, time.Now(), time.Now())
	case "symlink":
		return os.Symlink(op.Path, op.To)
	case "link":
		return os.Link(op.Path, op.To)
	case "setxattr":
		return syscall.Setxattr(op.Path, "user.x", []byte("y"), 0)
	case "read":
		_, err := os.ReadFile(op.Path)
		return err
	}
	return fmt.Errorf("unknown call %q", op.Call)
}

func closeIfOpened(f *os.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}
