package raid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

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
func DefaultScorers() []Scorer { return []Scorer{ScorerFunc(scoreDatastore)} }

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
	hbProbes       = 256 // of the 1024 4 KiB slots of the region
)

// scoreDatastore gives 10 points for a partition table at the start and
// 10 more for a GPT (whose CRCs over the header and the 16 KiB entry
// array only check out when the chunks are in order), then looks for VMFS
// on each VMFS partition (on the disk itself when there is no table).
func scoreDatastore(d io.ReaderAt, size int64) (int, string) {
	pts, why := 0, ""
	starts := []int64{0}
	if t, err := partition.Read(head{d}, size); err == nil && len(t.Partitions) > 0 {
		pts, why = 10, string(t.Scheme)
		if t.Scheme == partition.GPT && len(t.Warnings) == 0 {
			pts += 10
		}
		starts = starts[:0]
		for _, p := range t.Partitions {
			if (p.IsVMFS() || p.TypeGUID == partition.GUIDVMFSL) && len(starts) < 4 {
				starts = append(starts, p.Start)
			}
		}
	}
	best, vwhy := 0, ""
	for _, ps := range starts {
		if p, w := scoreVMFS(d, ps); p > best {
			best, vwhy = p, w
		}
	}
	if best > 0 {
		why = strings.TrimPrefix(why+"; "+vwhy, "; ")
	}
	return pts + best, why
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
// probed heartbeat slot that holds its own volume address (256 probes,
// about 64 in a VMFS5 region, that land on many chunks and members).
func scoreVMFS(d io.ReaderAt, ps int64) (int, string) {
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
	if pts == 0 {
		return 0, "" // no volume here: spare the heartbeat probes
	}
	hb := 0
	var b [12]byte
	for k := range int64(hbProbes) {
		// Probe 4 KiB slots in a scrambled order (619 is odd, so k·619
		// mod 1024 visits distinct slots): an even stride would alias
		// with the chunk rotation and probe one member only.
		at := vmfsHeartbeats + (k*619%1024)*4096
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
	return pts, fmt.Sprintf("VMFS at %#x: %s", ps, strings.Join(found, ", "))
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
