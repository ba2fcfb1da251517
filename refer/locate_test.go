package refer

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/dnsmsg"
	"github.com/sipxfer/sipxfer/locate"
)

// hostsDNS is a locate.Resolver with A records only, like /etc/hosts.
type hostsDNS map[string]string

func (h hostsDNS) LookupNAPTR(_ context.Context, name string) ([]locate.NAPTR, error) {
	return nil, &locate.DNSError{Name: name, Type: dnsmsg.TypeNAPTR, Err: locate.ErrNXDomain}
}

func (h hostsDNS) LookupSRV(_ context.Context, name string) ([]locate.SRV, error) {
	return nil, &locate.DNSError{Name: name, Type: dnsmsg.TypeSRV, Err: locate.ErrNXDomain}
}

func (h hostsDNS) LookupAddr(_ context.Context, host string) ([]locate.IP, error) {
	if a, ok := h[strings.TrimSuffix(host, ".")]; ok {
		return []locate.IP{{Addr: netip.MustParseAddr(a), TTL: 60}}, nil
	}
	return nil, &locate.DNSError{Name: host, Type: dnsmsg.TypeA, Err: locate.ErrNXDomain}
}

// A Refer-To naming a host: the transferee locates it (RFC 3263) and
// calls the target; the referrer hears 200 (it used to hear 503).
func TestReferToHostName(t *testing.T) {
	s := newStage(t)
	s.locator = &locate.Locator{Resolver: hostsDNS{"carol.example.test": "127.0.0.1"}}
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	ac, _ := s.call(alice, bob)
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<sip:carol@carol.example.test:5080>"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Wait(bg())
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 200 {
		t.Fatalf("transfer result %+v, want the target's 200", res)
	}
	c := <-carol.calls
	if got := c.Dialog().LocalURI(); got != "<sip:carol@carol.example.test:5080>" {
		t.Errorf("Carol's call is to %s", got)
	}
}
