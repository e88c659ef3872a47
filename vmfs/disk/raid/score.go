package raid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// Scorer judges a candidate assembly by what must be true of the disk it
// gives: points for each structure found where it belongs (0 when none),
// and a few words saying what was found. Reads may fail (detection reads a
// bounded sample): a failed read is simply no evidence.
type Scorer interface {
	Score(d io.ReaderAt, size int64) (points int, why string)
}

// ScorerFunc adapts a function to Scorer.
type ScorerFunc func(d io.ReaderAt, size int64) (int, string)

// Score calls f.
func (f ScorerFunc) Score(d io.ReaderAt, size int64) (int, string) { return f(d, size) }

// DefaultScorers look for a partition table and a VMFS volume.
func DefaultScorers() []Scorer { return []Scorer{ScorerFunc(scoreTable), ScorerFunc(scoreVMFS)} }

// Offsets and magic numbers of a VMFS volume, relative to its partition
// (the layout package vmfs reads; see docs/formats).
const (
	vmfsLVMHeader  = 0x100000 // LVM device header
	vmfsLVMMagic   = 0xC001D00D
	vmfsVolume     = 0x1100000 // the logical volume
	vmfsFSDesc     = 0x200000  // FS descriptor, volume offset
	vmfsFSMagic    = 0x2FABF15E
	vmfsFSMagicL   = 0x2FABF15F // ESXi 7 OSDATA
	vmfsHeartbeats = 0x300000   // heartbeat region, volume offset: 1 MiB (VMFS5) to 4 MiB (VMFS6)
	vmfsHBFree     = 0xABCDEF01
	vmfsHBUsed     = 0xABCDEF02
	hbProbeStride  = 16 << 10
	hbProbes       = 4 << 20 / hbProbeStride
)

// scoreTable gives 10 points for a partition table at the start and 10
// more for a GPT (whose CRCs over the header and the 16 KiB entry array
// only check out when the chunks are in order).
func scoreTable(d io.ReaderAt, size int64) (int, string) {
	t, err := partition.Read(head{d}, size)
	if err != nil || len(t.Partitions) == 0 {
		return 0, ""
	}
	if t.Scheme == partition.GPT && len(t.Warnings) == 0 {
		return 20, "GPT"
	}
	return 10, string(t.Scheme)
}

// vmfsStarts lists where a VMFS partition may start: each VMFS partition
// of the table, else the disk itself.
func vmfsStarts(d io.ReaderAt, size int64) []int64 {
	t, err := partition.Read(head{d}, size)
	if err != nil {
		return []int64{0}
	}
	var starts []int64
	for _, p := range t.Partitions {
		if p.IsVMFS() || p.TypeGUID == partition.GUIDVMFSL {
			starts = append(starts, p.Start)
		}
	}
	if len(starts) == 0 {
		return []int64{0}
	}
	return starts[:min(len(starts), 4)]
}

func u32At(d io.ReaderAt, off int64) (uint32, bool) {
	var b [4]byte
	if _, err := d.ReadAt(b[:], off); err != nil {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[:]), true
}

// scoreVMFS looks for a VMFS volume where the partition table puts it:
// 20 points for the LVM header, 20 for the FS descriptor, and one for each
// probed heartbeat slot that holds its own volume address (every 16 KiB of
// the region, so 64 to 256 probes that land on many chunks and members).
func scoreVMFS(d io.ReaderAt, size int64) (int, string) {
	best, why := 0, ""
	for _, ps := range vmfsStarts(d, size) {
		pts := 0
		var found []string
		if v, ok := u32At(d, ps+vmfsLVMHeader); ok && v == vmfsLVMMagic {
			pts += 20
			found = append(found, "LVM header")
		}
		vol := ps + vmfsVolume
		if v, ok := u32At(d, vol+vmfsFSDesc); ok && (v == vmfsFSMagic || v == vmfsFSMagicL) {
			pts += 20
			found = append(found, "FS descriptor")
		}
		hb := 0
		var b [12]byte
		for k := range int64(hbProbes) {
			at := vmfsHeartbeats + k*hbProbeStride
			if _, err := d.ReadAt(b[:], vol+at); err != nil {
				continue
			}
			magic := binary.LittleEndian.Uint32(b[:])
			if (magic == vmfsHBFree || magic == vmfsHBUsed) && int64(binary.LittleEndian.Uint64(b[4:])) == at {
				hb++
			}
		}
		if hb > 0 {
			pts += hb
			found = append(found, fmt.Sprintf("%d heartbeat slots at their addresses", hb))
		}
		if pts > best {
			best, why = pts, fmt.Sprintf("VMFS at %#x: %v", ps, found)
		}
	}
	return best, why
}

// head lets the partition-table reader see the first 1 MiB of a candidate
// only: a GPT that fails its checks there is no evidence, and looking for
// its backup at the end of each candidate would spend the sample on the
// far ends of the members.
type head struct{ r io.ReaderAt }

var errPastHead = errors.New("raid: detection reads partition tables in the first MiB only")

func (h head) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > 1<<20 {
		return 0, errPastHead
	}
	return h.r.ReadAt(p, off)
}
