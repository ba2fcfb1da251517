package refer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
)

// RFC 3515 §4.1 (a REFER outside any dialog, its 202 creating one) and
// §4.2 (a second REFER inside that dialog, its NOTIFYs with Event
// refer;id=<its CSeq>), message for message.
func TestRFC3515Examples(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true, AcceptOutsideDialog: true})
	mark := s.wire.mark()
	t1, err := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<sip:whatever@127.0.0.1>"})
	if err != nil {
		t.Fatal(err)
	}
	in1 := <-bob.refers
	d := t1.Subscription().Dialog()
	if d == nil || in1.Dialog == nil || d.ID().CallID != in1.Dialog.ID().CallID {
		t.Fatal("the 202 created no dialog")
	}
	// F7: a second REFER in that dialog while the first is still going.
	t2, err := alice.agent.Refer(d, &ReferOptions{ReferTo: "<sip:different@127.0.0.1>"})
	if err != nil {
		t.Fatal(err)
	}
	in2 := <-bob.refers
	in2.Notify(200, "") // F11
	in1.Notify(200, "") // F5
	if r1, r2 := t1.Result(), t2.Result(); r1.Code != 200 || r2.Code != 200 || r1.Err != nil || r2.Err != nil {
		t.Fatalf("results %+v %+v", r1, r2)
	}
	lines, _ := s.wire.since(mark)
	want := []string{
		"Alice>Bob REFER", "Bob>Alice 200/REFER", "Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // F1-F4
		"Alice>Bob REFER", "Bob>Alice 200/REFER", "Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // F7-F10
		"Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // F11, F12
		"Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // F5, F6
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("on the wire:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	s.wire.mu.Lock()
	msgs := s.wire.msgs[mark:]
	s.wire.mu.Unlock()
	f1, f2, f3, f7, f9, f11, f5 := msgs[0], msgs[1], msgs[2], msgs[4], msgs[6], msgs[8], msgs[10]
	if len(f1.ToTag()) != 0 || f1.Get(sip.HeaderContact) == nil {
		t.Errorf("F1: a REFER outside a dialog has no To tag and one Contact:\n%s", f1.Bytes())
	}
	if len(f2.ToTag()) == 0 || f2.Get(sip.HeaderContact) == nil {
		t.Errorf("F2: the 202 has a To tag and a Contact:\n%s", f2.Bytes())
	}
	seq := func(m *sip.Message) string { c, _ := m.CSeq(); return fmt.Sprint(c.Seq) }
	for _, c := range []struct {
		n                *sip.Message
		name, refer, sub string
	}{
		{f3, "F3", seq(f1), "active;expires=200"},
		{f9, "F9", seq(f7), "active;expires=200"},
		{f11, "F11", seq(f7), "terminated;reason=noresource"},
		{f5, "F5", seq(f1), "terminated;reason=noresource"},
	} {
		if got := string(c.n.Get(sip.HeaderEvent)); got != "refer;id="+c.refer {
			t.Errorf("%s Event %q, want refer;id=%s", c.name, got, c.refer)
		}
		if got := string(c.n.Get(sip.HeaderSubscriptionState)); got != c.sub {
			t.Errorf("%s Subscription-State %q, want %q", c.name, got, c.sub)
		}
		if c.n.Get(sip.HeaderContact) == nil || !strings.HasPrefix(string(c.n.Get(sip.HeaderContentType)), "message/sipfrag") {
			t.Errorf("%s:\n%s", c.name, c.n.Bytes())
		}
	}
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Errorf("the dialog outlived its last subscription")
	}
}

// RFC 4538: a REFER outside the call's dialog names it with Target-Dialog;
// the recipient finds the call. By default (no AcceptOutsideDialog), a
// REFER outside a dialog that names none of ours gets 403.
func TestTargetDialog(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ab, ba := s.call(alice, bob)
	id := ab.Dialog().ID()
	tr, err := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", TargetDialog: &id})
	if err != nil {
		t.Fatal(err)
	}
	in := <-bob.refers
	if in.About != ba || in.Dialog == ba.Dialog() {
		t.Fatalf("About %v, want Bob's call; REFER dialog must be its own", in.About)
	}
	if res, err := tr.Wait(bg()); err != nil || res.Code != 200 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, td := range []*dialog.ID{nil, {CallID: "nope", LocalTag: "a", RemoteTag: "b"}} {
		tr, _ := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", TargetDialog: td})
		if res := tr.Result(); res.ReferCode != 403 || !errors.Is(res.Err, ErrRejected) {
			t.Errorf("Target-Dialog %v: %+v", td, res)
		}
	}
}

// The transferor's checks on NOTIFYs (RFC 3515 §2.4.4, §2.4.5; RFC 6665
// §4.1.3): none without Subscription-State (400), none for an id it did
// not REFER (481: a NOTIFY cannot take over another subscription), and
// a body that is no status line is answered 200 and reported as an error.
func TestNotifyChecks(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ab, _ := s.call(alice, bob)
	var progress progressLog
	tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	in := <-bob.refers
	notify := func(headers []dialog.Header, body string) int {
		resp, err := in.Dialog.Do(bg(), "NOTIFY", &dialog.RequestOptions{Headers: headers, ContentType: "message/sipfrag", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}
	ev := dialog.Header{Name: "Event", Value: "refer;id=" + in.ID}
	active := dialog.Header{Name: "Subscription-State", Value: "active;expires=60"}
	if code := notify([]dialog.Header{ev}, "SIP/2.0 180 Ringing\r\n"); code != 400 {
		t.Errorf("no Subscription-State: %d, want 400", code)
	}
	if code := notify([]dialog.Header{{Name: "Event", Value: "refer;id=1"}, active}, "SIP/2.0 200 OK\r\n"); code != 481 {
		t.Errorf("another id: %d, want 481", code)
	}
	if code := notify([]dialog.Header{ev, active}, "no status line"); code != 200 {
		t.Errorf("bad sipfrag: %d, want 200", code)
	}
	if got := progress.String(); got != "accepted 200, notified 100 active, notified active err" {
		t.Errorf("progress %s", got)
	}
	in.Notify(200, "")
	if res := tr.Result(); res.Code != 200 || res.Err != nil {
		t.Errorf("result %+v", res)
	}
}

// A final sipfrag whose status line is followed by a header field that
// does not parse still tells the outcome: the transferor reads the status
// line (RFC 3515 §2.4.5) instead of losing the transfer's result.
func TestSipfragBadHeaderKeepsStatus(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ab, _ := s.call(alice, bob)
	var progress progressLog
	tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	in := <-bob.refers
	resp, err := in.Dialog.Do(bg(), "NOTIFY", &dialog.RequestOptions{
		Headers: []dialog.Header{
			{Name: "Event", Value: "refer;id=" + in.ID},
			{Name: "Subscription-State", Value: "terminated;reason=noresource"},
		},
		ContentType: "message/sipfrag",
		Body:        []byte("SIP/2.0 486 Busy Here\r\nCall-ID: not a valid one\r\n"),
	})
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("final NOTIFY: %v %v", resp, err)
	}
	res := tr.Result()
	if res.Code != 486 || !errors.Is(res.Err, ErrFailed) {
		t.Fatalf("result %+v (%s)", res, &progress)
	}
	if got := progress.String(); got != "accepted 200, notified 100 active, notified 486 terminated, done 486 err" {
		t.Errorf("progress %s", got)
	}
}

// The transferee's subscription expires unrefreshed: a final NOTIFY with
// the last status, terminated;reason=timeout, and no state left.
func TestTransfereeExpiry(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true, Expires: 60 * time.Second})
	ab, _ := s.call(alice, bob)
	d := ab.Dialog()
	req, dst, seq, err := d.NewRequestSeq("REFER", &dialog.RequestOptions{Headers: []dialog.Header{{Name: "Refer-To", Value: "<sip:carol@127.0.0.1>"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	sub, err := alice.ev.Expect(d, &event.SubscribeOptions{Package: "refer", ID: fmt.Sprint(seq), NoRefresh: true,
		OnNotify: func(_ *event.Subscription, n *event.Notification) {
			got = append(got, string(n.Body)+"|"+string(n.Msg.Get(sip.HeaderSubscriptionState)))
		}})
	if err != nil {
		t.Fatal(err)
	}
	d.Request(req, dst, sub)
	<-bob.refers
	s.clock.Advance(61 * time.Second)
	want := "SIP/2.0 100 Trying\r\n|active;expires=60\nSIP/2.0 100 Trying\r\n|terminated;reason=timeout"
	if strings.Join(got, "\n") != want {
		t.Fatalf("NOTIFYs:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if a, b := bob.ev.Subscriptions(); a+b != 0 {
		t.Errorf("Bob holds %d subscriptions", a+b)
	}
}
