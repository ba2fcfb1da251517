package transport

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// An IPv6 zone (fe80::1%eth0) is local to the host: RFC 3261 §25 has no
// syntax for it, so the sent-by the Layer writes never carries one.
func TestViaSentByWithoutZone(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	srv := newRecorder()
	server := newLayer(t, Config{}, srv)
	dst := must[Addr](t)(server.ListenMem(n, Addr{Proto: UDP, AddrPort: netip.MustParseAddrPort("[fe80::2%eth0]:5060")}))
	client := newLayer(t, Config{}, nil)
	must[Addr](t)(client.ListenMem(n, Addr{Proto: UDP, AddrPort: netip.MustParseAddrPort("[fe80::1%eth0]:5060")}))
	wire, _, err := client.SendRequest(dst, []byte("z9hG4bKzone"), request("OPTIONS", "sip:bob@[fe80::2]"))
	if err != nil {
		t.Fatal(err)
	}
	if via := []byte("Via: SIP/2.0/UDP [fe80::1]:5060;branch=z9hG4bKzone;rport\r\n"); !bytes.Contains(wire, via) {
		t.Errorf("wire lacks %q:\n%s", via, wire)
	}
	if g := srv.next(t); bytes.Contains([]byte(g.topVia), []byte("%")) {
		t.Errorf("server saw Via %q", g.topVia)
	}
}
