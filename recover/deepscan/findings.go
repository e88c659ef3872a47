package deepscan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vmfsrecover/vmfsrecover/vmfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Findings is what a scan met on one source, in disk byte offsets.
type Findings struct {
	Format   int    `json:"format"` // scan-file format version
	Source   string `json:"source"`
	Identity string `json:"identity"` // see Identify
	Size     int64  `json:"size"`
	Done     int64  `json:"done"` // bytes scanned from the start; Size when complete

	LVM         []LVMHit     `json:"lvm,omitempty"`
	Descriptors []DescHit    `json:"descriptors,omitempty"`
	Origins     []OriginVote `json:"origins,omitempty"`
	FDs         []FDHit      `json:"fds,omitempty"`
	Names       []NameHit    `json:"names,omitempty"`
	Texts       []TextHit    `json:"texts,omitempty"`
	BadRanges   allocmap.Map `json:"bad_ranges,omitempty"`
}

const findingsFormat = 1

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

// Identify fingerprints a source by its size and the SHA-256 of its first
// 2 MiB and last 1 MiB: the same disk under another device name keeps its
// scan file; another disk does not pick up a stale one.
func Identify(r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "size=%d\n", size)
	for _, part := range [][2]int64{{0, min(size, 2<<20)}, {max(0, size-1<<20), min(size, 1<<20)}} {
		buf := make([]byte, part[1])
		if _, err := r.ReadAt(buf, part[0]); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("fingerprinting the source at offset %d: %w", part[0], err)
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// ScanFilePath is where the findings for a source identity are kept:
// dir/.vmfsrecover/scan-<identity>.json.
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
		return nil, fmt.Errorf("scan file %s: format %d, this build reads %d; delete it to scan again", path, f.Format, findingsFormat)
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
