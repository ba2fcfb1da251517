package refer

import (
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/transport"
)

// run advances the fake clock in 10 ms steps until cond holds or limit
// passes.
func (s *stage) run(cond func() bool, limit time.Duration) bool {
	for spent := time.Duration(0); spent < limit; spent += 10 * time.Millisecond {
		if cond() {
			return true
		}
		s.clock.Advance(10 * time.Millisecond)
	}
	return cond()
}

func closed[T any](ch <-chan T) func() bool {
	return func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
}

// A blind transfer over a network losing 30 % of datagrams (with jitter
// and reordering) completes, and the transferor's application sees each
// NOTIFY once, in order, whatever the retransmissions.
func TestBlindTransferUnderLoss(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		s := newStage(t)
		s.net = transport.NewNetwork(s.clock, seed)
		s.net.SetFaults(transport.Faults{Loss: 0.3, Delay: 5 * time.Millisecond, Jitter: 30 * time.Millisecond, Reorder: 0.05})
		alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
		ac, err := alice.ua.Dial(bob.uri(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !s.run(func() bool { return closed(ac.Established())() || closed(ac.Done())() }, time.Minute) || ac.State() != dialog.CallEstablished {
			t.Logf("seed %d: the first call did not come up (%v): loss beat Timer B", seed, ac.Err())
			continue
		}
		var progress progressLog
		tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", OnProgress: progress.add})
		if err != nil {
			t.Fatal(err)
		}
		if !s.run(closed(tr.Done()), 2*time.Minute) {
			t.Fatalf("seed %d: transfer not over after 2 minutes: %s", seed, &progress)
		}
		res := tr.Result()
		steps := strings.Split(progress.String(), ", ")
		last := 0
		accepted := 0
		for _, st := range steps {
			var code int
			switch {
			case strings.HasPrefix(st, "accepted"):
				accepted++
			case strings.HasPrefix(st, "notified"):
				code = atoi(strings.Fields(st)[1])
				if code <= last {
					t.Errorf("seed %d: NOTIFY %d after %d: %s", seed, code, last, &progress)
				}
				last = code
			}
		}
		if res.Err != nil || res.Code != 200 || accepted != 1 || steps[len(steps)-1] != "done 200" || !strings.HasPrefix(steps[0], "accepted") && !strings.HasPrefix(steps[0], "notified 100") {
			t.Errorf("seed %d: %+v; progress %s", seed, res, &progress)
		}
		_ = bob
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
