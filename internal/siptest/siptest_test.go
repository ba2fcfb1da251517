package siptest

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/internal/leakcheck"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// TestMain fails the package if goroutines started by its tests outlive
// them.
func TestMain(m *testing.M) { leakcheck.Main(m) }

func addr(port uint16) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
}

func request(method string, from, to transport.Addr) string {
	return method + " sip:b@" + to.AddrPort.String() + " SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:a@" + from.AddrPort.String() +
		">;tag=a\r\nTo: <sip:b@" + to.AddrPort.String() + ">\r\nCall-ID: c1\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n"
}

// Two peers exchange a request and its responses; a 101-299 response to
// an INVITE names the peer in a Contact, a 100 or a response to another
// method does not.
func TestPeers(t *testing.T) {
	clock := transport.NewFakeClock(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	a := NewPeer(t, clock, net, addr(5060))
	b := NewPeer(t, clock, net, addr(5070))
	a.None()

	a.Send(b.Addr, request("INVITE", a.Addr, b.Addr))
	inv := b.Expect("INVITE")
	b.None()
	b.Respond(inv, 100, "")
	b.Respond(inv, 180, "t1", "Require: 100rel")
	b.Respond(inv, 486, "t1")
	if g := a.ExpectStatus(100); g.Msg.Get(sip.HeaderContact) != nil {
		t.Errorf("100 with Contact: %s", g.Msg.Bytes())
	}
	ringing := a.ExpectStatus(180)
	if got, want := string(ringing.Msg.Get(sip.HeaderContact)), "<sip:peer@127.0.0.1:5070>"; got != want {
		t.Errorf("180 Contact %q, want %q", got, want)
	}
	if got := string(ringing.Msg.Get(sip.HeaderRequire)); got != "100rel" {
		t.Errorf("180 Require %q", got)
	}
	if g := a.ExpectStatus(486); g.Msg.Get(sip.HeaderContact) != nil {
		t.Errorf("486 with Contact: %s", g.Msg.Bytes())
	}

	a.Send(b.Addr, request("MESSAGE", a.Addr, b.Addr))
	b.Respond(<-b.In(), 200, "t2")
	if g := a.ExpectStatus(200); g.Msg.Get(sip.HeaderContact) != nil || string(g.Msg.ToTag()) != "t2" {
		t.Errorf("200 to MESSAGE: %s", g.Msg.Bytes())
	}
	a.None()
}

func TestFirstLine(t *testing.T) {
	clock := transport.NewFakeClock(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	a := NewPeer(t, clock, net, addr(5060))
	b := NewPeer(t, clock, net, addr(5070))
	a.Send(b.Addr, request("OPTIONS", a.Addr, b.Addr))
	g := b.Next()
	if got := FirstLine(g.Msg); got != "OPTIONS sip:b@127.0.0.1:5070 SIP/2.0" || strings.Contains(got, "\r") {
		t.Errorf("FirstLine %q", got)
	}
}
