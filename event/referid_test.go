package event

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// idReferee answers REFERs like referee, but the Event id of each implicit
// subscription is idFor(CSeq number): "" plays a notifier that leaves the
// id out (pjsua and linphone always do, RFC 3515 §2.4.6 allows it for the
// first REFER of a dialog). Every SUBSCRIBE bob receives for refer leaves
// its Event value in events.
func idReferee(t *testing.T, bob *node, idFor func(seq uint32) string, got *[]*Notifier, events *[]string) {
	pkg := referPackage()
	pkg.OnSubscribe = func(_ *Notifier, r *SubscribeRequest) Answer {
		*events = append(*events, string(r.Msg.Get(sip.HeaderEvent)))
		if !r.Refresh {
			return Answer{Code: 403}
		}
		return Answer{}
	}
	if err := bob.m.Register(pkg); err != nil {
		t.Fatal(err)
	}
	bob.ua.Handle("REFER", dialog.HandlerFunc(func(r *dialog.Request) {
		cseq, _ := r.Msg.CSeq()
		nt, err := bob.m.NewNotifier(r.Dialog, &NotifierOptions{Package: "refer", ID: idFor(cseq.Seq), Expires: 60 * time.Second})
		if err != nil {
			t.Errorf("NewNotifier: %v", err)
			r.Respond(500, "", nil)
			return
		}
		*got = append(*got, nt)
		r.Respond(202, "", nil)
		nt.Notify(StateActive, "message/sipfrag", []byte("SIP/2.0 100 Trying\r\n"))
	}))
}

// transfer sends a REFER in d with its subscription set up as package
// refer's transferor does: id the CSeq number, AcceptMissingID.
func transfer(t *testing.T, alice *node, d *dialog.Dialog) (*Subscription, *recorder) {
	t.Helper()
	req, dst, seq, err := d.NewRequestSeq("REFER", &dialog.RequestOptions{Headers: []dialog.Header{{Name: "Refer-To", Value: "<sip:carol@127.0.0.1:5080>"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o := rec.options("refer")
	o.ID = strconv.Itoa(int(seq))
	o.AcceptMissingID = true
	s, err := alice.m.Expect(d, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Request(req, dst, s); err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func idNodes(t *testing.T, idFor func(uint32) string) (*world, *node, *dialog.Dialog, *[]*Notifier, *[]string) {
	w := newWorld(t)
	alice := w.node("alice", 5060, dialog.Config{})
	bob := w.node("bob", 5070, dialog.Config{OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("", nil) }})
	alice.m.Register(Package{Name: "refer", Accept: []string{"message/sipfrag"}, MultiplePerDialog: true})
	var got []*Notifier
	var events []string
	idReferee(t, bob, idFor, &got, &events)
	ac, _ := call(t, w, alice, bob)
	return w, alice, ac.Dialog(), &got, &events
}

func noID(uint32) string { return "" }

// RFC 6665 §8.2.1, RFC 3515 §2.4.6: a notifier whose NOTIFYs carry no id
// has a subscription without id, so the refresh and the unsubscribe of the
// transferor carry none either: with the REFER's id they would match
// nothing there (PJSIP answers them 500; here 403, RFC 3515 §2.4.4).
func TestRefreshUsesNotifierID(t *testing.T) {
	_, alice, d, got, events := idNodes(t, noID)
	s, rec := transfer(t, alice, d)
	if s.State() != StateActive || len(rec.notes) != 1 {
		t.Fatalf("%v, %d NOTIFYs", s.State(), len(rec.notes))
	}
	n := (*got)[0]
	if err := s.Refresh(bg()); err != nil {
		t.Fatalf("refresh: %v (SUBSCRIBE Event %q)", err, *events)
	}
	if err := s.Unsubscribe(bg()); err != nil {
		t.Fatal(err)
	}
	// The refresh reaches OnSubscribe; the unsubscribe, matched, does not.
	if !slices.Equal(*events, []string{"refer"}) {
		t.Errorf("SUBSCRIBE Event values %q, want one refer without id", *events)
	}
	if !errors.Is(s.Err(), ErrUnsubscribed) || s.Err() != ErrUnsubscribed {
		t.Errorf("subscriber: %v", s.Err())
	}
	if !errors.Is(n.Err(), ErrUnsubscribed) {
		t.Errorf("notifier: %v", n.Err())
	}

	// A notifier that sends the id gets it back.
	_, alice, d, _, events = idNodes(t, func(seq uint32) string { return strconv.Itoa(int(seq)) })
	s, _ = transfer(t, alice, d)
	if err := s.Refresh(bg()); err != nil {
		t.Fatal(err)
	}
	if want := "refer;id=" + s.ID(); !slices.Equal(*events, []string{want}) {
		t.Errorf("SUBSCRIBE Event values %q, want %s", *events, want)
	}
}

// RFC 3515 §2.4.6: only the first REFER's NOTIFYs in a dialog may omit the
// id. While its subscription lives, a NOTIFY without id is its own, not a
// later REFER's; once it has ended without its notifier ending it (Close
// here; Timer N or a failed refresh alike), that notifier may still send
// one, and it must get 481, not pass for the outcome of the later REFER.
func TestMissingIDOnlyFirstRefer(t *testing.T) {
	refers := 0
	w, alice, d, got, _ := idNodes(t, func(seq uint32) string {
		if refers++; refers == 1 {
			return "" // the first REFER of the dialog
		}
		return strconv.Itoa(int(seq))
	})
	s1, rec1 := transfer(t, alice, d)
	s2, rec2 := transfer(t, alice, d)
	n1, n2 := (*got)[0], (*got)[1]
	if n1.ID() != "" || n2.ID() == "" {
		t.Fatalf("notifier ids %q %q", n1.ID(), n2.ID())
	}
	// Both live: the NOTIFY without id is the first REFER's.
	n1.Notify(StateActive, "message/sipfrag", []byte("SIP/2.0 180 Ringing\r\n"))
	if len(rec1.notes) != 2 || len(rec2.notes) != 1 {
		t.Fatalf("NOTIFYs: first %d, second %d", len(rec1.notes), len(rec2.notes))
	}
	// The transferor gives up on the first; its notifier does not know.
	s1.Close()
	n1.Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 200 OK\r\n"))
	var se *StatusError
	if !errors.As(n1.Err(), &se) || se.Code != 481 {
		t.Fatalf("late NOTIFY without id: notifier ended with %v, want a 481", n1.Err())
	}
	if s2.State() != StateActive || !slices.Equal(rec2.bodies(), []string{"active:SIP/2.0 100 Trying\r\n"}) {
		t.Fatalf("second REFER credited with the first's outcome: %v %q", s2.State(), rec2.bodies())
	}
	// Its own NOTIFYs, with id, still reach it.
	n2.Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 486 Busy Here\r\n"))
	mustTerminate(t, s2, ErrTerminated)
	if b := rec2.bodies(); len(b) != 2 || b[1] != "terminated:SIP/2.0 486 Busy Here\r\n" {
		t.Errorf("second REFER: %q", b)
	}
	// A third REFER in the dialog, after both ended: still no NOTIFY
	// without id is taken (the first's notifier may be late).
	s3, _ := transfer(t, alice, d)
	n3 := (*got)[2]
	resp, err := n3.Dialog().Do(bg(), "NOTIFY", &dialog.RequestOptions{
		Headers:     []dialog.Header{{Name: "Event", Value: "refer"}, {Name: "Subscription-State", Value: "terminated;reason=noresource"}},
		ContentType: "message/sipfrag", Body: []byte("SIP/2.0 200 OK\r\n")})
	if err != nil || resp.StatusCode() != 481 || s3.State() != StateActive {
		t.Fatalf("NOTIFY without id to the third REFER: %v %v, subscription %v", resp, err, s3.State())
	}
	_ = w
}

// The other way for the first REFER's subscription to end: its notifier's
// terminated NOTIFY. That notifier sends no more, so a later NOTIFY without
// id can only be a later REFER's, from a notifier that omits the id against
// RFC 3515 §2.4.6 (pjsua and linphone do for every REFER): it is credited
// to that subscription, whose refresh then carries no id either. Refusing
// it would lose every second transfer attempt in a call to such a peer.
func TestMissingIDAfterFirstEnded(t *testing.T) {
	_, alice, d, got, events := idNodes(t, noID)
	s1, _ := transfer(t, alice, d)
	(*got)[0].Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 486 Busy Here\r\n"))
	mustTerminate(t, s1, ErrTerminated)
	s2, rec2 := transfer(t, alice, d)
	n2 := (*got)[1]
	n2.Notify(StateActive, "message/sipfrag", []byte("SIP/2.0 180 Ringing\r\n"))
	if s2.State() != StateActive || len(rec2.notes) != 2 {
		t.Fatalf("second REFER: %v, %d NOTIFYs", s2.State(), len(rec2.notes))
	}
	if err := s2.Refresh(bg()); err != nil || !slices.Equal(*events, []string{"refer"}) {
		t.Fatalf("refresh: %v, Event %q", err, *events)
	}
	n2.Terminate(ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 200 OK\r\n"))
	mustTerminate(t, s2, ErrTerminated)
	if n := rec2.lastNote(); n == nil || string(n.Body) != "SIP/2.0 200 OK\r\n" {
		t.Errorf("outcome %v", n)
	}
}

// What a strict dialog leaves behind once the dialog has ended is swept:
// the table does not grow with the calls that had one.
func TestStrictDialogsSwept(t *testing.T) {
	w, alice, d, _, _ := idNodes(t, noID)
	bob := w.node("carol", 5080, dialog.Config{OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("", nil) }})
	var got []*Notifier
	var events []string
	idReferee(t, bob, noID, &got, &events)
	_ = d
	for i := 0; i < 300; i++ {
		ac, _ := call(t, w, alice, bob)
		s, _ := transfer(t, alice, ac.Dialog())
		s.Close() // leaves the dialog strict
		ac.Bye(bg())
		if ac.Dialog().State() != dialog.StateTerminated {
			t.Fatal("call's dialog not ended")
		}
	}
	alice.m.mu.Lock()
	n := len(alice.m.dialogs)
	alice.m.mu.Unlock()
	if n > 65 {
		t.Errorf("%d dialog entries left after 300 ended calls", n)
	}
}
