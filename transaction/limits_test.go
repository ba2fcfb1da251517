package transaction

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Over MaxUnanswered, a new request is answered 503 with Retry-After at
// once and makes no transaction; answering one makes room again.
func TestMaxUnanswered(t *testing.T) {
	// A Call-ID per request: they are distinct requests, not merged copies
	// (RFC 3261 §8.2.2.2).
	serverOptions := func(branch string) string {
		return strings.Replace(serverOptions(branch), "Call-ID: a84b4c76e66710", "Call-ID: "+branch, 1)
	}
	e := newEnv(t)
	var logged bytes.Buffer
	e.m = NewManager(Config{Clock: e.clock, MaxUnanswered: 2, Logger: slog.New(slog.NewTextHandler(&logged, nil))}, e.tp, e.rec)
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
	// Each refusal is counted; the log gets one line per 10 s of them.
	if n := e.m.Overloaded(); n != 2 {
		t.Errorf("overloaded %d, want 2", n)
	}
	if n := strings.Count(logged.String(), "MaxUnanswered reached"); n != 1 {
		t.Errorf("%d warnings logged, want 1:\n%s", n, logged.String())
	}
	e.at(10 * time.Second)
	e.deliver(serverOptions("z9hG4bKlim6"), transport.UDP)
	if n := strings.Count(logged.String(), "suppressed=1"); n != 1 {
		t.Errorf("10 s later: want a warning counting the one suppressed:\n%s", logged.String())
	}
}

// RFC 3261 §9.1: a CANCEL answered 481 (the UAS has forgotten the INVITE)
// and no final response: 64*T1 after the CANCEL the INVITE transaction
// ends with a timeout named "CANCEL"; a provisional response meanwhile
// does not restart the wait.
func TestCancelWithoutFinal(t *testing.T) {
	e := newEnv(t)
	e.m = NewManager(Config{Clock: e.clock, TimerC: 3 * time.Minute}, e.tp, e.rec)
	dst := addr(transport.UDP, serverAddr)
	invite, _ := e.m.Request(dst, []byte(inviteReq), e.rec)
	e.deliver(response(t, string(invite.Request()), 180, "b"), transport.UDP)
	e.at(time.Second)
	if _, err := e.m.Cancel(invite, e.rec); err != nil {
		t.Fatal(err)
	}
	sends := e.tp.take()
	e.deliver(response(t, sends[len(sends)-1].Wire, 481, "b"), transport.UDP)
	e.at(20 * time.Second)
	e.deliver(response(t, string(invite.Request()), 183, "b"), transport.UDP)
	e.rec.take()
	e.at(time.Second + 32*time.Second - time.Millisecond)
	if got := e.rec.take(); len(got) != 0 {
		t.Fatalf("before 64*T1: %v", got)
	}
	e.at(time.Second + 32*time.Second)
	got := e.rec.take()
	var te *Error
	if len(got) != 1 || got[0].Client != invite || !errors.As(got[0].Err, &te) || te.Timer != "CANCEL" || got[0].Status != 408 {
		t.Fatalf("events %v", got)
	}
	e.at(5 * time.Minute)
	e.checkEmpty()
}

// After a CANCEL the §9.1 wait replaces Timer C, even a Timer C shorter
// than 64*T1: the transaction ends once, with the timeout "CANCEL".
func TestCancelReplacesTimerC(t *testing.T) {
	e := newEnv(t)
	e.m = NewManager(Config{Clock: e.clock, TimerC: 10 * time.Second}, e.tp, e.rec)
	dst := addr(transport.UDP, serverAddr)
	invite, _ := e.m.Request(dst, []byte(inviteReq), e.rec)
	e.deliver(response(t, string(invite.Request()), 180, "b"), transport.UDP)
	e.rec.take()
	e.at(time.Second)
	if _, err := e.m.Cancel(invite, e.rec); err != nil {
		t.Fatal(err)
	}
	sends := e.tp.take()
	e.deliver(response(t, sends[len(sends)-1].Wire, 200, "b"), transport.UDP)
	e.rec.take()
	e.at(time.Second + 32*time.Second - time.Millisecond)
	if got := e.rec.take(); len(got) != 0 {
		t.Fatalf("before 64*T1 after the CANCEL: %v", eventStrings(got))
	}
	e.at(time.Second + 32*time.Second)
	got := e.rec.take()
	var te *Error
	if len(got) != 1 || got[0].Client != invite || !errors.As(got[0].Err, &te) || te.Timer != "CANCEL" {
		t.Fatalf("events %v, want one timeout CANCEL", eventStrings(got))
	}
	e.at(5 * time.Minute)
	e.checkEmpty()
}
