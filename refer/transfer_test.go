package refer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

func bg() context.Context { return context.Background() }

// Blind transfer (RFC 5589 §6.1; RFC 3515 §4.1): Alice calls Bob, REFERs
// him to Carol; Bob calls Carol and reports 100, 180 and 200 in NOTIFYs.
// Carol rings for 3 s: the 180 NOTIFY goes 1 s after the 100 (RFC 3515
// §3.10: no more than one a second), the final one at once.
func TestBlindTransfer(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ac, bc := s.call(alice, bob)
	carol.answer = func(c *dialog.Call, _ *sip.Message) {
		c.Ring()
		s.clock.AfterFunc(3*time.Second, func() { c.Answer("application/sdp", []byte(sdp)) })
	}

	mark := s.wire.mark()
	var progress progressLog
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", ReferredBy: alice.agent.Self(ac.Dialog()), OnProgress: progress.add})
	if err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(3 * time.Second)
	res, err := tr.Wait(bg())
	if err != nil {
		t.Fatalf("transfer: %v (%s)", err, &progress)
	}
	if res.ReferCode != 200 || res.Code != 200 {
		t.Errorf("result %+v", res)
	}
	if got, want := progress.String(), "accepted 200, notified 100 active, notified 180 active, notified 200 terminated, done 200"; got != want {
		t.Errorf("progress:\n got %s\nwant %s", got, want)
	}
	lines, _ := s.wire.since(mark)
	want := []string{
		"Alice>Bob REFER", "Bob>Alice 200/REFER",
		"Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // 100 Trying
		"Bob>Carol INVITE", "Carol>Bob 180/INVITE",
		"Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // 180 Ringing
		"Carol>Bob 200/INVITE", "Bob>Carol ACK",
		"Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // 200 OK, terminated
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("on the wire:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// RFC 3892 §3: Referred-By is copied into the INVITE.
	inv := s.wire.find(mark, "Bob>Carol INVITE")
	if got := string(inv.Get(sip.HeaderReferredBy)); got != ac.Dialog().LocalURI() {
		t.Errorf("INVITE Referred-By %q, want %q", got, ac.Dialog().LocalURI())
	}
	// RFC 3515 §2.4.5: every NOTIFY: Event refer with the id, a
	// Subscription-State, a sipfrag that is the status line only.
	refer := s.wire.find(mark, "Alice>Bob REFER")
	cseq, _ := refer.CSeq()
	var bodies []string
	for i := mark; ; {
		n := s.wire.find(i, "Bob>Alice NOTIFY")
		if n == nil {
			break
		}
		ev, _ := n.Event()
		if string(ev.Type) != "refer" || string(ev.ID) != fmt.Sprint(cseq.Seq) {
			t.Errorf("NOTIFY Event %q", n.Get(sip.HeaderEvent))
		}
		if ct := string(n.Get(sip.HeaderContentType)); !strings.HasPrefix(ct, "message/sipfrag") {
			t.Errorf("NOTIFY Content-Type %q", ct)
		}
		bodies = append(bodies, string(n.Body())+"|"+string(n.Get(sip.HeaderSubscriptionState)))
		i = s.wire.indexOf(n) + 1
	}
	wantBodies := []string{"SIP/2.0 100 Trying\r\n|active;expires=200", "SIP/2.0 180 Ringing\r\n|active;expires=199", "SIP/2.0 200 OK\r\n|terminated;reason=noresource"}
	if strings.Join(bodies, "\n") != strings.Join(wantBodies, "\n") {
		t.Errorf("NOTIFYs:\n%s\nwant\n%s", strings.Join(bodies, "\n"), strings.Join(wantBodies, "\n"))
	}

	// Alice hangs up; Bob and Carol talk; nothing of the subscription is left.
	ac.Bye(bg())
	if !errors.Is(bc.Err(), dialog.ErrRemoteBye) {
		t.Errorf("Bob's call with Alice: %v", bc.Err())
	}
	cc := <-carol.calls
	if cc.State() != dialog.CallEstablished {
		t.Errorf("Carol's call: %v", cc.State())
	}
	for _, p := range []*party{alice, bob, carol} {
		if sub, not := p.ev.Subscriptions(); sub+not != 0 {
			t.Errorf("%s: %d subscriptions left", p.name, sub+not)
		}
	}
}
