// Package siptest holds what the tests of several packages share: a
// scripted SIP peer on the in-memory network of package transport.
package siptest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Got is a message a Peer received.
type Got struct {
	// Msg is the message, a copy of its own.
	Msg *sip.Message
	// Reply is where a response to it goes.
	Reply transport.ReplyTo
}

// Peer is a scripted SIP element: a bare transport layer whose test code
// reads what arrives and writes what it sends, byte for byte.
type Peer struct {
	// Layer is the peer's transport layer, for sending what Send and
	// Respond do not, or closing it early.
	Layer *transport.Layer
	// Addr is the address the peer listens on.
	Addr transport.Addr

	t  testing.TB
	in chan Got
}

// NewPeer starts a Peer on addr of net, with timers on clock; it is closed
// when the test ends. The methods of the Peer fail t.
func NewPeer(t testing.TB, clock transport.Clock, net *transport.Network, addr transport.Addr) *Peer {
	t.Helper()
	p := &Peer{t: t, in: make(chan Got, 256)}
	p.Layer = transport.New(transport.Config{Clock: clock}, transport.HandlerFunc(func(in *transport.Inbound) {
		p.in <- Got{Msg: in.Msg.Clone(), Reply: in.Reply}
	}))
	a, err := p.Layer.ListenMem(net, addr)
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = a
	t.Cleanup(func() { p.Layer.Close() })
	return p
}

// In is what the peer received and nobody has read yet, for a test that
// polls it itself.
func (p *Peer) In() <-chan Got { return p.in }

// Next returns the next message the peer received; it fails the test if
// none is waiting (delivery on the in-memory network is synchronous).
func (p *Peer) Next() Got {
	p.t.Helper()
	select {
	case g := <-p.in:
		return g
	default:
		p.t.Fatal("peer: nothing received")
		return Got{}
	}
}

// Wait waits (in real time, bounded) for the next message: for requests
// sent by a goroutine of the test.
func (p *Peer) Wait() Got {
	p.t.Helper()
	select {
	case g := <-p.in:
		return g
	case <-time.After(5 * time.Second):
		p.t.Fatal("peer: nothing received within 5 s")
		return Got{}
	}
}

// None asserts that nothing more arrived.
func (p *Peer) None() {
	p.t.Helper()
	select {
	case g := <-p.in:
		p.t.Fatalf("peer: unexpected %s", FirstLine(g.Msg))
	default:
	}
}

// Expect returns the next message, which must be a request of method; it
// skips nothing.
func (p *Peer) Expect(method string) Got {
	p.t.Helper()
	g := p.Next()
	if !g.Msg.IsRequest() || string(g.Msg.MethodName()) != method {
		p.t.Fatalf("peer: got %s, want %s", FirstLine(g.Msg), method)
	}
	return g
}

// ExpectStatus returns the next message, which must be a response with
// code; it skips nothing.
func (p *Peer) ExpectStatus(code int) Got {
	p.t.Helper()
	g := p.Next()
	if g.Msg.IsRequest() || g.Msg.StatusCode() != code {
		p.t.Fatalf("peer: got %s, want %d", FirstLine(g.Msg), code)
	}
	return g
}

// Send sends the request req, which has no Via yet, to dst.
func (p *Peer) Send(dst transport.Addr, req string) {
	p.t.Helper()
	if _, _, err := p.Layer.SendRequest(dst, transport.NewBranch(nil), []byte(req)); err != nil {
		p.t.Fatal(err)
	}
}

// Respond answers g with code, To tag tag and the extra header lines,
// without a body. A 101-299 response to an INVITE also carries a Contact
// naming the peer, <sip:peer@Addr>, as one that creates a dialog must.
func (p *Peer) Respond(g Got, code int, tag string, extra ...string) {
	p.t.Helper()
	b := sip.AppendResponse(nil, g.Msg, code, "", tag)
	for _, h := range extra {
		b = append(b, h+"\r\n"...)
	}
	if code < 300 && code > 100 && g.Msg.Method() == sip.MethodInvite {
		b = append(b, fmt.Sprintf("Contact: <sip:peer@%s>\r\n", p.Addr.AddrPort)...)
	}
	b = sip.AppendNoBody(b)
	if err := p.Layer.SendResponse(g.Reply, b); err != nil {
		p.t.Fatal(err)
	}
}

// FirstLine returns the start line of m, for messages in test failures.
func FirstLine(m *sip.Message) string {
	b := m.Bytes()
	if i := strings.Index(string(b), "\r\n"); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
