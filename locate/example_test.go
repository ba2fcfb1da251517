package locate_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/sipxfer/sipxfer/dnsmsg"
	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
)

// zone is a Resolver holding a few records in memory: a stand-in for DNS.
type zone struct{}

func (zone) LookupNAPTR(_ context.Context, name string) ([]locate.NAPTR, error) {
	if name == "example.test" {
		return []locate.NAPTR{
			{NAPTR: dnsmsg.NAPTR{Order: 10, Preference: 10, Flags: "s", Services: "SIP+D2T", Replacement: "_sip._tcp.example.test."}, TTL: 300},
			{NAPTR: dnsmsg.NAPTR{Order: 10, Preference: 20, Flags: "s", Services: "SIP+D2U", Replacement: "_sip._udp.example.test."}, TTL: 300},
		}, nil
	}
	return nil, locate.ErrNXDomain
}

func (zone) LookupSRV(_ context.Context, name string) ([]locate.SRV, error) {
	switch name {
	case "_sip._tcp.example.test.":
		return []locate.SRV{{SRV: dnsmsg.SRV{Priority: 1, Port: 5070, Target: "pbx.example.test."}, TTL: 300}}, nil
	case "_sip._udp.example.test.":
		return []locate.SRV{
			{SRV: dnsmsg.SRV{Priority: 2, Port: 5060, Target: "backup.example.test."}, TTL: 300},
			{SRV: dnsmsg.SRV{Priority: 1, Port: 5060, Target: "pbx.example.test."}, TTL: 300},
		}, nil
	}
	return nil, locate.ErrNXDomain
}

func (zone) LookupAddr(_ context.Context, host string) ([]locate.IP, error) {
	switch host {
	case "pbx.example.test":
		return []locate.IP{{Addr: netip.MustParseAddr("192.0.2.10"), TTL: 300}}, nil
	case "backup.example.test":
		return []locate.IP{{Addr: netip.MustParseAddr("192.0.2.20"), TTL: 300}}, nil
	}
	return nil, locate.ErrNXDomain
}

func Example() {
	l := &locate.Locator{Resolver: zone{}}
	var u sip.URI
	if err := u.Parse([]byte("sip:bob@example.test")); err != nil {
		panic(err)
	}
	targets, err := l.Targets(context.Background(), &u)
	if err != nil {
		panic(err)
	}
	// Try them in order; move on after a transport error, a timeout or a
	// 503 (RFC 3263 §4.3).
	for _, t := range targets {
		fmt.Println(t.Addr, t.Host)
	}

	// An IP address needs no DNS at all.
	if err := u.Parse([]byte("sips:bob@[2001:db8::1]")); err != nil {
		panic(err)
	}
	t, _, _ := l.Numeric(&u)
	fmt.Println(t.Addr)

	// A domain without records.
	u.Parse([]byte("sip:bob@nowhere.test"))
	_, err = l.Targets(context.Background(), &u)
	fmt.Println(errors.Is(err, locate.ErrNoTargets), errors.Is(err, locate.ErrNXDomain))
	// Output:
	// tcp/192.0.2.10:5070 pbx.example.test
	// udp/192.0.2.10:5060 pbx.example.test
	// udp/192.0.2.20:5060 backup.example.test
	// tls/[2001:db8::1]:5061
	// true true
}
