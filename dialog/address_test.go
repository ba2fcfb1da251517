package dialog

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// addressesOf returns the top Via, From and Contact of the first INVITE bob
// receives from a UA configured with cfg and listening on UDP 0.0.0.0.
func addressesOf(t *testing.T, cfg Config) (via, from, contact string) {
	t.Helper()
	got := make(chan [3]string, 1)
	bob := NewUA(Config{User: "bob", Logger: quiet, OnInvite: func(c *Call, req *sip.Message) {
		v, _ := req.TopVia()
		got <- [3]string{string(v.Host) + ":" + strconv.Itoa(v.Port), string(req.Get(sip.HeaderFrom)), string(req.Get(sip.HeaderContact))}
		c.Reject(486, "")
	}})
	defer bob.Close()
	b, err := bob.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Logger = "alice", quiet
	alice := NewUA(cfg)
	defer alice.Close()
	if _, err := alice.ListenUDP(netip.MustParseAddrPort("0.0.0.0:0")); err != nil {
		t.Fatal(err)
	}
	c, err := alice.Dial("sip:bob@"+b.AddrPort.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r [3]string
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no INVITE")
	}
	<-c.Done()
	return r[0], r[1], r[2]
}

// A UA listening on 0.0.0.0 names itself, in Via, From and Contact, by the
// address it uses towards the peer, never 0.0.0.0 (RFC 3261 §18.1.1, §8.1.1.8:
// the Contact must be reachable).
func TestAddressesOnUnspecifiedListener(t *testing.T) {
	via, from, contact := addressesOf(t, Config{})
	for name, v := range map[string]string{"Via": via, "From": from, "Contact": contact} {
		if strings.Contains(v, "0.0.0.0") || !strings.Contains(v, "127.0.0.1") {
			t.Errorf("%s %q, want 127.0.0.1", name, v)
		}
	}
}

// transport.Config.Host and Port (the advertised address behind a NAT)
// go in Via, From and Contact alike.
func TestAdvertisedAddress(t *testing.T) {
	via, from, contact := addressesOf(t, Config{Transport: transport.Config{Host: "pbx.example.test", Port: 5999}})
	if via != "pbx.example.test:5999" {
		t.Errorf("Via sent-by %q, want pbx.example.test:5999", via)
	}
	if !strings.Contains(from, "@pbx.example.test:5999>") || !strings.Contains(contact, "<sip:alice@pbx.example.test:5999>") {
		t.Errorf("From %q, Contact %q, want both at pbx.example.test:5999", from, contact)
	}
}
