package dialog

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// An IPv6 zone (fe80::1%eth0) is local to the host and RFC 3261 §25 has
// no syntax for it: the Contact (and URI) the UA writes must not carry it.
func TestContactWithoutIPv6Zone(t *testing.T) {
	w := newWorld(t)
	ua := NewUA(Config{Clock: w.clock, User: "bob", Logger: quiet})
	t.Cleanup(func() { ua.Close() })
	if _, err := ua.ListenMem(w.net, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("[fe80::1%eth0]:5070")}); err != nil {
		t.Fatal(err)
	}
	c, err := ua.contact(transport.Addr{Proto: transport.UDP}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c != "<sip:bob@[fe80::1]:5070>" {
		t.Errorf("Contact %q, want <sip:bob@[fe80::1]:5070>", c)
	}
	u, err := ua.URI(transport.UDP)
	if err != nil {
		t.Fatal(err)
	}
	var uri sip.URI
	if err := uri.Parse([]byte(u)); err != nil || strings.Contains(u, "%") {
		t.Errorf("URI %q: %v", u, err)
	}
}
