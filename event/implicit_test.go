package event

import (
	"errors"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// referPackage is the refer event package as package refer will register
// it: every NOTIFY matters, ids tell REFERs apart, and a SUBSCRIBE for a
// subscription that does not exist gets 403 (RFC 3515 §2.4.4).
func referPackage() Package {
	return Package{
		Name:              "refer",
		Accept:            []string{"message/sipfrag"},
		MultiplePerDialog: true,
		OnSubscribe: func(_ *Notifier, r *SubscribeRequest) Answer {
			if !r.Refresh {
				return Answer{Code: 403}
			}
			return Answer{}
		},
	}
}

// referee answers REFERs like package refer will: it creates the implicit
// subscription (in the REFER's dialog, or the dialog the REFER creates),
// answers 200 and sends the first NOTIFY.
func referee(t *testing.T, n *node, got *[]*Notifier) {
	n.ua.Handle("REFER", dialog.HandlerFunc(func(r *dialog.Request) {
		cseq, _ := r.Msg.CSeq()
		d, err := r.CreateDialog()
		if err != nil {
			r.Respond(500, "", nil)
			return
		}
		nt, err := n.m.NewNotifier(d, &NotifierOptions{Package: "refer", ID: strconv.Itoa(int(cseq.Seq)), Expires: 60 * time.Second})
		if err != nil {
			t.Errorf("NewNotifier: %v", err)
			r.Respond(500, "", nil)
			return
		}
		*got = append(*got, nt)
		r.Respond(200, "", nil)
		if err := nt.Notify(StateActive, "message/sipfrag", []byte("SIP/2.0 100 Trying\r\n")); err != nil {
			t.Errorf("Notify: %v", err)
		}
	}))
}

func referNodes(t *testing.T) (*world, *node, *node, *[]*Notifier) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	bob := w.node("bob", 5070, dialog.Config{OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("", nil) }})
	alice.m.Register(Package{Name: "refer", Accept: []string{"message/sipfrag"}, MultiplePerDialog: true})
	bob.m.Register(referPackage())
	var got []*Notifier
	referee(t, bob, &got)
	return w, alice, bob, &got
}

// The implicit subscription of an in-dialog REFER: Expect before sending,
// NewNotifier on receipt, NOTIFYs with Event refer;id=<CSeq>; two REFERs in
// one call's dialog keep two subscriptions apart, and the call outlives
// both (RFC 3515 §2.4.4, §2.4.6; RFC 5057).
func TestImplicitInDialog(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, got := referNodes(t)
	ac, _ := call(t, w, alice, bob)
	d := ac.Dialog()
	var subs []*Subscription
	var recs []*recorder
	for i := 0; i < 2; i++ {
		req, dst, err := d.NewRequest("REFER", &dialog.RequestOptions{Headers: []dialog.Header{{Name: "Refer-To", Value: "<sip:carol@127.0.0.1:5080>"}}})
		if err != nil {
			t.Fatal(err)
		}
		seq, _ := d.LocalSeq()
		rec := &recorder{}
		o := rec.options("refer")
		o.ID = strconv.Itoa(int(seq))
		s, err := alice.m.Expect(d, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Request(req, dst, s); err != nil {
			t.Fatal(err)
		}
		if s.State() != StateActive {
			t.Fatalf("REFER %d: %v %v", i, s.State(), s.Err())
		}
		subs, recs = append(subs, s), append(recs, rec)
	}
	if len(*got) != 2 || (*got)[0].ID() == (*got)[1].ID() || d.Usages() != 3 {
		t.Fatalf("%d notifiers, %d usages", len(*got), d.Usages())
	}
	n0, n1 := (*got)[0], (*got)[1]
	n1.Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 200 OK\r\n"))
	n0.Notify(StateActive, "message/sipfrag", []byte("SIP/2.0 180 Ringing\r\n"))
	n0.Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 486 Busy Here\r\n"))
	if b := recs[0].bodies(); !slices.Equal(b, []string{"active:SIP/2.0 100 Trying\r\n", "active:SIP/2.0 180 Ringing\r\n", "terminated:SIP/2.0 486 Busy Here\r\n"}) {
		t.Errorf("first REFER: %q", b)
	}
	if b := recs[1].bodies(); !slices.Equal(b, []string{"active:SIP/2.0 100 Trying\r\n", "terminated:SIP/2.0 200 OK\r\n"}) {
		t.Errorf("second REFER: %q", b)
	}
	for _, s := range subs {
		if tm := mustTerminate(t, s, ErrTerminated); tm.Reason != ReasonNoResource || tm.Retry.Allowed {
			t.Errorf("termination %+v", tm)
		}
	}
	if ac.State() != dialog.CallEstablished || d.Usages() != 1 {
		t.Fatalf("call %v, %d usages", ac.State(), d.Usages())
	}
	ac.Bye(bg())
	noLeaks(t, w, before, alice, bob)
}

// A refresh SUBSCRIBE with the REFER's id extends the implicit
// subscription (RFC 3515 §2.4.4); a SUBSCRIBE for a refer subscription that
// does not exist gets 403.
func TestImplicitRefresh(t *testing.T) {
	w, alice, bob, got := referNodes(t)
	ac, _ := call(t, w, alice, bob)
	d := ac.Dialog()
	req, dst, _ := d.NewRequest("REFER", nil)
	seq, _ := d.LocalSeq()
	rec := &recorder{}
	o := rec.options("refer")
	o.ID = strconv.Itoa(int(seq))
	o.Expires = 60 * time.Second
	s, _ := alice.m.Expect(d, o)
	d.Request(req, dst, s)
	n := (*got)[0]
	w.clock.Advance(30 * time.Second) // refresh at min(60/2, 32) before expiry
	if want := w.clock.Now().Add(60 * time.Second); !n.Expires().Equal(want) || len(rec.notes) != 2 {
		t.Fatalf("not refreshed: %v, %d NOTIFYs", n.Expires(), len(rec.notes))
	}
	resp, err := d.Do(bg(), "SUBSCRIBE", &dialog.RequestOptions{Headers: []dialog.Header{{Name: "Event", Value: "refer;id=999"}}})
	if err != nil || resp.StatusCode() != 403 {
		t.Fatalf("SUBSCRIBE for a new refer subscription: %v %v", err, resp)
	}
	s.Unsubscribe(bg())
	if !errors.Is(n.Err(), ErrUnsubscribed) {
		t.Errorf("notifier: %v", n.Err())
	}
}

// A REFER outside any dialog: ExpectInitial on the REFER's Initial; the
// REFER's 2xx creates the dialog, whose NOTIFYs reach the subscription (RFC
// 7647 §4: REFER outside the dialog).
func TestImplicitOutOfDialog(t *testing.T) {
	before := runtime.NumGoroutine()
	w, alice, bob, got := referNodes(t)
	in, err := alice.ua.NewInitial("REFER", bob.uri(), &dialog.InitialOptions{RequestOptions: dialog.RequestOptions{Headers: []dialog.Header{{Name: "Refer-To", Value: "<sip:carol@127.0.0.1:5080>"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o := rec.options("refer")
	o.ID = strconv.Itoa(int(in.Seq()))
	s, err := alice.m.ExpectInitial(in, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Send(s); err != nil {
		t.Fatal(err)
	}
	if s.State() != StateActive || s.Dialog() == nil || alice.ua.Dialogs() != 1 || bob.ua.Dialogs() != 1 {
		t.Fatalf("%v %v, dialogs %d %d", s.State(), s.Err(), alice.ua.Dialogs(), bob.ua.Dialogs())
	}
	(*got)[0].Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 200 OK\r\n"))
	mustTerminate(t, s, ErrTerminated)
	noLeaks(t, w, before, alice, bob)
}

// A NOTIFY before the REFER's 2xx creates the dialog (RFC 3515 §2.4.4: the
// REFER sender MUST be prepared for it); the 2xx (a 202, as real peers send)
// then creates no other; a failure after a NOTIFY does not end it.
func TestImplicitNotifyBeforeReferOK(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "refer", MultiplePerDialog: true})
	p := w.peer(5070)
	in, _ := alice.ua.NewInitial("REFER", "sip:bob@127.0.0.1:5070", nil)
	rec := &recorder{}
	o := rec.options("refer")
	o.ID = strconv.Itoa(int(in.Seq()))
	s, _ := alice.m.ExpectInitial(in, o)
	in.Send(s)
	refer := p.Expect("REFER")
	p.Send(alice.addr(), p.notifyFor(refer.Msg, "b", 1, "refer;id="+o.ID, "active;expires=60", "SIP/2.0 100 Trying"))
	p.ExpectStatus(200)
	if s.State() != StateActive || alice.ua.Dialogs() != 1 {
		t.Fatalf("%v, %d dialogs", s.State(), alice.ua.Dialogs())
	}
	p.Respond(refer, 202, "b")
	if alice.ua.Dialogs() != 1 || s.State() != StateActive {
		t.Fatalf("after 202: %d dialogs, %v", alice.ua.Dialogs(), s.State())
	}
	// A second fork's NOTIFY: refer has no forking, so 481 (RFC 6665 §5.4.9).
	p.Send(alice.addr(), p.notifyFor(refer.Msg, "c", 1, "refer;id="+o.ID, "active;expires=60", ""))
	p.ExpectStatus(481)
	_ = w
}

// A REFER that fails ends its expected subscription with the status; so
// does one in a dialog.
func TestImplicitReferRejected(t *testing.T) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	alice.m.Register(Package{Name: "refer", MultiplePerDialog: true})
	p := w.peer(5070)
	in, _ := alice.ua.NewInitial("REFER", "sip:bob@127.0.0.1:5070", nil)
	s, _ := alice.m.ExpectInitial(in, &SubscribeOptions{Package: "refer", ID: "1"})
	in.Send(s)
	p.Respond(p.Expect("REFER"), 603, "x")
	var se *StatusError
	if !errors.As(s.Err(), &se) || se.Code != 603 || se.Method != "REFER" {
		t.Fatalf("%v", s.Err())
	}
	// The Initial is closed: a late NOTIFY gets 481 from the UA.
	if a, _ := alice.m.Subscriptions(); a != 0 || alice.ua.Dialogs() != 0 {
		t.Errorf("state left: %d subscriptions, %d dialogs", a, alice.ua.Dialogs())
	}
	_ = w
}

// Timer N also bounds an implicit subscription whose first NOTIFY never
// comes.
func TestImplicitTimerN(t *testing.T) {
	w, alice, bob, _ := referNodes(t)
	ac, _ := call(t, w, alice, bob)
	s, err := alice.m.Expect(ac.Dialog(), &SubscribeOptions{Package: "refer", ID: "77"})
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(32 * time.Second)
	mustTerminate(t, s, ErrNoNotify)
	if ac.Dialog().Usages() != 1 {
		t.Error("the subscription did not leave the call's dialog")
	}
}
