package dialog

import (
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Calls over a network that loses 30 % of datagrams (and delays and
// duplicates some): retransmissions set every call up and tear it down,
// both ends agree on how each ended, and nothing is left behind.
// LOSS_SEED=n replays it with another seed of the network's faults.
func TestCallsUnderLoss(t *testing.T) {
	w := newWorld(t)
	if seed := os.Getenv("LOSS_SEED"); seed != "" {
		n, _ := strconv.ParseInt(seed, 10, 64)
		w.net = transport.NewNetwork(w.clock, n)
	}
	w.net.SetFaults(transport.Faults{Loss: 0.3, Duplicate: 0.05, Delay: 5 * time.Millisecond, Jitter: 20 * time.Millisecond, Reorder: 0.05})
	calls := make(chan *Call, 1)
	alice := w.ua("alice", 5060, Config{})
	bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) { calls <- c; autoAnswer(c, req) }})
	// run advances the fake clock until cond holds, within limit.
	run := func(cond func() bool, limit time.Duration) bool {
		for spent := time.Duration(0); spent < limit; spent += 10 * time.Millisecond {
			if cond() {
				return true
			}
			w.clock.Advance(10 * time.Millisecond)
		}
		return cond()
	}
	closed := func(ch <-chan struct{}) func() bool {
		return func() bool {
			select {
			case <-ch:
				return true
			default:
				return false
			}
		}
	}
	const n = 40
	var up, timedOut int
	for i := range n {
		c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !run(func() bool { return closed(c.Established())() || closed(c.Done())() }, 40*time.Second) {
			t.Fatalf("call %d: neither established nor ended after 40 s: %v, early %d, bob dialogs %d, pending callee %d", i, c.State(), len(c.EarlyDialogs()), bob.Dialogs(), len(calls))
		}
		if c.State() != CallEstablished {
			// Timer B: the INVITE or every answer was lost.
			if !errors.Is(c.Err(), transaction.ErrTimeout) {
				t.Fatalf("call %d ended with %v", i, c.Err())
			}
			timedOut++
			continue
		}
		up++
		bc := <-calls
		done, err := c.hangUp(ErrLocalBye)
		if err != nil {
			t.Fatal(err)
		}
		if !run(func() bool { return len(done) > 0 }, 40*time.Second) {
			t.Fatalf("call %d: BYE unanswered after 40 s", i)
		}
		if !run(closed(bc.Done()), time.Second) {
			t.Fatalf("call %d: callee still %v", i, bc.State())
		}
		if err := bc.Err(); !errors.Is(err, ErrRemoteBye) {
			t.Errorf("call %d: callee ended with %v, want ErrRemoteBye", i, err)
		}
	}
	for len(calls) > 0 { // callees of calls whose answers were all lost
		bc := <-calls
		run(closed(bc.Done()), 40*time.Second)
	}
	w.clock.Advance(2 * time.Minute)
	if up < n*3/4 {
		t.Errorf("only %d of %d calls set up under 30 %% loss (%d timed out)", up, n, timedOut)
	}
	for _, ua := range []*UA{alice, bob} {
		if ua.Dialogs() != 0 {
			t.Errorf("%d dialogs left", ua.Dialogs())
		}
		if c, s := ua.Transactions().Transactions(); c+s != 0 {
			t.Errorf("%d client and %d server transactions left", c, s)
		}
	}
	if w.clock.Pending() != 0 {
		t.Errorf("%d timers still armed", w.clock.Pending())
	}
	delivered, dropped, duplicated := w.net.Stats()
	t.Logf("%d calls set up, %d timed out; datagrams: %d delivered, %d dropped, %d duplicated", up, timedOut, delivered, dropped, duplicated)
}
