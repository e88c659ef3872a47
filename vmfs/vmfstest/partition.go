package vmfstest

import (
	"encoding/binary"
	"hash/crc32"
)

// vmfsGUID is the GPT partition type of a VMFS datastore,
// AA31E02A-400F-11DB-9590-000C2911D1B8, in on-disk byte order.
var vmfsGUID = [16]byte{0x2A, 0xE0, 0x31, 0xAA, 0x0F, 0x40, 0xDB, 0x11, 0x95, 0x90, 0x00, 0x0C, 0x29, 0x11, 0xD1, 0xB8}

// gptTail is the room kept after the partition for the backup GPT.
const gptTail = 33 * 512

// writePartition writes an MBR (type 0xFB) or a GPT around the volume.
func (w *writer) writePartition() error {
	if w.s.Partition == "" {
		return nil
	}
	start := w.s.StartSector
	size := dataOffset + w.exts[w.cur].count*peSize
	sectors := size / 512
	mbr := make([]byte, 512)
	mbr[510], mbr[511] = 0x55, 0xAA
	e := mbr[446:]
	if w.s.Partition == "mbr" {
		e[4] = 0xFB
		binary.LittleEndian.PutUint32(e[8:], uint32(start))
		binary.LittleEndian.PutUint32(e[12:], uint32(sectors))
		_, err := w.f.WriteAt(mbr, 0)
		return err
	}
	total := (w.base + size + gptTail) / 512
	if err := w.f.Truncate(total * 512); err != nil {
		return err
	}
	e[4] = 0xEE
	binary.LittleEndian.PutUint32(e[8:], 1)
	binary.LittleEndian.PutUint32(e[12:], uint32(min(total-1, 0xFFFFFFFF)))
	if _, err := w.f.WriteAt(mbr, 0); err != nil {
		return err
	}
	entries := make([]byte, 128*128)
	copy(entries, vmfsGUID[:])
	copy(entries[16:], w.fsUUID[:]) // unique partition GUID
	entries[16] ^= byte(w.cur)
	binary.LittleEndian.PutUint64(entries[32:], uint64(start))
	binary.LittleEndian.PutUint64(entries[40:], uint64(start+sectors-1))
	for i, r := range "vmfs" {
		binary.LittleEndian.PutUint16(entries[56+2*i:], uint16(r))
	}
	ecrc := crc32.ChecksumIEEE(entries)
	header := func(self, other, table int64) []byte {
		h := make([]byte, 512)
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x10000)
		binary.LittleEndian.PutUint32(h[12:], 92)
		binary.LittleEndian.PutUint64(h[24:], uint64(self))
		binary.LittleEndian.PutUint64(h[32:], uint64(other))
		binary.LittleEndian.PutUint64(h[40:], 34)
		binary.LittleEndian.PutUint64(h[48:], uint64(total-34))
		copy(h[56:], w.devUUID[:]) // disk GUID
		binary.LittleEndian.PutUint64(h[72:], uint64(table))
		binary.LittleEndian.PutUint32(h[80:], 128)
		binary.LittleEndian.PutUint32(h[84:], 128)
		binary.LittleEndian.PutUint32(h[88:], ecrc)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}
	writes := []struct {
		off int64
		b   []byte
	}{
		{512, header(1, total-1, 2)},
		{1024, entries},
		{(total - 33) * 512, entries},
		{(total - 1) * 512, header(total-1, 1, total-33)},
	}
	for _, x := range writes {
		if _, err := w.f.WriteAt(x.b, x.off); err != nil {
			return err
		}
	}
	return nil
}
