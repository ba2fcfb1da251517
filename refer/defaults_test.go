package refer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
)

// sendRaw sends a request from p's transport to q as a peer would write
// it, bypassing p's UA (its answer reaches p as a stray response, and the
// wire log).
func (s *stage) sendRaw(p, q *party, msg string) {
	s.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	if err := p.ua.Transport().Send(q.addr, []byte(msg)); err != nil {
		s.t.Fatal(err)
	}
}

// outsideRefer is a REFER outside any dialog from Alice (127.0.0.1:5060)
// to Bob (127.0.0.1:5070) with the given Contact lines.
func outsideRefer(branch, contacts string) string {
	return "REFER sip:bob@127.0.0.1:5070 SIP/2.0\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK" + branch + "\n" +
		"Max-Forwards: 70\n" +
		"From: <sip:alice@127.0.0.1:5060>;tag=a1\n" +
		"To: <sip:bob@127.0.0.1:5070>\n" +
		"Call-ID: outside-" + branch + "\n" +
		"CSeq: 1 REFER\n" +
		contacts +
		"Refer-To: <sip:carol@127.0.0.1:5080>\n" +
		"Content-Length: 0\n\n"
}

// RFC 3515 §5 (toll fraud): by default a REFER outside any dialog that
// names no dialog of this UA gets 403 and no call is placed; inside a
// dialog a REFER is accepted by default; AcceptOutsideDialog opts in.
func TestOutsideReferRefusedByDefault(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	mark := s.wire.mark()
	tr, err := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if err != nil {
		t.Fatal(err)
	}
	if res := tr.Result(); res.ReferCode != 403 || !errors.Is(res.Err, ErrRejected) {
		t.Fatalf("REFER outside a dialog: %+v", res)
	}
	if lines, _ := s.wire.since(mark); len(lines) != 2 || lines[1] != "Bob>Alice 403/REFER" {
		t.Fatalf("wire %q", lines)
	}
	if len(bob.refers) != 0 || len(carol.calls) != 0 || bob.ua.Dialogs() != 0 {
		t.Fatalf("refused REFER left %d refers, %d calls, %d dialogs", len(bob.refers), len(carol.calls), bob.ua.Dialogs())
	}

	// In a dialog: accepted, Carol called.
	ab, _ := s.call(alice, bob)
	tr, _ = alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if res, err := tr.Wait(bg()); err != nil || res.Code != 200 {
		t.Fatalf("in-dialog REFER: %+v %v", res, err)
	}

	// Opted in: the same outside REFER is taken.
	dave := s.add("Dave", 5090, Config{AcceptOutsideDialog: true})
	tr, _ = alice.agent.ReferOutside(dave.uri(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if res, err := tr.Wait(bg()); err != nil || res.Code != 200 || res.ReferCode != 200 {
		t.Fatalf("AcceptOutsideDialog: %+v %v", res, err)
	}
}

// RFC 3261 §8.1.1.8: a REFER outside a dialog creates one and must carry
// exactly one Contact; without it (or with two, or a bad one) the answer
// is 400, not 503, and no dialog or subscription is left behind.
func TestOutsideReferNeedsOneContact(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{AcceptOutsideDialog: true, NoAutoCall: true})
	for _, tc := range []struct{ branch, contacts string }{
		{"none", ""},
		{"two", "Contact: <sip:alice@127.0.0.1:5060>\nContact: <sip:alice@127.0.0.1:5061>\n"},
		{"list", "Contact: <sip:alice@127.0.0.1:5060>, <sip:alice@127.0.0.1:5061>\n"},
		{"star", "Contact: *\n"},
		{"bad", "Contact: <sip:alice@127.0.0.1:5060\n"},
	} {
		mark := s.wire.mark()
		s.sendRaw(alice, bob, outsideRefer(tc.branch, tc.contacts))
		if s.wire.find(mark, "Bob>Alice 400/REFER") == nil {
			lines, _ := s.wire.since(mark)
			t.Errorf("%s: %q, want a 400", tc.branch, lines)
		}
	}
	if len(bob.refers) != 0 || bob.ua.Dialogs() != 0 {
		t.Fatalf("%d REFERs reached the application, %d dialogs", len(bob.refers), bob.ua.Dialogs())
	}
	// One Contact: accepted.
	mark := s.wire.mark()
	s.sendRaw(alice, bob, outsideRefer("one", "Contact: <sip:alice@127.0.0.1:5060>\n"))
	if s.wire.find(mark, "Bob>Alice 200/REFER") == nil {
		lines, _ := s.wire.since(mark)
		t.Fatalf("one Contact: %q", lines)
	}
}

// A REFER outside a dialog that is refused for want of a subscription
// (the limit reached) gets 503 and leaves no dialog behind: the dialog its
// 2xx would have created is torn down with it.
func TestOutsideReferNoLeakAtSubscriptionLimit(t *testing.T) {
	s := newStage(t)
	alice := s.add("Alice", 5060, Config{})
	s.ev = event.Config{MaxSubscriptions: 1}
	bob := s.add("Bob", 5070, Config{AcceptOutsideDialog: true, NoAutoCall: true})
	tr1, _ := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1:5080>"})
	if res := tr1.Result(); res.ReferCode != 200 {
		t.Fatalf("first REFER: %+v", res)
	}
	if n := bob.ua.Dialogs(); n != 1 {
		t.Fatalf("Bob holds %d dialogs after one REFER", n)
	}
	tr2, err := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1:5080>"})
	if err != nil {
		t.Fatal(err)
	}
	if res := tr2.Result(); res.ReferCode != 503 {
		t.Fatalf("second REFER: %+v, want 503", res)
	}
	if n := bob.ua.Dialogs(); n != 1 {
		t.Fatalf("Bob holds %d dialogs after a refused REFER, want 1", n)
	}
}

// A deferred REFER whose 2xx could not be sent (the subscription limit:
// 503) is not pending: a later Accept fails and calls no one.
func TestDeferFailureCallsNoOne(t *testing.T) {
	s := newStage(t)
	alice := s.add("Alice", 5060, Config{})
	carol, dave := s.add("Carol", 5080, Config{}), s.add("Dave", 5090, Config{})
	carol.answer = func(c *dialog.Call, _ *sip.Message) { c.Ring() } // the first transfer stays in progress
	s.ev = event.Config{MaxPerDialog: 1}
	var deferErr error
	deferred := make(chan *Incoming, 1)
	bob := s.add("Bob", 5070, Config{OnRefer: func(in *Incoming) {
		if string(in.Target.URI().User) == "carol" {
			in.Accept()
			return
		}
		deferErr = in.Defer()
		deferred <- in
	}})
	ab, _ := s.call(alice, bob)
	tr1, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	<-carol.calls
	tr2, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + dave.uri() + ">"})
	in := <-deferred
	if deferErr == nil {
		t.Fatal("Defer succeeded past the subscription limit")
	}
	if res := tr2.Result(); res.ReferCode != 503 {
		t.Fatalf("second REFER: %+v, want 503", res)
	}
	if err := in.Accept(); err == nil {
		t.Error("Accept after a failed Defer succeeded")
	}
	if len(dave.calls) != 0 || in.Call() != nil {
		t.Fatal("the refused REFER's target was called")
	}
	if res := tr1.Result(); res.Code >= 200 {
		t.Errorf("first transfer: %+v", res)
	}
}

// RFC 3515 §2.4.4, RFC 6665 §4.2.1.4: the referrer ending the implicit
// subscription of a deferred REFER (SUBSCRIBE Expires: 0) ends the
// subscription, not the reference: a later Accept still calls the target.
func TestDeferredUnsubscribedStillCalls(t *testing.T) {
	s := newStage(t)
	alice, carol := s.add("Alice", 5060, Config{}), s.add("Carol", 5080, Config{})
	undecided := make(chan *Incoming, 1)
	bob := s.add("Bob", 5070, Config{OnRefer: func(in *Incoming) { undecided <- in }, DecideWithin: 500 * time.Millisecond})
	ab, _ := s.call(alice, bob)
	var progress progressLog
	tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", OnProgress: progress.add})
	s.clock.Advance(500 * time.Millisecond)
	if got := progress.String(); got != "accepted 200, notified 100 pending" {
		t.Fatalf("progress %s", got)
	}
	if err := tr.Unsubscribe(context.Background()); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	in := <-undecided
	if err := in.Accept(); err != nil {
		t.Fatalf("Accept after the unsubscribe: %v", err)
	}
	select {
	case <-carol.calls:
	default:
		t.Fatal("the target was not called")
	}
	if in.Call() == nil {
		t.Error("Incoming.Call is nil")
	}
}
