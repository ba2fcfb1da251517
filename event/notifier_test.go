package event

import (
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// notifierWithPeer starts bob, notifier of p, and a scripted subscriber.
func notifierWithPeer(t *testing.T, p Package, cfg Config) (*world, *node, *peer) {
	w := newWorld(t)
	bob := w.nodeWith("bob", 5070, dialog.Config{}, cfg)
	if err := bob.m.Register(p); err != nil {
		t.Fatal(err)
	}
	return w, bob, w.peer(5060)
}

// subscribe has the peer subscribe to bob and returns the 2xx and the
// first NOTIFY, not yet answered.
func (p *peer) subscribe(bob *node, event string, extra ...string) (ok, notify siptest.Got) {
	p.t.Helper()
	p.Send(bob.addr(), p.request(bob.addr(), "SUBSCRIBE", "call-1", "sub", "", 1, "", append([]string{"Event: " + event}, extra...)...))
	ok = p.ExpectStatus(200)
	return ok, p.Expect("NOTIFY")
}

func seqOf(t testing.TB, m *sip.Message) uint32 {
	t.Helper()
	c, err := m.CSeq()
	if err != nil {
		t.Fatal(err)
	}
	return c.Seq
}

// RFC 6665 §4.2.1.1, §8.3.2: an unknown package, or no Event, gets 489
// with Allow-Events; OPTIONS lists the packages too (§4.4.4).
func TestUnknownPackage489(t *testing.T) {
	log := &notifierLog{}
	_, bob, p := notifierWithPeer(t, testPackage(log), Config{})
	bob.m.Register(Package{Name: "refer"}) // no notifier role: not listed
	a := bob.addr()
	for i, ev := range []string{"Event: nosuch", "Event: TEST", "Event: refer", ""} {
		var extra []string
		if ev != "" {
			extra = append(extra, ev)
		}
		p.Send(a, p.request(a, "SUBSCRIBE", "c"+strconv.Itoa(i), "f", "", 1, "", extra...))
		g := p.ExpectStatus(489)
		if ae := string(g.Msg.Get(sip.HeaderAllowEvents)); ae != "test" {
			t.Errorf("%q: Allow-Events %q", ev, ae)
		}
	}
	p.Send(a, p.request(a, "OPTIONS", "c-o", "f", "", 1, ""))
	g := p.ExpectStatus(200)
	if !g.Msg.HasToken(sip.HeaderAllowEvents, "test") || g.Msg.HasToken(sip.HeaderAllowEvents, "refer") {
		t.Errorf("OPTIONS Allow-Events %q", g.Msg.Get(sip.HeaderAllowEvents))
	}
	if bob.ua.Dialogs() != 0 || len(log.ns) != 0 {
		t.Error("a refused SUBSCRIBE left state")
	}
}

// RFC 6665 §4.2.1.1: 423 with Min-Expires if and only if the interval is
// above zero, below one hour and below the minimum; a longer one than the
// maximum is shortened, never lengthened.
func Test423MinExpires(t *testing.T) {
	log := &notifierLog{}
	pkg := testPackage(log)
	pkg.MinExpires = 90 * time.Minute
	pkg.MaxExpires = 2 * time.Hour
	_, bob, p := notifierWithPeer(t, pkg, Config{})
	a := bob.addr()
	for i, c := range []struct {
		expires string
		code    int
		granted string
	}{
		{"30", 423, ""},
		{"3599", 423, ""},
		{"3600", 200, "3600"}, // one hour: no 423 even below the minimum
		{"0", 200, "0"},       // a fetch
		{"86400", 200, "7200"},
	} {
		p.Send(a, p.request(a, "SUBSCRIBE", "c"+strconv.Itoa(i), "f", "", 1, "", "Event: test", "Expires: "+c.expires))
		g := p.ExpectStatus(c.code)
		if c.code == 423 {
			if me := string(g.Msg.Get(sip.HeaderMinExpires)); me != "5400" {
				t.Errorf("%s: Min-Expires %q", c.expires, me)
			}
			continue
		}
		if e := string(g.Msg.Get(sip.HeaderExpires)); e != c.granted {
			t.Errorf("%s: granted %q, want %s", c.expires, e, c.granted)
		}
		nt := p.Expect("NOTIFY")
		ss, _ := nt.Msg.SubscriptionState()
		if c.granted == "0" {
			if !ss.Is("terminated") || string(ss.Reason) != "timeout" {
				t.Errorf("fetch NOTIFY %q", nt.Msg.Get(sip.HeaderSubscriptionState))
			}
		} else if strconv.Itoa(int(ss.Expires)) != c.granted {
			t.Errorf("%s: NOTIFY expires %d", c.expires, ss.Expires)
		}
		p.Respond(nt, 200, "")
	}
	// A refresh asking for too little gets 423 too (§4.2.1.4).
	n := log.last()
	d := n.Dialog().ID()
	p.Send(a, p.request(a, "SUBSCRIBE", d.CallID, d.RemoteTag, d.LocalTag, 2, "", "Event: test", "Expires: 60"))
	p.ExpectStatus(423)
	if n.State() != StateActive {
		t.Error("a refused refresh ended the subscription")
	}
}

// A subscriber told 423 gets a *StatusError carrying Min-Expires.
func TestSubscribe423(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	bob := w.node("bob", 5070, dialog.Config{})
	pkg := testPackage(&notifierLog{})
	pkg.MinExpires = time.Minute
	bob.m.Register(pkg)
	alice.m.Register(Package{Name: "test"})
	s, _ := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "test", Expires: 30 * time.Second})
	var se *StatusError
	if err := s.Wait(bg()); !errors.As(err, &se) || se.Code != 423 || se.MinExpires != time.Minute {
		t.Fatalf("%v %+v", err, se)
	}
}

// RFC 6665 §8.3.1: the notifier MUST NOT send 202; an Answer of 202 goes
// out as 200. §3.1.1: the 2xx MUST carry Expires.
func TestNo202(t *testing.T) {
	pkg := Package{Name: "test", OnSubscribe: func(*Notifier, *SubscribeRequest) Answer { return Answer{Code: 202} }}
	_, bob, p := notifierWithPeer(t, pkg, Config{})
	ok, nt := p.subscribe(bob, "test")
	if e := string(ok.Msg.Get(sip.HeaderExpires)); e != "3600" {
		t.Errorf("Expires %q", e)
	}
	if ok.Msg.Get(sip.HeaderContact) == nil {
		t.Error("2xx creating the dialog without Contact")
	}
	if ss := string(nt.Msg.Get(sip.HeaderSubscriptionState)); ss != "active;expires=3600" {
		t.Errorf("Subscription-State %q", ss)
	}
	if ev := string(nt.Msg.Get(sip.HeaderEvent)); ev != "test" {
		t.Errorf("NOTIFY Event %q", ev)
	}
}

// RFC 6665 §4.1.2.1: a SUBSCRIBE accepting none of the package's body types
// gets 406; §3.2.1: NOTIFY bodies MUST be of an accepted type.
func TestAccept(t *testing.T) {
	log := &notifierLog{}
	pkg := testPackage(log)
	pkg.Accept = []string{"text/plain", "application/x-test"}
	_, bob, p := notifierWithPeer(t, pkg, Config{})
	a := bob.addr()
	p.Send(a, p.request(a, "SUBSCRIBE", "c1", "f", "", 1, "", "Event: test", "Accept: application/xml"))
	g := p.ExpectStatus(406)
	if acc := string(g.Msg.Get(sip.HeaderAccept)); acc != "text/plain, application/x-test" {
		t.Errorf("406 Accept %q", acc)
	}
	_, nt := p.subscribe(bob, "test", "Accept: application/xml, text/*")
	p.Respond(nt, 200, "")
	n := log.last()
	if err := n.Notify(StateActive, "application/x-test", []byte("x")); !errors.Is(err, ErrNotAcceptable) {
		t.Errorf("unaccepted type: %v", err)
	}
	if err := n.Notify(StateActive, "Text/Plain;charset=utf-8", []byte("x")); err != nil {
		t.Errorf("accepted type: %v", err)
	}
	p.Respond(p.Expect("NOTIFY"), 200, "")
	// Without Accept, the package's first type only (§3.1.3).
	p.Send(a, p.request(a, "SUBSCRIBE", "c3", "f", "", 1, "", "Event: test"))
	p.ExpectStatus(200)
	p.Respond(p.Expect("NOTIFY"), 200, "")
	if err := log.last().Notify(StateActive, "application/x-test", []byte("x")); !errors.Is(err, ErrNotAcceptable) {
		t.Errorf("default type: %v", err)
	}
}

// NOTIFYs of one subscription are sent one at a time: the second waits
// until the first transaction completes, and they keep their order.
func TestNotifySerialisation(t *testing.T) {
	log := &notifierLog{}
	_, bob, p := notifierWithPeer(t, testPackage(log), Config{})
	_, first := p.subscribe(bob, "test")
	n := log.last()
	for _, b := range []string{"s1", "s2"} {
		if err := n.Notify(StateActive, "text/plain", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	p.None() // nothing before the first NOTIFY is answered
	if n.Pending() != 2 {
		t.Errorf("%d pending", n.Pending())
	}
	p.Respond(first, 200, "")
	second := p.Expect("NOTIFY")
	p.None()
	if string(second.Msg.Body()) != "s1" || seqOf(t, second.Msg) != seqOf(t, first.Msg)+1 {
		t.Fatalf("second NOTIFY %q CSeq %d", second.Msg.Body(), seqOf(t, second.Msg))
	}
	// A provisional response does not complete the transaction.
	p.Respond(second, 100, "")
	p.None()
	p.Respond(second, 200, "")
	third := p.Expect("NOTIFY")
	if string(third.Msg.Body()) != "s2" || seqOf(t, third.Msg) != seqOf(t, second.Msg)+1 {
		t.Fatalf("third NOTIFY %q", third.Msg.Body())
	}
	// A failure that does not end the subscription lets the next one go.
	n.Notify(StatePending, "text/plain", []byte("s3"))
	p.Respond(third, 500, "")
	fourth := p.Expect("NOTIFY")
	if ss := string(fourth.Msg.Get(sip.HeaderSubscriptionState)); !strings.HasPrefix(ss, "pending;expires=") || n.State() != StatePending {
		t.Errorf("fourth: %q, %v", ss, n.State())
	}
}

// The queue is bounded; the final NOTIFY is always accepted. With
// Package.Coalesce only the newest waiting state is sent.
func TestNotifyQueue(t *testing.T) {
	for _, coalesce := range []bool{false, true} {
		log := &notifierLog{}
		pkg := testPackage(log)
		pkg.Coalesce = coalesce
		_, bob, p := notifierWithPeer(t, pkg, Config{MaxPendingNotifies: 2})
		_, first := p.subscribe(bob, "test")
		n := log.last()
		var errs []error
		for i := 1; i <= 3; i++ {
			errs = append(errs, n.Notify(StateActive, "text/plain", []byte("s"+strconv.Itoa(i))))
		}
		if err := n.Terminate(ReasonNoResource, 0, "text/plain", []byte("end")); err != nil {
			t.Fatal(err)
		}
		if err := n.Notify(StateActive, "text/plain", nil); !errors.Is(err, ErrState) {
			t.Errorf("Notify after Terminate: %v", err)
		}
		var bodies []string
		p.Respond(first, 200, "")
		for {
			g := p.Next()
			bodies = append(bodies, string(g.Msg.Body()))
			p.Respond(g, 200, "")
			if ss, _ := g.Msg.SubscriptionState(); ss.Is("terminated") {
				// RFC 6665 §4.2.2: a reason, and no expires.
				if v := string(g.Msg.Get(sip.HeaderSubscriptionState)); v != "terminated;reason=noresource" {
					t.Errorf("final Subscription-State %q", v)
				}
				break
			}
		}
		p.None()
		got := strings.Join(bodies, ",")
		if coalesce {
			// The newest state replaces the waiting one, and the final
			// NOTIFY, complete state too, replaces that.
			if errs[0] != nil || errs[1] != nil || errs[2] != nil || got != "end" {
				t.Errorf("coalesce: %v %q", errs, got)
			}
		} else if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrQueueFull) || got != "s1,s2,end" {
			t.Errorf("queue: %v %q", errs, got)
		}
		if !errors.Is(n.Err(), ErrTerminated) || bob.ua.Dialogs() != 0 {
			t.Errorf("after final NOTIFY: %v, %d dialogs", n.Err(), bob.ua.Dialogs())
		}
	}
}

// RFC 6665 §4.2.2 throttling: NOTIFYs from Notify keep the minimum
// interval; the one answering a SUBSCRIBE does not wait.
func TestNotifyRateLimit(t *testing.T) {
	log := &notifierLog{}
	pkg := testPackage(log)
	pkg.MinNotifyInterval = 5 * time.Second
	w, bob, p := notifierWithPeer(t, pkg, Config{})
	_, first := p.subscribe(bob, "test")
	p.Respond(first, 200, "")
	n := log.last()
	n.Notify(StateActive, "text/plain", []byte("s1"))
	p.None()
	w.clock.Advance(5*time.Second - time.Millisecond)
	p.None()
	w.clock.Advance(time.Millisecond)
	p.Respond(p.Expect("NOTIFY"), 200, "")
	// A refresh is answered at once, whatever the interval.
	d := n.Dialog().ID()
	p.Send(bob.addr(), p.request(bob.addr(), "SUBSCRIBE", d.CallID, d.RemoteTag, d.LocalTag, 2, "", "Event: test"))
	p.ExpectStatus(200)
	p.Respond(p.Expect("NOTIFY"), 200, "")
	n.SetMinInterval(0)
	n.Notify(StateActive, "text/plain", []byte("s2"))
	p.Expect("NOTIFY")
}

// RFC 6665 §4.2.2: a NOTIFY answered 404 (or 408, or not at all: Timer F)
// removes the subscription; one answered 500 does not. A 481 ends the
// whole dialog (RFC 5057 §5.1, in package dialog).
func TestNotifyFailure(t *testing.T) {
	for _, c := range []struct {
		code int // 0: no answer
		ends bool
	}{{404, true}, {408, true}, {481, true}, {0, true}, {500, false}, {415, false}} {
		log := &notifierLog{}
		w, bob, p := notifierWithPeer(t, testPackage(log), Config{})
		_, first := p.subscribe(bob, "test")
		n := log.last()
		if c.code == 0 {
			w.clock.Advance(32 * time.Second)
			for len(p.In()) > 0 {
				p.Next() // retransmissions
			}
		} else {
			p.Respond(first, c.code, "")
		}
		if !c.ends {
			if n.State() != StateActive {
				t.Errorf("%d ended it: %v", c.code, n.Err())
			}
			continue
		}
		select {
		case <-n.Done():
		default:
			t.Fatalf("%d: still %v", c.code, n.State())
		}
		var se *StatusError
		switch {
		case c.code == 0:
			if !errors.Is(n.Err(), transaction.ErrTimeout) {
				t.Errorf("timeout: %v", n.Err())
			}
		case c.code == 481:
			var de *dialog.StatusError
			if !errors.As(n.Err(), &se) && !errors.As(n.Err(), &de) {
				t.Errorf("481: %v", n.Err())
			}
		case !errors.As(n.Err(), &se) || se.Code != c.code || se.Method != "NOTIFY":
			t.Errorf("%d: %v", c.code, n.Err())
		}
		if bob.ua.Dialogs() != 0 || len(log.ended) != 1 {
			t.Errorf("%d: %d dialogs, %d ends", c.code, bob.ua.Dialogs(), len(log.ended))
		}
		if _, nn := bob.m.Subscriptions(); nn != 0 {
			t.Errorf("%d: notifier state left", c.code)
		}
	}
}

// Answer.State pending, then Notify active: the subscription is granted
// later (RFC 6665 §4.2.1.3); a refused authorization gets
// terminated;reason=rejected.
func TestPendingThenActive(t *testing.T) {
	var ns []*Notifier
	pkg := Package{Name: "test", OnSubscribe: func(n *Notifier, r *SubscribeRequest) Answer {
		ns = append(ns, n)
		return Answer{State: StatePending}
	}}
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	bob := w.node("bob", 5070, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	bob.m.Register(pkg)
	rec := &recorder{}
	s, _ := alice.m.Subscribe(bob.uri(), rec.options("test"))
	if s.State() != StatePending {
		t.Fatalf("%v", s.State())
	}
	ns[0].Notify(StateActive, "", nil)
	if s.State() != StateActive {
		t.Fatalf("%v", s.State())
	}
	s2, _ := alice.m.Subscribe(bob.uri(), rec.options("test"))
	ns[1].Terminate(ReasonRejected, 0, "", nil)
	if tm := mustTerminate(t, s2, ErrTerminated); tm.Reason != ReasonRejected || tm.Retry.Allowed {
		t.Errorf("%+v", tm)
	}
	s.Unsubscribe(bg())
}

// Limits: MaxSubscriptions gives 503, MaxPerDialog 403.
func TestLimits(t *testing.T) {
	log := &notifierLog{}
	pkg := testPackage(log)
	pkg.MultiplePerDialog = true
	_, bob, p := notifierWithPeer(t, pkg, Config{MaxSubscriptions: 2, MaxPerDialog: 1})
	_, nt := p.subscribe(bob, "test;id=1")
	if ev := string(nt.Msg.Get(sip.HeaderEvent)); ev != "test;id=1" {
		t.Errorf("NOTIFY Event %q: RFC 6665 §4.5.2 wants the id", ev)
	}
	p.Respond(nt, 200, "")
	d := log.last().Dialog().ID()
	p.Send(bob.addr(), p.request(bob.addr(), "SUBSCRIBE", d.CallID, d.RemoteTag, d.LocalTag, 2, "", "Event: test;id=2"))
	p.ExpectStatus(403)
	p.Send(bob.addr(), p.request(bob.addr(), "SUBSCRIBE", "other", "f2", "", 1, "", "Event: test"))
	p.ExpectStatus(200)
	p.Respond(p.Expect("NOTIFY"), 200, "")
	p.Send(bob.addr(), p.request(bob.addr(), "SUBSCRIBE", "third", "f3", "", 1, "", "Event: test"))
	g := p.ExpectStatus(503)
	if g.Msg.Get(sip.HeaderRetryAfter) == nil {
		t.Error("503 without Retry-After")
	}
	if _, err := bob.m.NewNotifier(log.last().Dialog(), &NotifierOptions{Package: "test", ID: "9"}); !errors.Is(err, ErrTooMany) {
		t.Errorf("NewNotifier over the limit: %v", err)
	}
	// The 403, the 503 and the local refusal are counted.
	if n := bob.m.Refused(); n != 3 {
		t.Errorf("Refused() = %d, want 3", n)
	}
}

// Manager.Close ends everything locally and leaves no timer; UA.Close ends
// subscriptions through their dialogs.
func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, log := pair(t)
	rec := &recorder{}
	s, _ := alice.m.Subscribe(bob.uri(), rec.options("test"))
	pending, _ := alice.m.Subscribe("sip:nobody@127.0.0.1:5999", rec.options("test"))
	n := log.last()
	alice.m.Close()
	mustTerminate(t, s, ErrClosed)
	mustTerminate(t, pending, ErrClosed)
	if _, err := alice.m.Subscribe(bob.uri(), rec.options("test")); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	bob.ua.Close()
	select {
	case <-n.Done():
	default:
		t.Fatal("notifier outlived its UA")
	}
	if !errors.Is(n.Err(), dialog.ErrTerminated) {
		t.Errorf("notifier: %v", n.Err())
	}
	alice.ua.Close()
	noLeaks(t, w, before, alice, bob)
}

// RFC 6665 §4.6: a CANCEL matching a SUBSCRIBE is answered but otherwise
// ignored: the subscription stands (the transaction layer answers it).
func TestCancelIgnored(t *testing.T) {
	log := &notifierLog{}
	_, bob, p := notifierWithPeer(t, testPackage(log), Config{})
	a := bob.addr()
	branch := []byte("z9hG4bK-cancel-subscribe")
	sub := p.request(a, "SUBSCRIBE", "c1", "f", "", 1, "", "Event: test")
	if _, _, err := p.Layer.SendRequest(a, branch, []byte(sub)); err != nil {
		t.Fatal(err)
	}
	p.ExpectStatus(200)
	p.Respond(p.Expect("NOTIFY"), 200, "")
	cancel := "CANCEL sip:ua@" + a.AddrPort.String() + " SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@" + p.Addr.AddrPort.String() + ">;tag=f\r\nTo: <sip:ua@" + a.AddrPort.String() + ">\r\nCall-ID: c1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
	if _, _, err := p.Layer.SendRequest(a, branch, []byte(cancel)); err != nil {
		t.Fatal(err)
	}
	g := p.Next()
	if cs, _ := g.Msg.CSeq(); g.Msg.IsRequest() || string(cs.MethodName) != "CANCEL" || g.Msg.StatusCode() != 200 {
		t.Fatalf("CANCEL answered %s", siptest.FirstLine(g.Msg))
	}
	p.None()
	if n := log.last(); n.State() != StateActive || bob.ua.Dialogs() != 1 {
		t.Errorf("after CANCEL: %v, %d dialogs", n.State(), bob.ua.Dialogs())
	}
}

// RFC 6665 §4.2.2: a NOTIFY that cannot be delivered (a transport error:
// the subscriber's stream address refuses connections) removes the
// subscription, like a Timer F timeout.
func TestNotifyTransportError(t *testing.T) {
	log := &notifierLog{}
	w, bob, p := notifierWithPeer(t, testPackage(log), Config{})
	tcp := memAddr(5070)
	tcp.Proto = transport.TCP
	if _, err := bob.ua.ListenMem(w.net, tcp); err != nil {
		t.Fatal(err)
	}
	a := bob.addr()
	req := p.request(a, "SUBSCRIBE", "c1", "f", "", 1, "", "Event: test")
	req = strings.Replace(req, "Contact: <sip:peer@127.0.0.1:5060>", "Contact: <sip:peer@127.0.0.1:5999;transport=tcp>", 1)
	p.Send(a, req)
	p.ExpectStatus(200)
	n := log.last()
	select {
	case <-n.Done():
	default:
		t.Fatalf("still %v", n.State())
	}
	if !errors.Is(n.Err(), transaction.ErrTransport) && !errors.Is(n.Err(), transport.ErrConnRefused) {
		t.Errorf("ended with %v", n.Err())
	}
	if bob.ua.Dialogs() != 0 {
		t.Error("dialog left")
	}
}

// The 2xx to a SUBSCRIBE inside the dialog (a refresh, an unsubscribe)
// carries Contact: SUBSCRIBE is a target refresh request (RFC 6665 §3.1),
// whose 2xx tells the subscriber the remote target (RFC 3261 §12.2.1.2).
func TestRefreshResponseContact(t *testing.T) {
	pkg := Package{Name: "test", OnSubscribe: func(*Notifier, *SubscribeRequest) Answer { return Answer{} }}
	_, bob, p := notifierWithPeer(t, pkg, Config{})
	ok, nt := p.subscribe(bob, "test")
	p.Respond(nt, 200, "")
	tag := string(ok.Msg.ToTag())
	for i, expires := range []string{"600", "0"} {
		p.Send(bob.addr(), p.request(bob.addr(), "SUBSCRIBE", "call-1", "sub", tag, 2+i, "", "Event: test", "Expires: "+expires))
		g := p.ExpectStatus(200)
		if g.Msg.Get(sip.HeaderContact) == nil {
			t.Errorf("2xx to the SUBSCRIBE with Expires %s has no Contact:\n%s", expires, g.Msg.Bytes())
		}
		p.Respond(p.Expect("NOTIFY"), 200, "")
	}
}

// A NOTIFY held back by the rate limit behind a final one the application
// queued with Terminate is not sent active after the subscription expires
// (RFC 6665 §4.2.1.4): at the expiry the final NOTIFY goes out alone.
func TestNoActiveNotifyAfterExpiry(t *testing.T) {
	log := &notifierLog{}
	pkg := testPackage(log)
	pkg.MinNotifyInterval = 20 * time.Second
	w, bob, p := notifierWithPeer(t, pkg, Config{})
	_, first := p.subscribe(bob, "test", "Expires: 10")
	p.Respond(first, 200, "")
	n := log.last()
	if err := n.Notify(StateActive, "text/plain", []byte("s1")); err != nil {
		t.Fatal(err)
	}
	if err := n.Terminate(ReasonNoResource, 0, "", nil); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(10*time.Second - time.Millisecond)
	p.None() // s1 waits for the rate limit, the final NOTIFY behind it
	w.clock.Advance(time.Millisecond)
	g := p.Expect("NOTIFY")
	if ss := string(g.Msg.Get(sip.HeaderSubscriptionState)); ss != "terminated;reason=noresource" {
		t.Errorf("at the expiry: NOTIFY %q, want the final one", ss)
	}
	p.Respond(g, 200, "")
	w.clock.Advance(time.Minute)
	p.None()
	select {
	case <-n.Done():
	default:
		t.Error("the notifier did not end")
	}
}

// RFC 6665 §4.4.1, §4.2.1.4: a subscription whose final NOTIFY the
// application has queued (Terminate) exists until that NOTIFY completes,
// so a refresh that arrives meanwhile gets 200 with the time left, not 481:
// a 481 ends the subscriber's side (§4.1.2.2), which then answers the final
// NOTIFY 481 and never learns the final state (a REFER's outcome). Here the
// final NOTIFY waits behind one the rate limit holds, then behind one in
// flight.
func TestRefreshWhileFinalQueued(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test", Accept: []string{"text/plain"}})
	bob := w.node("bob", 5070, dialog.Config{})
	log := &notifierLog{}
	pkg := testPackage(log)
	pkg.MinNotifyInterval = 10 * time.Second
	bob.m.Register(pkg)
	rec := &recorder{}
	s, err := alice.m.Subscribe(bob.uri(), rec.options("test"))
	if err != nil || s.Wait(bg()) != nil {
		t.Fatal(err, s.Err())
	}
	n := log.last()
	n.Notify(StateActive, "text/plain", []byte("s1")) // held 10 s by the rate limit
	n.Terminate(ReasonNoResource, 0, "text/plain", []byte("final"))
	if n.Pending() != 2 {
		t.Fatalf("%d NOTIFYs queued, want 2", n.Pending())
	}
	until := n.Expires()
	if err := s.Refresh(bg()); err != nil {
		t.Fatalf("refresh while the final NOTIFY is queued: %v", err)
	}
	if !n.Expires().Equal(until) {
		t.Errorf("ending subscription extended to %v", n.Expires())
	}
	w.clock.Advance(10 * time.Second)
	mustTerminate(t, s, ErrTerminated)
	if b := rec.bodies(); !slices.Equal(b, []string{"active:s0", "active:s1", "terminated:final"}) {
		t.Errorf("NOTIFYs %q", b)
	}
	if !errors.Is(n.Err(), ErrTerminated) {
		t.Errorf("notifier: %v", n.Err())
	}

	// The final NOTIFY in flight (not yet answered by a scripted
	// subscriber): the refresh gets 200 too, and no NOTIFY besides it.
	w2, bob2, p := notifierWithPeer(t, testPackage(log), Config{})
	_, first := p.subscribe(bob2, "test")
	n2 := log.last()
	p.Respond(first, 200, "")
	n2.Terminate(ReasonNoResource, 0, "text/plain", []byte("final"))
	final := p.Expect("NOTIFY")
	d := n2.Dialog().ID()
	a := bob2.addr()
	p.Send(a, p.request(a, "SUBSCRIBE", d.CallID, d.RemoteTag, d.LocalTag, 2, "", "Event: test", "Expires: 600"))
	ok := p.ExpectStatus(200)
	if e := string(ok.Msg.Get(sip.HeaderExpires)); e != "600" {
		t.Errorf("Expires %q, want the time left", e)
	}
	p.Respond(final, 200, "")
	if !errors.Is(n2.Err(), ErrTerminated) {
		t.Errorf("notifier: %v", n2.Err())
	}
	// Once it has ended, a refresh finds nothing (481).
	p.Send(a, p.request(a, "SUBSCRIBE", d.CallID, d.RemoteTag, d.LocalTag, 3, "", "Event: test", "Expires: 600"))
	p.ExpectStatus(481)
	p.None()
	_ = w2
}
