package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/vmfsrecover/vmfsrecover/recover/fsread"
)

// Kinds of preview.
const (
	KindText    = "text"
	KindBinary  = "binary"
	KindVMX     = "vmx"
	KindVMDK    = "vmdk"
	KindDir     = "dir"
	KindSymlink = "symlink"
)

// Default caps of what a preview shows.
const (
	DefaultMaxText = 64 << 10
	DefaultMaxHex  = 4 << 10
	// maxVMX bounds how much of a .vmx is parsed: real ones are a few KiB.
	maxVMX = 1 << 20
	// maxEntries bounds a directory preview.
	maxEntries = 1000
	sniffSize  = 8 << 10
)

// ErrNotRegular: the path is neither a regular file, a directory nor a link.
var ErrNotRegular = errors.New("not a regular file")

// Options tune a preview.
type Options struct {
	MaxText int64 // bytes of text shown; 0 means DefaultMaxText
	MaxHex  int64 // bytes of a binary file dumped; 0 means DefaultMaxHex
	Offset  int64 // where the text or the hex dump starts
	// Tolerant opens damaged VMDKs reading what is missing as zeros; missing
	// extents and parents are reported either way.
	Tolerant bool
}

func (o Options) maxText() int64 {
	if o.MaxText > 0 {
		return o.MaxText
	}
	return DefaultMaxText
}

func (o Options) maxHex() int64 {
	if o.MaxHex > 0 {
		return o.MaxHex
	}
	return DefaultMaxHex
}

// Result is what a preview shows.
type Result struct {
	Path   string `json:"path"` // absolute inside the volume
	Kind   string `json:"kind"`
	Size   int64  `json:"size"`
	Offset int64  `json:"offset,omitempty"` // of the text or hex dump
	// Shown is how many bytes of content Text or Hex cover.
	Shown     int64    `json:"shown"`
	Truncated bool     `json:"truncated,omitempty"` // the file goes on past what is shown
	Text      string   `json:"text,omitempty"`
	Hex       string   `json:"hex,omitempty"`
	Target    string   `json:"target,omitempty"`  // symbolic link
	Entries   []Dirent `json:"entries,omitempty"` // directory
	VMX       *VMX     `json:"vmx,omitempty"`
	VMDK      *VMDK    `json:"vmdk,omitempty"`
}

// Dirent is one entry of a previewed directory.
type Dirent struct {
	Name string `json:"name"`
	Dir  bool   `json:"dir,omitempty"`
	Size int64  `json:"size"`
}

// textExts are extensions shown as text even when a sniff would hesitate
// (a .log with a stray control byte stays a log).
var textExts = map[string]bool{
	".vmx": true, ".vmsd": true, ".vmxf": true, ".vmtx": true, ".log": true, ".hlog": true,
	".txt": true, ".cfg": true, ".conf": true, ".xml": true, ".ovf": true, ".mf": true,
	".json": true, ".sh": true, ".vmdk": true,
}

// Preview describes the file, directory or link name of fsys.
func Preview(ctx context.Context, fsys fs.FS, name string, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Offset < 0 {
		return nil, fmt.Errorf("preview %s: negative offset %d", name, opts.Offset)
	}
	info, err := lstat(fsys, name)
	if err != nil {
		return nil, err
	}
	r := &Result{Path: abs(name), Size: info.Size()}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		r.Kind = KindSymlink
		r.Target, err = fs.ReadLink(fsys, name)
		return r, err
	case info.IsDir():
		r.Kind = KindDir
		return r, r.readDir(fsys, name)
	case !info.Mode().IsRegular():
		return nil, &fs.PathError{Op: "preview", Path: r.Path, Err: ErrNotRegular}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ra := fsread.ReaderAt(fsys, name, f)
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	head := make([]byte, min(info.Size(), sniffSize))
	if n, err := ra.ReadAt(head, 0); err != nil && !(errors.Is(err, io.EOF) && n == len(head)) {
		return nil, &fs.PathError{Op: "read", Path: r.Path, Err: err}
	}
	ext := strings.ToLower(path.Ext(name))
	switch {
	case ext == ".vmx" && looksText(head):
		r.Kind = KindVMX
		b := make([]byte, min(info.Size(), maxVMX))
		if _, err := ra.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, &fs.PathError{Op: "read", Path: r.Path, Err: err}
		}
		r.VMX = SummarizeVMX(ctx, fsys, name, b, opts)
		if info.Size() > maxVMX {
			r.VMX.Warnings = append(r.VMX.Warnings, fmt.Sprintf("only the first %d bytes of %d were read", maxVMX, info.Size()))
		}
		return r, r.readText(ra, opts)
	case ext == ".vmdk":
		r.Kind = KindVMDK
		r.VMDK = SummarizeVMDK(ctx, fsys, name, opts)
		if looksText(head) {
			return r, r.readText(ra, opts)
		}
		return r, nil
	case textExts[ext] && !bytes.Contains(head, []byte{0}), looksText(head):
		r.Kind = KindText
		return r, r.readText(ra, opts)
	default:
		r.Kind = KindBinary
		return r, r.readHex(ra, opts)
	}
}

func (r *Result) readDir(fsys fs.FS, name string) error {
	ents, err := fs.ReadDir(fsys, name)
	for _, e := range ents {
		if len(r.Entries) == maxEntries {
			r.Truncated = true
			break
		}
		d := Dirent{Name: e.Name(), Dir: e.IsDir()}
		if fi, err := e.Info(); err == nil && !e.IsDir() {
			d.Size = fi.Size()
		}
		r.Entries = append(r.Entries, d)
	}
	return err
}

// window reads up to n bytes at opts.Offset.
func (r *Result) window(ra io.ReaderAt, off, n int64) ([]byte, error) {
	if off >= r.Size {
		r.Offset = off
		return nil, nil
	}
	n = min(n, r.Size-off)
	b := make([]byte, n)
	got, err := ra.ReadAt(b, off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
		return nil, &fs.PathError{Op: "read", Path: r.Path, Err: fmt.Errorf("at offset %d: %w", off+int64(got), err)}
	}
	r.Offset = off
	r.Truncated = off+n < r.Size
	return b, nil
}

func (r *Result) readText(ra io.ReaderAt, opts Options) error {
	b, err := r.window(ra, opts.Offset, opts.maxText())
	if err != nil {
		return err
	}
	if r.Truncated {
		// Cut at a character boundary: drop an incomplete final rune.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	r.Shown = int64(len(b))
	r.Text = string(b)
	return nil
}

func (r *Result) readHex(ra io.ReaderAt, opts Options) error {
	b, err := r.window(ra, opts.Offset, opts.maxHex())
	if err != nil {
		return err
	}
	r.Shown = int64(len(b))
	r.Hex = HexDump(b, r.Offset)
	return nil
}

// looksText reports whether b reads as text: valid UTF-8 (an incomplete
// character at the very end aside) with no NUL and few control bytes.
func looksText(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	ctrl := 0
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size <= 1 {
			if len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:]) {
				break
			}
			return false
		}
		switch {
		case c == 0:
			return false
		case c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b:
			ctrl++
		}
		i += size
	}
	return ctrl*100 <= len(b)
}

// HexDump renders b, which starts at offset base of a file, as hexdump -C
// does: 16 bytes a line with their offset and printable characters; a run of
// lines equal to the previous one shows as a single "*".
func HexDump(b []byte, base int64) string {
	var sb strings.Builder
	var prev []byte
	star := false
	for i := 0; i < len(b); i += 16 {
		line := b[i:min(i+16, len(b))]
		if prev != nil && len(line) == 16 && bytes.Equal(line, prev) {
			if !star {
				sb.WriteString("*\n")
				star = true
			}
			continue
		}
		star = false
		prev = line
		fmt.Fprintf(&sb, "%08x  ", base+int64(i))
		for j := range 16 {
			if j < len(line) {
				fmt.Fprintf(&sb, "%02x ", line[j])
			} else {
				sb.WriteString("   ")
			}
			if j == 7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			sb.WriteByte(c)
		}
		sb.WriteString("|\n")
	}
	if len(b) > 0 {
		fmt.Fprintf(&sb, "%08x\n", base+int64(len(b)))
	}
	return sb.String()
}

func lstat(fsys fs.FS, p string) (fs.FileInfo, error) {
	if l, ok := fsys.(fs.ReadLinkFS); ok {
		return l.Lstat(p)
	}
	return fs.Stat(fsys, p)
}

func abs(p string) string {
	if p == "." {
		return "/"
	}
	return path.Join("/", p)
}
