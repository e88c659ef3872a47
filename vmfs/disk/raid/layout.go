package raid

// row is where the chunks of one stripe row of a RAID 5 or 6 array sit.
type row struct {
	data []int // data[j] is the member holding the row's j-th data chunk
	p, q int   // members holding P and Q (q is -1 on RAID 5)
	// coef[m] is the exponent k of the generator g^k that multiplies member
	// m's chunk in Q; meaningful for data members only.
	coef []int
}

// parityRow computes row s of an n-member array the way Linux md's
// raid5_compute_sector does: the position of P (and Q), then where data
// index j lands. For RAID 6 it also computes the order in which md feeds
// data chunks to the Q syndrome: starting at the member after Q and going
// round, or, for the DDF layouts, in physical member order.
func parityRow(level Level, layout Layout, n int, s int64, r *row) {
	dataDisks := n - level.parity()
	if cap(r.data) < dataDisks {
		r.data = make([]int, dataDisks)
	}
	r.data = r.data[:dataDisks]
	if cap(r.coef) < n {
		r.coef = make([]int, n)
	}
	r.coef = r.coef[:n]
	r.q = -1
	if level == RAID5 {
		r.raid5(layout, n, s)
		return
	}
	ddf := r.raid6(layout, n, s)
	r.syndromeOrder(ddf, n)
}

// raid5 places P and the data chunks of row s of a RAID 5 array.
func (r *row) raid5(layout Layout, n int, s int64) {
	dataDisks, rot := len(r.data), int(s%int64(n))
	switch layout {
	case LeftAsymmetric, RightAsymmetric:
		r.p = rot
		if layout == LeftAsymmetric {
			r.p = dataDisks - rot
		}
		for j := range r.data {
			r.data[j] = j
			if j >= r.p {
				r.data[j]++
			}
		}
	case LeftSymmetric, RightSymmetric:
		r.p = rot
		if layout == LeftSymmetric {
			r.p = dataDisks - rot
		}
		for j := range r.data {
			r.data[j] = (r.p + 1 + j) % n
		}
	case ParityFirst:
		r.p = 0
		for j := range r.data {
			r.data[j] = j + 1
		}
	case ParityLast:
		r.p = dataDisks
		for j := range r.data {
			r.data[j] = j
		}
	}
}

// raid6 places P, Q and the data chunks of row s of a RAID 6 array, and
// says whether the layout is a DDF one, whose Q takes the data chunks in
// physical member order.
func (r *row) raid6(layout Layout, n int, s int64) (ddf bool) {
	dataDisks, rot := len(r.data), int(s%int64(n))
	switch layout {
	case LeftAsymmetric, RightAsymmetric, DDFZeroRestart, DDFNRestart:
		switch layout {
		case LeftAsymmetric:
			r.p = n - 1 - rot
		case DDFNRestart:
			r.p = n - 1 - int((s+1)%int64(n))
		default:
			r.p = rot
		}
		ddf = layout == DDFZeroRestart || layout == DDFNRestart
		r.q = r.p + 1
		for j := range r.data {
			r.data[j] = j
		}
		if r.p == n-1 {
			r.q = 0
			for j := range r.data {
				r.data[j]++ // Q D D D P
			}
		} else {
			for j := range r.data {
				if j >= r.p {
					r.data[j] += 2 // D D P Q D
				}
			}
		}
	case LeftSymmetric, RightSymmetric:
		r.p = rot
		if layout == LeftSymmetric {
			r.p = n - 1 - rot
		}
		r.q = (r.p + 1) % n
		for j := range r.data {
			r.data[j] = (r.p + 2 + j) % n
		}
	case DDFNContinue:
		r.p = n - 1 - rot
		r.q = (r.p + n - 1) % n
		for j := range r.data {
			r.data[j] = (r.p + 1 + j) % n
		}
		ddf = true
	case ParityFirst:
		r.p, r.q = 0, 1
		for j := range r.data {
			r.data[j] = j + 2
		}
	case ParityLast:
		r.p, r.q = dataDisks, dataDisks+1
		for j := range r.data {
			r.data[j] = j
		}
	case LeftAsymmetric6, RightAsymmetric6, LeftSymmetric6, RightSymmetric6, ParityFirst6:
		r.raid5(layout.raid5Of6(), n-1, s)
		r.q = n - 1
	}
	return ddf
}

// syndromeOrder sets the exponent of each data member's chunk in Q: in
// physical member order for DDF, else starting at the member after Q and
// going round, as md does.
func (r *row) syndromeOrder(ddf bool, n int) {
	if ddf {
		for m := range r.coef {
			r.coef[m] = m
		}
		return
	}
	slot := 0
	for k := 1; k <= n; k++ {
		m := (r.q + k) % n
		if m == r.p || m == r.q {
			continue
		}
		r.coef[m] = slot
		slot++
	}
}
