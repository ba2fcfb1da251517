package event

import (
	"context"
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
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// pair starts alice (subscriber) and bob (notifier of package "test").
func pair(t *testing.T) (*world, *node, *node, *notifierLog) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	bob := w.node("bob", 5070, dialog.Config{})
	log := &notifierLog{}
	if err := alice.m.Register(Package{Name: "test", DefaultExpires: 600 * time.Second, Accept: []string{"text/plain"}}); err != nil {
		t.Fatal(err)
	}
	if err := bob.m.Register(testPackage(log)); err != nil {
		t.Fatal(err)
	}
	return w, alice, bob, log
}

// Subscribe, receive the immediate NOTIFY and a state change, refresh
// before expiry, unsubscribe; nothing is left afterwards.
func TestSubscribeNotifyRefresh(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, log := pair(t)
	rec := &recorder{}
	s, err := alice.m.Subscribe(bob.uri(), rec.options("test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	n := log.last()
	if s.State() != StateActive || n == nil || n.State() != StateActive {
		t.Fatalf("states: subscriber %v, notifier %v", s.State(), n)
	}
	if got := rec.bodies(); !slices.Equal(got, []string{"active:s0"}) {
		t.Fatalf("notifications %q", got)
	}
	if note := rec.lastNote(); !note.HasExpires || note.Expires != 600*time.Second || note.ContentType != "text/plain" {
		t.Errorf("first NOTIFY: %+v", note)
	}
	if !s.Expires().Equal(w.clock.Now().Add(600*time.Second)) || !n.Expires().Equal(s.Expires()) {
		t.Errorf("expiry %v / %v", s.Expires(), n.Expires())
	}
	if err := n.Notify(StateActive, "text/plain", []byte("s1")); err != nil {
		t.Fatal(err)
	}
	// RFC 6665 §4.1.2.2 sets no margin: ours is min(600/2, 64*T1) = 32 s.
	w.clock.Advance(567 * time.Second)
	if got := rec.bodies(); len(got) != 2 {
		t.Fatalf("refreshed too early: %q", got)
	}
	w.clock.Advance(time.Second)
	if got := rec.bodies(); !slices.Equal(got, []string{"active:s0", "active:s1", "active:s1"}) {
		t.Fatalf("after refresh: %q", got)
	}
	if want := w.clock.Now().Add(600 * time.Second); !n.Expires().Equal(want) || !s.Expires().Equal(want) {
		t.Errorf("refresh did not extend: %v %v want %v", n.Expires(), s.Expires(), want)
	}
	if err := s.Unsubscribe(bg()); err != nil {
		t.Fatal(err)
	}
	mustTerminate(t, s, ErrUnsubscribed)
	if !errors.Is(n.Err(), ErrUnsubscribed) {
		t.Errorf("notifier ended with %v", n.Err())
	}
	if note := rec.lastNote(); note.State != StateTerminated || note.Reason != ReasonTimeout || string(note.Body) != "s1" {
		t.Errorf("final NOTIFY %+v", note)
	}
	if tm := s.Termination(); tm.Retry.Allowed {
		t.Error("an unsubscription advises re-subscribing")
	}
	noLeaks(t, w, before, alice, bob)
}

// RFC 6665 §4.2.1.4: an unrefreshed subscription is removed with a NOTIFY
// terminated;reason=timeout, after which the subscriber may re-subscribe
// at once (§4.1.3).
func TestNotifierExpiry(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, log := pair(t)
	rec := &recorder{}
	o := rec.options("test")
	o.NoRefresh = true
	o.Expires = 120 * time.Second
	s, err := alice.m.Subscribe(bob.uri(), o)
	if err != nil {
		t.Fatal(err)
	}
	n := log.last()
	w.clock.Advance(119 * time.Second)
	if s.State() != StateActive || n.State() != StateActive {
		t.Fatalf("ended early: %v %v", s.State(), n.State())
	}
	w.clock.Advance(time.Second)
	tm := mustTerminate(t, s, ErrTerminated)
	if tm.Reason != ReasonTimeout || !tm.Retry.Allowed || tm.Retry.After != 0 {
		t.Errorf("termination %+v", tm)
	}
	if !errors.Is(n.Err(), ErrExpired) {
		t.Errorf("notifier: %v", n.Err())
	}
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Error("dialogs left")
	}
	noLeaks(t, w, before, alice, bob)
}

// A subscriber that does not refresh, and whose notifier's final NOTIFY
// never comes, gives up 64*T1 after expiry.
func TestSubscriberExpiry(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	rec := &recorder{}
	o := rec.options("test")
	o.NoRefresh = true
	s, err := alice.m.Subscribe("sip:bob@127.0.0.1:5070", o)
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "n1", "Expires: 60")
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n1", 1, "test", "active;expires=60", ""))
	p.ExpectStatus(200)
	w.clock.Advance(60*time.Second + 32*time.Second - time.Millisecond)
	if s.State() != StateActive {
		t.Fatalf("ended early: %v", s.Err())
	}
	w.clock.Advance(time.Millisecond)
	mustTerminate(t, s, ErrExpired)
	p.None()
}

// RFC 6665 §4.1.2.4: the subscriber MUST be prepared for a NOTIFY before
// the SUBSCRIBE's 2xx; the NOTIFY creates the dialog (§4.4.1) and the 2xx
// that follows creates no other.
func TestNotifyBeforeOK(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test", Accept: []string{"text/plain"}})
	p := w.peer(5070)
	rec := &recorder{}
	s, err := alice.m.Subscribe("sip:bob@127.0.0.1:5070", rec.options("test"))
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Expect("SUBSCRIBE")
	if ev := string(sub.Msg.Get(sip.HeaderEvent)); ev != "test" {
		t.Errorf("Event %q", ev)
	}
	if e := string(sub.Msg.Get(sip.HeaderExpires)); e != "3600" {
		t.Errorf("Expires %q, want the package default", e)
	}
	if a := string(sub.Msg.Get(sip.HeaderAccept)); a != "text/plain" {
		t.Errorf("Accept %q", a)
	}
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n1", 7, "test", "active;expires=300", "early"))
	p.ExpectStatus(200)
	if s.State() != StateActive || s.Dialog() == nil || alice.ua.Dialogs() != 1 {
		t.Fatalf("after NOTIFY: %v, dialog %v, %d dialogs", s.State(), s.Dialog(), alice.ua.Dialogs())
	}
	if got := s.Dialog().RemoteTarget(); got != "sip:peer@127.0.0.1:5070" {
		t.Errorf("remote target %q (from the NOTIFY's Contact)", got)
	}
	// RFC 6665 §8.3.1: a 202 is a 200.
	p.Respond(sub, 202, "n1", "Expires: 300", "Contact: <sip:other@127.0.0.1:5070>")
	if alice.ua.Dialogs() != 1 || s.State() != StateActive {
		t.Fatalf("after 2xx: %d dialogs, %v", alice.ua.Dialogs(), s.State())
	}
	if got := rec.bodies(); !slices.Equal(got, []string{"active:early"}) {
		t.Errorf("notifications %q", got)
	}
	// A NOTIFY in the dialog with a higher CSeq is the next one.
	id := s.Dialog().ID()
	p.Send(alice.addr(), p.request(alice.addr(), "NOTIFY", id.CallID, id.RemoteTag, id.LocalTag, 8, "later", "Event: test", "Subscription-State: pending;expires=200"))
	p.ExpectStatus(200)
	if s.State() != StatePending || !s.Expires().Equal(w.clock.Now().Add(200*time.Second)) {
		t.Errorf("state %v, expiry %v", s.State(), s.Expires())
	}
	s.Close()
	if alice.ua.Dialogs() != 0 {
		t.Error("Close left the dialog")
	}
}

// RFC 6665 §4.1.2.4: Timer N (64*T1) without NOTIFY ends the attempt; a
// NOTIFY after it gets 481.
func TestTimerN(t *testing.T) {
	before := runtime.NumGoroutine()
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	rec := &recorder{}
	s, err := alice.m.Subscribe("sip:bob@127.0.0.1:5070", rec.options("test"))
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "n1", "Expires: 3600", "Contact: <sip:peer@127.0.0.1:5070>")
	if s.State() != StateNotifyWait || alice.ua.Dialogs() != 1 {
		t.Fatalf("after 2xx: %v, %d dialogs (the 2xx creates the dialog)", s.State(), alice.ua.Dialogs())
	}
	w.clock.Advance(32*time.Second - time.Millisecond)
	if s.State() != StateNotifyWait {
		t.Fatalf("ended before Timer N: %v", s.Err())
	}
	w.clock.Advance(time.Millisecond)
	mustTerminate(t, s, ErrNoNotify)
	if alice.ua.Dialogs() != 0 {
		t.Error("dialog left after Timer N")
	}
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n1", 1, "test", "active;expires=60", ""))
	p.ExpectStatus(481)
	if len(rec.terms) != 1 || len(rec.notes) != 0 {
		t.Errorf("callbacks: %d terminations, %d notifications", len(rec.terms), len(rec.notes))
	}
	p.Layer.Close()
	noLeaks(t, w, before, alice)
}

// RFC 6665 §4.1.4: NOTIFYs from two forks create two subscriptions, each
// with its own dialog; OnFork may refuse a fork (481), and after Timer N
// new forks get 481 (§4.1.2.4).
func TestForks(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test", Forking: true})
	p := w.peer(5070)
	rec := &recorder{keep: true}
	s, err := alice.m.Subscribe("sip:bob@127.0.0.1:5070", rec.options("test"))
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "A", "Expires: 3600", "Contact: <sip:peer@127.0.0.1:5070>")
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "A", 1, "test", "active;expires=3600", "a"))
	p.ExpectStatus(200)
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "B", 1, "test", "pending;expires=1800", "b"))
	p.ExpectStatus(200)
	if len(rec.forks) != 1 || alice.ua.Dialogs() != 2 {
		t.Fatalf("%d forks, %d dialogs", len(rec.forks), alice.ua.Dialogs())
	}
	f := rec.forks[0]
	if f == s || f.State() != StatePending || s.State() != StateActive || f.Dialog() == s.Dialog() {
		t.Fatalf("fork %v %v, first %v", f.State(), f.Dialog(), s.State())
	}
	if f.Dialog().ID().RemoteTag != "B" || s.Dialog().ID().RemoteTag != "A" {
		t.Error("dialogs not per fork")
	}
	if rec.subs[1] != f {
		t.Error("the fork's NOTIFY reported on the first subscription")
	}
	rec.keep = false
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "C", 1, "test", "active", ""))
	p.ExpectStatus(481)
	if alice.ua.Dialogs() != 2 || len(rec.forks) != 2 {
		t.Errorf("refused fork: %d dialogs, %d forks", alice.ua.Dialogs(), len(rec.forks))
	}
	if len(rec.terms) != 0 {
		t.Error("a refused fork reported a termination")
	}
	rec.keep = true
	w.clock.Advance(32 * time.Second)
	if len(alice.m.attempts) != 0 {
		t.Error("forks still accepted after Timer N")
	}
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "D", 1, "test", "active", ""))
	p.ExpectStatus(481)
	// Each fork ends on its own.
	id := f.Dialog().ID()
	p.Send(alice.addr(), p.request(alice.addr(), "NOTIFY", id.CallID, id.RemoteTag, id.LocalTag, 2, "", "Event: test", "Subscription-State: terminated;reason=noresource;expires=3600"))
	p.ExpectStatus(200)
	tm := mustTerminate(t, f, ErrTerminated)
	if tm.Reason != ReasonNoResource || tm.Retry.Allowed {
		t.Errorf("fork termination %+v", tm)
	}
	if s.State() != StateActive || alice.ua.Dialogs() != 1 {
		t.Errorf("the other fork: %v, %d dialogs", s.State(), alice.ua.Dialogs())
	}
}

// Without Package.Forking the first dialog wins (RFC 6665 §5.4.9): a NOTIFY
// from another fork gets 481 and OnFork is not asked.
func TestNoForking(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	rec := &recorder{keep: true}
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", rec.options("test"))
	sub := p.Expect("SUBSCRIBE")
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "A", 1, "test", "active;expires=60", ""))
	p.ExpectStatus(200)
	if len(alice.m.attempts) != 0 {
		t.Error("the SUBSCRIBE's Initial is still open after the first dialog")
	}
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "B", 1, "test", "active;expires=60", ""))
	p.ExpectStatus(481)
	// The 2xx of the other fork is ignored (§5.4.9).
	p.Respond(sub, 200, "B", "Expires: 60")
	if len(rec.forks) != 0 || alice.ua.Dialogs() != 1 || s.Dialog().ID().RemoteTag != "A" {
		t.Errorf("%d forks, %d dialogs", len(rec.forks), alice.ua.Dialogs())
	}
}

// RFC 6665 §4.1.3: NOTIFY checks: 400 without Event or Subscription-State,
// 489 for an unknown package (with Allow-Events), 481 for a subscription
// that does not exist (outside a dialog, wrong id, unknown attempt).
func TestNotifyErrors(t *testing.T) {
	w, alice, bob, log := pair(t)
	_ = bob
	p := w.peer(5080)
	a := alice.addr()
	cases := []struct {
		name string
		req  string
		code int
	}{
		{"no Event", p.request(a, "NOTIFY", "c1", "f1", "", 1, "", "Subscription-State: active"), 400},
		{"no Subscription-State", p.request(a, "NOTIFY", "c2", "f1", "", 1, "", "Event: test"), 400},
		{"unknown package", p.request(a, "NOTIFY", "c3", "f1", "", 1, "", "Event: nosuch", "Subscription-State: active"), 489},
		{"case of package", p.request(a, "NOTIFY", "c4", "f1", "", 1, "", "Event: Test", "Subscription-State: active"), 489},
		{"outside any dialog", p.request(a, "NOTIFY", "c5", "f1", "", 1, "", "Event: test", "Subscription-State: active"), 481},
		{"unknown To tag", p.request(a, "NOTIFY", "c1", "f1", "t1", 1, "", "Event: test", "Subscription-State: active"), 481},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.Send(a, c.req)
			g := p.ExpectStatus(c.code)
			if c.code == 489 {
				if ae := string(g.Msg.Get(sip.HeaderAllowEvents)); ae != "" {
					t.Errorf("alice is no notifier, yet Allow-Events %q", ae)
				}
			}
		})
	}
	_ = log
	// In a dialog: an Event whose id (or lack of one) matches no
	// subscription gets 481 (RFC 6665 §8.2.1: byte for byte).
	rec := &recorder{}
	o := rec.options("test")
	o.ID = "1"
	s, err := alice.m.Subscribe("sip:peer@127.0.0.1:5080", o)
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Expect("SUBSCRIBE")
	if ev := string(sub.Msg.Get(sip.HeaderEvent)); ev != "test;id=1" {
		t.Fatalf("Event %q", ev)
	}
	p.Send(a, p.notifyFor(sub.Msg, "n", 1, "test;id=1", "active;expires=60", ""))
	p.ExpectStatus(200)
	id := s.Dialog().ID()
	for i, ev := range []string{"test", "test;id=2", "test;id=01", "Test;id=1"} {
		p.Send(a, p.request(a, "NOTIFY", id.CallID, id.RemoteTag, id.LocalTag, 2+i, "", "Event: "+ev, "Subscription-State: active"))
		if ev == "Test;id=1" {
			p.ExpectStatus(489)
			continue
		}
		p.ExpectStatus(481)
	}
	p.Send(a, p.request(a, "NOTIFY", id.CallID, id.RemoteTag, id.LocalTag, 9, "", "Event: test;param=x;id=1", "Subscription-State: active"))
	p.ExpectStatus(200)
	if s.State() != StateActive {
		t.Errorf("subscription %v", s.State())
	}
}

// A NOTIFY whose Event has an id never matches a subscription without one
// and vice versa (RFC 6665 §8.2.1), unless AcceptMissingID allows the
// missing id of RFC 3515 §2.4.6.
func TestEventIDMatching(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "refer", MultiplePerDialog: true})
	p := w.peer(5070)
	for _, loose := range []bool{false, true} {
		in, err := alice.ua.NewInitial("REFER", "sip:bob@127.0.0.1:5070", nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		o := rec.options("refer")
		o.ID = "17"
		o.AcceptMissingID = loose
		s, err := alice.m.ExpectInitial(in, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Send(s); err != nil {
			t.Fatal(err)
		}
		refer := p.Expect("REFER")
		p.Send(alice.addr(), p.notifyFor(refer.Msg, "n", 1, "refer", "active;expires=60", ""))
		if loose {
			p.ExpectStatus(200)
			if s.State() != StateActive {
				t.Errorf("loose: %v", s.State())
			}
		} else {
			p.ExpectStatus(481)
			p.Send(alice.addr(), p.notifyFor(refer.Msg, "n", 2, "refer;id=17", "active;expires=60", ""))
			p.ExpectStatus(200)
		}
		s.Close()
		p.Respond(refer, 200, "n")
	}
}

// RFC 6665 §4.1.3 reason codes: the decision reported for each.
func TestRetryDecision(t *testing.T) {
	const probation = time.Minute
	ra := 30 * time.Second
	cases := []struct {
		reason Reason
		ra     bool
		want   Retry
	}{
		{ReasonDeactivated, true, Retry{Allowed: true}},
		{ReasonTimeout, false, Retry{Allowed: true}},
		{ReasonProbation, true, Retry{Allowed: true, After: ra}},
		{ReasonProbation, false, Retry{Allowed: true, After: probation}},
		{ReasonGiveUp, true, Retry{Allowed: true, After: ra}},
		{ReasonGiveUp, false, Retry{Allowed: true}},
		{ReasonRejected, false, Retry{}},
		{ReasonNoResource, false, Retry{}},
		{ReasonInvariant, true, Retry{}},
		{"", true, Retry{Allowed: true, After: ra}},
		{"badfilter", false, Retry{Allowed: true}},
	}
	for _, c := range cases {
		var r time.Duration
		if c.ra {
			r = ra
		}
		if got := decideRetry(c.reason, r, c.ra, probation); got != c.want {
			t.Errorf("%q retry-after %v: %+v, want %+v", c.reason, c.ra, got, c.want)
		}
	}
	if parseReason([]byte("NoResource")) != ReasonNoResource {
		t.Error("reason tokens compare case-insensitively")
	}
}

// Each terminated NOTIFY carries its reason to the subscriber, with the
// decision; deactivated with AutoResubscribe makes a new subscription at
// once, on a new dialog (RFC 6665 §4.4.2).
func TestTerminatedReasons(t *testing.T) {
	w, alice, bob, log := pair(t)
	for _, c := range []struct {
		reason Reason
		ra     time.Duration
		retry  bool
	}{
		{ReasonRejected, 0, false},
		{ReasonProbation, 20 * time.Second, true},
		{ReasonInvariant, 31536000 * time.Second, false},
	} {
		rec := &recorder{}
		s, _ := alice.m.Subscribe(bob.uri(), rec.options("test"))
		if err := log.last().Terminate(c.reason, c.ra, "", nil); err != nil {
			t.Fatal(err)
		}
		tm := mustTerminate(t, s, ErrTerminated)
		if tm.Reason != c.reason || tm.Retry.Allowed != c.retry || (c.retry && tm.Retry.After != c.ra) || tm.RetryAfter != c.ra {
			t.Errorf("%s: %+v", c.reason, tm)
		}
	}
	rec := &recorder{}
	o := rec.options("test")
	o.AutoResubscribe = true
	s, _ := alice.m.Subscribe(bob.uri(), o)
	old := s.Dialog().ID()
	log.last().Terminate(ReasonDeactivated, 0, "", nil)
	mustTerminate(t, s, ErrTerminated)
	w.clock.Advance(0)
	if len(rec.resubs) != 1 {
		t.Fatalf("%d re-subscriptions", len(rec.resubs))
	}
	ns := rec.resubs[0]
	if ns.State() != StateActive || ns.Dialog().ID().CallID == old.CallID || ns.Dialog().ID().LocalTag == old.LocalTag {
		t.Errorf("re-subscription %v on %v (old %v)", ns.State(), ns.Dialog().ID(), old)
	}
	// probation with retry-after waits for it.
	log.last().Terminate(ReasonProbation, 10*time.Second, "", nil)
	w.clock.Advance(10*time.Second - time.Millisecond)
	if len(rec.resubs) != 1 {
		t.Fatal("re-subscribed before retry-after")
	}
	w.clock.Advance(time.Millisecond)
	if len(rec.resubs) != 2 {
		t.Fatal("no re-subscription after retry-after")
	}
	rec.resubs[1].Unsubscribe(bg())
}

// A failed SUBSCRIBE ends the subscription with a *StatusError; 423
// carries Min-Expires.
func TestSubscribeRejected(t *testing.T) {
	w, alice, bob, _ := pair(t)
	_ = w
	bob.m.Register(Package{Name: "closed", OnSubscribe: func(*Notifier, *SubscribeRequest) Answer {
		return Answer{Code: 403, Reason: "Not Allowed"}
	}})
	alice.m.Register(Package{Name: "closed"})
	s, err := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "closed"})
	if err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if err := s.Wait(bg()); !errors.As(err, &se) || se.Code != 403 || se.Method != "SUBSCRIBE" {
		t.Fatalf("Wait: %v", err)
	}
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Error("a rejected SUBSCRIBE left a dialog")
	}
	if _, err := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "nosuch"}); !errors.Is(err, ErrUnknownPackage) {
		t.Errorf("unregistered package: %v", err)
	}
	if _, err := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "test", ID: "a b"}); !errors.Is(err, ErrBadPackage) {
		t.Errorf("bad id: %v", err)
	}
}

// A refresh answered with one of the codes of RFC 6665 §4.1.2.2 ends the
// subscription; another failure leaves it until expiry.
func TestRefreshFailure(t *testing.T) {
	for _, c := range []struct {
		code int
		ends bool
	}{{404, true}, {489, true}, {500, false}, {403, false}} {
		w := newWorld(t)
		alice := w.node("alice", 5060, dialog.Config{})
		alice.m.Register(Package{Name: "test"})
		p := w.peer(5070)
		s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test", Expires: 100 * time.Second})
		sub := p.Expect("SUBSCRIBE")
		p.Respond(sub, 200, "n", "Expires: 100")
		p.Send(alice.addr(), p.notifyFor(sub.Msg, "n", 1, "test", "active;expires=100", ""))
		p.ExpectStatus(200)
		w.clock.Advance(68 * time.Second)
		ref := p.Expect("SUBSCRIBE")
		if e := string(ref.Msg.Get(sip.HeaderExpires)); e != "100" {
			t.Errorf("refresh Expires %q", e)
		}
		p.Respond(ref, c.code, "")
		if c.ends {
			var se *StatusError
			if !errors.As(s.Err(), &se) || se.Code != c.code {
				t.Errorf("%d: %v", c.code, s.Err())
			}
			continue
		}
		if s.State() != StateActive {
			t.Errorf("%d ended the subscription: %v", c.code, s.Err())
		}
		// Timer N does not run after a failed refresh; one more try goes
		// halfway to expiry.
		w.clock.Advance(16 * time.Second)
		ref = p.Expect("SUBSCRIBE")
		p.Respond(ref, c.code, "")
		w.clock.Advance(16*time.Second + 32*time.Second)
		mustTerminate(t, s, ErrExpired)
	}
}

// A refresh that gets 423 is sent again with the Min-Expires (RFC 3261
// §10.2.8 by analogy).
func TestRefresh423(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test", Expires: 100 * time.Second})
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "n", "Expires: 100")
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n", 1, "test", "active;expires=100", ""))
	p.ExpectStatus(200)
	w.clock.Advance(68 * time.Second)
	ref := p.Expect("SUBSCRIBE")
	p.Respond(ref, 423, "", "Min-Expires: 300")
	ref = p.Expect("SUBSCRIBE")
	if e := string(ref.Msg.Get(sip.HeaderExpires)); e != "300" {
		t.Fatalf("retry Expires %q", e)
	}
	p.Respond(ref, 200, "", "Expires: 300")
	if !s.Expires().Equal(w.clock.Now().Add(300 * time.Second)) {
		t.Errorf("expiry %v", s.Expires())
	}
}

// Timer N also guards a refresh: no NOTIFY after it ends the subscription
// (RFC 6665 §4.1.2.2); a 204 says none will come and cancels it.
func TestRefreshTimerN(t *testing.T) {
	for _, code := range []int{200, 204} {
		w := newWorld(t)
		alice := w.node("alice", 5060, dialog.Config{})
		alice.m.Register(Package{Name: "test"})
		p := w.peer(5070)
		s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test", Expires: 1000 * time.Second})
		sub := p.Expect("SUBSCRIBE")
		p.Respond(sub, 200, "n", "Expires: 1000")
		p.Send(alice.addr(), p.notifyFor(sub.Msg, "n", 1, "test", "active;expires=1000", ""))
		p.ExpectStatus(200)
		w.clock.Advance(968 * time.Second)
		p.Respond(p.Expect("SUBSCRIBE"), code, "", "Expires: 1000")
		w.clock.Advance(32 * time.Second)
		if code == 200 {
			mustTerminate(t, s, ErrNoNotify)
		} else if s.State() != StateActive {
			t.Errorf("204: %v", s.Err())
		}
	}
}

// Poll: Expires 0 fetches the state once (RFC 6665 §4.4.3).
func TestPoll(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, log := pair(t)
	rec := &recorder{}
	o := rec.options("test")
	o.Poll = true
	s, err := alice.m.Subscribe(bob.uri(), o)
	if err != nil {
		t.Fatal(err)
	}
	tm := mustTerminate(t, s, ErrTerminated)
	if got := rec.bodies(); !slices.Equal(got, []string{"terminated:s0"}) || tm.Reason != ReasonTimeout {
		t.Errorf("poll: %q %+v", got, tm)
	}
	if !errors.Is(log.last().Err(), ErrExpired) {
		t.Errorf("notifier: %v", log.last().Err())
	}
	noLeaks(t, w, before, alice, bob)
}

// Unsubscribing before any dialog exists ends the subscription locally; the
// notifier's NOTIFY then gets 481.
func TestUnsubscribeBeforeDialog(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test"})
	sub := p.Expect("SUBSCRIBE")
	if err := s.Unsubscribe(bg()); err != nil {
		t.Fatal(err)
	}
	mustTerminate(t, s, ErrUnsubscribed)
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n", 1, "test", "active", ""))
	p.ExpectStatus(481)
	p.Respond(sub, 200, "n", "Expires: 60")
	if alice.ua.Dialogs() != 0 {
		t.Error("a late 2xx created a dialog")
	}
	p.None()
	_ = w
}

// An unsubscribe whose final NOTIFY never comes ends after Timer N.
func TestUnsubscribeNoFinalNotify(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test"})
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "n", "Expires: 60")
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n", 1, "test", "active;expires=60", ""))
	p.ExpectStatus(200)
	ret := make(chan error, 1)
	go func() { ret <- s.Unsubscribe(bg()) }()
	un := p.Wait()
	if e := string(un.Msg.Get(sip.HeaderExpires)); e != "0" || !strings.Contains(siptest.FirstLine(un.Msg), "SUBSCRIBE") {
		t.Fatalf("unsubscribe: %s Expires %q", siptest.FirstLine(un.Msg), e)
	}
	p.Respond(un, 200, "", "Expires: 0")
	// A NOTIFY crossing the unsubscribe does not revive it.
	id := s.Dialog().ID()
	p.Send(alice.addr(), p.request(alice.addr(), "NOTIFY", id.CallID, id.RemoteTag, id.LocalTag, 2, "", "Event: test", "Subscription-State: active;expires=50"))
	p.ExpectStatus(200)
	w.clock.Advance(32 * time.Second)
	if err := <-ret; err != nil {
		t.Fatal(err)
	}
	mustTerminate(t, s, ErrUnsubscribed)
}

var _ = transaction.ErrTimeout

// Wait and Unsubscribe end with their context: Wait leaves the subscription
// alone, Unsubscribe closes it locally.
func TestContext(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test"})
	sub := p.Expect("SUBSCRIBE")
	ctx, cancel := context.WithCancel(bg())
	cancel()
	if err := s.Wait(ctx); !errors.Is(err, context.Canceled) || s.State() != StateNotifyWait {
		t.Fatalf("Wait: %v, %v", err, s.State())
	}
	p.Respond(sub, 200, "n", "Expires: 60")
	p.Send(alice.addr(), p.notifyFor(sub.Msg, "n", 1, "test", "active;expires=60", ""))
	p.ExpectStatus(200)
	if err := s.Unsubscribe(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Unsubscribe: %v", err)
	}
	p.Expect("SUBSCRIBE") // sent, then given up on
	mustTerminate(t, s, context.Canceled)
	if alice.ua.Dialogs() != 0 {
		t.Error("dialog left")
	}
	if err := s.Unsubscribe(bg()); !errors.Is(err, ErrState) {
		t.Errorf("second Unsubscribe: %v", err)
	}
}

// Refresh sends a refresh now: the notifier extends the subscription and
// answers with a NOTIFY of the current state (RFC 6665 §4.2.1.2).
func TestManualRefresh(t *testing.T) {
	w, alice, bob, log := pair(t)
	rec := &recorder{}
	o := rec.options("test")
	o.NoRefresh = true
	o.Expires = 100 * time.Second
	s, _ := alice.m.Subscribe(bob.uri(), o)
	w.clock.Advance(90 * time.Second)
	if err := s.Refresh(bg()); err != nil {
		t.Fatal(err)
	}
	if want := w.clock.Now().Add(100 * time.Second); !log.last().Expires().Equal(want) || !s.Expires().Equal(want) {
		t.Errorf("expiry %v %v, want %v", log.last().Expires(), s.Expires(), want)
	}
	if got := rec.bodies(); !slices.Equal(got, []string{"active:s0", "active:s0"}) {
		t.Errorf("notifications %q", got)
	}
	w.clock.Advance(99 * time.Second)
	if s.State() != StateActive {
		t.Fatalf("expired early: %v", s.Err())
	}
	w.clock.Advance(time.Second)
	mustTerminate(t, s, ErrTerminated)
	if err := s.Refresh(bg()); !errors.Is(err, ErrState) {
		t.Errorf("Refresh after the end: %v", err)
	}
}

// A refresh sent before the first NOTIFY and answered 204 (RFC 5839: no
// NOTIFY will follow) cancels Timer N; with no Expires ever heard, the
// duration asked for still ends the subscription.
func TestRefresh204BeforeNotify(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test", Expires: 100 * time.Second, NoRefresh: true})
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "n") // no Expires, no NOTIFY
	done := make(chan error, 1)
	go func() { done <- s.Refresh(context.Background()) }()
	ref := p.Wait()
	p.Respond(ref, 204, "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(100*time.Second + 32*time.Second)
	mustTerminate(t, s, ErrExpired)
}

// SubscribeOptions.ProbeAfter: with no NOTIFY for that long the subscriber
// refreshes, long before its expiry (RFC 6665 §4.1.2.2). A notifier that
// still holds the subscription answers with the current state; one that
// dropped it without a word (§4.2.2 lets it after a failed NOTIFY) gets
// the refresh answered 481, which ends the subscription at once.
func TestProbeAfter(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test", Accept: []string{"text/plain"}})
	bob := w.node("bob", 5070, dialog.Config{})
	log := &notifierLog{}
	bob.m.Register(testPackage(log))
	rec := &recorder{}
	o := rec.options("test")
	o.ProbeAfter = 10 * time.Second
	s, err := alice.m.Subscribe(bob.uri(), o)
	if err != nil || s.Wait(bg()) != nil {
		t.Fatal(err, s.Err())
	}
	n := log.last()
	w.clock.Advance(10*time.Second - time.Millisecond)
	if len(rec.notes) != 1 {
		t.Fatalf("%d NOTIFYs before the probe", len(rec.notes))
	}
	w.clock.Advance(time.Millisecond)
	if b := rec.bodies(); !slices.Equal(b, []string{"active:s0", "active:s0"}) || s.State() != StateActive {
		t.Fatalf("probe of a live subscription: %q %v", b, s.State())
	}
	// A NOTIFY pushes the next probe back.
	w.clock.Advance(5 * time.Second)
	n.Notify(StateActive, "text/plain", []byte("s1"))
	// The notifier drops the subscription silently (as after a NOTIFY
	// that timed out).
	n.finish(errors.New("lost"), false)
	w.clock.Advance(10*time.Second - time.Millisecond)
	if s.State() != StateActive {
		t.Fatalf("ended before the probe: %v", s.Err())
	}
	w.clock.Advance(time.Millisecond)
	var se *StatusError
	if !errors.As(s.Err(), &se) || se.Code != 481 {
		t.Fatalf("after the probe: %v %v", s.State(), s.Err())
	}
}

// Package.ImplicitOnly: a 403 to a refresh ends the subscription, since
// such a notifier (refer, RFC 3515 §2.4.4) answers 403 for one it does not
// hold; without it a 403 leaves the subscription until its expiry (RFC
// 6665 §4.1.2.2).
func TestImplicitOnly403(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		w := newWorld(t)
		alice := w.node("alice", 5060, dialog.Config{})
		alice.m.Register(Package{Name: "refer", MultiplePerDialog: true, ImplicitOnly: implicit})
		p := w.peer(5070)
		in, _ := alice.ua.NewInitial("REFER", "sip:bob@127.0.0.1:5070", nil)
		s, _ := alice.m.ExpectInitial(in, &SubscribeOptions{Package: "refer", ID: strconv.Itoa(int(in.Seq())), ProbeAfter: time.Second})
		in.Send(s)
		refer := p.Expect("REFER")
		p.Respond(refer, 202, "b")
		p.Send(alice.addr(), p.notifyFor(refer.Msg, "b", 1, "refer;id="+s.ID(), "active;expires=600", ""))
		p.ExpectStatus(200)
		w.clock.Advance(time.Second) // the probe
		p.Respond(p.Expect("SUBSCRIBE"), 403, "b")
		if ended := s.State() == StateTerminated; ended != implicit {
			t.Errorf("ImplicitOnly %v: after a 403 to a refresh %v (%v)", implicit, s.State(), s.Err())
		}
	}
}
