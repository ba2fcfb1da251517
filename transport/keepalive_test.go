package transport

import (
	"net/netip"
	"testing"
	"time"
)

// RFC 5626 §3.5.1: with Config.KeepAlive, a connection this Layer opened
// sends a CRLF CRLF ping after that long without traffic; the peer answers
// with a CRLF pong. A connection the peer opened sends no pings, and
// without KeepAlive nothing is sent.
func TestKeepAlivePings(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	n := NewNetwork(clock, 1)
	server := newLayer(t, Config{Clock: clock, KeepAlive: 30 * time.Second, IdleTimeout: time.Hour}, newRecorder())
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, TCP, "192.0.2.2:5060")))
	client := newLayer(t, Config{Clock: clock, KeepAlive: 30 * time.Second, IdleTimeout: time.Hour}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, TCP, "192.0.2.1:5060")))
	if _, _, err := client.SendRequest(dst, []byte("z9hG4bKka"), request("OPTIONS", "sip:bob@192.0.2.2", "")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(29 * time.Second)
	if s := client.Stats(); s.Pings != 0 {
		t.Fatalf("%d pings before the interval", s.Pings)
	}
	clock.Advance(time.Second)
	if c, s := client.Stats(), server.Stats(); c.Pings != 1 || s.KeepAlives != 1 || s.Pongs != 1 || s.Pings != 0 {
		t.Fatalf("client pings %d; server keep-alives %d, pongs %d, pings %d; want 1, 1, 1, 0", c.Pings, s.KeepAlives, s.Pongs, s.Pings)
	}
	clock.Advance(60 * time.Second)
	if c := client.Stats(); c.Pings != 3 || c.OpenConns != 1 {
		t.Fatalf("after 90 s: %d pings, %d connections; want 3 on the one open", c.Pings, c.OpenConns)
	}

	quiet := newLayer(t, Config{Clock: clock}, nil)
	must[Addr](t)(quiet.ListenMem(n, mustAddr(t, TCP, "192.0.2.3:5060")))
	if _, _, err := quiet.SendRequest(dst, []byte("z9hG4bKq"), request("OPTIONS", "sip:bob@192.0.2.2", "")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(90 * time.Second)
	if s := quiet.Stats(); s.Pings != 0 {
		t.Fatalf("without KeepAlive: %d pings", s.Pings)
	}
}

// LocalHostPort names the Layer to a peer: Config.Host and Port when set,
// else the listener's address, and for a listener on 0.0.0.0 the address
// the system routes the peer from, never 0.0.0.0.
func TestLocalHostPort(t *testing.T) {
	l := newLayer(t, Config{}, nil)
	a := must[Addr](t)(l.ListenUDP(netip.MustParseAddrPort("0.0.0.0:0")))
	to := Addr{Proto: UDP, AddrPort: netip.MustParseAddrPort("127.0.0.1:5060")}
	if h, p, err := l.LocalHostPort(to); err != nil || h != "127.0.0.1" || p != a.Port() {
		t.Errorf("LocalHostPort = %s %d %v, want 127.0.0.1 %d", h, p, err, a.Port())
	}
	if h, _, err := l.LocalHostPort(Addr{Proto: UDP}); err != nil || h == "0.0.0.0" {
		t.Errorf("LocalHostPort without a peer = %s %v", h, err)
	}
	if _, _, err := l.LocalHostPort(Addr{Proto: TCP, AddrPort: to.AddrPort}); err != ErrNoListener {
		t.Errorf("TCP without a TCP listener: %v, want ErrNoListener", err)
	}
	adv := newLayer(t, Config{Host: "sip.example.test", Port: 5999}, nil)
	must[Addr](t)(adv.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")))
	if h, p, err := adv.LocalHostPort(to); err != nil || h != "sip.example.test" || p != 5999 {
		t.Errorf("advertised: %s %d %v", h, p, err)
	}
}
