package event

import (
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// call sets up a call from alice to bob and returns both ends.
func call(t *testing.T, w *world, alice, bob *node) (*dialog.Call, *dialog.Call) {
	t.Helper()
	c, err := alice.ua.Invite(bg(), bob.uri(), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := c.Dialog().ID()
	bd := bob.ua.FindDialog(dialog.ID{CallID: id.CallID, LocalTag: id.RemoteTag, RemoteTag: id.LocalTag})
	if bd == nil || bd.Call() == nil {
		t.Fatal("bob has no call")
	}
	return c, bd.Call()
}

// callPair is pair with bob answering calls.
func callPair(t *testing.T) (*world, *node, *node, *notifierLog) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	bob := w.node("bob", 5070, dialog.Config{OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("", nil) }})
	log := &notifierLog{}
	alice.m.Register(Package{Name: "test", MultiplePerDialog: true})
	pkg := testPackage(log)
	pkg.MultiplePerDialog = true
	bob.m.Register(pkg)
	return w, alice, bob, log
}

// RFC 5057, RFC 6665 §4.5.2: a subscription inside a call's dialog is a
// second usage; BYE ends the call but not the subscription, and the dialog
// ends with the subscription.
func TestSubscriptionInCallDialog(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, log := callPair(t)
	ac, bc := call(t, w, alice, bob)
	rec := &recorder{}
	s, err := alice.m.SubscribeDialog(ac.Dialog(), rec.options("test"))
	if err != nil {
		t.Fatal(err)
	}
	if s.State() != StateActive || s.Dialog() != ac.Dialog() || log.last().Dialog() != bc.Dialog() {
		t.Fatalf("subscription %v in %v", s.State(), s.Dialog())
	}
	if ac.Dialog().Usages() != 2 || bc.Dialog().Usages() != 2 {
		t.Fatalf("usages %d %d", ac.Dialog().Usages(), bc.Dialog().Usages())
	}
	if err := ac.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	if s.State() != StateActive || alice.ua.Dialogs() != 1 || bob.ua.Dialogs() != 1 {
		t.Fatalf("after BYE: %v, dialogs %d %d", s.State(), alice.ua.Dialogs(), bob.ua.Dialogs())
	}
	n := log.last()
	if err := n.Notify(StateActive, "text/plain", []byte("after bye")); err != nil {
		t.Fatal(err)
	}
	if got := rec.bodies(); !slices.Equal(got, []string{"active:s0", "active:after bye"}) {
		t.Fatalf("notifications %q", got)
	}
	if err := s.Unsubscribe(bg()); err != nil {
		t.Fatal(err)
	}
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Errorf("dialogs left: %d %d", alice.ua.Dialogs(), bob.ua.Dialogs())
	}
	noLeaks(t, w, before, alice, bob)
}

// Ending the subscription does not end the call sharing its dialog.
func TestSubscriptionEndsCallStays(t *testing.T) {
	w, alice, bob, log := callPair(t)
	ac, bc := call(t, w, alice, bob)
	s, _ := alice.m.SubscribeDialog(ac.Dialog(), &SubscribeOptions{Package: "test"})
	log.last().Terminate(ReasonNoResource, 0, "", nil)
	mustTerminate(t, s, ErrTerminated)
	if ac.State() != dialog.CallEstablished || bc.Dialog().Usages() != 1 || ac.Dialog().Usages() != 1 {
		t.Fatalf("call %v, usages %d %d", ac.State(), ac.Dialog().Usages(), bc.Dialog().Usages())
	}
	ac.Bye(bg())
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Error("dialogs left")
	}
}

// RFC 6665 §4.5.2: two subscriptions with different id parameters share a
// dialog; each NOTIFY reaches its own; they end independently and the
// dialog ends with the last (RFC 5057 §2).
func TestTwoIDsOneDialog(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, log := callPair(t)
	r1, r2 := &recorder{}, &recorder{}
	o1 := r1.options("test")
	o1.ID = "1"
	s1, err := alice.m.Subscribe(bob.uri(), o1)
	if err != nil {
		t.Fatal(err)
	}
	n1 := log.last()
	o2 := r2.options("test")
	o2.ID = "2"
	s2, err := alice.m.SubscribeDialog(s1.Dialog(), o2)
	if err != nil {
		t.Fatal(err)
	}
	n2 := log.last()
	if n1 == n2 || n2.ID() != "2" || n1.Dialog() != n2.Dialog() || s1.Dialog() != s2.Dialog() {
		t.Fatalf("notifiers %p %p in %v %v", n1, n2, n1.Dialog(), n2.Dialog())
	}
	if alice.ua.Dialogs() != 1 || bob.ua.Dialogs() != 1 || s1.Dialog().Usages() != 2 {
		t.Fatalf("dialogs %d %d, usages %d", alice.ua.Dialogs(), bob.ua.Dialogs(), s1.Dialog().Usages())
	}
	if _, err := alice.m.SubscribeDialog(s1.Dialog(), o2); !errors.Is(err, ErrExists) {
		t.Errorf("same id twice: %v", err)
	}
	n2.Notify(StateActive, "text/plain", []byte("two"))
	n1.Notify(StateActive, "text/plain", []byte("one"))
	if got := r1.bodies(); !slices.Equal(got, []string{"active:s0", "active:one"}) {
		t.Errorf("id 1 got %q", got)
	}
	if got := r2.bodies(); !slices.Equal(got, []string{"active:s0", "active:two"}) {
		t.Errorf("id 2 got %q", got)
	}
	// Each expires and refreshes on its own (§4.5.2).
	if err := s1.Unsubscribe(bg()); err != nil {
		t.Fatal(err)
	}
	if s2.State() != StateActive || alice.ua.Dialogs() != 1 || n2.State() != StateActive {
		t.Fatalf("after ending id 1: %v, %d dialogs", s2.State(), alice.ua.Dialogs())
	}
	n2.Terminate(ReasonNoResource, 0, "", nil)
	mustTerminate(t, s2, ErrTerminated)
	noLeaks(t, w, before, alice, bob)
}

// RFC 5057 §2, RFC 6665 §4.4.1: a dialog made by SUBSCRIBE ends with its
// only subscription, on both sides.
func TestLastUsageEndsDialog(t *testing.T) {
	_, alice, bob, log := pair(t)
	s, _ := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "test"})
	ad, bd := s.Dialog(), log.last().Dialog()
	if ad.Usages() != 1 || bd.Usages() != 1 {
		t.Fatalf("usages %d %d", ad.Usages(), bd.Usages())
	}
	log.last().Terminate(ReasonNoResource, 0, "", nil)
	if ad.State() != dialog.StateTerminated || bd.State() != dialog.StateTerminated || alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Fatalf("dialogs %v %v", ad.State(), bd.State())
	}
}

// Under 30 % loss every NOTIFY reaches the application once and in order:
// retransmissions are absorbed by the server transaction, and the next
// NOTIFY waits for the previous one.
func TestNotifyUnderLoss(t *testing.T) {
	w, alice, bob, log := pair(t)
	w.net.SetFaults(transport.Faults{Loss: 0.3})
	rec := &recorder{}
	o := rec.options("test")
	o.NoRefresh = true
	s, err := alice.m.Subscribe(bob.uri(), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && s.State() != StateActive; i++ {
		w.clock.Advance(100 * time.Millisecond)
	}
	if s.State() != StateActive {
		t.Fatalf("not established: %v", s.Err())
	}
	n := log.last()
	const count = 30
	var want []string
	want = append(want, "active:s0")
	for i := 1; i <= count; i++ {
		body := "n" + string(rune('a'+i%26)) + string(rune('0'+i/26))
		want = append(want, "active:"+body)
		if err := n.Notify(StateActive, "text/plain", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10000 && n.Pending() > 0; i++ {
		w.clock.Advance(100 * time.Millisecond)
	}
	w.clock.Advance(40 * time.Second) // the last transaction completes
	if got := rec.bodies(); !slices.Equal(got, want) {
		t.Fatalf("notifications:\n got %q\nwant %q", got, want)
	}
	_, dropped, _ := w.net.Stats()
	if dropped == 0 {
		t.Fatal("no loss happened")
	}
	if s.State() != StateActive || n.State() != StateActive {
		t.Errorf("subscription %v / %v", s.Err(), n.Err())
	}
}

// RFC 6665 §4.5.2: a dialog whose remote target is a GRUU is not reused
// for a subscription, implicit ones (REFER) included.
func TestNoReuseOfGRUUDialog(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "test"})
	p := w.peer(5070)
	s, _ := alice.m.Subscribe("sip:bob@127.0.0.1:5070", &SubscribeOptions{Package: "test"})
	sub := p.Expect("SUBSCRIBE")
	p.Respond(sub, 200, "n", "Expires: 60", "Contact: <sip:bob@127.0.0.1:5070;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>")
	d := s.Dialog()
	if d == nil {
		t.Fatal("no dialog")
	}
	if _, err := alice.m.SubscribeDialog(d, &SubscribeOptions{Package: "test", ID: "2"}); !errors.Is(err, ErrGRUU) {
		t.Errorf("SubscribeDialog: %v", err)
	}
	if _, err := alice.m.Expect(d, &SubscribeOptions{Package: "test", ID: "3"}); !errors.Is(err, ErrGRUU) {
		t.Errorf("Expect: %v", err)
	}
	p.None()
}
