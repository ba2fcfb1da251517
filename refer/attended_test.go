package refer

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// Attended transfer (RFC 5589 §7.3 "Attended Transfer"): Alice calls Bob
// and holds him, consults Carol, then REFERs Bob to Carol with Replaces
// naming the consultation; Bob's INVITE replaces Alice's call with Carol,
// and Alice's legs end.
func TestAttendedTransfer(t *testing.T) {
	s := newStage(t)
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ab, ba := s.call(alice, bob)
	if _, err := ab.ReInvite(bg(), "application/sdp", []byte(sdp+"a=sendonly\r\n")); err != nil {
		t.Fatalf("hold: %v", err)
	}
	ac, ca := s.call(alice, carol)

	referTo, err := AttendedReferTo(ac.Dialog())
	if err != nil {
		t.Fatal(err)
	}
	// The Refer-To aims at Carol's Contact (her remote target), not her
	// address of record, and names the dialog as Carol holds it.
	id := ca.Dialog().ID()
	wantPrefix := "<" + ac.Dialog().RemoteTarget() + "?Replaces=" + strings.ReplaceAll(id.CallID, "@", "%40") + "%3Bto-tag%3D" + id.LocalTag + "%3Bfrom-tag%3D" + id.RemoteTag
	if !strings.HasPrefix(referTo, wantPrefix) {
		t.Fatalf("Refer-To %s\nwant prefix %s", referTo, wantPrefix)
	}

	mark := s.wire.mark()
	var progress progressLog
	tr, err := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: referTo, ReferredBy: alice.agent.Self(ab.Dialog()), OnProgress: progress.add})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Wait(bg())
	if err != nil || res.Code != 200 {
		t.Fatalf("transfer: %+v %v (%s)", res, err, &progress)
	}
	// Bob's INVITE carries the Replaces (RFC 3891) and Referred-By.
	inv := s.wire.find(mark, "Bob>Carol INVITE")
	rep, err := inv.Replaces()
	if err != nil || string(rep.CallID) != id.CallID || string(rep.ToTag) != id.LocalTag || string(rep.FromTag) != id.RemoteTag {
		t.Fatalf("INVITE Replaces %q: %v", inv.Get(sip.HeaderReplaces), err)
	}
	if inv.Get(sip.HeaderReferredBy) == nil {
		t.Error("INVITE without Referred-By")
	}
	// Carol accepted it and hung up her consultation call with Alice.
	if !errors.Is(ac.Err(), dialog.ErrRemoteBye) || !errors.Is(ca.Err(), dialog.ErrLocalBye) {
		t.Fatalf("consultation: Alice %v, Carol %v", ac.Err(), ca.Err())
	}
	cb := <-carol.calls
	if cb.State() != dialog.CallEstablished || cb.Dialog().RemoteURI() == "" {
		t.Fatalf("Carol's new call %v", cb.State())
	}
	// Alice ends her held call with Bob: the transfer is complete.
	ab.Bye(bg())
	if !errors.Is(ba.Err(), dialog.ErrRemoteBye) {
		t.Fatalf("Bob's call with Alice: %v", ba.Err())
	}
	if alice.ua.Dialogs() != 0 || bob.ua.Dialogs() != 1 || carol.ua.Dialogs() != 1 {
		t.Errorf("dialogs: alice %d bob %d carol %d, want 0 1 1", alice.ua.Dialogs(), bob.ua.Dialogs(), carol.ua.Dialogs())
	}
	lines, _ := s.wire.since(mark)
	want := []string{
		"Alice>Bob REFER", "Bob>Alice 200/REFER", "Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY",
		"Bob>Carol INVITE", "Carol>Bob 200/INVITE", "Bob>Carol ACK",
		"Bob>Alice NOTIFY", "Alice>Bob 200/NOTIFY", // the in-memory network is synchronous:
		"Carol>Alice BYE", "Alice>Carol 200/BYE", // Carol's BYE follows her 200's consequences
		"Alice>Bob BYE", "Bob>Alice 200/BYE",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("on the wire:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// An early consultation dialog cannot be replaced by the transferee's
// INVITE (RFC 3891 §3: the target, its UAS, answers 481), so
// AttendedReferTo refuses it; once answered it gives the Refer-To.
func TestAttendedReferToNeedsConfirmedConsultation(t *testing.T) {
	s := newStage(t)
	alice, carol := s.add("Alice", 5060, Config{}), s.add("Carol", 5080, Config{})
	ringing := make(chan *dialog.Call, 1)
	carol.answer = func(c *dialog.Call, _ *sip.Message) { c.Ring(); ringing <- c }
	consult, err := alice.ua.Dial(carol.uri(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cc := <-ringing
	early := consult.EarlyDialogs()
	if len(early) != 1 {
		t.Fatalf("%d early dialogs", len(early))
	}
	if _, err := AttendedReferTo(early[0]); !errors.Is(err, ErrConsultNotConfirmed) {
		t.Fatalf("early consultation: %v, want ErrConsultNotConfirmed", err)
	}
	cc.Answer("application/sdp", []byte(sdp))
	if err := consult.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	if referTo, err := AttendedReferTo(consult.Dialog()); err != nil || !strings.Contains(referTo, "Replaces=") {
		t.Fatalf("confirmed consultation: %q, %v", referTo, err)
	}
}
