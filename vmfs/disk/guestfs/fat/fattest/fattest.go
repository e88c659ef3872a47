// Package fattest builds small FAT16 volumes from scratch in Go, for the
// tests of the FAT reader and of its users (netcfg's bootbanks), so that
// they run where mkfs.fat and mtools are missing. It is a test helper;
// nothing in the tool imports it.
package fattest

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"
)

// FAT16 returns a FAT16 volume of the given size (at least 8 MiB) holding
// files in its root directory, under lower-case 8.3 names, with the VMware
// signature at byte 512 as ESXi's bootbanks have it. Layout: 512-byte
// sectors, the smallest power-of-two cluster that keeps the count below
// 65000, 4 reserved sectors, 2 FATs, 512 root entries.
func FAT16(size int64, label string, files map[string][]byte) ([]byte, error) {
	return FAT16At(size, label, files, time.Date(2023, 11, 14, 10, 30, 0, 0, time.UTC))
}

// FAT16At is FAT16 with every file's modification time set to mod.
func FAT16At(size int64, label string, files map[string][]byte, mod time.Time) ([]byte, error) {
	const bps, reserved, nfats, rootEnt = 512, 4, 2, 512
	if size < 4<<20 || size > 2<<30 {
		return nil, fmt.Errorf("FAT16 image of %d bytes: want 4 MiB to 2 GiB", size)
	}
	total := size / bps
	spc := int64(1)
	for total/spc >= 65000 {
		spc *= 2
	}
	clustersApprox := total / spc
	fatSz := (clustersApprox*2 + bps - 1) / bps
	img := make([]byte, size)
	b := img[:512]
	copy(b, []byte{0xEB, 0x3C, 0x90})
	copy(b[3:], "MSWIN4.1")
	le := binary.LittleEndian
	le.PutUint16(b[11:], bps)
	b[13] = byte(spc)
	le.PutUint16(b[14:], reserved)
	b[16] = nfats
	le.PutUint16(b[17:], rootEnt)
	if total < 65536 {
		le.PutUint16(b[19:], uint16(total))
	} else {
		le.PutUint32(b[32:], uint32(total))
	}
	b[21] = 0xF8
	le.PutUint16(b[22:], uint16(fatSz))
	b[38] = 0x29
	copy(b[43:54], fmt.Sprintf("%-11s", label))
	copy(b[54:62], "FAT16   ")
	b[510], b[511] = 0x55, 0xAA
	copy(img[512:], "VMWARE FAT16    ")

	fatOff := int64(reserved * bps)
	rootOff := fatOff + nfats*fatSz*bps
	dataOff := rootOff + rootEnt*32
	fat := make([]byte, fatSz*bps)
	le.PutUint16(fat[0:], 0xFFF8)
	le.PutUint16(fat[2:], 0xFFFF)
	next := uint32(2)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, name := range names {
		data := files[name]
		base, ext, _ := strings.Cut(strings.ToUpper(name), ".")
		if len(base) > 8 || len(ext) > 3 {
			return nil, fmt.Errorf("%q is not an 8.3 name", name)
		}
		d := img[rootOff+int64(i)*32:][:32]
		copy(d, fmt.Sprintf("%-8s%-3s", base, ext))
		d[11] = 0x20
		d[12] = 0x18 // lower-case base and extension
		le.PutUint16(d[22:], uint16(mod.Hour()<<11|mod.Minute()<<5|mod.Second()/2))
		le.PutUint16(d[24:], uint16((mod.Year()-1980)<<9|int(mod.Month())<<5|mod.Day()))
		le.PutUint32(d[28:], uint32(len(data)))
		if len(data) == 0 {
			continue
		}
		le.PutUint16(d[26:], uint16(next))
		n := (int64(len(data)) + spc*bps - 1) / (spc * bps)
		for c := int64(0); c < n; c++ {
			cl := next + uint32(c)
			off := dataOff + int64(cl-2)*spc*bps
			if off+spc*bps > size || int(cl)*2+2 > len(fat) {
				return nil, fmt.Errorf("files do not fit in %d bytes", size)
			}
			copy(img[off:off+spc*bps], data[c*spc*bps:])
			if c == n-1 {
				le.PutUint16(fat[cl*2:], 0xFFFF)
			} else {
				le.PutUint16(fat[cl*2:], uint16(cl+1))
			}
		}
		next += uint32(n)
	}
	for i := int64(0); i < nfats; i++ {
		copy(img[fatOff+i*fatSz*bps:], fat)
	}
	return img, nil
}
