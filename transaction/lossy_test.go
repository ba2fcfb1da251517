package transaction

import (
	"errors"
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// lossyPair wires two Managers over UDP through a link that loses 30 % of
// every send and duplicates 30 % of the rest, each copy delayed 0-99 ms
// (so messages also overtake each other), all drawn from a seeded
// math/rand and scheduled on the FakeClock.
func lossyPair(t *testing.T, seed int64) *pair {
	p := newPair(t, transport.UDP)
	rng := rand.New(rand.NewSource(seed))
	p.drop = func(sent) bool { return rng.Float64() < 0.3 }
	p.dup = func(sent) bool { return rng.Float64() < 0.3 }
	p.latency = func(sent) time.Duration { return time.Duration(rng.Intn(100)) * time.Millisecond }
	return p
}

// Seeds of the strict lossy tests (see TestLossyNonInvite).
var (
	lossySeedNonInvite int64 = 3
	lossySeedInvite    int64 = 3
)

// finalCodes is what the server answers request number i with.
var finalCodes = []int{200, 202, 404, 486, 500, 603}

// tally records, per transaction, the final responses and errors its TU
// heard.
type tally struct {
	finals map[*ClientTx][]int
	errs   map[*ClientTx][]error
	want   map[*ClientTx]int
}

func newTally() *tally {
	return &tally{finals: map[*ClientTx][]int{}, errs: map[*ClientTx][]error{}, want: map[*ClientTx]int{}}
}

func (ta *tally) HandleResponse(tx *ClientTx, r Response) {
	switch {
	case r.Err != nil:
		ta.errs[tx] = append(ta.errs[tx], r.Err)
	case r.Final():
		ta.finals[tx] = append(ta.finals[tx], r.Status)
	}
}

func (ta *tally) check(t *testing.T) {
	t.Helper()
	bad := 0
	for tx, want := range ta.want {
		if got := ta.finals[tx]; len(got) != 1 || got[0] != want || len(ta.errs[tx]) != 0 {
			if bad++; bad <= 5 {
				t.Errorf("%s %s: finals %v errors %v, want one %d", tx.Method(), tx.Branch(), got, ta.errs[tx], want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d transactions went wrong", bad, len(ta.want))
	}
}

// numbered makes request i distinct: its own Call-ID, and CSeq number i+1.
func numbered(req string, i int) []byte {
	s := strings.Replace(req, "Call-ID: ", fmt.Sprintf("Call-ID: n%d-", i), 1)
	return []byte(cseqRE.ReplaceAllString(s, fmt.Sprintf("CSeq: %d ", i+1)))
}

var cseqRE = regexp.MustCompile(`CSeq: [0-9]+ `)

// cseqNum returns i for request i.
func cseqNum(m *sip.Message) int {
	c, _ := m.CSeq()
	return int(c.Seq) - 1
}

// countRequests counts how often the server TU was handed each Call-ID.
func countRequests(t *testing.T, evs []event, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range evs {
		switch e.Kind {
		case "request":
			seen[string(e.Msg.CallID())]++
		case "error":
			t.Errorf("server TU heard %v", e)
		}
	}
	if len(seen) != n {
		t.Errorf("server TU saw %d requests, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("request %s reached the server TU %d times", id, c)
		}
	}
}

// TestLossyNonInvite: 1,000 non-INVITE transactions over a link losing and
// duplicating 30 % of messages all complete with the right final
// response, reported once, the server TU sees each request once, and
// nothing is left at the end: no transaction, no timer.
//
// The link can defeat the protocol: a transaction fails when, for each of
// its 11 request sends, the request or every answer to it is lost, with
// probability about 0.47^11 = 2.4e-4, so one run in five of 1,000
// transactions loses one to Timer F (and an INVITE fails when its first six
// sends are lost, 0.3^6 = 7e-4: the seventh, at 31.5 s, has half a second
// before Timer B). The seed is fixed, which makes the test deterministic;
// TestLossySeeds covers other seeds with the property that holds whatever
// the luck.
func TestLossyNonInvite(t *testing.T) {
	const n = 1000
	p := lossyPair(t, lossySeedNonInvite)
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		i := cseqNum(req)
		if i%3 == 0 {
			// Some answer with a provisional response first.
			if err := tx.Respond(buildResponse(req, 100)); err != nil {
				t.Error(err)
			}
		}
		if err := tx.Respond(buildResponse(req, finalCodes[i%len(finalCodes)])); err != nil {
			t.Error(err)
		}
	}
	ta := newTally()
	for i := 0; i < n; i++ {
		req := numbered(optionsReq, i)
		tx, err := p.client.m.Request(addr(transport.UDP, serverAddr), req, ta)
		if err != nil {
			t.Fatal(err)
		}
		ta.want[tx] = finalCodes[i%len(finalCodes)]
		p.clock.Advance(10 * time.Millisecond)
	}
	for p.clock.Pending() > 0 {
		p.clock.Step()
	}
	ta.check(t)
	countRequests(t, p.server.rec.take(), n)
	p.client.checkEmpty()
	p.server.checkEmpty()
}

// TestLossyInvite: the same for 300 INVITE transactions answered 180 at
// once and a non-2xx final response half a second later, which the client
// transactions ACK.
func TestLossyInvite(t *testing.T) {
	const n = 300
	p := lossyPair(t, lossySeedInvite)
	codes := []int{486, 603, 404, 480}
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		if err := tx.Respond(buildResponse(req, 180)); err != nil {
			t.Error(err)
		}
		final := buildResponse(req, codes[cseqNum(req)%len(codes)])
		p.clock.AfterFunc(500*time.Millisecond, func() {
			if err := tx.Respond(final); err != nil {
				t.Error(err)
			}
		})
	}
	ta := newTally()
	for i := 0; i < n; i++ {
		tx, err := p.client.m.Request(addr(transport.UDP, serverAddr), numbered(inviteReq, i), ta)
		if err != nil {
			t.Fatal(err)
		}
		ta.want[tx] = codes[i%len(codes)]
		p.clock.Advance(10 * time.Millisecond)
	}
	for p.clock.Pending() > 0 {
		p.clock.Step()
	}
	ta.check(t)
	countRequests(t, p.server.rec.take(), n)
	p.client.checkEmpty()
	p.server.checkEmpty()
}

// TestLossySeeds runs 200 non-INVITE and 100 INVITE transactions over the
// lossy link for each of 20 seeds and checks what holds whatever is lost:
// every transaction reports exactly one outcome, the right final response
// or ErrTimeout; the server TU sees each request at most once; nothing is
// left at the end.
func TestLossySeeds(t *testing.T) {
	if testing.Short() {
		t.Log("-short: 3 seeds")
	}
	seeds := 20
	if testing.Short() {
		seeds = 3
	}
	for seed := int64(100); seed < int64(100+seeds); seed++ {
		p := lossyPair(t, seed)
		p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
			i := cseqNum(req)
			if tx.Method() == "INVITE" {
				tx.Respond(buildResponse(req, 180))
				final := buildResponse(req, 400+i%100)
				p.clock.AfterFunc(300*time.Millisecond, func() { tx.Respond(final) })
				return
			}
			tx.Respond(buildResponse(req, finalCodes[i%len(finalCodes)]))
		}
		ta := newTally()
		for i := 0; i < 300; i++ {
			req, want := numbered(optionsReq, i), finalCodes[i%len(finalCodes)]
			if i%3 == 2 {
				req, want = numbered(inviteReq, i), 400+i%100
			}
			tx, err := p.client.m.Request(addr(transport.UDP, serverAddr), req, ta)
			if err != nil {
				t.Fatal(err)
			}
			ta.want[tx] = want
			p.clock.Advance(5 * time.Millisecond)
		}
		for p.clock.Pending() > 0 {
			p.clock.Step()
		}
		timeouts := 0
		for tx, want := range ta.want {
			finals, errs := ta.finals[tx], ta.errs[tx]
			switch {
			case len(finals) == 1 && len(errs) == 0 && finals[0] == want:
			case len(finals) == 0 && len(errs) == 1 && errors.Is(errs[0], ErrTimeout):
				timeouts++
			default:
				t.Errorf("seed %d: %s: finals %v errors %v, want one %d", seed, tx.Method(), finals, errs, want)
			}
		}
		seen := map[string]int{}
		for _, e := range p.server.rec.take() {
			if e.Kind == "request" {
				if seen[string(e.Msg.CallID())]++; seen[string(e.Msg.CallID())] > 1 {
					t.Errorf("seed %d: request %s reached the TU twice", seed, e.Msg.CallID())
				}
			}
		}
		if timeouts > 3 {
			t.Errorf("seed %d: %d timeouts of 300", seed, timeouts)
		}
		p.client.checkEmpty()
		p.server.checkEmpty()
	}
}
