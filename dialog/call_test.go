package dialog

import (
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

func TestBasicCall(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) {
		bobCall = c
		autoAnswer(c, req)
	}})

	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", &CallOptions{InitialOptions: InitialOptions{RequestOptions: RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != CallEstablished {
		t.Fatalf("alice: %v", c.State())
	}
	select {
	case <-bobCall.Established():
	default:
		t.Fatal("bob: no ACK seen")
	}
	ad, bd := c.Dialog(), bobCall.Dialog()
	if ad.ID().CallID != bd.ID().CallID || ad.ID().LocalTag != bd.ID().RemoteTag || ad.ID().RemoteTag != bd.ID().LocalTag {
		t.Fatalf("dialog IDs do not mirror: %+v %+v", ad.ID(), bd.ID())
	}
	if got := ad.RemoteTarget(); got != "sip:bob@127.0.0.1:5070" {
		t.Errorf("alice remote target %q", got)
	}
	if got := bd.RemoteTarget(); got != "sip:alice@127.0.0.1:5060" {
		t.Errorf("bob remote target %q", got)
	}
	if string(c.RemoteBody()) != sdp || string(bobCall.RemoteBody()) != sdp {
		t.Error("session descriptions not exchanged")
	}
	seq, _ := ad.LocalSeq()
	rseq, _ := bd.RemoteSeq()
	if seq != rseq {
		t.Errorf("alice local CSeq %d, bob remote %d", seq, rseq)
	}

	if err := c.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	mustEnd(t, c, ErrLocalBye)
	mustEnd(t, bobCall, ErrRemoteBye)
	if n := alice.Dialogs() + bob.Dialogs(); n != 0 {
		t.Errorf("%d dialogs left", n)
	}
	w.settle(time.Minute)
	for _, ua := range []*UA{alice, bob} {
		if c, s := ua.Transactions().Transactions(); c+s != 0 {
			t.Errorf("%d client and %d server transactions left", c, s)
		}
	}
}

func TestRejectedCall(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, _ *sip.Message) { c.Reject(486, "") }})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	var se *StatusError
	if !errorsAs(err, &se) || se.Code != 486 {
		t.Fatalf("err %v, want 486", err)
	}
	mustEnd(t, c, nil)
	if alice.Dialogs() != 0 {
		t.Error("dialog left")
	}
}

func TestNoHandlerRejects480(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{})
	_, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	var se *StatusError
	if !errorsAs(err, &se) || se.Code != 480 {
		t.Fatalf("err %v, want 480", err)
	}
}

var _ = strings.Contains

// OnAnswer reports the INVITE's outcome once: nil for an answered call, the
// error for a rejected one, ErrTerminated for one still ringing at Close.
func TestOnAnswer(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	answer := 200
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) {
		switch answer {
		case 200:
			autoAnswer(c, req)
		case 180:
			c.Ring()
		default:
			c.Reject(answer, "")
		}
	}})
	var got []error
	opts := &CallOptions{OnAnswer: func(c *Call, err error) { got = append(got, err) }}
	for _, answer = range []int{200, 486, 180} {
		if _, err := alice.Dial("sip:bob@127.0.0.1:5070", opts); err != nil {
			t.Fatal(err)
		}
	}
	alice.Close()
	var se *StatusError
	if len(got) != 3 || got[0] != nil || !errorsAs(got[1], &se) || se.Code != 486 || got[2] != ErrTerminated {
		t.Fatalf("OnAnswer got %v", got)
	}
}
