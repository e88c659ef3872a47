package deepscan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Findings is what a scan met on one source, in disk byte offsets.
type Findings struct {
	Format   int       `json:"format"` // scan-file format version
	Source   string    `json:"source"`
	Identity string    `json:"identity"` // fingerprint.Print.ID of the source
	Size     int64     `json:"size"`
	Done     int64     `json:"done"`  // bytes scanned from the start; Size when complete
	Saved    time.Time `json:"saved"` // when the scan file was last written
	// File is the source's file on the machine that scanned it, when it
	// was a local file: a later run on the same path checks its mtime.
	File *FileStamp `json:"file,omitempty"`
	// Anchors are hashes of structures the findings rely on, read again
	// before a scan file is trusted.
	Anchors []Anchor `json:"anchors,omitempty"`

	LVM         []LVMHit     `json:"lvm,omitempty"`
	Descriptors []DescHit    `json:"descriptors,omitempty"`
	Origins     []OriginVote `json:"origins,omitempty"`
	FDs         []FDHit      `json:"fds,omitempty"`
	Names       []NameHit    `json:"names,omitempty"`
	Texts       []TextHit    `json:"texts,omitempty"`
	BadRanges   allocmap.Map `json:"bad_ranges,omitempty"`
}

// findingsFormat 2 added the sampled identity, anchors and file stamp.
const findingsFormat = 2

// FileStamp is what the file system said of a local source file.
type FileStamp struct {
	Path    string    `json:"path"` // absolute
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// Anchor is the hash of Len bytes at Offset of the source: a structure
// the scan found (Kind says which).
type Anchor struct {
	Offset int64  `json:"offset"`
	Len    int    `json:"len"`
	Kind   string `json:"kind"`
	SHA256 string `json:"sha256"` // first 16 bytes, hex
}

// Summary says in words what the findings hold.
func (f *Findings) Summary() string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{len(f.LVM), "LVM header"}, {len(f.Descriptors), "file-system descriptor"}, {len(f.FDs), "file descriptor"}, {len(f.Names), "directory entry"}, {len(f.Texts), "text file"}} {
		if c.n > 0 {
			parts = append(parts, plural(c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return "no VMFS structure"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Complete reports whether the whole source was scanned.
func (f *Findings) Complete() bool { return f.Done >= f.Size }

// LVMHit is an LVM device header: the extent's partition starts at
// Partition (the header is 1 MiB further).
type LVMHit struct {
	Partition  int64     `json:"partition"`
	Major      uint32    `json:"major"`
	VolumeUUID vmfs.UUID `json:"lvm_uuid"`
	Logical    int64     `json:"logical_size"`
	FirstPE    uint64    `json:"first_pe"`
	// Origin is where logical offset 0 lies on this disk (first PE), or -1.
	Origin int64 `json:"origin"`
}

// DescHit is a file-system descriptor found at Offset; the volume it
// describes starts 2 MiB earlier.
type DescHit struct {
	Offset int64           `json:"offset"`
	Desc   vmfs.Descriptor `json:"descriptor"`
}

// OriginVote counts metadata blocks (locks, heartbeats) that place the
// start of a volume at Origin.
type OriginVote struct {
	Origin int64 `json:"origin"`
	Votes  int   `json:"votes"`
}

// FDHit is a file descriptor found at disk offset Offset.
type FDHit struct {
	Offset int64 `json:"offset"`
	vmfs.FDInfo
}

// Origin is where the volume holding this descriptor starts, by the
// descriptor's own record of its volume offset.
func (h FDHit) Origin() int64 { return h.Offset - h.SelfOffset }

// NameHit is a directory entry found in a run of VMFS3/5 entries.
type NameHit struct {
	Offset     int64  `json:"offset"`
	Dir        uint32 `json:"dir_fd"` // the run's "." entry
	FD         uint32 `json:"fd"`
	Generation uint32 `json:"generation"`
	Name       string `json:"name"`
}

// TextHit is a text file recognised by its first bytes.
type TextHit struct {
	Offset int64  `json:"offset"`
	Kind   string `json:"kind"` // "vmdk-descriptor" or "vmx"
	Length int64  `json:"length"`
	Name   string `json:"name"` // a name the text suggests, or ""
}

// ScanFilePath is where the findings for a source identity are kept:
// dir/.vmfsrecover/scan-<identity>.json. Scan files of sources of the same
// size, start and end share the prefix scan-<fingerprint.EndsOf(id)>-.
func ScanFilePath(dir, identity string) string {
	return filepath.Join(dir, ".vmfsrecover", "scan-"+identity+".json")
}

// Load reads a scan file; os.ErrNotExist when there is none.
func Load(path string) (*Findings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Findings
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("scan file %s: %w", path, err)
	}
	if f.Format != findingsFormat {
		return nil, fmt.Errorf("scan file %s: format %d, this build reads %d", path, f.Format, findingsFormat)
	}
	if f.Size <= 0 || f.Done < 0 || f.Done > f.Size {
		return nil, fmt.Errorf("scan file %s: %d of %d bytes scanned is not possible", path, f.Done, f.Size)
	}
	if len(f.Anchors) > 3*maxAnchors {
		return nil, fmt.Errorf("scan file %s: %d anchors, a scan keeps at most %d", path, len(f.Anchors), 3*maxAnchors)
	}
	for _, a := range f.Anchors {
		if a.Len <= 0 || a.Len > sector || a.Offset < 0 || a.Offset > f.Size-int64(a.Len) {
			return nil, fmt.Errorf("scan file %s: anchor of %d bytes at offset %d outside the %d-byte source", path, a.Len, a.Offset, f.Size)
		}
	}
	return &f, nil
}

// Save writes the scan file atomically (temporary file, then rename).
func (f *Findings) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".scan-*.tmp")
	if err != nil {
		return err
	}
	f.Saved = time.Now().UTC().Truncate(time.Second)
	enc := json.NewEncoder(tmp)
	err = enc.Encode(f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("saving scan file %s: %w", path, err)
	}
	return nil
}
