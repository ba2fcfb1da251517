package refer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// referWith sends a REFER from a's dialog d with raw header fields, as a
// peer might, and returns the response.
func referWith(t *testing.T, d *dialog.Dialog, headers ...dialog.Header) *sip.Message {
	t.Helper()
	resp, err := d.Do(bg(), "REFER", &dialog.RequestOptions{Headers: headers})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// RFC 3515 §2.4.2: zero or several Refer-To values get 400; a Refer-To
// that does not parse too; a non-SIP URI is declined (403) by default.
func TestReferToChecked(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{})
	ac, _ := s.call(alice, bob)
	d := ac.Dialog()
	for _, tc := range []struct {
		name    string
		headers []dialog.Header
		code    int
	}{
		{"none", nil, 400},
		{"two fields", []dialog.Header{{Name: "Refer-To", Value: "<sip:c@127.0.0.1>"}, {Name: "Refer-To", Value: "<sip:d@127.0.0.1>"}}, 400},
		{"two values", []dialog.Header{{Name: "Refer-To", Value: "<sip:c@127.0.0.1>, <sip:d@127.0.0.1>"}}, 400},
		{"malformed", []dialog.Header{{Name: "Refer-To", Value: "<sip:c@127.0.0.1"}}, 400},
		{"http", []dialog.Header{{Name: "Refer-To", Value: "<http://www.example.com/>"}}, 403},
		{"mailto", []dialog.Header{{Name: "Refer-To", Value: "<mailto:c@example.com>"}}, 403},
		{"tel", []dialog.Header{{Name: "Refer-To", Value: "<tel:+15555550100>"}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := referWith(t, d, tc.headers...)
			if resp.StatusCode() != tc.code {
				t.Fatalf("got %d %s, want %d", resp.StatusCode(), resp.Reason(), tc.code)
			}
		})
	}
	if n := len(bob.refers); n != 0 {
		t.Errorf("%d bad REFERs reached the application", n)
	}
}

// Embedded headers (RFC 3261 §19.1.5): dangerous ones are dropped by
// default and refused with RejectForbidden; allowed ones reach the INVITE.
func TestEmbeddedHeaders(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ac, _ := s.call(alice, bob)
	mark := s.wire.mark()
	referTo := "<" + carol.uri() + "?Subject=hello&Via=SIP%2F2.0%2FUDP%20evil.example&From=%3Csip%3Amallory%40evil%3E&Call-ID=stolen&Route=%3Csip%3Aevil%3E>"
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: referTo})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	inv := s.wire.find(mark, "Bob>Carol INVITE")
	if string(inv.GetName("Subject")) != "hello" {
		t.Errorf("allowed Subject not copied:\n%s", inv.Bytes())
	}
	b := string(inv.Bytes())
	for _, bad := range []string{"evil", "mallory", "stolen"} {
		if strings.Contains(b, bad) {
			t.Errorf("INVITE carries %q:\n%s", bad, b)
		}
	}

	strict := s.add("Dave", 5090, Config{Policy: &Policy{EmbeddedHeaders: RejectForbidden}})
	ad, _ := s.call(alice, strict)
	resp := referWith(t, ad.Dialog(), dialog.Header{Name: "Refer-To", Value: referTo})
	if resp.StatusCode() != 403 || !strings.Contains(string(resp.Reason()), "Via") {
		t.Errorf("RejectForbidden: %d %s", resp.StatusCode(), resp.Reason())
	}
}

// RFC 7647 §5: "an element accepting a REFER request MUST NOT reply with
// a 202": the default is 200. AcceptCode 202 serves RFC 3515-only peers,
// and the transferor takes a 202 as a 200.
func TestAcceptCodeRFC7647(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want int
	}{{Config{}, 200}, {Config{AcceptCode: 202}, 202}} {
		s := newStage(t)
		alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, c.cfg), s.add("Carol", 5080, Config{})
		ac, _ := s.call(alice, bob)
		mark := s.wire.mark()
		tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
		res, err := tr.Wait(bg())
		if err != nil || res.ReferCode != c.want || res.Code != 200 {
			t.Fatalf("AcceptCode %d: result %+v, %v", c.cfg.AcceptCode, res, err)
		}
		if s.wire.find(mark, fmt.Sprintf("Bob>Alice %d/REFER", c.want)) == nil {
			t.Errorf("no %d to the REFER on the wire", c.want)
		}
	}
	if _, err := New(nil, nil, Config{AcceptCode: 201}); err == nil {
		t.Error("AcceptCode 201 taken")
	}
}

// RFC 4488: Refer-Sub: false, honoured: the 2xx echoes it, no NOTIFY is
// sent, and the transferor reports "accepted, no progress".
func TestNoReferSub(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ac, _ := s.call(alice, bob)
	mark := s.wire.mark()
	var progress progressLog
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", NoSubscription: true, OnProgress: progress.add})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Wait(bg())
	if err != nil || !res.NoSubscription || res.ReferCode != 200 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if got := progress.String(); got != "accepted 200, done" {
		t.Errorf("progress %s", got)
	}
	ok := s.wire.find(mark, "Bob>Alice 200/REFER")
	if v, present, _ := ok.ReferSub(); !present || v {
		t.Errorf("202 does not echo Refer-Sub: false:\n%s", ok.Bytes())
	}
	if n := s.wire.find(mark, "Bob>Alice NOTIFY"); n != nil {
		t.Errorf("NOTIFY sent despite Refer-Sub: false")
	}
	if s.wire.find(mark, "Bob>Carol INVITE") == nil {
		t.Error("the target was not called")
	}
	for _, p := range []*party{alice, bob} {
		if a, b := p.ev.Subscriptions(); a+b != 0 {
			t.Errorf("%s holds %d subscriptions", p.name, a+b)
		}
	}
	// A transferee that ignores Refer-Sub: false (as baresip does) notifies
	// anyway; the transferor follows the NOTIFYs to the end.
	dave := s.add("Dave", 5090, Config{IgnoreNoSubscription: true})
	ad, _ := s.call(alice, dave)
	tr, _ = alice.agent.Refer(ad.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", NoSubscription: true})
	res, err = tr.Wait(bg())
	if err != nil || res.NoSubscription || res.Code != 200 {
		t.Fatalf("ignored Refer-Sub: result %+v, %v", res, err)
	}
}

// RFC 3515 §2.4.6, §4.2: several REFERs in one dialog, at once, each its
// own subscription with id = its CSeq number; NOTIFYs reach the right one.
func TestSeveralRefers(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ac, _ := s.call(alice, bob)
	var p1, p2 progressLog
	t1, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:one@127.0.0.1>", OnProgress: p1.add})
	t2, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:two@127.0.0.1>", OnProgress: p2.add})
	in1, in2 := <-bob.refers, <-bob.refers
	if in1.ID == in2.ID || in1.Dialog != in2.Dialog {
		t.Fatalf("ids %s %s", in1.ID, in2.ID)
	}
	if a, _ := alice.ev.Subscriptions(); a != 2 {
		t.Fatalf("Alice holds %d subscriptions, want 2", a)
	}
	in2.Notify(486, "Busy Here")
	in1.Notify(180, "")
	s.clock.Advance(time.Second) // RFC 3515 §3.10: a second after the 100
	in1.Notify(200, "")
	r1, r2 := t1.Result(), t2.Result()
	if r1.Code != 200 || r1.Err != nil || r2.Code != 486 || !errors.Is(r2.Err, ErrFailed) {
		t.Fatalf("results %+v %+v", r1, r2)
	}
	if p1.String() != "accepted 200, notified 100 active, notified 180 active, notified 200 terminated, done 200" ||
		p2.String() != "accepted 200, notified 100 active, notified 486 terminated, done 486 err" {
		t.Errorf("progress:\n%s\n%s", &p1, &p2)
	}
	// The call is untouched by its subscriptions ending.
	if ac.State() != dialog.CallEstablished {
		t.Errorf("call %v", ac.State())
	}
}

// A BYE on the call does not end a live refer subscription, and the
// subscription ending does not end the call (RFC 5057).
func TestByeKeepsSubscription(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ac, bc := s.call(alice, bob)
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>"})
	in := <-bob.refers
	ac.Bye(bg())
	if !errors.Is(bc.Err(), dialog.ErrRemoteBye) {
		t.Fatalf("call: %v", bc.Err())
	}
	if err := in.Notify(200, ""); err != nil {
		t.Fatalf("NOTIFY after BYE: %v", err)
	}
	if res := tr.Result(); res.Code != 200 || res.Err != nil {
		t.Fatalf("result %+v", res)
	}
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Errorf("dialogs left: %d %d", alice.ua.Dialogs(), bob.ua.Dialogs())
	}
}

// The REFER rejected (a policy's 603), or unanswered (Timer F): the
// transfer ends with ErrRejected and the code.
func TestReferFails(t *testing.T) {
	s := newStage(t)
	alice := s.add("Alice", 5060, Config{})
	bob := s.add("Bob", 5070, Config{OnRefer: func(in *Incoming) { in.Reject(603, "Not Now") }})
	ac, _ := s.call(alice, bob)
	var progress progressLog
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	res, err := tr.Wait(bg())
	if !errors.Is(err, ErrRejected) || res.ReferCode != 603 || progress.String() != "rejected 603 err, done err" {
		t.Fatalf("%+v %v (%s)", res, err, &progress)
	}

	mute := s.add("Mute", 5090, Config{})
	mute.ua.Handle("REFER", dialog.HandlerFunc(func(r *dialog.Request) {})) // never answers
	am, _ := s.call(alice, mute)
	tr, _ = alice.agent.Refer(am.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>"})
	s.clock.Advance(time.Minute)
	res = tr.Result()
	if !errors.Is(res.Err, ErrRejected) || !errors.Is(res.Err, transaction.ErrTimeout) {
		t.Fatalf("unanswered REFER: %+v", res)
	}
}

// Timer N (RFC 6665 §4.1.2.4): a REFER accepted but never followed by a
// NOTIFY ends the transfer with ErrNoOutcome after 64*T1.
func TestTimerN(t *testing.T) {
	s := newStage(t)
	alice := s.add("Alice", 5060, Config{})
	bob := s.add("Bob", 5070, Config{})
	bob.ua.Handle("REFER", dialog.HandlerFunc(func(r *dialog.Request) { r.Respond(202, "", nil) }))
	ac, _ := s.call(alice, bob)
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>"})
	s.clock.Advance(31 * time.Second)
	select {
	case <-tr.Done():
		t.Fatal("over before Timer N")
	default:
	}
	s.clock.Advance(2 * time.Second)
	res := tr.Result()
	if !errors.Is(res.Err, ErrNoOutcome) || !errors.Is(res.Err, event.ErrNoNotify) {
		t.Fatalf("result %+v", res)
	}
}

// An undecided REFER is deferred (202, NOTIFY pending, RFC 3515 §2.4.7)
// and later declined with a final NOTIFY "603 Declined".
func TestDeferThenDecline(t *testing.T) {
	s := newStage(t)
	alice := s.add("Alice", 5060, Config{})
	undecided := make(chan *Incoming, 1)
	bob := s.add("Bob", 5070, Config{OnRefer: func(in *Incoming) { undecided <- in }, DecideWithin: 500 * time.Millisecond})
	ac, _ := s.call(alice, bob)
	var progress progressLog
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	if progress.String() != "" {
		t.Fatalf("answered before DecideWithin: %s", &progress)
	}
	s.clock.Advance(500 * time.Millisecond)
	if progress.String() != "accepted 200, notified 100 pending" {
		t.Fatalf("progress %s", &progress)
	}
	in := <-undecided
	if err := in.Reject(603, "Declined"); err != nil {
		t.Fatal(err)
	}
	res := tr.Result()
	if res.Code != 603 || !errors.Is(res.Err, ErrFailed) {
		t.Fatalf("result %+v (%s)", res, &progress)
	}
}

// RFC 3515 §2.4.4: a SUBSCRIBE for a refer subscription that does not
// exist gets 403; one refreshing a REFER's subscription is accepted.
func TestSubscribeRefer403(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ab, _ := s.call(alice, bob)
	resp, err := ab.Dialog().Do(bg(), "SUBSCRIBE", &dialog.RequestOptions{Headers: []dialog.Header{{Name: "Event", Value: "refer;id=77"}, {Name: "Expires", Value: "60"}}})
	if err != nil || resp.StatusCode() != 403 {
		t.Fatalf("new refer subscription: %v %v, want 403", err, resp)
	}
	tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>"})
	<-bob.refers
	if err := tr.Refresh(bg()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tr.Subscription().State() != event.StateActive {
		t.Fatalf("after refresh: %v", tr.Subscription().State())
	}
}

// Closing the transferor's side mid-transfer ends the Transfer (nobody
// waits forever on a REFER that will never be answered).
func TestCloseEndsTransfer(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{})
	bob.ua.Handle("REFER", dialog.HandlerFunc(func(r *dialog.Request) {})) // never answers
	ab, _ := s.call(alice, bob)
	tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>"})
	alice.ev.Close()
	alice.ua.Close()
	select {
	case <-tr.Done():
	default:
		t.Fatal("transfer still waiting after Close")
	}
	if res := tr.Result(); !errors.Is(res.Err, ErrNoOutcome) || !errors.Is(res.Err, event.ErrClosed) {
		t.Fatalf("result %+v", res)
	}
}

// A REFER with Refer-Sub: false left undecided is deferred (202, no
// subscription, RFC 4488); accepting it later still contacts the target
// (RFC 3515 §2.4.2: "the UA MUST contact the resource").
func TestDeferredNoSubscriptionAccepted(t *testing.T) {
	s := newStage(t)
	undecided := make(chan *Incoming, 1)
	alice := s.add("Alice", 5060, Config{})
	bob := s.add("Bob", 5070, Config{OnRefer: func(in *Incoming) { undecided <- in }, DecideWithin: 500 * time.Millisecond})
	carol := s.add("Carol", 5080, Config{})
	ab, _ := s.call(alice, bob)
	tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", NoSubscription: true})
	s.clock.Advance(500 * time.Millisecond)
	if res := tr.Result(); !res.NoSubscription || res.ReferCode != 200 {
		t.Fatalf("after the deferral: %+v", res)
	}
	in := <-undecided
	if err := in.Notify(180, ""); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("Notify without subscription: %v", err)
	}
	if err := in.Accept(); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	select {
	case <-carol.calls:
	default:
		t.Fatal("the target was not called")
	}
}

// Notify before the REFER is answered fails and records nothing: the
// Accept that follows still sends its first NOTIFY (RFC 6665 §4.2.1.2).
func TestNotifyBeforeAccept(t *testing.T) {
	s := newStage(t)
	undecided := make(chan *Incoming, 1)
	alice := s.add("Alice", 5060, Config{})
	bob := s.add("Bob", 5070, Config{NoAutoCall: true, OnRefer: func(in *Incoming) { undecided <- in }})
	ab, _ := s.call(alice, bob)
	var progress progressLog
	alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	in := <-undecided
	if err := in.Notify(200, ""); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("Notify before Accept: %v", err)
	}
	in.Accept()
	in.Notify(200, "")
	if got := progress.String(); got != "accepted 200, notified 100 active, notified 200 terminated, done 200" {
		t.Fatalf("progress %s", got)
	}
}

// RFC 3515 §2.4.1: the transferor sends exactly one Refer-To value; an
// empty, malformed or double one is refused before anything is sent.
func TestReferToSentChecked(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{})
	ab, _ := s.call(alice, bob)
	mark := s.wire.mark()
	for _, v := range []string{"", "<sip:a@127.0.0.1>, <sip:b@127.0.0.1>", "<sip:a@127.0.0.1", "*"} {
		if _, err := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: v}); !errors.Is(err, ErrBadReferTo) {
			t.Errorf("Refer-To %q: %v", v, err)
		}
		if _, err := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: v}); !errors.Is(err, ErrBadReferTo) {
			t.Errorf("Refer-To %q outside: %v", v, err)
		}
	}
	if lines, _ := s.wire.since(mark); len(lines) != 0 {
		t.Errorf("sent %q", lines)
	}
}

// RFC 3515 §3.10: NOTIFYs to event refer SHOULD NOT be sent more than once
// a second. Five provisional statuses within 100 ms: the first NOTIFY (100
// Trying) went at once, the newest of the five 1 s after it, none between
// (a sipfrag is the complete state, §2.4.5, so the others are skipped);
// the final status goes at once, without waiting a second. A final status
// that comes while a provisional one waits replaces it.
func TestNotifyRate(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ac, _ := s.call(alice, bob)
	notifies := func(mark int) []string {
		var out []string
		for i := mark; ; {
			n := s.wire.find(i, "Bob>Alice NOTIFY")
			if n == nil {
				return out
			}
			out = append(out, strings.TrimSpace(string(n.Body())))
			i = s.wire.indexOf(n) + 1
		}
	}
	mark := s.wire.mark()
	var progress progressLog
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	in := <-bob.refers
	for i, code := range []int{180, 181, 182, 183, 180} {
		if i > 0 {
			s.clock.Advance(25 * time.Millisecond)
		}
		if err := in.Notify(code, fmt.Sprint("step ", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.clock.Advance(time.Second - 100*time.Millisecond - time.Millisecond)
	if got := notifies(mark); len(got) != 1 {
		t.Fatalf("within the first second: %q", got)
	}
	s.clock.Advance(time.Millisecond)
	if got := notifies(mark); !slices.Equal(got, []string{"SIP/2.0 100 Trying", "SIP/2.0 180 step 4"}) {
		t.Fatalf("after a second: %q", got)
	}
	s.clock.Advance(200 * time.Millisecond)
	in.Notify(200, "")
	if got := notifies(mark); len(got) != 3 || got[2] != "SIP/2.0 200 OK" {
		t.Fatalf("final not sent at once: %q", got)
	}
	if res := tr.Result(); res.Code != 200 || res.Err != nil {
		t.Errorf("result %+v", res)
	}
	if got := progress.String(); got != "accepted 200, notified 100 active, notified 180 active, notified 200 terminated, done 200" {
		t.Errorf("progress %s", got)
	}

	// The final status while a provisional one waits: it replaces it.
	mark = s.wire.mark()
	tr, _ = alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>"})
	in = <-bob.refers
	in.Notify(180, "")
	s.clock.Advance(100 * time.Millisecond)
	in.Notify(486, "")
	if got := notifies(mark); !slices.Equal(got, []string{"SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"}) {
		t.Fatalf("final behind a waiting provisional: %q", got)
	}
	if res := tr.Result(); res.Code != 486 || !errors.Is(res.Err, ErrFailed) {
		t.Errorf("result %+v", res)
	}
}

// A progress NOTIFY that fails (here every datagram is lost until Timer F)
// lets the transferee end the subscription without a word (RFC 6665
// §4.2.2). The transferor learns it within Config.ProbeAfter of the last
// NOTIFY it got: its refresh gets 403 (RFC 3515 §2.4.4: no such refer
// subscription), which ends the transfer with ErrNoOutcome, rather than at
// the subscription's expiry 200 s on (plus Timer N).
func TestLostNotifyBounded(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ac, _ := s.call(alice, bob)
	var progress progressLog
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	in := <-bob.refers
	start := s.clock.Now() // Alice's last NOTIFY: 100 Trying
	s.net.SetFaults(transport.Faults{Loss: 1})
	in.Notify(180, "") // sent 1 s after the 100 (RFC 3515 §3.10)
	s.clock.Advance(35 * time.Second)
	var te *transaction.Error
	if n := in.Subscription(); !errors.As(n.Err(), &te) {
		t.Fatalf("transferee's subscription after its NOTIFY timed out: %v", n.Err())
	}
	s.net.SetFaults(transport.Faults{})
	s.clock.Advance(start.Add(DefaultProbeAfter - time.Millisecond).Sub(s.clock.Now()))
	select {
	case <-tr.Done():
		t.Fatalf("over before the probe: %+v", tr.Result())
	default:
	}
	s.clock.Advance(time.Millisecond)
	select {
	case <-tr.Done():
	default:
		t.Fatalf("transfer still open %v after the last NOTIFY (%s)", s.clock.Now().Sub(start), &progress)
	}
	var se *event.StatusError
	if res := tr.Result(); !errors.Is(res.Err, ErrNoOutcome) || !errors.As(res.Err, &se) || se.Code != 403 {
		t.Errorf("result %+v", res)
	}
	if got := progress.String(); got != "accepted 200, notified 100 active, done 100 err" {
		t.Errorf("progress %s", got)
	}
}

// A refresh that reaches the transferee while its final NOTIFY waits
// behind one in flight gets 200 (RFC 6665 §4.4.1: the subscription lasts
// until that NOTIFY completes), and the final NOTIFY tells the transferor
// the outcome; a 481 would have ended its subscription first and lost it.
// Every datagram takes 10 ms; Alice probes 2 s after her last NOTIFY.
func TestRefreshCrossesFinalNotify(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{ProbeAfter: 2 * time.Second}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ac, _ := s.call(alice, bob)
	s.net.SetFaults(transport.Faults{Delay: 10 * time.Millisecond})
	t0 := s.clock.Now()
	at := func(d time.Duration) { s.clock.Advance(t0.Add(d).Sub(s.clock.Now())) }
	var progress progressLog
	tr, _ := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	at(100 * time.Millisecond) // REFER, 202, NOTIFY 100 Trying (at Alice at 20 ms)
	in := <-bob.refers
	at(2015 * time.Millisecond)
	in.Notify(180, "") // in flight until 2.035 s
	in.Notify(200, "") // waits behind it
	at(2020 * time.Millisecond)
	if s.wire.find(0, "Alice>Bob SUBSCRIBE") == nil {
		t.Fatal("no refresh sent")
	}
	at(3 * time.Second)
	res := tr.Result()
	if res.Code != 200 || res.Err != nil {
		t.Fatalf("result %+v (%s)", res, &progress)
	}
	if got := progress.String(); got != "accepted 200, notified 100 active, notified 180 active, notified 200 terminated, done 200" {
		t.Errorf("progress %s", got)
	}
}

// RFC 3892 §3: the referee copies the REFER's Referred-By into the
// request to the target; a REFER without one (baresip, linphone) gets the
// REFER's From, tag dropped, so that the target of an attended transfer
// can see who vouches for the Replaces (PartyOfReplaced).
func TestReferredByCopiedOrFromREFER(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ab, _ := s.call(alice, bob)
	for _, tc := range []struct{ referredBy, want string }{
		{"", "<" + alice.uri() + ">"},
		{`"Al" <sip:al@example.com>;cid=1`, `"Al" <sip:al@example.com>;cid=1`},
	} {
		mark := s.wire.mark()
		tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", ReferredBy: tc.referredBy})
		if res, err := tr.Wait(bg()); err != nil || res.Code != 200 {
			t.Fatalf("%+v %v", res, err)
		}
		inv := s.wire.find(mark, "Bob>Carol INVITE")
		if inv == nil {
			t.Fatal("no INVITE to Carol")
		}
		if got := string(inv.Get(sip.HeaderReferredBy)); got != tc.want {
			t.Errorf("REFER with Referred-By %q: INVITE has %q, want %q", tc.referredBy, got, tc.want)
		}
		<-carol.calls
	}
}

// RFC 3261 §19.1.5: a Refer-To's method parameter names the request the
// referee sends (with Policy.AnyMethod): a BYE for method=BYE, not an
// INVITE; its answer is the reference's outcome (RFC 3515 §2.4.5). ACK and
// CANCEL, which exist only inside a transaction, are refused.
func TestReferToMethodSendsThatMethod(t *testing.T) {
	s := newStage(t)
	alice, carol := s.add("Alice", 5060, Config{}), s.add("Carol", 5080, Config{})
	bob := s.add("Bob", 5070, Config{Policy: &Policy{AnyMethod: true}})
	ab, _ := s.call(alice, bob)
	for _, tc := range []struct {
		method string
		code   int // Carol's answer: a BYE matching no dialog gets 481
	}{{"BYE", 481}, {"OPTIONS", 200}} {
		mark := s.wire.mark()
		tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ";method=" + tc.method + ">"})
		res, _ := tr.Wait(bg())
		if res.Code != tc.code {
			t.Errorf("method=%s: outcome %+v, want %d", tc.method, res, tc.code)
		}
		m := s.wire.find(mark, "Bob>Carol "+tc.method)
		if m == nil || s.wire.find(mark, "Bob>Carol INVITE") != nil {
			lines, _ := s.wire.since(mark)
			t.Fatalf("method=%s: Bob sent %q", tc.method, lines)
		}
		if ru := m.RequestURI(); ru.HasParam("method") {
			t.Errorf("method=%s: Request-URI %s keeps the method parameter", tc.method, ru.Raw)
		}
	}
	if len(carol.calls) != 0 {
		t.Error("Carol was called")
	}
	for _, m := range []string{"ACK", "CANCEL"} {
		tr, _ := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ";method=" + m + ">"})
		if res := tr.Result(); res.ReferCode != 403 {
			t.Errorf("method=%s: %+v, want 403", m, res)
		}
	}
}
