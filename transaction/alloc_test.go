package transaction

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// nullTransport sends nothing and allocates nothing but the wire of a new
// request, which the transaction keeps.
type nullTransport struct{ sends int }

func (t *nullTransport) SendRequest(dst transport.Addr, branch, req []byte) ([]byte, transport.Addr, error) {
	t.sends++
	return insertVia(make([]byte, 0, len(req)+96), req, dst.Proto, "192.0.2.1:5060", branch), dst, nil
}

func (t *nullTransport) Send(transport.Addr, []byte) error { t.sends++; return nil }

func (t *nullTransport) SendResponse(transport.ReplyTo, []byte) error { t.sends++; return nil }

// insertVia appends req to dst with a top Via after its request line, as
// the transport layer does.
func insertVia(dst, req []byte, p transport.Protocol, sentBy string, branch []byte) []byte {
	i := bytes.IndexByte(req, '\n') + 1
	dst = append(dst, req[:i]...)
	dst = append(dst, "Via: SIP/2.0/"...)
	dst = append(dst, p.String()...)
	dst = append(dst, ' ')
	dst = append(dst, sentBy...)
	dst = append(dst, ";branch="...)
	dst = append(dst, branch...)
	dst = append(dst, ";rport\r\n"...)
	return append(dst, req[i:]...)
}

// answeringTU answers every request with code, from a buffer it reuses, and
// ignores everything else.
type answeringTU struct {
	code int
	buf  []byte
	tx   *ServerTx
}

func (u *answeringTU) HandleRequest(tx *ServerTx, req *sip.Message) {
	u.tx = tx
	if u.code == 0 {
		return
	}
	u.buf = sip.AppendResponse(u.buf[:0], req, u.code, "", "5a2b9c")
	u.buf = sip.AppendNoBody(u.buf)
	if err := tx.Respond(u.buf); err != nil {
		panic(err)
	}
}
func (u *answeringTU) HandleACK(*transport.Inbound)           {}
func (u *answeringTU) HandleCancel(*ServerTx, *sip.Message)   {}
func (u *answeringTU) HandleStrayResponse(*transport.Inbound) {}
func (u *answeringTU) HandleServerError(*ServerTx, error)     {}

// nullHandler ignores what client transactions report.
type nullHandler struct{}

func (nullHandler) HandleResponse(*ClientTx, Response) {}

func parsedInbound(t testing.TB, s string, from, to netip.AddrPort) *transport.Inbound {
	return inbound(parse(t, s), transport.UDP, from, to)
}

// TestMatchingAllocs: matching a message to an existing transaction, and
// absorbing it, allocates nothing.
func TestMatchingAllocs(t *testing.T) {
	clock := transport.NewFakeClock(epoch)
	tu := &answeringTU{code: 200}
	m := NewManager(Config{Clock: clock}, &nullTransport{}, tu)
	check := func(name string, in *transport.Inbound) {
		t.Helper()
		if n := testing.AllocsPerRun(100, func() { m.HandleInbound(in) }); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}

	// Server, non-INVITE in Completed: the request again, the final again.
	opts := parsedInbound(t, serverOptions("z9hG4bKalloc1"), clientAddr, serverAddr)
	m.HandleInbound(opts)
	check("retransmitted OPTIONS", opts)

	// Server, INVITE in Completed, then Confirmed.
	tu.code = 486
	invite := parsedInbound(t, serverInvite("z9hG4bKalloc2"), clientAddr, serverAddr)
	m.HandleInbound(invite)
	check("retransmitted INVITE", invite)
	ackIn := parsedInbound(t, serverACK("z9hG4bKalloc2", "5a2b9c"), clientAddr, serverAddr)
	m.HandleInbound(ackIn)
	check("retransmitted ACK", ackIn)

	// Client: a retransmitted final response in Completed, a provisional
	// response in Proceeding, a stray response.
	tx, err := m.Request(addr(transport.UDP, serverAddr), []byte(optionsReq), nullHandler{})
	if err != nil {
		t.Fatal(err)
	}
	final := parsedInbound(t, response(t, string(tx.Request()), 200, "x"), serverAddr, clientAddr)
	m.HandleInbound(final)
	check("retransmitted 200", final)
	inv, _ := m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), nullHandler{})
	ringing := parsedInbound(t, response(t, string(inv.Request()), 180, "x"), serverAddr, clientAddr)
	check("180", ringing)
	check("stray", parsedInbound(t, response(t, serverOptions("z9hG4bKnone"), 200, "x"), serverAddr, clientAddr))
	m.Close()
}

// TestServerNonInviteAllocs: a whole non-INVITE server transaction over
// UDP (request, the TU's 200, a retransmission absorbed, Timer J) stays
// well under 20 allocations.
func TestServerNonInviteAllocs(t *testing.T) {
	clock := transport.NewFakeClock(epoch)
	m := NewManager(Config{Clock: clock}, &nullTransport{}, &answeringTU{code: 200})
	raw := []byte(serverOptions("z9hG4bKallocs"))
	var msg sip.Message
	in := inbound(&msg, transport.UDP, clientAddr, serverAddr)
	n := testing.AllocsPerRun(200, func() {
		if err := sip.Parse(&msg, raw); err != nil {
			t.Fatal(err)
		}
		m.HandleInbound(in)
		m.HandleInbound(in)
		clock.Advance(64 * DefaultT1)
	})
	t.Logf("%v allocs per non-INVITE server transaction", n)
	if n >= 20 {
		t.Errorf("%v allocs per transaction, want < 20", n)
	}
	if c, s := m.Transactions(); c+s != 0 || clock.Pending() != 0 {
		t.Errorf("left: %d %d, %d timers", c, s, clock.Pending())
	}
}

// BenchmarkServerNonInvite: one non-INVITE server transaction over UDP per
// op: parse and HandleInbound of the request, the TU's 200 through
// Respond, a retransmission absorbed (200 sent again), Timer J ending it.
func BenchmarkServerNonInvite(b *testing.B) {
	clock := transport.NewFakeClock(epoch)
	m := NewManager(Config{Clock: clock}, &nullTransport{}, &answeringTU{code: 200})
	raw := []byte(serverOptions("z9hG4bKbench"))
	buf := make([]byte, len(raw))
	var msg sip.Message
	in := inbound(&msg, transport.UDP, clientAddr, serverAddr)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(buf, raw)
		if err := sip.Parse(&msg, buf); err != nil {
			b.Fatal(err)
		}
		m.HandleInbound(in)
		m.HandleInbound(in)
		clock.Advance(64 * DefaultT1)
	}
}

// BenchmarkRetransmissionAbsorbed: matching a retransmitted request to its
// transaction and sending the final response again.
func BenchmarkRetransmissionAbsorbed(b *testing.B) {
	clock := transport.NewFakeClock(epoch)
	m := NewManager(Config{Clock: clock}, &nullTransport{}, &answeringTU{code: 200})
	in := parsedInbound(b, serverOptions("z9hG4bKbench2"), clientAddr, serverAddr)
	m.HandleInbound(in)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.HandleInbound(in)
	}
}

// benchLink is a Transport that hands every message straight to the peer
// Manager, parsed into a Message it reuses, as an in-memory network would.
type benchLink struct {
	peer   *Manager
	sentBy string
	buf    []byte
	msg    sip.Message
	in     transport.Inbound
}

func newBenchLink(from, to netip.AddrPort) *benchLink {
	l := &benchLink{sentBy: from.String()}
	l.in = *inbound(&l.msg, transport.UDP, from, to)
	return l
}

func (l *benchLink) deliver(wire []byte) {
	l.buf = append(l.buf[:0], wire...)
	if err := sip.Parse(&l.msg, l.buf); err != nil {
		panic(err)
	}
	l.peer.HandleInbound(&l.in)
}

func (l *benchLink) SendRequest(dst transport.Addr, branch, req []byte) ([]byte, transport.Addr, error) {
	wire := insertVia(make([]byte, 0, len(req)+96), req, dst.Proto, l.sentBy, branch)
	l.deliver(wire)
	return wire, dst, nil
}

func (l *benchLink) Send(_ transport.Addr, wire []byte) error { l.deliver(wire); return nil }

func (l *benchLink) SendResponse(_ transport.ReplyTo, wire []byte) error {
	l.deliver(wire)
	return nil
}

// BenchmarkClientServerPair: one non-INVITE request per op from a client
// Manager to a server Manager over an in-memory UDP link: client
// transaction, server transaction, the TU's 200 back to the client, and
// Timers K and J ending both.
func BenchmarkClientServerPair(b *testing.B) {
	clock := transport.NewFakeClock(epoch)
	toServer, toClient := newBenchLink(clientAddr, serverAddr), newBenchLink(serverAddr, clientAddr)
	client := NewManager(Config{Clock: clock}, toServer, &answeringTU{})
	server := NewManager(Config{Clock: clock}, toClient, &answeringTU{code: 200})
	toServer.peer, toClient.peer = server, client
	req := []byte(optionsReq)
	dst := addr(transport.UDP, serverAddr)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := client.Request(dst, req, nullHandler{}); err != nil {
			b.Fatal(err)
		}
		clock.Advance(64 * DefaultT1)
	}
	b.StopTimer()
	if c, s := client.Transactions(); c+s != 0 {
		b.Errorf("client left %d %d", c, s)
	}
	if c, s := server.Transactions(); c+s != 0 {
		b.Errorf("server left %d %d", c, s)
	}
}
