package dialog

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
)

// sessionCall is a call from the peer to Bob, who uses session timers
// with cfg; it returns the peer, Bob's call and the 200.
func sessionCall(t *testing.T, w *world, cfg Config, extra ...string) (*peer, *Call, siptest.Got) {
	t.Helper()
	bob, caller, bobCall, _ := func() (*UA, *peer, func() *Call, siptest.Got) {
		var c *Call
		cfg.OnInvite = func(call *Call, req *sip.Message) { c = call; autoAnswer(call, req) }
		bob := w.ua("bob", 5070, cfg)
		return bob, w.peer(5080), func() *Call { return c }, siptest.Got{}
	}()
	_ = bob
	caller.Send(memAddr(5070), caller.invite(memAddr(5070), "call-1", "caller", 10, extra...))
	caller.ExpectStatus(180)
	ok := caller.ExpectStatus(200)
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "ACK", "call-1", "caller", string(ok.Msg.ToTag()), 10))
	return caller, bobCall(), ok
}

// RFC 4028 §9, §10: a caller that supports timers and asks for 90 s is
// granted 90 s with itself as refresher (Session-Expires with refresher,
// Require: timer); when it never refreshes, Bob ends the call with a BYE
// at 90 - min(32, 90/3) = 60 s, not before.
func TestSessionTimerExpiresWithoutRefresh(t *testing.T) {
	w := newWorld(t)
	caller, c, ok := sessionCall(t, w, Config{SessionExpires: 1800 * time.Second},
		"Session-Expires: 90", "Supported: timer")
	if got := string(ok.Msg.Get(sip.HeaderSessionExpires)); got != "90;refresher=uac" {
		t.Errorf("Session-Expires %q, want 90;refresher=uac", got)
	}
	if got := string(ok.Msg.Get(sip.HeaderRequire)); got != "timer" {
		t.Errorf("Require %q, want timer", got)
	}
	w.settle(59 * time.Second)
	caller.None()
	w.settle(time.Second)
	bye := caller.Expect("BYE")
	caller.Respond(bye, 200, "")
	if !errors.Is(c.Err(), ErrSessionExpired) {
		t.Fatalf("call ended with %v, want ErrSessionExpired", c.Err())
	}
}

// RFC 3311, RFC 4028 §9: an UPDATE refreshes the session: the 200 carries
// Session-Expires and the expiry moves to 60 s after it.
func TestSessionTimerRefreshedByUpdate(t *testing.T) {
	w := newWorld(t)
	caller, c, ok := sessionCall(t, w, Config{SessionExpires: 1800 * time.Second},
		"Session-Expires: 90;refresher=uac", "Supported: timer")
	tag := string(ok.Msg.ToTag())
	w.settle(50 * time.Second)
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "UPDATE", "call-1", "caller", tag, 11,
		"Session-Expires: 90;refresher=uac", "Supported: timer"))
	upd := caller.ExpectStatus(200)
	if got := string(upd.Msg.Get(sip.HeaderSessionExpires)); got != "90;refresher=uac" {
		t.Errorf("UPDATE's 200 Session-Expires %q", got)
	}
	w.settle(55 * time.Second) // 105 s: the first expiry (60 s) has passed
	caller.None()
	if c.State() != CallEstablished {
		t.Fatalf("call %v after the refresh", c.State())
	}
	w.settle(5 * time.Second) // 110 s = 50 + 60
	caller.Respond(caller.Expect("BYE"), 200, "")
}

// RFC 4028 §8.1: an INVITE asking for less than Min-SE gets 422 with
// Min-SE; a malformed Session-Expires gets 400.
func TestSessionTimerTooSmall422(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{SessionExpires: 1800 * time.Second, OnInvite: autoAnswer})
	caller := w.peer(5080)
	caller.Send(memAddr(5070), caller.invite(memAddr(5070), "c-422", "caller", 1, "Session-Expires: 60"))
	g := caller.ExpectStatus(422)
	if got := string(g.Msg.GetName("Min-SE")); got != "90" {
		t.Errorf("Min-SE %q, want 90", got)
	}
}

// A caller without session timers: Bob grants his own interval and is
// the refresher (RFC 4028 §9: refresher=uas, no Require), and re-INVITEs
// at half the interval with the session's description.
func TestSessionTimerUASRefreshes(t *testing.T) {
	w := newWorld(t)
	caller, c, ok := sessionCall(t, w, Config{SessionExpires: 120 * time.Second})
	if got := string(ok.Msg.Get(sip.HeaderSessionExpires)); got != "120;refresher=uas" {
		t.Errorf("Session-Expires %q, want 120;refresher=uas", got)
	}
	if ok.Msg.Has(sip.HeaderRequire) {
		t.Errorf("Require %q for a caller without timers", ok.Msg.Get(sip.HeaderRequire))
	}
	w.settle(60 * time.Second)
	re := caller.Wait() // sent from a goroutine of the UA
	if string(re.Msg.MethodName()) != "INVITE" || string(re.Msg.Body()) != sdp {
		t.Fatalf("got %s, want a refresh re-INVITE with the session's SDP", siptest.FirstLine(re.Msg))
	}
	// §7.4: in the refresh Bob is the UAC, and stays the refresher.
	if got := string(re.Msg.Get(sip.HeaderSessionExpires)); got != "120;refresher=uac" {
		t.Errorf("refresh Session-Expires %q, want 120;refresher=uac", got)
	}
	caller.Respond(re, 200, string(ok.Msg.ToTag()), "Session-Expires: 120;refresher=uac")
	caller.Expect("ACK")
	// The 2xx re-armed the timer: the next refresh comes 60 s later. (Not
	// a longer wait: an unanswered refresh would time out and end the
	// call, at a fake time that depends on when its goroutine sends it.)
	w.settle(59 * time.Second)
	caller.None()
	w.settle(time.Second)
	re2 := caller.Wait()
	if string(re2.Msg.MethodName()) != "INVITE" || seqOf(re2.Msg) <= seqOf(re.Msg) {
		t.Fatalf("got %s, want the second refresh", siptest.FirstLine(re2.Msg))
	}
	caller.Respond(re2, 200, string(ok.Msg.ToTag()), "Session-Expires: 120;refresher=uac")
	caller.Expect("ACK")
	if c.State() != CallEstablished {
		t.Fatalf("call %v after its refreshes", c.State())
	}
}

// Two UAs with session timers: the caller's interval wins if smaller,
// the caller refreshes, and the call outlives many intervals.
func TestSessionTimerBetweenUAs(t *testing.T) {
	w := newWorld(t)
	refreshes := make(chan struct{}, 16)
	alice := w.ua("alice", 5060, Config{SessionExpires: 120 * time.Second})
	var bobCall *Call
	w.ua("bob", 5070, Config{SessionExpires: 1800 * time.Second,
		OnInvite:   func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) },
		OnReInvite: func(c *Call, _ *sip.Message) (int, []byte) { refreshes <- struct{}{}; return 200, []byte(sdp) },
	})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", &CallOptions{InitialOptions: InitialOptions{RequestOptions: RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		w.settle(60 * time.Second)
		select {
		case <-refreshes:
		case <-time.After(5 * time.Second):
			t.Fatalf("no refresh %d", i+1)
		}
		// The refresh runs on a goroutine of Alice's UA: wait until its
		// 2xx has re-armed her timer before time moves on.
		for deadline := time.Now().Add(5 * time.Second); ; {
			c.mu.Lock()
			armed := !c.reinviteOut && c.stTimer != nil
			c.mu.Unlock()
			bobCall.mu.Lock()
			acked := bobCall.ok == nil // else its 2xx goes again as time moves
			bobCall.mu.Unlock()
			armed = armed && acked
			if armed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refresh %d: timer not re-armed", i+1)
			}
			runtime.Gosched()
		}
	}
	if c.State() != CallEstablished || bobCall.State() != CallEstablished {
		t.Fatalf("after 300 s: caller %v, callee %v", c.State(), bobCall.State())
	}
}

// RFC 4028 §7.3: a 422 to the initial INVITE is retried with Min-SE the
// larger of the 422's and ours and Session-Expires at least that: same
// Call-ID and From tag, CSeq + 1, a new branch. The 2xx's interval is the
// session's, and a later refresh carries the Min-SE learnt (§7.4).
func TestSessionTimerUACRetriesAfter422(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{SessionExpires: 90 * time.Second})
	callee := w.peer(5070)
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", &CallOptions{InitialOptions: InitialOptions{RequestOptions: RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}})
	if err != nil {
		t.Fatal(err)
	}
	inv1 := callee.Expect("INVITE")
	if se, min := string(inv1.Msg.Get(sip.HeaderSessionExpires)), string(inv1.Msg.GetName("Min-SE")); se != "90" || min != "90" {
		t.Errorf("first INVITE: Session-Expires %q Min-SE %q, want 90 and 90", se, min)
	}
	callee.Respond(inv1, 422, "t1", "Min-SE: 150")
	callee.Expect("ACK")
	inv2 := callee.Expect("INVITE")
	if se, min := string(inv2.Msg.Get(sip.HeaderSessionExpires)), string(inv2.Msg.GetName("Min-SE")); se != "150" || min != "150" {
		t.Errorf("retried INVITE: Session-Expires %q Min-SE %q, want 150 and 150", se, min)
	}
	if n := inv2.Msg.Count(sip.HeaderSessionExpires); n != 1 {
		t.Errorf("retried INVITE has %d Session-Expires fields", n)
	}
	if string(inv1.Msg.CallID()) != string(inv2.Msg.CallID()) || string(inv1.Msg.FromTag()) != string(inv2.Msg.FromTag()) ||
		seqOf(inv2.Msg) != seqOf(inv1.Msg)+1 || branchOf(inv1.Msg) == branchOf(inv2.Msg) {
		t.Errorf("retry: Call-ID %s/%s, From tag %s/%s, CSeq %d/%d, branch %s/%s", inv1.Msg.CallID(), inv2.Msg.CallID(),
			inv1.Msg.FromTag(), inv2.Msg.FromTag(), seqOf(inv1.Msg), seqOf(inv2.Msg), branchOf(inv1.Msg), branchOf(inv2.Msg))
	}
	if string(inv2.Msg.Body()) != sdp {
		t.Errorf("retried INVITE lost its offer: %q", inv2.Msg.Body())
	}
	callee.Respond(inv2, 200, "t2", "Session-Expires: 150;refresher=uac", "Require: timer")
	if ack := callee.Expect("ACK"); seqOf(ack.Msg) != seqOf(inv2.Msg) {
		t.Errorf("ACK CSeq %d, want %d", seqOf(ack.Msg), seqOf(inv2.Msg))
	}
	select {
	case <-c.Established():
	case <-time.After(5 * time.Second):
		t.Fatalf("call %v after the 2xx", c.State())
	}
	// Alice refreshes at half of 150 s with the Min-SE the 422 taught.
	w.settle(75 * time.Second)
	re := callee.Wait()
	if string(re.Msg.MethodName()) != "INVITE" {
		t.Fatalf("got %s, want the refresh re-INVITE", siptest.FirstLine(re.Msg))
	}
	if se, min := string(re.Msg.Get(sip.HeaderSessionExpires)), string(re.Msg.GetName("Min-SE")); se != "150;refresher=uac" || min != "150" {
		t.Errorf("refresh: Session-Expires %q Min-SE %q, want 150;refresher=uac and 150", se, min)
	}
	callee.Respond(re, 200, "t2", "Session-Expires: 150;refresher=uac", "Require: timer")
	callee.Expect("ACK")
}

// A refresh answered 422 is retried the same way (RFC 4028 §7.4), keeping
// refresher=uac; a 422 whose Min-SE is not above what was asked is not
// retried (it would loop): the caller gets it.
func TestSessionTimerRefreshRetriesAfter422(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{SessionExpires: 90 * time.Second})
	callee := w.peer(5070)
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := callee.Expect("INVITE")
	callee.Respond(inv, 200, "t1", "Session-Expires: 90;refresher=uac", "Require: timer")
	callee.Expect("ACK")
	<-c.Established()
	w.settle(45 * time.Second)
	re1 := callee.Wait()
	callee.Respond(re1, 422, "t1", "Min-SE: 100")
	// Sent by the goroutine of the refresh if the 422 came while it was
	// still sending the re-INVITE: waited for.
	waitFor(t, callee, "ACK")
	re2 := callee.Wait()
	if se, min := string(re2.Msg.Get(sip.HeaderSessionExpires)), string(re2.Msg.GetName("Min-SE")); se != "100;refresher=uac" || min != "100" {
		t.Errorf("retried refresh: Session-Expires %q Min-SE %q, want 100;refresher=uac and 100", se, min)
	}
	if seqOf(re2.Msg) != seqOf(re1.Msg)+1 {
		t.Errorf("retried refresh CSeq %d, want %d", seqOf(re2.Msg), seqOf(re1.Msg)+1)
	}
	callee.Respond(re2, 200, "t1", "Session-Expires: 100;refresher=uac", "Require: timer")
	callee.Expect("ACK")

	// A re-INVITE of the application's, answered 422 with a Min-SE it
	// already met: not retried.
	done := make(chan error, 1)
	go func() { _, err := c.ReInvite(bg(), "application/sdp", []byte(sdp)); done <- err }()
	re3 := callee.Wait()
	callee.Respond(re3, 422, "t1", "Min-SE: 90")
	waitFor(t, callee, "ACK")
	var se *StatusError
	if err := <-done; !errors.As(err, &se) || se.Code != 422 {
		t.Fatalf("ReInvite: %v, want a 422 StatusError", err)
	}
	callee.None()
	if c.State() != CallEstablished {
		t.Fatalf("call %v after a refused re-INVITE", c.State())
	}
}

// RFC 4028 §7.4: the Min-SE of a refresh request received in the dialog
// is carried by the UA's own refreshes.
func TestSessionTimerRefreshCarriesPeerMinSE(t *testing.T) {
	w := newWorld(t)
	caller, _, ok := sessionCall(t, w, Config{SessionExpires: 120 * time.Second},
		"Session-Expires: 120;refresher=uas", "Min-SE: 110", "Supported: timer")
	if got := string(ok.Msg.Get(sip.HeaderSessionExpires)); got != "120;refresher=uas" {
		t.Errorf("Session-Expires %q, want 120;refresher=uas", got)
	}
	w.settle(60 * time.Second)
	re := caller.Wait()
	if se, min := string(re.Msg.Get(sip.HeaderSessionExpires)), string(re.Msg.GetName("Min-SE")); se != "120;refresher=uac" || min != "110" {
		t.Errorf("refresh: Session-Expires %q Min-SE %q, want 120;refresher=uac and 110", se, min)
	}
	caller.Respond(re, 200, string(ok.Msg.ToTag()), "Session-Expires: 120;refresher=uac")
	caller.Expect("ACK")
}
