package dialog

import (
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// RFC 3261 §9.2: the To tag of the 200 to a CANCEL SHOULD be the one of
// the responses to the INVITE. When no tagged provisional response was
// sent, the transaction invented one tag for the 200 and the call another
// for the 487.
func TestCancel200And487ShareToTag(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{OnInvite: func(*Call, *sip.Message) {}}) // no 18x: nothing tagged yet
	p := w.peer(5080)
	inv := p.invite(memAddr(5070), "cx-1", "a", 1)
	const branch = "z9hG4bKcancel-tag"
	if _, _, err := p.Layer.SendRequest(memAddr(5070), []byte(branch), []byte(inv)); err != nil {
		t.Fatal(err)
	}
	p.None()
	cancel := strings.Replace(inv, "INVITE sip:", "CANCEL sip:", 1)
	cancel = strings.Replace(cancel, "CSeq: 1 INVITE", "CSeq: 1 CANCEL", 1)
	if _, _, err := p.Layer.SendRequest(memAddr(5070), []byte(branch), []byte(cancel)); err != nil {
		t.Fatal(err)
	}
	ok := p.ExpectStatus(200)
	term := p.ExpectStatus(487)
	okTag, termTag := string(ok.Msg.ToTag()), string(term.Msg.ToTag())
	if okTag == "" || okTag != termTag {
		t.Fatalf("200 to CANCEL tag %q, 487 to INVITE tag %q: want the same", okTag, termTag)
	}
}
