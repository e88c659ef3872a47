package raid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Linux md superblocks (the kernel's include/uapi/linux/raid/md_p.h).
//
// 0.90: 4 KiB in host byte order (little-endian on every machine a
// datastore comes from) at the last 64 KiB-aligned 64 KiB of the member
// minus 64 KiB. Words: 0 magic, 1-3 version 0.90.x, 5 uuid0, 7 level,
// 8 size (KiB per member), 9 nr_disks, 10 raid_disks, 13-15 uuid1-3,
// 64 layout, 65 chunk size (bytes); 128+32i the disk table (number, major,
// minor, raid_disk, state); 992 this_disk (same fields). Data starts at 0.
//
// 1.x: little-endian, at the end (1.0: (sectors-16) rounded down to 8
// sectors), at 0 (1.1) or at 4 KiB (1.2):
//
//	0x00 magic  0x04 major_version (1)  0x08 feature_map
//	0x10 set_uuid[16]  0x20 set_name[32]  0x48 level  0x4C layout
//	0x50 size (sectors)  0x58 chunksize (sectors)  0x5C raid_disks
//	0x80 data_offset  0x88 data_size  0x90 super_offset (sectors)
//	0xA0 dev_number  0xC8 events  0xD8 sb_csum  0xDC max_dev
//	0x100 dev_roles[max_dev] (u16: slot, 0xFFFF spare, 0xFFFE faulty)
const (
	mdMagic       = 0xa92b4efc
	md090Size     = 4096
	md1HeaderSize = 256
	mdRoleSpare   = 0xffff
	mdRoleFaulty  = 0xfffe
)

// MDSuper is what an md superblock says about its array and its member.
type MDSuper struct {
	Version    string // "0.90", "1.0", "1.1" or "1.2"
	At         int64  // byte offset of the superblock on the member
	UUID       [16]byte
	Name       string // 1.x set name
	Level      Level
	Layout     Layout // RAID 5/6
	Chunk      int64  // bytes
	Members    int    // raid_disks
	Slot       int    // this member's slot, -1 for a spare or faulty one
	Offset     int64  // data offset, bytes
	Size       int64  // data bytes per member (0 when unknown)
	Events     uint64
	ChecksumOK bool
}

// ErrNoSuper means no md superblock was found on a member.
var ErrNoSuper = errors.New("raid: no md superblock")

// ReadMDSuper looks for an md superblock on a member in every place md
// puts one (1.2, 1.1, 1.0, 0.90) and decodes the first valid one.
func ReadMDSuper(r io.ReaderAt, size int64) (*MDSuper, error) {
	sectors := size / 512
	places := []struct {
		v  string
		at int64
	}{{"1.2", 4096}, {"1.1", 0}, {"1.0", ((sectors - 16) &^ 7) * 512}, {"0.90", ((sectors &^ 127) - 128) * 512}}
	buf := make([]byte, md090Size)
	var firstErr error
	for _, p := range places {
		if p.at < 0 || p.at+md1HeaderSize > size {
			continue
		}
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-p.at)], p.at)
		if n < md1HeaderSize {
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("raid: reading md superblock at %#x: %w", p.at, err)
			}
			continue
		}
		b := buf[:n]
		if binary.LittleEndian.Uint32(b) != mdMagic {
			continue
		}
		var sb *MDSuper
		if p.v == "0.90" {
			sb, err = parseMD090(b)
		} else {
			sb, err = parseMD1(b, p.at)
			if err == nil && sb.Version != p.v {
				continue // a 1.x superblock names where it is; this copy is stale
			}
		}
		if err != nil {
			return nil, fmt.Errorf("md %s superblock at %#x: %w", p.v, p.at, err)
		}
		sb.At = p.at
		return sb, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, ErrNoSuper
}

// ParseMDSuper decodes an md superblock of either version from b, read at
// byte offset at of its member.
func ParseMDSuper(b []byte, at int64) (*MDSuper, error) {
	if len(b) < md1HeaderSize || binary.LittleEndian.Uint32(b) != mdMagic {
		return nil, ErrNoSuper
	}
	if binary.LittleEndian.Uint32(b[4:]) == 0 {
		return parseMD090(b)
	}
	return parseMD1(b, at)
}

// mdLevel converts md's level and layout numbers.
func mdLevel(level int32, layout uint32, sb *MDSuper) error {
	switch level {
	case -1:
		sb.Level = Linear
	case 0:
		sb.Level = RAID0
	case 1:
		sb.Level = RAID1
	case 4:
		sb.Level, sb.Layout = RAID5, ParityLast // md's RAID 4 is RAID 5 with parity on the last member
	case 5, 6:
		sb.Level = RAID5
		if level == 6 {
			sb.Level = RAID6
		}
		sb.Layout = Layout(layout)
		if !sb.Layout.validFor(sb.Level) {
			return fmt.Errorf("%w: md layout %d of raid%d", ErrUnsupported, layout, level)
		}
	case 10:
		sb.Level, sb.Layout = RAID10, Layout(layout)
		if !sb.Layout.validFor(RAID10) {
			near, far, offset := layout&0xff, layout>>8&0xff, layout>>16&1
			return fmt.Errorf("%w: raid10 layout %#x (near %d, far %d, offset %d); near 2, far 2 and offset 2 are read", ErrUnsupported, layout, near, far, offset)
		}
	default:
		return fmt.Errorf("%w: md level %d", ErrUnsupported, level)
	}
	return nil
}

// ErrUnsupported is metadata describing an array this package cannot read.
var ErrUnsupported = errors.New("raid: unsupported array")

func parseMD090(b []byte) (*MDSuper, error) {
	if len(b) < md090Size {
		return nil, fmt.Errorf("md 0.90 superblock: %d bytes, want %d", len(b), md090Size)
	}
	w := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
	sb := &MDSuper{Version: fmt.Sprintf("%d.%d", w(1), w(2)), Layout: LayoutUnknown}
	if w(1) != 0 || w(2) != 90 {
		return nil, fmt.Errorf("%w: md version %d.%d", ErrUnsupported, w(1), w(2))
	}
	binary.LittleEndian.PutUint32(sb.UUID[0:], w(5))
	binary.LittleEndian.PutUint32(sb.UUID[4:], w(13))
	binary.LittleEndian.PutUint32(sb.UUID[8:], w(14))
	binary.LittleEndian.PutUint32(sb.UUID[12:], w(15))
	if err := mdLevel(int32(w(7)), w(64), sb); err != nil {
		return nil, err
	}
	sb.Size = int64(w(8)) * 1024
	sb.Members = int(w(10))
	sb.Chunk = int64(w(65))
	sb.Events = uint64(w(39))<<32 | uint64(w(40))
	sb.Slot = int(w(992 + 3))
	if state := w(992 + 4); state&1 != 0 || sb.Slot >= sb.Members { // MD_DISK_FAULTY, or a spare
		sb.Slot = -1
	}
	var sum uint64
	for i := range md090Size / 4 {
		if i != 38 {
			sum += uint64(w(i))
		}
	}
	sb.ChecksumOK = uint32(sum+sum>>32) == w(38) || uint32(sum) == w(38)
	return sb, sb.check()
}

func parseMD1(b []byte, at int64) (*MDSuper, error) {
	le := binary.LittleEndian
	if v := le.Uint32(b[4:]); v != 1 {
		return nil, fmt.Errorf("%w: md major version %d", ErrUnsupported, v)
	}
	sb := &MDSuper{Layout: LayoutUnknown}
	copy(sb.UUID[:], b[0x10:0x20])
	name := b[0x20:0x40]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	sb.Name = string(name)
	if err := mdLevel(int32(le.Uint32(b[0x48:])), le.Uint32(b[0x4C:]), sb); err != nil {
		return nil, err
	}
	sb.Chunk = int64(le.Uint32(b[0x58:])) * 512
	sb.Members = int(le.Uint32(b[0x5C:]))
	sb.Offset = int64(le.Uint64(b[0x80:]) & (1<<54 - 1) * 512)
	sb.Size = int64(le.Uint64(b[0x88:]) & (1<<54 - 1) * 512)
	superOff := int64(le.Uint64(b[0x90:]) & (1<<54 - 1) * 512)
	switch superOff {
	case 0:
		sb.Version = "1.1"
	case 4096:
		sb.Version = "1.2"
	default:
		sb.Version = "1.0"
	}
	if superOff != at {
		sb.Version = "stale"
	}
	sb.Events = le.Uint64(b[0xC8:])
	devNumber := le.Uint32(b[0xA0:])
	maxDev := le.Uint32(b[0xDC:])
	sb.Slot = -1
	if maxDev > 0 && int64(maxDev) <= int64(len(b)-md1HeaderSize)/2 && devNumber < maxDev {
		role := le.Uint16(b[md1HeaderSize+2*int(devNumber):])
		if role != mdRoleSpare && role != mdRoleFaulty && int(role) < sb.Members {
			sb.Slot = int(role)
		}
		var sum uint64
		for i := 0; i < md1HeaderSize+2*int(maxDev); i += 4 {
			if i != 0xD8 && i+4 <= len(b) {
				sum += uint64(le.Uint32(b[i:]))
			}
		}
		sb.ChecksumOK = uint32(sum&0xffffffff+sum>>32) == le.Uint32(b[0xD8:])
	}
	return sb, sb.check()
}

// check bounds what the rest of the package trusts.
func (sb *MDSuper) check() error {
	if sb.Members < 1 || sb.Members > maxMembers {
		return fmt.Errorf("%w: %d members", ErrUnsupported, sb.Members)
	}
	if sb.Level.striped() && (sb.Chunk < 512 || sb.Chunk > 1<<30 || sb.Chunk&(sb.Chunk-1) != 0) {
		return fmt.Errorf("%w: chunk size %d", ErrUnsupported, sb.Chunk)
	}
	if sb.Offset < 0 || sb.Size < 0 {
		return fmt.Errorf("%w: data offset %d, size %d", ErrUnsupported, sb.Offset, sb.Size)
	}
	return nil
}

// Geometry is the array geometry the superblock describes.
func (sb *MDSuper) Geometry() Geometry {
	return Geometry{Level: sb.Level, Layout: sb.Layout, Chunk: sb.Chunk, Offset: sb.Offset, Size: sb.Size}.normal()
}
