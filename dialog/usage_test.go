package dialog

import (
	"errors"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// fakeUsage stands for a subscription sharing the call's dialog.
type fakeUsage struct {
	ended error
	calls int
}

func (u *fakeUsage) DialogTerminated(_ *Dialog, err error) { u.ended, u.calls = err, u.calls+1 }

// RFC 5057: a BYE ends the INVITE usage only; the dialog lives on while
// another usage does, and ends with the last one.
func TestByeEndsOnlyInviteUsage(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) }})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := bobCall.Dialog()
	sub := &fakeUsage{}
	if err := d.AddUsage(sub); err != nil {
		t.Fatal(err)
	}
	if err := c.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	mustEnd(t, bobCall, ErrRemoteBye)
	if d.State() != StateConfirmed || bob.Dialogs() != 1 || d.Usages() != 1 || sub.calls != 0 {
		t.Fatalf("after BYE: dialog %v, %d dialogs, %d usages, usage told %d times", d.State(), bob.Dialogs(), d.Usages(), sub.calls)
	}
	// The ended call is not kept reachable from the dialog: a dialog can
	// outlive it, held by the other usage or by a transaction.
	d.mu.Lock()
	for _, u := range d.usages[len(d.usages):cap(d.usages)] {
		if u != nil {
			t.Errorf("the dialog still holds removed usage %T", u)
		}
	}
	d.mu.Unlock()
	d.RemoveUsage(sub)
	if d.State() != StateTerminated || bob.Dialogs() != 0 {
		t.Fatalf("after the last usage: dialog %v, %d dialogs", d.State(), bob.Dialogs())
	}
	if err := d.AddUsage(sub); !errors.Is(err, ErrTerminated) {
		t.Errorf("AddUsage on an ended dialog: %v", err)
	}
}

// A 481 to a request ends only the usage that sent it (RFC 5057): a
// re-INVITE's 481 ends the call, and a subscription in the same dialog
// lives on; a 481 to a request of no usage changes nothing.
func TestNoDialogResponseEndsOnlyTheUsage(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) }})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := bobCall.Dialog()
	sub := &fakeUsage{}
	d.AddUsage(sub)
	// Alice forgets the dialog without telling Bob.
	c.Dialog().Terminate(errors.New("test: gone"))
	resp, err := d.Do(bg(), "INFO", nil)
	if err != nil || resp.StatusCode() != 481 {
		t.Fatalf("INFO: %v %v, want 481", err, resp)
	}
	if d.State() != StateConfirmed || bobCall.State() != CallEstablished {
		t.Fatalf("a 481 to a request of no usage ended %v / %v", d.State(), bobCall.State())
	}
	_, err = bobCall.ReInvite(bg(), "application/sdp", []byte(sdp))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 481 {
		t.Fatalf("re-INVITE: %v, want 481", err)
	}
	mustEnd(t, bobCall, nil)
	if sub.calls != 0 || d.State() != StateConfirmed || bob.Dialogs() != 1 {
		t.Fatalf("the other usage was touched: told %d times, dialog %v, %d dialogs", sub.calls, d.State(), bob.Dialogs())
	}
	d.RemoveUsage(sub)
	if bob.Dialogs() != 0 || alice.Dialogs() != 0 {
		t.Errorf("dialogs left: %d %d", alice.Dialogs(), bob.Dialogs())
	}
}

// An ended call's dialog is remembered for 64*T1, so that a Replaces naming
// it gets 603 rather than 481 (RFC 3891 §3); a dialog without a call is not.
func TestRecentlyEnded(t *testing.T) {
	w := newWorld(t)
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) }})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := bobCall.Dialog().ID()
	if !bobCall.Dialog().Invite() || bobCall.Dialog().Call() != bobCall {
		t.Fatal("the call's dialog does not know its INVITE usage")
	}
	if bob.RecentlyEnded(id) {
		t.Fatal("a live dialog reported ended")
	}
	c.Bye(bg())
	if !bob.RecentlyEnded(id) || !alice.RecentlyEnded(c.Dialog().ID()) {
		t.Fatal("ended dialog not remembered")
	}
	w.clock.Advance(32 * time.Second)
	if bob.RecentlyEnded(id) {
		t.Fatal("remembered past 64*T1")
	}
}
