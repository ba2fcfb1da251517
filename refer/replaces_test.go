package refer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// twoUAs is Alice and Bob on an in-memory network; Bob answers every call
// and records it.
type twoUAs struct {
	clock      *transport.FakeClock
	alice, bob *dialog.UA
	bobCalls   chan *dialog.Call
}

func newTwoUAs(t *testing.T, bobRings bool) *twoUAs {
	clock := transport.NewFakeClock(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	u := &twoUAs{clock: clock, bobCalls: make(chan *dialog.Call, 8)}
	u.alice = dialog.NewUA(dialog.Config{Clock: clock, User: "alice", Logger: quiet})
	u.bob = dialog.NewUA(dialog.Config{Clock: clock, User: "bob", Logger: quiet, OnInvite: func(c *dialog.Call, _ *sip.Message) {
		u.bobCalls <- c
		c.Ring()
		if !bobRings {
			c.Answer("application/sdp", []byte("v=0\r\n"))
		}
	}})
	mem := func(port uint16) transport.Addr {
		return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
	}
	if _, err := u.alice.ListenMem(net, mem(5060)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.bob.ListenMem(net, mem(5070)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.alice.Close(); u.bob.Close() })
	return u
}

// inviteWith is an INVITE to Bob from Carol carrying extra header lines.
func inviteWith(t *testing.T, extra ...string) *sip.Message {
	t.Helper()
	s := "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKc1\r\nFrom: <sip:carol@127.0.0.1:5080>;tag=c1\r\nTo: <sip:bob@127.0.0.1:5070>\r\nCall-ID: carol-1\r\nCSeq: 1 INVITE\r\nContact: <sip:carol@127.0.0.1:5080>\r\n"
	for _, h := range extra {
		s += h + "\r\n"
	}
	var m sip.Message
	if err := sip.Parse(&m, []byte(s+"Content-Length: 0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	return &m
}

// replacesFor names d as its holder sees it (to-tag = its local tag).
func replacesFor(d *dialog.Dialog, extra string) string {
	id := d.ID()
	return fmt.Sprintf("Replaces: %s;to-tag=%s;from-tag=%s%s", id.CallID, id.LocalTag, id.RemoteTag, extra)
}

func wantStatus(t *testing.T, err error, code int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != code || !errors.Is(err, ErrReplaces) {
		t.Fatalf("got %v, want a %d wrapping ErrReplaces", err, code)
	}
}

// RFC 3891 §3, each answer to an INVITE with Replaces.
func TestReplacing(t *testing.T) {
	u := newTwoUAs(t, false)
	ac, err := u.alice.Invite(context.Background(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := <-u.bobCalls
	d := bc.Dialog()

	if _, err := Replacing(u.bob, inviteWith(t), nil); !errors.Is(err, ErrNoReplaces) {
		t.Errorf("no Replaces: %v", err)
	}
	_, err = Replacing(u.bob, inviteWith(t, "Replaces: nope;to-tag=a;from-tag=b"), nil)
	wantStatus(t, err, 481)
	// The tags the wrong way round: the recipient's view is local = to-tag.
	id := d.ID()
	_, err = Replacing(u.bob, inviteWith(t, fmt.Sprintf("Replaces: %s;to-tag=%s;from-tag=%s", id.CallID, id.RemoteTag, id.LocalTag)), nil)
	wantStatus(t, err, 481)
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, ""), replacesFor(d, "")), nil)
	wantStatus(t, err, 400)
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, ""), "Join: x;to-tag=a;from-tag=b"), nil)
	wantStatus(t, err, 400)
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, ";early-only")), nil)
	wantStatus(t, err, 486)
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, "")), func(*dialog.Dialog, *sip.Message) bool { return false })
	wantStatus(t, err, 403)

	// RFC 3891 §3: by default only a party of the replaced call may
	// replace it. Carol, a stranger to it, is refused...
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, "")), nil)
	wantStatus(t, err, 403)
	// ...unless Alice, the other party, referred her (RFC 5589 §7).
	referredBy := "Referred-By: " + d.RemoteURI()
	old, err := Replacing(u.bob, inviteWith(t, replacesFor(d, ""), referredBy), nil)
	if err != nil || old != bc {
		t.Fatalf("Replacing: %v, %v; want Bob's call", old, err)
	}
	if err := Replace(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	// The replaced call is shut down with a BYE (RFC 3891 §3).
	select {
	case <-ac.Done():
	default:
		t.Fatal("Alice's call still up")
	}
	if !errors.Is(ac.Err(), dialog.ErrRemoteBye) {
		t.Fatalf("Alice's call ended with %v", ac.Err())
	}
	// And now it has ended: 603.
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, ""), referredBy), nil)
	wantStatus(t, err, 603)
}

// An early dialog: replaced (with CANCEL) only if this UA initiated it.
func TestReplacingEarly(t *testing.T) {
	u := newTwoUAs(t, true)
	ac, err := u.alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := <-u.bobCalls
	early := ac.EarlyDialogs()
	if len(early) != 1 || len(bc.EarlyDialogs()) != 1 {
		t.Fatal("no early dialogs")
	}
	// At Bob, the callee: not his to replace.
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(bc.EarlyDialogs()[0], "")), nil)
	wantStatus(t, err, 481)
	// At Alice, the caller: replaced, and the old INVITE is cancelled.
	old, err := Replacing(u.alice, inviteWith(t, replacesFor(early[0], ";early-only"), "Referred-By: "+early[0].RemoteURI()), nil)
	if err != nil || old != ac {
		t.Fatalf("Replacing: %v, %v", old, err)
	}
	if err := Replace(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ac.Err(), dialog.ErrCancelled) || !errors.Is(bc.Err(), dialog.ErrCancelled) {
		t.Fatalf("after Replace: caller %v, callee %v; want both cancelled", ac.Err(), bc.Err())
	}
}

type subUsage struct{}

func (subUsage) DialogTerminated(*dialog.Dialog, error) {}

// A dialog not created by an INVITE cannot be replaced (481); one whose
// call has ended while a subscription keeps it gets 603.
func TestReplacingNotInvite(t *testing.T) {
	u := newTwoUAs(t, false)
	subDialogs := make(chan *dialog.Dialog, 1)
	u.bob.Handle("SUBSCRIBE", dialog.HandlerFunc(func(r *dialog.Request) {
		d, err := r.CreateDialog()
		if err != nil {
			t.Error(err)
			return
		}
		d.AddUsage(subUsage{})
		subDialogs <- d
		r.Respond(200, "", nil)
	}))
	in, err := u.alice.NewInitial("SUBSCRIBE", "sip:bob@127.0.0.1:5070", &dialog.InitialOptions{RequestOptions: dialog.RequestOptions{Headers: []dialog.Header{{Name: "Event", Value: "test"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Send(nil); err != nil {
		t.Fatal(err)
	}
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(<-subDialogs, "")), nil)
	wantStatus(t, err, 481)

	ac, err := u.alice.Invite(context.Background(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := <-u.bobCalls
	d := bc.Dialog()
	d.AddUsage(subUsage{})
	ac.Bye(context.Background()) // the dialog lives on with the other usage
	if d.State() != dialog.StateConfirmed || d.Call() != nil {
		t.Fatalf("dialog %v, call %v", d.State(), d.Call())
	}
	_, err = Replacing(u.bob, inviteWith(t, replacesFor(d, "")), nil)
	wantStatus(t, err, 603)
}

// RFC 3891 §3 (authorize as the replaced call), §6.1: by default only a
// party of the replaced dialog may replace it, named by the INVITE's From
// or by its Referred-By (RFC 5589 §7), compared as an address of record.
func TestPartyOfReplaced(t *testing.T) {
	u := newTwoUAs(t, false)
	if _, err := u.alice.Invite(context.Background(), "sip:bob@127.0.0.1:5070", nil); err != nil {
		t.Fatal(err)
	}
	d := (<-u.bobCalls).Dialog()
	alice := "sip:alice@127.0.0.1:5060"
	if got := d.RemoteURI(); !strings.Contains(got, alice) {
		t.Fatalf("Bob's remote URI %q", got)
	}
	withFrom := func(from string, extra ...string) *sip.Message {
		m := inviteWith(t, extra...)
		s := strings.Replace(string(m.Bytes()), "From: <sip:carol@127.0.0.1:5080>;tag=c1", "From: "+from, 1)
		var out sip.Message
		if err := sip.Parse(&out, []byte(s)); err != nil {
			t.Fatal(err)
		}
		return &out
	}
	for _, tc := range []struct {
		name string
		req  *sip.Message
		want bool
	}{
		{"stranger", inviteWith(t), false},
		{"stranger, Referred-By a stranger", inviteWith(t, "Referred-By: <sip:mallory@127.0.0.1:5060>"), false},
		{"Referred-By the other party", inviteWith(t, "Referred-By: <"+alice+">"), true},
		{"Referred-By with a display name and parameters", inviteWith(t, `Referred-By: "Alice" <`+alice+`;transport=udp>;cid=x`), true},
		{"Referred-By sips", inviteWith(t, "Referred-By: <sips:alice@127.0.0.1:5060>"), true},
		{"Referred-By another port", inviteWith(t, "Referred-By: <sip:alice@127.0.0.1:5061>"), false},
		{"From the other party", withFrom("<" + alice + ">;tag=x"), true},
		{"From the replaced party itself (another device)", withFrom("<sip:bob@127.0.0.1:5070>;tag=x"), true},
		{"From another user", withFrom("<sip:alice2@127.0.0.1:5060>;tag=x"), false},
	} {
		if got := PartyOfReplaced(d, tc.req); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// RFC 3891 §6.1: "a tag of zero matches both tags of zero and null": a
// call from an RFC 2543 peer, which sent no From tag, can be replaced by
// a Replaces with from-tag=0.
func TestReplacesTagZeroMatchesNull(t *testing.T) {
	u := newTwoUAs(t, false)
	invite := "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2543\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:alice@127.0.0.1:5060>\r\n" + // RFC 2543: no tag
		"To: <sip:bob@127.0.0.1:5070>\r\n" +
		"Call-ID: rfc2543-call\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:alice@127.0.0.1:5060>\r\n" +
		"Content-Length: 0\r\n\r\n"
	to := transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("127.0.0.1:5070")}
	if err := u.alice.Transport().Send(to, []byte(invite)); err != nil {
		t.Fatal(err)
	}
	bc := <-u.bobCalls
	id := bc.Dialog().ID()
	if id.RemoteTag != "" {
		t.Fatalf("remote tag %q, want none", id.RemoteTag)
	}
	replaces := fmt.Sprintf("Replaces: %s;to-tag=%s;from-tag=0", id.CallID, id.LocalTag)
	old, err := Replacing(u.bob, inviteWith(t, replaces, "Referred-By: <sip:alice@127.0.0.1:5060>"), nil)
	if err != nil || old != bc {
		t.Fatalf("Replacing: %v, %v; want the RFC 2543 call", old, err)
	}
	// A tag other than 0 still has to match exactly.
	_, err = Replacing(u.bob, inviteWith(t, fmt.Sprintf("Replaces: %s;to-tag=%s;from-tag=1", id.CallID, id.LocalTag)), nil)
	wantStatus(t, err, 481)
}
