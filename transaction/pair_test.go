package transaction

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// pair wires a client Manager to a server Manager through their fake
// transports, sharing one FakeClock. Every send is delivered as a fresh
// parse of its bytes, scheduled on the clock after latency (0 unless set),
// unless drop says to lose it; dup says to deliver it twice.
type pair struct {
	t       testing.TB
	clock   *transport.FakeClock
	proto   transport.Protocol
	client  *env
	server  *env
	drop    func(s sent) bool
	dup     func(s sent) bool
	latency func(s sent) time.Duration
	sync    bool // deliver inside the send, as an in-memory network may
}

func newPair(t testing.TB, proto transport.Protocol) *pair {
	clock := transport.NewFakeClock(epoch)
	p := &pair{t: t, clock: clock, proto: proto}
	mk := func(sentBy string) *env {
		e := &env{t: t, clock: clock, tp: newFakeTransport(clock), rec: newRecorder(clock)}
		e.tp.sentBy = sentBy
		e.m = NewManager(Config{Clock: clock}, e.tp, e.rec)
		return e
	}
	p.client = mk("192.0.2.1:5060")
	p.server = mk("192.0.2.4:5060")
	p.client.tp.after = func(s sent) { p.carry(s, p.server.m, clientAddr, serverAddr) }
	p.server.tp.after = func(s sent) { p.carry(s, p.client.m, serverAddr, clientAddr) }
	return p
}

// carry schedules the delivery of s to m.
func (p *pair) carry(s sent, m *Manager, from, to netip.AddrPort) {
	if p.drop != nil && p.drop(s) {
		return
	}
	n := 1
	if p.dup != nil && p.dup(s) {
		n = 2
	}
	for i := 0; i < n; i++ {
		var d time.Duration
		if p.latency != nil {
			d = p.latency(s)
		}
		wire := s.Wire
		deliver := func() {
			var msg sip.Message
			if err := sip.Parse(&msg, []byte(wire)); err != nil {
				p.t.Errorf("peer sent unparsable %q: %v", wire, err)
				return
			}
			m.HandleInbound(inbound(&msg, p.proto, from, to))
		}
		if p.sync {
			deliver()
		} else {
			p.clock.AfterFunc(d, deliver)
		}
	}
}

// buildResponse builds a response to req with the To tag "srv".
func buildResponse(req *sip.Message, code int) []byte {
	tag := "srv"
	if code == 100 {
		tag = ""
	}
	return sip.AppendNoBody(sip.AppendResponse(nil, req, code, "", tag))
}
