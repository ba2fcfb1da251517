package locate

import (
	"cmp"
	"slices"
)

// orderSRV returns a copy of records in the order RFC 2782 says to try
// them: by ascending priority and, within a priority, by repeated weighted
// random selection. rnd(n) must return a uniform number in [0, n).
func orderSRV(records []SRV, rnd func(n uint32) uint32) []SRV {
	out := slices.Clone(records)
	slices.SortStableFunc(out, func(a, b SRV) int { return cmp.Compare(a.Priority, b.Priority) })
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].Priority == out[i].Priority {
			j++
		}
		weighted(out[i:j], rnd)
		i = j
	}
	return out
}

// weighted orders one priority's records. RFC 2782: put the records of
// weight 0 first, sum the weights, pick a uniform number between 0 and
// the sum inclusive, take the first record whose running sum is at least
// that number; repeat with the rest.
func weighted(group []SRV, rnd func(n uint32) uint32) {
	slices.SortStableFunc(group, func(a, b SRV) int {
		return cmp.Compare(min(a.Weight, 1), min(b.Weight, 1))
	})
	for k := 0; k < len(group)-1; k++ {
		var sum uint32
		for _, r := range group[k:] {
			sum += uint32(r.Weight)
		}
		pick, running, x := k, uint32(0), rnd(sum+1)
		for m := k; m < len(group); m++ {
			if running += uint32(group[m].Weight); running >= x {
				pick = m
				break
			}
		}
		// Move the pick to position k, keeping the others' order (the
		// zero weights stay in front).
		chosen := group[pick]
		copy(group[k+1:pick+1], group[k:pick])
		group[k] = chosen
	}
}
