package vmfs

import (
	"fmt"

	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// Block address types: the low 3 bits of every pointer (layout: vmfs.md
// "Addresses").
const (
	addrNull = layout.AddrNull
	addrFB   = layout.AddrFB
	addrSB   = layout.AddrSB
	addrPB   = layout.AddrPB
	addrFD   = layout.AddrFD
	addrPB2  = layout.AddrPB2
	addrJB   = layout.AddrJB
	addrLFB  = layout.AddrLFB
)

// fdAddr splits a 32-bit file-descriptor address into cluster and
// resource.
func fdAddr(a uint32) (cluster, resource uint64) { return layout.SplitFDAddr(a) }

// resourceAddr splits an SB, PB or PB2 address into cluster and resource.
func (v *Volume) resourceAddr(a uint64) (cluster, resource uint64) {
	return layout.SplitResAddr(v.desc.Version() >= 6, v.desc.Config&0x4 != 0, a)
}

// blockTarget is where one addressed block lives on the volume.
type blockTarget struct {
	zero bool  // a hole or a to-be-zeroed block: reads as zeros
	vol  int64 // volume offset of the block's first byte
	size int64 // bytes of the block
}

// dataBlock decodes a data pointer (FB, SFB, LFB or SB) of a file.
func (v *Volume) dataBlock(e uint64) (blockTarget, error) {
	bs := v.desc.BlockSize
	switch e & 7 {
	case addrNull:
		return blockTarget{zero: true}, nil
	case addrFB:
		if v.desc.Version() >= 6 {
			tbz := (e >> 7) & 0xFF
			cluster := (e >> 15) & (1<<31 - 1)
			res := e >> 51
			vol := (int64(cluster)*v.sfbPerCluster + int64(res)) * bs
			return blockTarget{zero: tbz != 0, vol: vol, size: bs}, v.checkRange("file block", e, vol, bs)
		}
		e &= 0xFFFFFFFF
		vol := int64(e>>6) * bs
		return blockTarget{zero: e&0x20 != 0, vol: vol, size: bs}, v.checkRange("file block", e, vol, bs)
	case addrLFB:
		if v.desc.Version() < 6 {
			break
		}
		lbs := v.desc.LargeBlockSize()
		vol := int64((e>>15)&(1<<31-1)) * lbs
		return blockTarget{zero: (e>>7)&0xFF != 0, vol: vol, size: lbs}, v.checkRange("large file block", e, vol, lbs)
	case addrSB:
		vol, err := v.resourceVol(e)
		return blockTarget{vol: vol, size: v.desc.SubBlockSize}, err
	}
	return blockTarget{}, fmt.Errorf("%w: pointer %#x has type %d where data was expected", ErrCorrupt, e, e&7)
}

func (v *Volume) checkRange(what string, e uint64, vol, size int64) error {
	if vol < 0 || vol+size > v.lv.Size() || vol+size < 0 {
		return fmt.Errorf("%w: %s pointer %#x points at %#x, past the volume end %#x", ErrCorrupt, what, e, vol, v.lv.Size())
	}
	return nil
}

// resourceVol is the volume offset of the SB, PB or PB2 resource a
// addresses, found through the resource file its type names.
func (v *Volume) resourceVol(a uint64) (int64, error) {
	var rf *resFile
	switch a & 7 {
	case addrSB:
		rf = v.sbc
	case addrPB:
		rf = v.pbc
	case addrPB2:
		rf = v.pb2
	}
	if rf == nil {
		return 0, fmt.Errorf("%w: address %#x names a resource file this volume does not have", ErrCorrupt, a)
	}
	c, r := v.resourceAddr(a)
	off, err := rf.resourceOffset(c, r)
	if err != nil {
		return 0, err
	}
	return v.fileVolOffset(rf.fd, off)
}
