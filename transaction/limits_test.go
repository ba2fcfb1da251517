package transaction

import (
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Over MaxUnanswered, a new request is answered 503 with Retry-After at
// once and makes no transaction; answering one makes room again.
func TestMaxUnanswered(t *testing.T) {
	e := newEnv(t)
	e.m = NewManager(Config{Clock: e.clock, MaxUnanswered: 2}, e.tp, e.rec)
	e.deliver(serverOptions("z9hG4bKlim1"), transport.UDP)
	e.deliver(serverOptions("z9hG4bKlim2"), transport.UDP)
	e.deliver(serverOptions("z9hG4bKlim3"), transport.UDP)
	reqs := e.rec.take()
	if len(reqs) != 2 {
		t.Fatalf("%d requests reached the TU, want 2", len(reqs))
	}
	sent := e.tp.take()
	if len(sent) != 1 || !strings.HasPrefix(sent[0].Wire, "SIP/2.0 503 ") {
		t.Fatalf("sent %v, want one 503", sent)
	}
	var m sip.Message
	if err := sip.Parse(&m, []byte(sent[0].Wire)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.RetryAfter(); !ok {
		t.Error("503 without Retry-After")
	}
	if via, _ := m.TopVia(); string(via.Branch) != "z9hG4bKlim3" {
		t.Errorf("503 answers branch %s", via.Branch)
	}
	if c, s := e.m.Transactions(); c != 0 || s != 2 || e.m.Overloaded() != 1 {
		t.Fatalf("transactions %d/%d, overloaded %d", c, s, e.m.Overloaded())
	}
	// A provisional response does not count as an answer; a final one does.
	reqs[0].Server.Respond(sip.AppendNoBody(sip.AppendResponse(nil, reqs[0].Msg, 200, "", "t")))
	e.tp.take()
	e.deliver(serverOptions("z9hG4bKlim4"), transport.UDP)
	if got := e.rec.take(); len(got) != 1 {
		t.Fatalf("after an answer: %d requests reached the TU, want 1", len(got))
	}
	e.deliver(serverOptions("z9hG4bKlim5"), transport.UDP)
	if sent := e.tp.take(); len(sent) != 1 || !strings.HasPrefix(sent[0].Wire, "SIP/2.0 503 ") {
		t.Fatalf("full again: sent %v", sent)
	}
}
