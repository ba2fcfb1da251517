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
	w.settle(100 * time.Second)
	if c.State() != CallEstablished {
		t.Fatalf("call %v after its refresh", c.State())
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
