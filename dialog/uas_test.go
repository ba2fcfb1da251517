package dialog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
)

// bobAnswering starts Bob, who answers every call, and a scripted caller
// whose INVITE he has answered; it returns the 200 the caller got.
func bobAnswering(t *testing.T, w *world, cfg Config) (*UA, *peer, func() *Call, siptest.Got) {
	t.Helper()
	var bobCall *Call
	cfg.OnInvite = func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) }
	bob := w.ua("bob", 5070, cfg)
	caller := w.peer(5080)
	caller.Send(memAddr(5070), caller.invite(memAddr(5070), "call-1", "caller", 10))
	caller.ExpectStatus(180)
	ok := caller.ExpectStatus(200)
	return bob, caller, func() *Call { return bobCall }, ok
}

// The 2xx is retransmitted at T1, doubling to T2, until 64*T1; with no ACK
// the callee ends the session with a BYE (RFC 3261 §13.3.1.4).
func TestLostACK(t *testing.T) {
	w := newWorld(t)
	_, caller, bobCall, ok := bobAnswering(t, w, Config{})
	var at []time.Duration
	for elapsed := time.Duration(0); elapsed < 40*time.Second; elapsed += 100 * time.Millisecond {
		w.clock.Advance(100 * time.Millisecond)
		select {
		case g := <-caller.In():
			if g.Msg.IsRequest() {
				if string(g.Msg.MethodName()) != "BYE" {
					t.Fatalf("unexpected %s", siptest.FirstLine(g.Msg))
				}
				if d := elapsed + 100*time.Millisecond; d != 32*time.Second {
					t.Errorf("BYE after %v, want 64*T1 = 32s", d)
				}
				mustEnd(t, bobCall(), ErrNoACK)
				want := "[500ms 1.5s 3.5s 7.5s 11.5s 15.5s 19.5s 23.5s 27.5s 31.5s]"
				if got := fmtDurations(at); got != want {
					t.Errorf("2xx retransmitted at %s, want %s", fmtDurations(at), want)
				}
				return
			}
			if g.Msg.StatusCode() != 200 || string(g.Msg.Bytes()) != string(ok.Msg.Bytes()) {
				t.Fatalf("retransmission differs: %s", siptest.FirstLine(g.Msg))
			}
			at = append(at, elapsed+100*time.Millisecond)
		default:
		}
	}
	t.Fatalf("no BYE; 2xx retransmitted at %s", fmtDurations(at))
}

func fmtDurations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// The ACK stops the retransmissions and establishes the call.
func TestACKStopsRetransmission(t *testing.T) {
	w := newWorld(t)
	_, caller, bobCall, ok := bobAnswering(t, w, Config{})
	w.clock.Advance(500 * time.Millisecond)
	caller.ExpectStatus(200)
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "ACK", "call-1", "caller", string(ok.Msg.ToTag()), 10))
	select {
	case <-bobCall().Established():
	default:
		t.Fatal("ACK did not establish the call")
	}
	w.clock.Advance(time.Minute)
	caller.None()
	if bobCall().State() != CallEstablished {
		t.Fatalf("call %v", bobCall().State())
	}
}

// established returns Bob's call after the caller's ACK.
func established(t *testing.T, w *world, cfg Config) (*UA, *peer, *Call, string) {
	t.Helper()
	bob, caller, bobCall, ok := bobAnswering(t, w, cfg)
	tag := string(ok.Msg.ToTag())
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "ACK", "call-1", "caller", tag, 10))
	return bob, caller, bobCall(), tag
}

// Glare (RFC 3261 §14.2): a re-INVITE arriving while ours is pending gets
// 491, and our ReInvite reports the peer's 491.
func TestGlare(t *testing.T) {
	w := newWorld(t)
	_, caller, c, tag := established(t, w, Config{})
	res := make(chan error, 1)
	go func() {
		_, err := c.ReInvite(bg(), "application/sdp", []byte(sdp+"a=sendonly\r\n"))
		res <- err
	}()
	ours := caller.Wait()
	if string(ours.Msg.MethodName()) != "INVITE" {
		t.Fatalf("got %s", siptest.FirstLine(ours.Msg))
	}
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "INVITE", "call-1", "caller", tag, 11))
	caller.ExpectStatus(491)
	caller.Respond(ours, 491, "")
	// The transaction's ACK for the 491 (§17.1.1.3). The 491 may come back
	// before the goroutine's send of the INVITE has returned, in which case
	// the ACK leaves from that goroutine: wait for it.
	if ack := caller.Wait(); string(ack.Msg.MethodName()) != "ACK" {
		t.Fatalf("got %s, want ACK", siptest.FirstLine(ack.Msg))
	}
	var se *StatusError
	if err := <-res; !errors.As(err, &se) || se.Code != 491 {
		t.Fatalf("ReInvite: %v, want 491", err)
	}
	if c.State() != CallEstablished {
		t.Fatalf("call %v after glare", c.State())
	}
	// Both INVITEs are over: a new re-INVITE may go.
	go c.ReInvite(bg(), "application/sdp", []byte(sdp))
	if g := caller.Wait(); string(g.Msg.MethodName()) != "INVITE" {
		t.Fatalf("got %s", siptest.FirstLine(g.Msg))
	}
}

// A second re-INVITE while the first is still being answered gets 500
// with Retry-After (RFC 3261 §14.2).
func TestReInviteWhilePending(t *testing.T) {
	w := newWorld(t)
	var caller *peer
	var tag string
	var inner siptest.Got
	_, caller, _, tag = established(t, w, Config{OnReInvite: func(c *Call, req *sip.Message) (int, []byte) {
		cseq, _ := req.CSeq()
		if cseq.Seq == 11 {
			// The peer's next INVITE arrives while this one is unanswered.
			caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "INVITE", "call-1", "caller", tag, 12))
			inner = caller.Next()
		}
		return 200, nil
	}})
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "INVITE", "call-1", "caller", tag, 11))
	if inner.Msg == nil || inner.Msg.StatusCode() != 500 {
		t.Fatalf("second INVITE got %v, want 500", inner.Msg)
	}
	if secs, ok, _ := inner.Msg.RetryAfter(); !ok || secs > 10 {
		t.Fatalf("500 Retry-After %d %v, want 0-10", secs, ok)
	}
	caller.ExpectStatus(200) // the first one is answered
}

// A re-INVITE while our 2xx to the previous INVITE still awaits its ACK:
// the peer has the 2xx (it sends no INVITE before, §14.1), so the ACK was
// lost; the new INVITE is answered and the old 2xx no longer retransmitted.
func TestReInviteAfterLostACK(t *testing.T) {
	w := newWorld(t)
	_, caller, bobCall, ok := bobAnswering(t, w, Config{})
	tag := string(ok.Msg.ToTag())
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "INVITE", "call-1", "caller", tag, 11))
	caller.ExpectStatus(200)
	select {
	case <-bobCall().Established():
	default:
		t.Fatal("the call is not taken as established")
	}
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "ACK", "call-1", "caller", tag, 11))
	w.clock.Advance(time.Minute)
	caller.None() // neither 2xx is retransmitted any more
}

// A re-INVITE puts the call on hold: the application sees the offer and
// answers; the caller gets the answer (RFC 3261 §14).
func TestReInviteHold(t *testing.T) {
	w := newWorld(t)
	var offer string
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{
		OnInvite: func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) },
		OnReInvite: func(c *Call, req *sip.Message) (int, []byte) {
			offer = string(req.Body())
			return 200, []byte(sdp + "a=recvonly\r\n")
		},
	})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := c.ReInvite(bg(), "application/sdp", []byte(sdp+"a=sendonly\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(offer, "a=sendonly\r\n") || !strings.HasSuffix(string(answer), "a=recvonly\r\n") {
		t.Fatalf("offer %q answer %q", offer, answer)
	}
	if !strings.HasSuffix(string(bobCall.RemoteBody()), "a=sendonly\r\n") {
		t.Errorf("callee's remote body %q", bobCall.RemoteBody())
	}
	seq, _ := c.Dialog().LocalSeq()
	rseq, _ := bobCall.Dialog().RemoteSeq()
	if seq != rseq {
		t.Errorf("CSeq %d vs %d", seq, rseq)
	}
	// Bob got the ACK for the re-INVITE's 2xx: nothing is retransmitted.
	w.clock.Advance(time.Minute)
	if bobCall.State() != CallEstablished || c.State() != CallEstablished {
		t.Fatalf("states %v %v", c.State(), bobCall.State())
	}
}

// Requests in no dialog get 481 (RFC 3261 §12.2.2); a BYE outside any
// dialog too (§15.1.2).
func TestNoDialog481(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{})
	p := w.peer(5080)
	p.Send(memAddr(5070), p.inDialog(memAddr(5070), "BYE", "nope", "a", "b", 1))
	p.ExpectStatus(481)
	p.Send(memAddr(5070), p.inDialog(memAddr(5070), "INFO", "nope", "a", "b", 1))
	p.ExpectStatus(481)
	// An ACK matching nothing is dropped, never answered.
	p.Send(memAddr(5070), p.inDialog(memAddr(5070), "ACK", "nope", "a", "b", 1))
	p.None()
}

// A CSeq lower than the remote sequence number is out of order: 500 with
// Retry-After (RFC 3261 §12.2.2).
func TestOutOfOrderCSeq(t *testing.T) {
	w := newWorld(t)
	_, caller, c, tag := established(t, w, Config{})
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "INFO", "call-1", "caller", tag, 12))
	caller.ExpectStatus(405) // no INFO handler; the CSeq counts
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "INFO", "call-1", "caller", tag, 11))
	g := caller.ExpectStatus(500)
	if _, ok, _ := g.Msg.RetryAfter(); !ok {
		t.Error("500 without Retry-After")
	}
	if seq, _ := c.Dialog().RemoteSeq(); seq != 12 {
		t.Errorf("remote CSeq %d, want 12", seq)
	}
}

// Require with an option tag we lack gets 420 with Unsupported (RFC 3261
// §8.2.2.3); one we have passes.
func TestRequire420(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{Extensions: []string{"replaces"}})
	p := w.peer(5080)
	opts := strings.Replace(p.invite(memAddr(5070), "o-1", "a", 1), "INVITE", "OPTIONS", 2)
	p.Send(memAddr(5070), strings.Replace(opts, "Content-Length", "Require: replaces, 100rel\r\nContent-Length", 1))
	g := p.ExpectStatus(420)
	if got := string(g.Msg.GetName("Unsupported")); got != "100rel" {
		t.Fatalf("Unsupported %q, want 100rel", got)
	}
	opts = strings.Replace(p.invite(memAddr(5070), "o-2", "a", 1), "INVITE", "OPTIONS", 2)
	p.Send(memAddr(5070), strings.Replace(opts, "Content-Length", "Require: replaces\r\nContent-Length", 1))
	g = p.ExpectStatus(200)
	if !strings.Contains(string(g.Msg.Get(sip.HeaderAllow)), "INVITE") {
		t.Errorf("OPTIONS 200 without Allow: %s", g.Msg.Bytes())
	}
}

// Over MaxDialogs a new INVITE gets 503 with Retry-After.
func TestMaxDialogs(t *testing.T) {
	w := newWorld(t)
	bob, caller, _, _ := established(t, w, Config{MaxDialogs: 1})
	caller.Send(memAddr(5070), caller.invite(memAddr(5070), "call-2", "caller2", 1))
	g := caller.ExpectStatus(503)
	if _, ok, _ := g.Msg.RetryAfter(); !ok {
		t.Error("503 without Retry-After")
	}
	if n := bob.Refused(); n != 1 {
		t.Errorf("refusals counted: %d, want 1", n)
	}
}

// An INVITE without Contact is refused 400 (RFC 3261 §8.1.1.8).
func TestInviteWithoutContact(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{OnInvite: autoAnswer})
	p := w.peer(5080)
	inv := p.invite(memAddr(5070), "nc-1", "a", 1)
	i := strings.Index(inv, "Contact:")
	j := i + strings.Index(inv[i:], "\r\n") + 2
	p.Send(memAddr(5070), inv[:i]+inv[j:])
	g := p.ExpectStatus(400)
	if string(g.Msg.Reason()) != "Missing Contact" {
		t.Errorf("reason %q", g.Msg.Reason())
	}
}

// Allow lists each method once, also when a Handler takes one the UA
// answers itself (OPTIONS).
func TestAllowOnce(t *testing.T) {
	w := newWorld(t)
	bob := w.ua("bob", 5070, Config{})
	bob.Handle("OPTIONS", HandlerFunc(func(r *Request) { r.Respond(405, "", nil) }))
	bob.Handle("MESSAGE", HandlerFunc(func(r *Request) { r.Respond(200, "", nil) }))
	p := w.peer(5080)
	p.Send(memAddr(5070), strings.Replace(p.invite(memAddr(5070), "o-2", "a", 1), "INVITE", "OPTIONS", 2))
	g := p.ExpectStatus(405)
	if got := string(g.Msg.Get(sip.HeaderAllow)); got != "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE" {
		t.Fatalf("Allow: %q", got)
	}
}

// When Done closes, the call has left its dialog (no race for a reader
// woken by it).
func TestDoneAfterDialogGone(t *testing.T) {
	w := newWorld(t)
	_, caller, c, tag := established(t, w, Config{})
	d := c.Dialog()
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "BYE", "call-1", "caller", tag, 11))
	<-c.Done()
	if d.State() != StateTerminated || d.UA().Dialogs() != 0 {
		t.Fatalf("dialog %v, %d dialogs, after Done", d.State(), d.UA().Dialogs())
	}
}

// RFC 3261 §9.1, §14.1: a re-INVITE whose caller gives up (ctx) is
// cancelled once a provisional response has come, not before; the call
// stays up with its session, and the next re-INVITE goes out. Before,
// the re-INVITE was left pending and every later one got ErrPending.
func TestReInviteCancelledWhenContextEnds(t *testing.T) {
	w := newWorld(t)
	_, caller, c, tag := established(t, w, Config{})
	ctx, cancel := context.WithCancel(bg())
	res := make(chan error, 1)
	go func() {
		_, err := c.ReInvite(ctx, "application/sdp", []byte(sdp+"a=sendonly\r\n"))
		res <- err
	}()
	ours := waitFor(t, caller, "INVITE")
	cancel()
	if err := <-res; !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("ReInvite: %v, want ErrCancelled and context.Canceled", err)
	}
	caller.None() // §9.1: no CANCEL before a provisional response
	caller.Respond(ours, 180, tag)
	cancelReq := caller.Expect("CANCEL")
	caller.Respond(cancelReq, 200, tag)
	caller.Respond(ours, 487, tag)
	caller.Expect("ACK")
	if c.State() != CallEstablished {
		t.Fatalf("call %v after the cancelled re-INVITE", c.State())
	}
	go func() {
		_, err := c.ReInvite(bg(), "application/sdp", []byte(sdp))
		res <- err
	}()
	next := waitFor(t, caller, "INVITE")
	caller.Respond(next, 200, tag, "Content-Type: application/sdp")
	waitFor(t, caller, "ACK")
	if err := <-res; err != nil {
		t.Fatalf("next re-INVITE: %v", err)
	}
}

// Timer C ending a re-INVITE that rang and was never answered cancels it
// and keeps the call (§14.1 hangs up only a peer that never answered).
func TestReInviteTimerCKeepsCall(t *testing.T) {
	w := newWorld(t)
	cfg := Config{}
	cfg.Transaction.TimerC = 3 * time.Minute
	_, caller, c, tag := established(t, w, cfg)
	res := make(chan error, 1)
	go func() {
		_, err := c.ReInvite(bg(), "application/sdp", []byte(sdp+"a=sendonly\r\n"))
		res <- err
	}()
	ours := waitFor(t, caller, "INVITE")
	caller.Respond(ours, 180, tag)
	// The 180 may reach the transaction before the goroutine sending the
	// re-INVITE has returned from the transport; Timer C then starts when
	// it does, which may be after a first Advance: move on by steps.
	var err error
	for i := 0; ; i++ {
		w.settle(time.Minute)
		if i >= 2 {
			select {
			case err = <-res:
			case <-time.After(100 * time.Millisecond):
				if i < 10 {
					continue
				}
				t.Fatal("ReInvite still pending 10 minutes after the 180")
			}
			break
		}
	}
	if err == nil {
		t.Fatal("ReInvite succeeded past Timer C")
	}
	caller.Expect("CANCEL")
	if c.State() != CallEstablished {
		t.Fatalf("call %v after Timer C, want established", c.State())
	}
}

// waitFor waits for the next message, sent from another goroutine, and
// checks that it is a request of method.
func waitFor(t *testing.T, p *peer, method string) siptest.Got {
	t.Helper()
	g := p.Wait()
	if !g.Msg.IsRequest() || string(g.Msg.MethodName()) != method {
		t.Fatalf("got %s, want %s", siptest.FirstLine(g.Msg), method)
	}
	return g
}
