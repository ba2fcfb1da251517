package transport

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// RFC 3261 §18.1.1: a request over 1300 bytes bound for UDP goes over TCP,
// its top Via saying TCP; if the connection is refused (or reset), the
// element SHOULD retry over UDP. A peer with only a UDP listener still gets
// the large request, with a UDP Via.
func TestLargeRequestRetriesUDPWhenTCPRefused(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	srv := newRecorder()
	server := newLayer(t, Config{}, srv)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060"))) // no TCP
	client := newLayer(t, Config{}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	must[Addr](t)(client.ListenMem(n, mustAddr(t, TCP, "192.0.2.1:5060")))

	large := request("MESSAGE", "sip:bob@192.0.2.2", "Subject: "+strings.Repeat("x", MTUThreshold))
	wire, used, err := client.SendRequest(dst, []byte("z9hG4bKfallback"), large)
	if err != nil || used != dst {
		t.Fatalf("used %v, err %v; want %v", used, err, dst)
	}
	if via := "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfallback;rport\r\n"; !bytes.Contains(wire, []byte(via)) {
		t.Errorf("wire lacks %q:\n%.200s", via, wire)
	}
	g := srv.next(t)
	if g.remote.Proto != UDP || !strings.HasPrefix(g.topVia, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfallback") {
		t.Errorf("server got %+v", g)
	}

	// With a TCP listener there, TCP it is, the Via saying so.
	must[Addr](t)(server.ListenMem(n, mustAddr(t, TCP, "192.0.2.2:5060")))
	wire, used, err = client.SendRequest(dst, []byte("z9hG4bKtcp"), large)
	if err != nil || used != (Addr{Proto: TCP, AddrPort: dst.AddrPort}) {
		t.Fatalf("used %v, err %v; want TCP", used, err)
	}
	if via := "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKtcp;rport\r\n"; !bytes.Contains(wire, []byte(via)) {
		t.Errorf("wire lacks %q:\n%.200s", via, wire)
	}
	if g := srv.next(t); g.remote.Proto != TCP || !strings.HasPrefix(g.topVia, "SIP/2.0/TCP ") {
		t.Errorf("server got %+v", g)
	}
}
