package raid

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// sampleBlock is the unit in which detection reads members.
const sampleBlock = 64 << 10

// errSampleSpent: detection read as much of a member as it may.
var errSampleSpent = errors.New("raid: detection sample budget spent")

// sampled is a member as detection sees it: reads go through a cache of
// whole blocks, and at most budget bytes are ever read from the member, so
// that scoring thousands of candidate geometries reads a bounded sample
// and never the whole disk.
type sampled struct {
	Member
	budget int64

	mu     sync.Mutex
	blocks map[int64][]byte // nil entry: the read failed
	spent  int64
}

func newSampled(m Member, budget int64) *sampled {
	return &sampled{Member: m, budget: budget, blocks: map[int64][]byte{}}
}

func (s *sampled) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		b, err := s.block(pos / sampleBlock)
		if err != nil {
			return n, err
		}
		in := pos % sampleBlock
		if in >= int64(len(b)) {
			return n, io.EOF
		}
		n += copy(p[n:], b[in:])
	}
	return n, nil
}

func (s *sampled) block(k int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.blocks[k]; ok {
		if b == nil {
			return nil, fmt.Errorf("member block at %#x unreadable", k*sampleBlock)
		}
		return b, nil
	}
	if s.spent+sampleBlock > s.budget {
		return nil, errSampleSpent
	}
	s.spent += sampleBlock
	off := k * sampleBlock
	if off >= s.Size() {
		return nil, io.EOF
	}
	b := make([]byte, min(sampleBlock, s.Size()-off))
	if _, err := s.Member.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		s.blocks[k] = nil
		return nil, err
	}
	s.blocks[k] = b
	return b, nil
}
