// Package damage finds the ranges of a file that look overwritten by
// ransomware: encrypted data is indistinguishable from random bytes, so a
// run of blocks whose byte entropy is at the maximum, in a disk image whose
// other blocks are not, is reported as suspect. The rest of the file is
// what can be trusted.
//
// Ransomware that attacks ESXi (ESXiArgs and its successors) encrypts the
// head of each -flat.vmdk, sometimes the tail, and often one chunk every
// few megabytes, leaving the rest of the guest's disk intact. Compressed
// or encrypted guest data is high-entropy too, so the report is a list of
// suspects with the reason, for a person to judge, not a verdict.
package damage

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/allocmap"
)

// Block is the analysis granularity.
const Block = 64 << 10

// threshold is the Shannon entropy, in bits per byte, above which a 64 KiB
// block counts as random: random data measures about 7.997; text, code,
// file-system metadata and zero-padded sectors stay well below 7.9.
const threshold = 7.98

// Range is a run of suspect bytes.
type Range struct {
	Off    int64   `json:"offset"`
	Len    int64   `json:"length"`
	Reason string  `json:"reason"`
	Bits   float64 `json:"entropy_bits_per_byte"` // lowest entropy of the run's blocks
}

// Report is the result of Analyze.
type Report struct {
	Size       int64   `json:"size"`
	Examined   int64   `json:"examined"`    // allocated bytes read
	RandomFrac float64 `json:"random_frac"` // share of examined blocks that look random
	Suspect    []Range `json:"suspect,omitempty"`
	// HeadDamaged: the first sector holds neither a partition table nor a
	// boot sector nor zeros but random bytes, as after head encryption.
	HeadDamaged bool `json:"head_damaged"`
}

// Analyze reads the allocated ranges of r (all of it when m is nil) and
// reports runs of random-looking blocks. When most of the file looks
// random, nothing stands out and only RandomFrac says so.
func Analyze(ctx context.Context, r io.ReaderAt, size int64, m allocmap.Map) (*Report, error) {
	if m == nil {
		m = allocmap.Map{{Off: 0, Len: size}}
	}
	rep := &Report{Size: size}
	buf := make([]byte, Block)
	var random, blocks int64
	var cur *Range
	flush := func() {
		if cur != nil {
			rep.Suspect = append(rep.Suspect, *cur)
			cur = nil
		}
	}
	for _, rg := range m.Clip(size) {
		for off := rg.Off / Block * Block; off < rg.End(); off += Block {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			n, err := r.ReadAt(buf[:min(Block, size-off)], off)
			if err != nil && err != io.EOF {
				return nil, fmt.Errorf("reading offset %d: %w", off, err)
			}
			if n == 0 {
				break
			}
			if off == 0 {
				rep.HeadDamaged = randomHead(buf[:min(n, 512)])
			}
			rep.Examined += int64(n)
			blocks++
			bits := entropy(buf[:n])
			if bits < threshold || n < 4096 {
				flush()
				continue
			}
			random++
			if cur != nil && cur.Off+cur.Len == off {
				cur.Len += int64(n)
				cur.Bits = math.Min(cur.Bits, bits)
				continue
			}
			flush()
			cur = &Range{Off: off, Len: int64(n), Bits: bits, Reason: "random-looking data (encrypted or compressed)"}
		}
		flush()
	}
	flush()
	if blocks > 0 {
		rep.RandomFrac = float64(random) / float64(blocks)
	}
	if rep.RandomFrac > 0.5 {
		rep.Suspect = nil // mostly random content: nothing stands out
	}
	return rep, nil
}

// entropy is the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	var h float64
	n := float64(len(b))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// randomHead reports a first sector that is neither zeros, nor an MBR or
// boot sector (0x55AA at 510), but high-entropy bytes.
func randomHead(s []byte) bool {
	if len(s) < 512 || s[510] == 0x55 && s[511] == 0xAA {
		return false
	}
	distinct := map[byte]bool{}
	for _, c := range s {
		distinct[c] = true
	}
	return len(distinct) > 200 // 512 random bytes show about 221 values
}
