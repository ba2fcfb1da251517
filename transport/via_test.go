package transport

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// SendRequest inserts exactly one Via line after the request line, with the
// listener's sent-by, the branch and an empty rport, and returns the bytes
// that went on the wire.
func TestSendRequestInsertsVia(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	client := newLayer(t, Config{}, nil)
	srv := newRecorder()
	server := newLayer(t, Config{}, srv)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5070")))
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))

	req := request("OPTIONS", "sip:bob@192.0.2.2")
	wire, used, err := client.SendRequest(dst, []byte("z9hG4bK776asdhds"), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK776asdhds;rport\r\n" +
		string(req[len("OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\n"):])
	if string(wire) != want {
		t.Errorf("wire:\n%s\nwant:\n%s", wire, want)
	}
	if used != dst {
		t.Errorf("used %v, want %v", used, dst)
	}
	g := srv.next(t)
	// The source matches sent-by, but rport asks for received too (RFC 3581 §4).
	if g.topVia != "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK776asdhds;rport=5070;received=192.0.2.1" {
		t.Errorf("server saw Via %q", g.topVia)
	}

	// Retransmission: Send puts the same bytes on the wire.
	var seen []byte
	n.trace = func(_, _ Addr, b []byte) { seen = append(seen[:0], b...) }
	if err := client.Send(dst, wire); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seen, wire) {
		t.Errorf("retransmission differs:\n%s", seen)
	}
	srv.next(t)

	if _, _, err := client.SendRequest(dst, []byte("z9hG4bK;x"), req); err != ErrBadMessage {
		t.Errorf("branch with ';': %v, want ErrBadMessage", err)
	}
	if _, _, err := client.SendRequest(dst, []byte("z9hG4bK1"), []byte("no line end")); err != ErrBadMessage {
		t.Errorf("no request line: %v, want ErrBadMessage", err)
	}
}

// The Via's sent-by over real sockets is the listener's address, IPv6 in
// brackets; Config.Host replaces the host.
func TestSendRequestSentBy(t *testing.T) {
	for _, tc := range []struct {
		listen, host, want string
	}{
		{"127.0.0.1:0", "", "127.0.0.1"},
		{"[::1]:0", "", "[::1]"},
		{"127.0.0.1:0", "ua.example.com", "ua.example.com"},
	} {
		srv := newRecorder()
		server := newLayer(t, Config{}, srv)
		dst := must[Addr](t)(server.ListenUDP(netip.MustParseAddrPort(tc.listen)))
		client := newLayer(t, Config{Host: tc.host}, nil)
		local := must[Addr](t)(client.ListenUDP(netip.MustParseAddrPort(tc.listen)))
		wire, _, err := client.SendRequest(dst, []byte("z9hG4bKx1"), request("OPTIONS", "sip:bob@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		via := fmt.Sprintf("Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKx1;rport\r\n", tc.want, local.Port())
		if !strings.Contains(string(wire), "SIP/2.0\r\n"+via) {
			t.Errorf("%s: wire:\n%s\nwant line %q", tc.listen, wire, via)
		}
		g := srv.next(t)
		if !strings.HasPrefix(g.topVia, via[len("Via: "):len(via)-2]) {
			t.Errorf("%s: server saw %q", tc.listen, g.topVia)
		}
	}
}

// RFC 3261 §18.1.1: a request over 1300 bytes bound for UDP goes over TCP
// to the same address and port, with TCP in its Via.
func TestSendRequestLargeSwitchesToTCP(t *testing.T) {
	srv := newRecorder()
	server := newLayer(t, Config{}, srv)
	// The server listens for TCP on the UDP port (RFC 3261 §18.2.1).
	tcp := must[Addr](t)(server.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0")))
	udp := must[Addr](t)(server.ListenUDP(netip.AddrPortFrom(tcp.Addr(), tcp.Port())))

	client := newLayer(t, Config{}, nil)
	must[Addr](t)(client.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")))
	ctcp := must[Addr](t)(client.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0")))

	small := request("MESSAGE", "sip:bob@127.0.0.1")
	wire, used, err := client.SendRequest(udp, []byte("z9hG4bKsmall"), small)
	if err != nil || used != udp || !bytes.Contains(wire, []byte("Via: SIP/2.0/UDP ")) {
		t.Fatalf("small request: used %v err %v\n%s", used, err, wire)
	}
	if g := srv.next(t); g.remote.Proto != UDP {
		t.Fatalf("small request arrived over %v", g.remote.Proto)
	}

	large := request("MESSAGE", "sip:bob@127.0.0.1", "Subject: "+strings.Repeat("x", MTUThreshold))
	wire, used, err = client.SendRequest(udp, []byte("z9hG4bKlarge"), large)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Addr{Proto: TCP, AddrPort: udp.AddrPort}); used != want {
		t.Errorf("used %v, want %v", used, want)
	}
	via := fmt.Sprintf("Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKlarge;rport\r\n", ctcp.Port())
	if !bytes.Contains(wire, []byte(via)) {
		t.Errorf("wire lacks %q:\n%.200s", via, wire)
	}
	g := srv.next(t)
	if g.remote.Proto != TCP || g.reply.ConnID == 0 || g.local != tcp {
		t.Errorf("large request arrived as %+v", g)
	}
	if !strings.HasPrefix(g.topVia, "SIP/2.0/TCP ") {
		t.Errorf("server saw Via %q", g.topVia)
	}

	// The TCP connection is refused: RFC 3261 §18.1.1 SHOULD retry over
	// UDP, so a UDP-only peer still gets the request.
	udpOnly := newRecorder()
	nobody := newLayer(t, Config{}, udpOnly)
	closedPort := must[Addr](t)(nobody.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")))
	if _, used, err := client.SendRequest(closedPort, []byte("z9hG4bKlarge2"), large); err != nil || used != closedPort {
		t.Errorf("large request to a UDP-only port: used %v err %v; want UDP", used, err)
	}
	if g := udpOnly.next(t); g.remote.Proto != UDP || !strings.HasPrefix(g.topVia, "SIP/2.0/UDP ") {
		t.Errorf("UDP-only peer got %+v", g)
	}
}

// RFC 3261 §18.2.1 and RFC 3581 §4: the server stamps the top Via with
// received (when sent-by is not the source address, or rport is present)
// and fills an empty rport with the source port, in place; other values
// and Vias are kept.
func TestReceivedAndRport(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	srv := newRecorder()
	server := newLayer(t, Config{}, srv)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))
	client := newLayer(t, Config{}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5062")))
	client6 := newLayer(t, Config{}, nil)
	must[Addr](t)(client6.ListenMem(n, mustAddr(t, UDP, "[2001:db8::2]:5060")))

	for _, tc := range []struct {
		from *Layer
		via  string
		want string
	}{
		// sent-by differs from the source: received; no rport: port kept.
		{client, "SIP/2.0/UDP 192.0.2.77:5060;branch=z9hG4bK1",
			"SIP/2.0/UDP 192.0.2.77:5060;branch=z9hG4bK1;received=192.0.2.1"},
		// a host name: received
		{client, "SIP/2.0/UDP pc.example.com;branch=z9hG4bK2",
			"SIP/2.0/UDP pc.example.com;branch=z9hG4bK2;received=192.0.2.1"},
		// matching sent-by, no rport: untouched
		{client, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK3",
			"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK3"},
		// rport in the middle, whitespace around it, a second Via value kept
		{client, "SIP/2.0/UDP 192.0.2.77:5060 ; rport ; branch=z9hG4bK4 , SIP/2.0/UDP 192.0.2.9",
			"SIP/2.0/UDP 192.0.2.77:5060 ; rport=5062 ; branch=z9hG4bK4;received=192.0.2.1"},
		// rport with a value stays; a wrong received is replaced
		{client, "SIP/2.0/UDP 192.0.2.77;rport=9;received=10.0.0.1;branch=z9hG4bK5",
			"SIP/2.0/UDP 192.0.2.77;rport=9;received=192.0.2.1;branch=z9hG4bK5"},
		// IPv6: received without brackets (RFC 3261 §20.42 via-received)
		{client6, "SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK6;rport",
			"SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK6;rport=5060;received=2001:db8::2"},
	} {
		msg := raw("OPTIONS sip:bob@192.0.2.2 SIP/2.0\nVia: " + tc.via +
			"\nMax-Forwards: 70\nFrom: <sip:a@192.0.2.1>;tag=1\nTo: <sip:b@192.0.2.2>\nCall-ID: c1\nCSeq: 1 OPTIONS\nContent-Length: 5\n\nhello")
		if err := tc.from.Send(dst, msg); err != nil {
			t.Fatal(err)
		}
		g := srv.next(t)
		if g.topVia != tc.want {
			t.Errorf("Via %q\n got %q\nwant %q", tc.via, g.topVia, tc.want)
		}
		// The rest of the message survives the shift, body included.
		if !strings.HasSuffix(g.raw, "CSeq: 1 OPTIONS\r\nContent-Length: 5\r\n\r\nhello") {
			t.Errorf("message damaged:\n%s", g.raw)
		}
	}
}

// RFC 3261 §18.2.2 and RFC 3581 §4 decide where a UDP response goes; the
// in-memory network shows where each one lands.
func TestSendResponseRouting(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	srv := newRecorder()
	server := newLayer(t, Config{}, srv)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.10:5060")))
	client := newLayer(t, Config{}, nil)
	src := must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	for _, a := range []string{"192.0.2.1:5070", "192.0.2.99:5070", "192.0.2.1:5071"} {
		l := newLayer(t, Config{}, nil)
		must[Addr](t)(l.ListenMem(n, mustAddr(t, UDP, a)))
	}
	var landed []string
	n.trace = func(from, to Addr, b []byte) {
		if bytes.HasPrefix(b, []byte("SIP/2.0 ")) {
			landed = append(landed, from.AddrPort.String()+">"+to.AddrPort.String())
		}
	}
	for i, tc := range []struct {
		name, via, want string
	}{
		{"rport", "192.0.2.1:5070;rport", "192.0.2.1:5060"},
		{"plain sent-by", "192.0.2.1:5070", "192.0.2.1:5070"},
		{"sent-by default port", "192.0.2.1", "192.0.2.1:5060"},
		{"received, sent-by port", "192.0.2.50:5070", "192.0.2.1:5070"},
		{"host name, received", "client.example.com:5071", "192.0.2.1:5071"},
		{"maddr", "192.0.2.1:5070;maddr=192.0.2.99", "192.0.2.99:5070"},
		{"maddr over rport", "192.0.2.1:5070;rport;maddr=192.0.2.99", "192.0.2.99:5070"},
		{"maddr name: source", "192.0.2.1:5071;maddr=mc.example.com", "192.0.2.1:5071"},
	} {
		landed = landed[:0]
		msg := raw("OPTIONS sip:bob@192.0.2.10 SIP/2.0\nVia: SIP/2.0/UDP " + tc.via +
			";branch=z9hG4bK" + fmt.Sprint(i) +
			"\nFrom: <sip:a@192.0.2.1>;tag=1\nTo: <sip:b@192.0.2.10>\nCall-ID: c1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
		if err := client.Send(dst, msg); err != nil {
			t.Fatal(err)
		}
		g := srv.next(t)
		if g.reply.Remote != src || g.reply.Local != dst || g.reply.ConnID != 0 {
			t.Errorf("%s: ReplyTo %+v", tc.name, g.reply)
		}
		resp := raw("SIP/2.0 200 OK\nVia: " + g.topVia + "\nFrom: <sip:a@192.0.2.1>;tag=1\nTo: <sip:b@192.0.2.10>;tag=2\nCall-ID: c1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
		if err := server.SendResponse(g.reply, resp); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// RFC 3581 §4: from the address the request arrived on.
		if want := []string{"192.0.2.10:5060>" + tc.want}; fmt.Sprint(landed) != fmt.Sprint(want) {
			t.Errorf("%s (Via %s): response went %v, want %v", tc.name, g.topVia, landed, want)
		}
	}
}

// wireTopVia reads the first Via value of a built message, folded or
// compact, without touching the bytes.
func TestWireTopVia(t *testing.T) {
	for _, tc := range []struct{ msg, host string }{
		{"SIP/2.0 200 OK\nFrom: x\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.2\nVia: SIP/2.0/UDP 192.0.2.3\n\n", "192.0.2.1"},
		{"SIP/2.0 200 OK\nv: SIP/2.0/TCP [2001:db8::1]\n\n", "[2001:db8::1]"},
		{"SIP/2.0 200 OK\nVia: SIP/2.0/UDP\n  h.example.com\n ;branch=z9hG4bK1\nTo: x\n\n", "h.example.com"},
		{"SIP/2.0 200 OK\nTo: x\n\nVia: SIP/2.0/UDP 192.0.2.1\n", ""},
		{"SIP/2.0 200 OK\nVia: bad\n\n", ""},
	} {
		b := raw(tc.msg)
		before := string(b)
		var v sip.Via
		ok := wireTopVia(b, &v)
		if ok != (tc.host != "") || (ok && string(v.Host) != tc.host) {
			t.Errorf("%q: ok %v host %q", tc.msg, ok, v.Host)
		}
		if string(b) != before {
			t.Errorf("%q modified", tc.msg)
		}
	}
}

func TestResponseDest(t *testing.T) {
	rt := ReplyTo{Remote: mustAddr(t, TCP, "192.0.2.1:40000")}
	for _, tc := range []struct{ via, want string }{
		{"SIP/2.0/TCP 192.0.2.1:5060;rport=40000;received=192.0.2.1", "tcp/192.0.2.1:5060"},
		{"SIP/2.0/TCP 192.0.2.7;received=192.0.2.1", "tcp/192.0.2.1:5060"},
		{"SIP/2.0/TLS 192.0.2.7", "tls/192.0.2.7:5061"},
		{"SIP/2.0/TLS host.example.com:5081", "tls/192.0.2.1:5081"},
		// RFC 3581 §4 uses rport only with "received"; without it (a Via
		// nobody stamped), RFC 3261 §18.2.2's sent-by port.
		{"SIP/2.0/UDP 192.0.2.7:5070;rport=6000", "udp/192.0.2.7:5070"},
		{"SIP/2.0/UDP 192.0.2.7:5070;rport=6000;received=192.0.2.1", "udp/192.0.2.1:6000"},
	} {
		var v sip.Via
		if err := v.Parse([]byte(tc.via)); err != nil {
			t.Fatal(err)
		}
		got, err := responseDest(rt, &v, true)
		if err != nil || got.String() != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.via, got, err, tc.want)
		}
	}
	var v sip.Via
	v.Parse([]byte("SIP/2.0/SCTP 192.0.2.7"))
	if _, err := responseDest(rt, &v, true); err != ErrBadMessage {
		t.Errorf("SCTP: %v", err)
	}
	if _, err := responseDest(ReplyTo{}, &v, false); err != ErrNoRoute {
		t.Errorf("nothing known: %v", err)
	}
}

// A listener on the unspecified address writes the address the system
// routes the destination from, and accepts responses to it.
func TestSendRequestUnspecifiedListener(t *testing.T) {
	server, _ := serve(t, Config{}, 200)
	dst := must[Addr](t)(server.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")))
	cli := newRecorder()
	client := newLayer(t, Config{}, cli)
	src := must[Addr](t)(client.ListenUDP(netip.MustParseAddrPort("0.0.0.0:0")))
	wire, _, err := client.SendRequest(dst, []byte("z9hG4bKany"), request("OPTIONS", "sip:bob@127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if via := fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKany;rport\r\n", src.Port()); !strings.Contains(string(wire), via) {
		t.Errorf("wire lacks %q:\n%s", via, wire)
	}
	if g := cli.next(t); g.status != 200 {
		t.Errorf("got %+v", g)
	}
}

// RFC 3261 §18.1.1 moves to TCP only a request "larger than 1300 bytes":
// one of exactly 1300 bytes, Via included, stays on UDP, one byte more
// does not (no TCP listener here, so it fails with ErrNoListener).
func TestSendRequestMTUBoundary(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	server := newLayer(t, Config{}, nil)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))
	client := newLayer(t, Config{}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	via := len("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmtu;rport\r\n")
	pad := MTUThreshold - len(request("MESSAGE", "sip:bob@192.0.2.2", "Subject: ")) - via
	req := request("MESSAGE", "sip:bob@192.0.2.2", "Subject: "+strings.Repeat("x", pad))
	wire, used, err := client.SendRequest(dst, []byte("z9hG4bKmtu"), req)
	if err != nil || used != dst || len(wire) != MTUThreshold {
		t.Fatalf("%d-byte request: used %v, err %v", len(wire), used, err)
	}
	req = request("MESSAGE", "sip:bob@192.0.2.2", "Subject: "+strings.Repeat("x", pad+1))
	if _, used, err = client.SendRequest(dst, []byte("z9hG4bKmtu"), req); used.Proto != TCP || err != ErrNoListener {
		t.Fatalf("1301-byte request: used %v, err %v", used, err)
	}
}
