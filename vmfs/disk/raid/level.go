package raid

import (
	"fmt"
	"strings"
)

// Level is a RAID level.
type Level int

// RAID levels. LevelUnknown is a spec that leaves the level to detection.
const (
	LevelUnknown Level = iota
	Linear             // JBOD: members concatenated in order
	RAID0              // striping
	RAID1              // mirroring
	RAID5              // striping with rotating parity P
	RAID6              // striping with rotating parity P and Q
	RAID10             // md's raid10 "near 2": each chunk on two adjacent members
)

var levelNames = []struct {
	l     Level
	names []string // the first is the canonical name
}{
	{Linear, []string{"jbod", "linear", "concat"}},
	{RAID0, []string{"raid0", "stripe"}},
	{RAID1, []string{"raid1", "mirror"}},
	{RAID5, []string{"raid5"}},
	{RAID6, []string{"raid6"}},
	{RAID10, []string{"raid10"}},
}

func (l Level) String() string {
	for _, n := range levelNames {
		if n.l == l {
			return n.names[0]
		}
	}
	return "auto"
}

func parseLevel(s string) (Level, bool) {
	s = strings.ToLower(s)
	for _, n := range levelNames {
		for _, name := range n.names {
			if s == name {
				return n.l, true
			}
		}
	}
	return LevelUnknown, false
}

// striped reports whether the level cuts data into chunks.
func (l Level) striped() bool { return l == RAID0 || l == RAID5 || l == RAID6 || l == RAID10 }

// parity is the number of parity chunks per row: 1 for RAID 5, 2 for RAID 6.
func (l Level) parity() int {
	switch l {
	case RAID5:
		return 1
	case RAID6:
		return 2
	}
	return 0
}

// minMembers is the fewest member slots an array of the level can have.
func (l Level) minMembers() int {
	switch l {
	case RAID5:
		return 3 // md accepts 2, but that is a mirror in disguise
	case RAID6:
		return 4
	case RAID10, RAID1:
		return 2
	}
	return 1
}

// Layout says where parity and data chunks sit in each row of a RAID 5 or
// 6 array. The values are Linux md's algorithm numbers (the "layout" field
// of an md superblock), so a superblock's layout converts as it is.
type Layout int

// Layouts, named as mdadm names them.
const (
	LayoutUnknown   Layout = -1
	LeftAsymmetric  Layout = 0
	RightAsymmetric Layout = 1
	LeftSymmetric   Layout = 2 // md's default
	RightSymmetric  Layout = 3
	ParityFirst     Layout = 4 // parity (RAID 6: P then Q) on the first members
	ParityLast      Layout = 5 // parity on the last members
	// RAID 6 layouts of SNIA DDF arrays (md computes their Q over all
	// members in physical order).
	DDFZeroRestart Layout = 8
	DDFNRestart    Layout = 9
	DDFNContinue   Layout = 10
	// RAID 6 layouts that keep Q on the last member and lay P and the
	// data over the others as the RAID 5 layout of the same name (md's
	// number minus 16): what md converts a RAID 5 array to when a member
	// is added as Q without restriping.
	LeftAsymmetric6  Layout = 16
	RightAsymmetric6 Layout = 17
	LeftSymmetric6   Layout = 18
	RightSymmetric6  Layout = 19
	ParityFirst6     Layout = 20
	// RAID 10 layouts, as md's layout field encodes them (near copies,
	// far copies << 8, offset << 16). LayoutUnknown reads as Near2, the
	// layout of md's default and of hardware RAID 10.
	Near2   Layout = 0x102   // the two copies of a chunk on adjacent members, same offset
	Far2    Layout = 0x201   // a RAID 0 over the first half of every member, the copy over the second half, one member on
	Offset2 Layout = 0x10201 // every row of chunks followed by its copy, one member on
)

var layoutNames = []struct {
	l     Layout
	names []string
}{
	{LeftAsymmetric, []string{"left-asymmetric", "la"}},
	{RightAsymmetric, []string{"right-asymmetric", "ra"}},
	{LeftSymmetric, []string{"left-symmetric", "ls"}},
	{RightSymmetric, []string{"right-symmetric", "rs"}},
	{ParityFirst, []string{"parity-first"}},
	{ParityLast, []string{"parity-last"}},
	{DDFZeroRestart, []string{"ddf-zero-restart"}},
	{DDFNRestart, []string{"ddf-n-restart"}},
	{DDFNContinue, []string{"ddf-n-continue"}},
	{LeftAsymmetric6, []string{"left-asymmetric-6"}},
	{RightAsymmetric6, []string{"right-asymmetric-6"}},
	{LeftSymmetric6, []string{"left-symmetric-6"}},
	{RightSymmetric6, []string{"right-symmetric-6"}},
	{ParityFirst6, []string{"parity-first-6"}},
	{Near2, []string{"n2", "near2"}},
	{Far2, []string{"f2", "far2"}},
	{Offset2, []string{"o2", "offset2"}},
}

func (l Layout) String() string {
	for _, n := range layoutNames {
		if n.l == l {
			return n.names[0]
		}
	}
	if l == LayoutUnknown {
		return "auto"
	}
	return fmt.Sprintf("layout(%d)", int(l))
}

func parseLayout(s string) (Layout, bool) {
	s = strings.ToLower(s)
	for _, n := range layoutNames {
		for _, name := range n.names {
			if s == name {
				return n.l, true
			}
		}
	}
	return LayoutUnknown, false
}

// raid5Of6 is the RAID 5 layout by which a "-6" layout places P and the
// data on all members but the last.
func (l Layout) raid5Of6() Layout { return l - LeftAsymmetric6 }

// validFor reports whether the layout exists for the level.
func (l Layout) validFor(level Level) bool {
	switch l {
	case LeftAsymmetric, RightAsymmetric, LeftSymmetric, RightSymmetric, ParityFirst, ParityLast:
		return level == RAID5 || level == RAID6
	case DDFZeroRestart, DDFNRestart, DDFNContinue,
		LeftAsymmetric6, RightAsymmetric6, LeftSymmetric6, RightSymmetric6, ParityFirst6:
		return level == RAID6
	case Near2, Far2, Offset2:
		return level == RAID10
	}
	return false
}

// Layouts lists the layouts of a parity level, the common ones first:
// detection tries them in this order.
func Layouts(level Level) []Layout {
	switch level {
	case RAID5:
		return []Layout{LeftSymmetric, LeftAsymmetric, RightSymmetric, RightAsymmetric, ParityFirst, ParityLast}
	case RAID6:
		return []Layout{LeftSymmetric, LeftAsymmetric, RightSymmetric, RightAsymmetric, ParityFirst, ParityLast,
			DDFZeroRestart, DDFNRestart, DDFNContinue,
			LeftSymmetric6, LeftAsymmetric6, RightSymmetric6, RightAsymmetric6, ParityFirst6}
	case RAID10:
		return []Layout{Near2, Far2, Offset2}
	}
	return nil
}
