package dialog

import (
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// RFC 3261 §11.2: an OPTIONS is answered as an INVITE would be, inside a
// dialog as outside one: 200 with Allow (listing OPTIONS), Accept and
// Supported. Before, an OPTIONS in a dialog got 405 while its Allow listed
// OPTIONS.
func TestOptionsInDialogAnswered200WithAllow(t *testing.T) {
	w := newWorld(t)
	_, caller, _, tag := established(t, w, Config{Extensions: []string{"replaces"}})
	caller.Send(memAddr(5070), caller.inDialog(memAddr(5070), "OPTIONS", "call-1", "caller", tag, 11))
	g := caller.ExpectStatus(200)
	checkOptionsAnswer(t, g.Msg)
	if got := string(g.Msg.ToTag()); got != tag {
		t.Errorf("To tag %q, want the dialog's %q", got, tag)
	}
}

// Outside a dialog the UA answers OPTIONS itself the same way (§11.2).
func TestOptionsOutOfDialogAnswered200WithAllow(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{Extensions: []string{"replaces"}})
	p := w.peer(5080)
	p.Send(memAddr(5070), strings.Replace(p.invite(memAddr(5070), "o-1", "a", 1), "INVITE", "OPTIONS", 2))
	checkOptionsAnswer(t, p.ExpectStatus(200).Msg)
}

func checkOptionsAnswer(t *testing.T, m *sip.Message) {
	t.Helper()
	if allow := string(m.Get(sip.HeaderAllow)); !strings.Contains(allow, "OPTIONS") || !strings.Contains(allow, "INVITE") {
		t.Errorf("Allow %q, want INVITE and OPTIONS", allow)
	}
	if got := string(m.Get(sip.HeaderAccept)); got != "application/sdp" {
		t.Errorf("Accept %q", got)
	}
	if got := string(m.Get(sip.HeaderSupported)); got != "replaces" {
		t.Errorf("Supported %q", got)
	}
}

// RFC 3891 §3: a UA that supports Replaces answers 400 to a request other
// than INVITE that carries one, in a dialog or outside; without "replaces"
// among its extensions the header means nothing to it.
func TestReplacesOutsideINVITEGets400(t *testing.T) {
	w := newWorld(t)
	_, caller, _, tag := established(t, w, Config{Extensions: []string{"replaces"}})
	req := caller.inDialog(memAddr(5070), "OPTIONS", "call-1", "caller", tag, 11)
	req = strings.Replace(req, "\r\n\r\n", "\r\nReplaces: x;to-tag=a;from-tag=b\r\n\r\n", 1)
	caller.Send(memAddr(5070), req)
	caller.ExpectStatus(400)

	w.ua("carol", 5090, Config{})
	p := w.peer(5081)
	opts := strings.Replace(p.invite(memAddr(5090), "o-2", "a", 1), "INVITE", "OPTIONS", 2)
	p.Send(memAddr(5090), strings.Replace(opts, "\r\n\r\n", "\r\nReplaces: x;to-tag=a;from-tag=b\r\n\r\n", 1))
	p.ExpectStatus(200)
}
