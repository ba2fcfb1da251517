package transport

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// listen opens a listener of proto on l.
func listen(t testing.TB, l *Layer, proto Protocol, ap string) Addr {
	t.Helper()
	addr := netip.MustParseAddrPort(ap)
	var a Addr
	var err error
	switch proto {
	case UDP:
		a, err = l.ListenUDP(addr)
	case TCP:
		a, err = l.ListenTCP(addr)
	case TLS:
		a, err = l.ListenTLS(addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A request and its response over real sockets, every protocol, IPv4 and
// IPv6 loopback.
func TestSocketsRoundTrip(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Logf("IPv6 loopback unavailable (%v); the ::1 cases will fail", err)
	} else {
		ln.Close()
	}
	tlsConfig := testTLSConfig(t)
	for _, host := range []string{"127.0.0.1", "::1"} {
		for _, proto := range []Protocol{UDP, TCP, TLS} {
			t.Run(fmt.Sprintf("%v/%s", proto, host), func(t *testing.T) {
				any := netip.AddrPortFrom(netip.MustParseAddr(host), 0).String()
				server, srv := serve(t, Config{TLS: tlsConfig}, 200)
				dst := listen(t, server, proto, any)
				cli := newRecorder()
				client := newLayer(t, Config{TLS: tlsConfig}, cli)
				src := listen(t, client, proto, any)

				for i := 1; i <= 2; i++ { // the second reuses the connection
					branch := fmt.Appendf(nil, "z9hG4bKrt%d", i)
					wire, used, err := client.SendRequest(dst, branch, request("OPTIONS", "sip:bob@example.com"))
					if err != nil || used != dst {
						t.Fatalf("SendRequest: %v %v", used, err)
					}
					via := fmt.Sprintf("Via: SIP/2.0/%v %s;branch=%s;rport\r\n", proto, appendHost(nil, src.Addr()), branch)
					via = strings.Replace(via, ";branch", fmt.Sprintf(":%d;branch", src.Port()), 1)
					if !strings.Contains(string(wire), via) {
						t.Errorf("wire lacks %q:\n%s", via, wire)
					}
					g := srv.next(t)
					if g.remote.Addr() != src.Addr() || g.local != dst && proto == UDP {
						t.Errorf("server got it from %v on %v", g.remote, g.local)
					}
					if proto.Reliable() != (g.reply.ConnID != 0) {
						t.Errorf("ReplyTo %+v", g.reply)
					}
					r := cli.next(t)
					if r.status != 200 || r.remote.Addr() != dst.Addr() || !strings.Contains(r.raw, string(branch)) {
						t.Errorf("client got %+v", r)
					}
				}
				if want := 0; proto.Reliable() {
					want = 1
					if st := client.Stats(); st.OpenConns != want {
						t.Errorf("client has %d connections, want %d", st.OpenConns, want)
					}
				}
			})
		}
	}
}

// After Close, no goroutine and no timer of the Layer remains.
func TestCloseLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	clock := NewFakeClock(time.Unix(0, 0))
	tlsConfig := testTLSConfig(t)
	server, srv := serve(t, Config{Clock: clock, TLS: tlsConfig}, 200)
	client := New(Config{Clock: clock, TLS: tlsConfig, Logger: quietLogger}, HandlerFunc(func(*Inbound) {}))
	n := NewNetwork(clock, 1)
	for _, p := range []Protocol{UDP, TCP, TLS} {
		dst := listen(t, server, p, "127.0.0.1:0")
		listen(t, client, p, "127.0.0.1:0")
		if _, _, err := client.SendRequest(dst, []byte("z9hG4bKleak"), request("OPTIONS", "sip:bob@127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		srv.next(t)
	}
	mem := New(Config{Clock: clock, Logger: quietLogger}, nil)
	memDst := must[Addr](t)(mem.ListenMem(n, mustAddr(t, TCP, "192.0.2.1:5060")))
	other := New(Config{Clock: clock, Logger: quietLogger}, nil)
	must[Addr](t)(other.ListenMem(n, mustAddr(t, TCP, "192.0.2.2:5060")))
	if err := other.Send(memDst, []byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if clock.Pending() == 0 {
		t.Fatal("no idle timers armed")
	}
	for _, l := range []*Layer{client, server, mem, other} {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := clock.Pending(); n != 0 {
		t.Errorf("%d timers pending after Close", n)
	}
	// Close waited for the Layer's goroutines; the runtime's own (TLS
	// handshake helpers, closing sockets) may take a moment longer.
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	if err := client.Send(memDst, nil); err != ErrClosed {
		t.Errorf("Send after Close: %v", err)
	}
}
