package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

const (
	headLen    = 2 << 20
	tailLen    = 1 << 20
	samples    = 64      // blocks spread over the disk
	sampleLen  = 4 << 10 // bytes per block
	parallel   = 16      // reads in flight: over a link, round trips overlap
	idHexChars = 16      // per part of ID
)

// Print is the fingerprint of a disk.
type Print struct {
	Size int64
	// Ends hashes the size, the first 2 MiB and the last 1 MiB.
	Ends string
	// Spread hashes the blocks sampled across the whole disk.
	Spread string
	// Unreadable counts the parts that could not be read (hashed as such).
	Unreadable int
}

// ID names the print in file names: the ends, then the spread samples, so
// that prints of the same size, start and end share a prefix.
func (p Print) ID() string { return p.Ends[:idHexChars] + "-" + p.Spread[:idHexChars] }

// EndsOf returns the ends part of an ID made by Print.ID.
func EndsOf(id string) string { return id[:min(len(id), idHexChars)] }

// ErrUnreadable: no part of the disk could be read.
var ErrUnreadable = errors.New("no part of the disk is readable")

// Part is a range of a disk to read.
type Part struct {
	Off int64
	Len int64
}

// ReadEach reads every part of r, up to 16 at once, and hands each to fn
// (from several goroutines) with the bytes read; err is nil when the part
// was read whole or ends at the end of r.
func ReadEach(r io.ReaderAt, parts []Part, fn func(i int, b []byte, err error)) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, parallel)
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			buf := make([]byte, max(p.Len, 0))
			n, err := r.ReadAt(buf, p.Off)
			if n == len(buf) || errors.Is(err, io.EOF) {
				err = nil
			}
			fn(i, buf[:n], err)
		}()
	}
	wg.Wait()
}

// Take reads the parts of r (size bytes) a print covers: 3 MiB at the
// ends and 64 blocks of 4 KiB. A part that cannot be read is hashed as
// unreadable, so that a damaged disk has a print too; only a disk of
// which nothing reads is an error.
func Take(r io.ReaderAt, size int64) (Print, error) {
	ends := []Part{{0, min(size, headLen)}, {max(0, size-tailLen), min(size, tailLen)}}
	var spread []Part
	for i := range int64(samples) {
		off := size / (2 * samples) * (2*i + 1) / sampleLen * sampleLen
		spread = append(spread, Part{off, min(sampleLen, size-off)})
	}
	all := append(append([]Part{}, ends...), spread...)
	sums := make([][32]byte, len(all))
	errs := make([]error, len(all))
	ReadEach(r, all, func(i int, b []byte, err error) {
		sums[i], errs[i] = sha256.Sum256(b), err
	})
	p := Print{Size: size}
	sum := func(h hash.Hash, from, to int) string {
		for i := from; i < to; i++ {
			fmt.Fprintf(h, "%d+%d:", all[i].Off, all[i].Len)
			if errs[i] != nil {
				p.Unreadable++
				h.Write([]byte("unreadable\n"))
				continue
			}
			h.Write(sums[i][:])
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	h := sha256.New()
	fmt.Fprintf(h, "size=%d\n", size)
	p.Ends = sum(h, 0, len(ends))
	p.Spread = sum(sha256.New(), len(ends), len(all))
	if p.Unreadable == len(all) {
		return p, fmt.Errorf("fingerprinting the disk: %w: %v", ErrUnreadable, errs[0])
	}
	return p, nil
}

// Duplicates says, for each disk, the index of an earlier one it is the
// same as (the same disk given twice, or an exact copy: same size and
// same print), or -1. Only disks of equal size are read.
func Duplicates(disks []io.ReaderAt, sizes []int64) []int {
	dup := make([]int, len(disks))
	prints := make([]*Print, len(disks))
	take := func(i int) *Print {
		if prints[i] == nil {
			p, err := Take(disks[i], sizes[i])
			if err != nil {
				p = Print{} // unreadable: the same as nothing
			}
			prints[i] = &p
		}
		return prints[i]
	}
	for i := range disks {
		dup[i] = -1
		for j := range i {
			if dup[j] < 0 && sizes[j] == sizes[i] {
				if a, b := take(i), take(j); a.Ends != "" && *a == *b {
					dup[i] = j
					break
				}
			}
		}
	}
	return dup
}

// SameDisk says that disk b is left out because Duplicates found it the
// same as a.
func SameDisk(b, a string) string {
	return fmt.Sprintf("%s is the same disk as %s, or an exact copy of it (same size, same content at every place sampled): read once, as %s", b, a, a)
}
