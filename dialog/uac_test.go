package dialog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// A forked INVITE: two early dialogs, the first 2xx confirms one, and a 2xx
// from the other fork is ACKed and ended with BYE (RFC 3261 §13.2.2.4).
func TestForkedInvite(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	forks := w.peer(5080)
	c, err := alice.Dial("sip:bob@127.0.0.1:5080", nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := forks.Expect("INVITE")
	invSeq, _ := inv.Msg.CSeq()

	forks.Respond(inv, 180, "fork-a")
	forks.Respond(inv, 183, "fork-b")
	if n := len(c.EarlyDialogs()); n != 2 || c.State() != CallEarly {
		t.Fatalf("%d early dialogs in state %v, want 2 in early", n, c.State())
	}
	if alice.Dialogs() != 2 {
		t.Fatalf("UA holds %d dialogs, want 2", alice.Dialogs())
	}

	forks.Respond(inv, 200, "fork-b")
	ack := forks.Expect("ACK")
	ackSeq, _ := ack.Msg.CSeq()
	if string(ack.Msg.ToTag()) != "fork-b" || ackSeq.Seq != invSeq.Seq || ackSeq.Method != sip.MethodAck {
		t.Fatalf("ACK %q CSeq %d %s, want tag fork-b CSeq %d ACK", ack.Msg.ToTag(), ackSeq.Seq, ackSeq.MethodName, invSeq.Seq)
	}
	if got := ack.Msg.RequestURI().String(); got != "sip:peer@127.0.0.1:5080" {
		t.Errorf("ACK Request-URI %s, want the 2xx Contact", got)
	}
	if c.State() != CallEstablished || c.Dialog().ID().RemoteTag != "fork-b" {
		t.Fatalf("call %v on %v", c.State(), c.Dialog())
	}
	if alice.Dialogs() != 1 {
		t.Errorf("UA holds %d dialogs after the 2xx, want 1 (the other early dialog ends)", alice.Dialogs())
	}

	// The 2xx retransmitted: the same ACK again, byte for byte.
	forks.Respond(inv, 200, "fork-b")
	again := forks.Expect("ACK")
	if string(again.Msg.Bytes()) != string(ack.Msg.Bytes()) {
		t.Errorf("ACK retransmission differs:\n%s\n%s", again.Msg.Bytes(), ack.Msg.Bytes())
	}

	// A 2xx from fork a: ACK, then BYE on that dialog only.
	forks.Respond(inv, 200, "fork-a")
	ackA := forks.Expect("ACK")
	bye := forks.Expect("BYE")
	if string(ackA.Msg.ToTag()) != "fork-a" || string(bye.Msg.ToTag()) != "fork-a" {
		t.Fatalf("ACK to %q, BYE to %q, want fork-a", ackA.Msg.ToTag(), bye.Msg.ToTag())
	}
	forks.Respond(bye, 200, "")
	if c.State() != CallEstablished || alice.Dialogs() != 1 {
		t.Fatalf("call %v with %d dialogs, want established on 1", c.State(), alice.Dialogs())
	}
	forks.None()
}

// The caller cancels after a 180; the callee answers 487 (RFC 3261 §9).
func TestCancel(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, _ *sip.Message) { bobCall = c; c.Ring() }})
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != CallEarly || bobCall.State() != CallEarly {
		t.Fatalf("states %v %v, want early", c.State(), bobCall.State())
	}
	if err := c.Cancel(); err != nil {
		t.Fatal(err)
	}
	mustEnd(t, c, ErrCancelled)
	mustEnd(t, bobCall, ErrCancelled)
	var se *StatusError
	if !errors.As(c.Err(), &se) || se.Code != 487 {
		t.Errorf("caller's error %v, want a 487", c.Err())
	}
	if alice.Dialogs()+bob.Dialogs() != 0 {
		t.Errorf("dialogs left: %d %d", alice.Dialogs(), bob.Dialogs())
	}
}

// A cancelled context cancels the INVITE (sent once a provisional came).
func TestInviteContextCancel(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, _ *sip.Message) { bobCall = c; c.Ring() }})
	ctx, cancel := context.WithCancel(bg())
	cancel()
	c, err := alice.Invite(ctx, "sip:bob@127.0.0.1:5070", nil)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want ErrCancelled and context.Canceled", err)
	}
	mustEnd(t, c, ErrCancelled)
	mustEnd(t, bobCall, ErrCancelled)
}

// The context ends as the 2xx arrives: Invite either reports the call
// established, or reports ErrCancelled and ends the call with a BYE; never
// ErrCancelled with the call left up (its doc's promise: a 2xx crossing
// the CANCEL is ACKed and ended with BYE).
func TestInviteContextEndsAsAnswered(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: autoAnswer})
	ctx, cancel := context.WithCancel(bg())
	cancel()
	cancelled := 0
	for i := range 40 {
		c, err := alice.Invite(ctx, "sip:bob@127.0.0.1:5070", nil)
		switch {
		case err == nil:
			if c.State() != CallEstablished {
				t.Fatalf("call %d: no error, state %v", i, c.State())
			}
			c.Bye(bg())
		case errors.Is(err, ErrCancelled):
			cancelled++
			if c.State() != CallEnded {
				t.Fatalf("call %d: %v with the call %v", i, err, c.State())
			}
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if cancelled == 0 {
		t.Log("the context never won the race")
	}
}

// CANCEL races the 200: the 200 wins, so the caller ACKs it and sends BYE.
func TestCancelRacesOK(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	callee := w.peer(5080)
	c, _ := alice.Dial("sip:bob@127.0.0.1:5080", nil)
	inv := callee.Expect("INVITE")
	if err := c.Cancel(); err != nil {
		t.Fatal(err)
	}
	callee.None() // RFC 3261 §9.1: no CANCEL before a provisional response
	callee.Respond(inv, 180, "x")
	cancel := callee.Expect("CANCEL")
	callee.Respond(inv, 200, "x") // crosses the CANCEL
	callee.Expect("ACK")
	bye := callee.Expect("BYE")
	callee.Respond(cancel, 200, "x")
	callee.Respond(bye, 200, "")
	mustEnd(t, c, ErrCancelled)
	if alice.Dialogs() != 0 {
		t.Errorf("%d dialogs left", alice.Dialogs())
	}
}

// The route set (RFC 3261 §12.2.1.1): a strict router first makes its URI
// the Request-URI and puts the remote target last in Route; a loose router
// leaves the remote target in the Request-URI. The UAC reverses the
// Record-Route of the 2xx (§12.1.2).
func TestRouteSet(t *testing.T) {
	for _, tc := range []struct {
		name       string
		recordRte  string
		wantRURI   string
		wantRoutes []string
	}{
		{"loose", "Record-Route: <sip:127.0.0.1:5092;lr>, <sip:127.0.0.1:5091;lr>",
			"sip:peer@127.0.0.1:5080", []string{"<sip:127.0.0.1:5091;lr>", "<sip:127.0.0.1:5092;lr>"}},
		{"strict", "Record-Route: <sip:127.0.0.1:5092;lr>, <sip:127.0.0.1:5091;maddr=127.0.0.1>",
			"sip:127.0.0.1:5091;maddr=127.0.0.1", []string{"<sip:127.0.0.1:5092;lr>", "<sip:peer@127.0.0.1:5080>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			alice := w.ua("alice", 5060, Config{})
			callee := w.peer(5080)
			proxy := w.peer(5091) // the first hop: every in-dialog request goes there
			c, _ := alice.Dial("sip:bob@127.0.0.1:5080", nil)
			inv := callee.Expect("INVITE")
			callee.Respond(inv, 200, "x", tc.recordRte)
			for _, method := range []string{"ACK", "BYE"} {
				if method == "BYE" {
					go c.Bye(bg())
				}
				var g siptest.Got
				if method == "BYE" {
					g = proxy.Wait()
				} else {
					g = proxy.Expect("ACK")
				}
				if got := g.Msg.RequestURI().String(); got != tc.wantRURI {
					t.Errorf("%s Request-URI %s, want %s", method, got, tc.wantRURI)
				}
				var routes []string
				vs := g.Msg.Values(sip.HeaderRoute)
				for v, ok := vs.Next(); ok; v, ok = vs.Next() {
					routes = append(routes, string(v))
				}
				if fmt.Sprint(routes) != fmt.Sprint(tc.wantRoutes) {
					t.Errorf("%s Route %q, want %q", method, routes, tc.wantRoutes)
				}
			}
			callee.None()
		})
	}
}

// Config.OutboundProxy: a request outside a dialog goes to the proxy with
// the preloaded route set and the target as Request-URI (RFC 3261 §8.1.2);
// once the proxy has record-routed, the dialog's requests go through it
// (§12.2.1.1); a proxy without lr is refused.
func TestOutboundProxy(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{OutboundProxy: "sip:127.0.0.1:5091;lr"})
	proxy := w.peer(5091)
	callee := w.peer(5080)
	c, err := alice.Dial("sip:bob@127.0.0.1:5080", nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := proxy.Expect("INVITE")
	callee.None()
	if got := inv.Msg.RequestURI().String(); got != "sip:bob@127.0.0.1:5080" {
		t.Errorf("INVITE Request-URI %s", got)
	}
	if got := string(inv.Msg.Get(sip.HeaderRoute)); got != "<sip:127.0.0.1:5091;lr>" {
		t.Errorf("INVITE Route %q", got)
	}
	// The proxy answers for the callee, record-routing itself.
	proxy.Respond(inv, 200, "x", "Record-Route: <sip:127.0.0.1:5091;lr>")
	ack := proxy.Expect("ACK")
	if got, want := ack.Msg.RequestURI().String(), "sip:peer@127.0.0.1:5091"; got != want {
		t.Errorf("ACK Request-URI %s, want the 2xx's Contact %s", got, want)
	}
	if got := string(ack.Msg.Get(sip.HeaderRoute)); got != "<sip:127.0.0.1:5091;lr>" {
		t.Errorf("ACK Route %q", got)
	}
	go c.Bye(bg())
	bye := proxy.Wait()
	if got := string(bye.Msg.Get(sip.HeaderRoute)); got != "<sip:127.0.0.1:5091;lr>" {
		t.Errorf("BYE Route %q", got)
	}
	proxy.Respond(bye, 200, "")
	<-c.Done()

	strict := w.ua("carol", 5070, Config{OutboundProxy: "sip:127.0.0.1:5091"})
	if _, err := strict.Dial("sip:bob@127.0.0.1:5080", nil); !errors.Is(err, ErrNoAddress) {
		t.Errorf("OutboundProxy without lr: %v, want ErrNoAddress", err)
	}
	proxy.None()
}

// The UAS keeps the Record-Route of the request in order (§12.1.1) and
// copies it into its 2xx.
func TestRouteSetUAS(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) }})
	caller := w.peer(5080)
	proxy := w.peer(5091)
	caller.Send(memAddr(5070), caller.invite(memAddr(5070), "rr-1", "t1", 1,
		"Record-Route: <sip:127.0.0.1:5091;lr>", "Record-Route: <sip:127.0.0.1:5092;lr>"))
	caller.ExpectStatus(180)
	ok := caller.ExpectStatus(200)
	if n := ok.Msg.Count(sip.HeaderRecordRoute); n != 2 || !strings.Contains(string(ok.Msg.Bytes()), "Record-Route: <sip:127.0.0.1:5091;lr>\r\nRecord-Route: <sip:127.0.0.1:5092;lr>\r\n") {
		t.Fatalf("2xx does not copy the Record-Route in order:\n%s", ok.Msg.Bytes())
	}
	if got := bobCall.Dialog().RouteSet(); fmt.Sprint(got) != "[<sip:127.0.0.1:5091;lr> <sip:127.0.0.1:5092;lr>]" {
		t.Errorf("route set %q", got)
	}
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "ACK", "rr-1", "t1", string(ok.Msg.ToTag()), 1))
	go bobCall.Bye(bg())
	bye := proxy.Wait()
	if string(bye.Msg.MethodName()) != "BYE" || bye.Msg.RequestURI().String() != "sip:peer@127.0.0.1:5080" {
		t.Fatalf("got %s, want BYE to the caller's Contact via the first route", siptest.FirstLine(bye.Msg))
	}
}

// A BYE handled while the ACK for the 2xx is being sent (here: the callee
// sends it on receiving the ACK, and the in-memory network delivers it
// before the ACK's send returns) ends the call; the caller then keeps no
// ACK and no timer for it: nothing outlives the call.
func TestByeWhileACKIsSent(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	var contact string
	var callee *transport.Layer
	callee = transport.New(transport.Config{Clock: w.clock, Logger: quiet}, transport.HandlerFunc(func(in *transport.Inbound) {
		m := in.Msg
		switch m.Method() {
		case sip.MethodInvite:
			contact = string(m.Get(sip.HeaderContact))
			b := sip.AppendResponse(nil, m, 200, "", "p")
			b = sip.AppendHeader(b, sip.HeaderContact, "<sip:bob@127.0.0.1:5080>")
			callee.SendResponse(in.Reply, sip.AppendNoBody(b))
		case sip.MethodAck:
			var na sip.NameAddr
			na.Parse([]byte(contact))
			bye := fmt.Sprintf("BYE %s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
				na.URI.Raw, m.Get(sip.HeaderTo), m.Get(sip.HeaderFrom), m.CallID())
			callee.SendRequest(memAddr(5060), transport.NewBranch(nil), []byte(bye))
		}
	}))
	t.Cleanup(func() { callee.Close() })
	if _, err := callee.ListenMem(w.net, memAddr(5080)); err != nil {
		t.Fatal(err)
	}
	c, _ := alice.Dial("sip:bob@127.0.0.1:5080", nil)
	mustEnd(t, c, ErrRemoteBye)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ack != nil || c.ackTimer != nil {
		t.Errorf("the ended call keeps its ACK (%d bytes) and a timer: %v", len(c.ack), c.ackTimer != nil)
	}
}
