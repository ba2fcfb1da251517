package locate

import (
	"math/rand/v2"
	"testing"
)

func ports(rs []SRV) []uint16 {
	var out []uint16
	for _, r := range rs {
		out = append(out, r.Port)
	}
	return out
}

func TestOrderSRVPriorityThenZeroWeightFirst(t *testing.T) {
	in := []SRV{srv(3, 5, 1, "x."), srv(1, 7, 2, "x."), srv(2, 0, 3, "x."), srv(1, 0, 4, "x."), srv(2, 9, 5, "x.")}
	got := ports(orderSRV(in, firstRand))
	// Priority 1: the zero weight (4) first, then 2; priority 2: 3 then 5.
	want := []uint16{4, 2, 3, 5, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if in[0].Port != 1 {
		t.Fatal("orderSRV changed its input")
	}
}

// Within a priority, weight w of total W is chosen first w/W of the time
// (RFC 2782). A seeded source keeps the test deterministic.
func TestOrderSRVWeightDistribution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := []SRV{srv(0, 10, 1, "x."), srv(0, 30, 2, "x."), srv(0, 60, 3, "x."), srv(0, 0, 4, "x.")}
	first := map[uint16]int{}
	const n = 20000
	for range n {
		first[orderSRV(in, rng.Uint32N)[0].Port]++
	}
	// Weight 0 is chosen first only when the draw is exactly 0: 1 in 101.
	for port, share := range map[uint16]float64{1: 0.10, 2: 0.30, 3: 0.60, 4: 0.0} {
		got := float64(first[port]) / n
		if got < share-0.02 || got > share+0.02 {
			t.Errorf("port %d first %.3f of the time, want about %.2f", port, got, share)
		}
	}
}

func TestOrderSRVAllZeroWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	in := []SRV{srv(0, 0, 1, "x."), srv(0, 0, 2, "x."), srv(0, 0, 3, "x.")}
	for range 100 {
		// With every weight 0 the draw is always 0 and the order is kept.
		if got := ports(orderSRV(in, rng.Uint32N)); got[0] != 1 || got[1] != 2 || got[2] != 3 {
			t.Fatalf("order %v", got)
		}
	}
	var none []SRV
	if got := orderSRV(none, firstRand); len(got) != 0 {
		t.Fatal(got)
	}
}
