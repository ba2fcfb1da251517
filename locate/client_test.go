package locate

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dnsmsg"
	"github.com/sipxfer/sipxfer/transport"
)

func TestClientLookups(t *testing.T) {
	s := startDNS(t, zoneAnswer(t))
	c := &Client{Server: s.addr}
	ctx := context.Background()

	n, err := c.LookupNAPTR(ctx, "Example.Test")
	if err != nil || len(n) != 1 || n[0].Services != "SIP+D2U" || n[0].Replacement != "_sip._udp.example.test." || n[0].TTL != 120 {
		t.Fatalf("NAPTR %+v %v", n, err)
	}
	r, err := c.LookupSRV(ctx, "_sip._udp.example.test.")
	if err != nil || len(r) != 2 || r[0].Port != 5070 || r[0].TTL != 60 {
		t.Fatalf("SRV %+v %v", r, err)
	}
	// RFC 2782: glue from the additional section goes with its target.
	if len(r[0].Addrs) != 1 || r[0].Addrs[0].Addr != netip.MustParseAddr("127.0.0.10") || len(r[1].Addrs) != 0 {
		t.Fatalf("SRV glue %+v", r)
	}
	a, err := c.LookupAddr(ctx, "b.example.test")
	if err != nil || len(a) != 2 || a[0].Addr.String() != "127.0.0.11" || a[1].Addr.String() != "::11" || a[0].TTL != 30 {
		t.Fatalf("addresses %+v %v", a, err)
	}
	// A CNAME chain in the answer is followed.
	a, err = c.LookupAddr(ctx, "alias.example.test")
	if err != nil || len(a) != 1 || a[0].Addr.String() != "127.0.0.11" {
		t.Fatalf("CNAME %+v %v", a, err)
	}
	want := []string{"udp NAPTR Example.Test.", "udp SRV _sip._udp.example.test.",
		"udp A b.example.test.", "udp AAAA b.example.test.", "udp A alias.example.test.", "udp AAAA alias.example.test."}
	if got := s.seen(); !reflect.DeepEqual(got, want) {
		t.Fatalf("queries %q\nwant %q", got, want)
	}
}

func TestClientNegativeAnswers(t *testing.T) {
	s := startDNS(t, zoneAnswer(t))
	c := &Client{Server: s.addr}
	ctx := context.Background()

	_, err := c.LookupNAPTR(ctx, "nowhere.test")
	errorIs(t, err, ErrNXDomain)
	var de *DNSError
	// RFC 2308 §5: the lesser of the SOA's TTL (20) and MINIMUM (3600).
	if !errors.As(err, &de) || !de.SOA || de.NegativeTTL != 20*time.Second || de.RCode != dnsmsg.RCodeNameError ||
		de.Server != s.addr.String() || de.Name != "nowhere.test." {
		t.Fatalf("%+v", de)
	}
	// An address lookup of a missing name stops after the A query.
	_, err = c.LookupAddr(ctx, "nowhere.test")
	errorIs(t, err, ErrNXDomain)

	_, err = c.LookupSRV(ctx, "example.test")
	errorIs(t, err, ErrNoData)
	if !errors.As(err, &de) || !de.SOA || de.NegativeTTL != 15*time.Second {
		t.Fatalf("%+v", de)
	}
	if got := s.seen(); len(got) != 3 {
		t.Fatalf("queries %q", got)
	}
}

func TestClientServerFailure(t *testing.T) {
	s := startDNS(t, func(q *dnsmsg.Message, tcp bool) [][]byte {
		if dnsmsg.EqualNames(q.Questions[0].Name, "refused.test") {
			return [][]byte{reply(t, q, dnsmsg.RCodeRefused, nil, nil, nil)}
		}
		return [][]byte{reply(t, q, dnsmsg.RCodeServerFailure, nil, nil, nil)}
	})
	_, err := (&Client{Server: s.addr}).LookupSRV(context.Background(), "example.test")
	errorIs(t, err, ErrServFail)
	var de *DNSError
	if !errors.As(err, &de) || de.RCode != dnsmsg.RCodeServerFailure || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("%v", err)
	}
	// Another RCODE is a server failure too, told apart by RCode.
	_, err = (&Client{Server: s.addr}).LookupSRV(context.Background(), "refused.test")
	if !errors.As(err, &de) || de.RCode != dnsmsg.RCodeRefused {
		t.Fatalf("%v", err)
	}
}

// RFC 1035 §4.2.1, RFC 7766 §5: TC set over UDP, ask again over TCP.
func TestClientTruncatedRetriesOverTCP(t *testing.T) {
	s := startDNS(t, func(q *dnsmsg.Message, tcp bool) [][]byte {
		if !tcp {
			b := reply(t, q, dnsmsg.RCodeSuccess, nil, nil, nil)
			b[2] |= 0x02 // TC
			return [][]byte{b}
		}
		var an []dnsmsg.RR
		for i := range 40 {
			an = append(an, rrSRV(q.Questions[0].Name, 60, uint16(i), 0, uint16(6000+i), "a-long-target-name.example.test."))
		}
		return [][]byte{reply(t, q, dnsmsg.RCodeSuccess, an, nil, nil)}
	})
	r, err := (&Client{Server: s.addr}).LookupSRV(context.Background(), "_sip._udp.example.test")
	if err != nil || len(r) != 40 || r[39].Port != 6039 {
		t.Fatalf("%d records, %v", len(r), err)
	}
	if got := s.seen(); !reflect.DeepEqual(got, []string{"udp SRV _sip._udp.example.test.", "tcp SRV _sip._udp.example.test."}) {
		t.Fatalf("queries %q", got)
	}
}

// Datagrams that do not answer the query (another ID, another question,
// not a response) are ignored; the right one that follows is taken.
func TestClientIgnoresMismatchedAnswers(t *testing.T) {
	s := startDNS(t, func(q *dnsmsg.Message, tcp bool) [][]byte {
		good := reply(t, q, dnsmsg.RCodeSuccess, []dnsmsg.RR{rrA(q.Questions[0].Name, "127.0.0.7", 5)}, nil, nil)
		wrongID := reply(t, q, dnsmsg.RCodeSuccess, []dnsmsg.RR{rrA(q.Questions[0].Name, "127.0.0.66", 5)}, nil, nil)
		wrongID[1]++
		other := *q
		other.Questions = []dnsmsg.Question{{Name: "evil.test.", Type: q.Questions[0].Type, Class: dnsmsg.ClassINET}}
		wrongQ := reply(t, &other, dnsmsg.RCodeSuccess, []dnsmsg.RR{rrA("evil.test.", "127.0.0.66", 5)}, nil, nil)
		notResponse := append([]byte(nil), good...)
		notResponse[2] &^= 0x80
		return [][]byte{wrongID, wrongQ, notResponse, []byte{0}, good}
	})
	a, err := (&Client{Server: s.addr}).LookupAddr(context.Background(), "host.test")
	if err != nil || len(a) != 1 || a[0].Addr.String() != "127.0.0.7" {
		t.Fatalf("%+v %v", a, err)
	}
}

func TestClientMalformedAnswer(t *testing.T) {
	s := startDNS(t, func(q *dnsmsg.Message, tcp bool) [][]byte {
		b := reply(t, q, dnsmsg.RCodeSuccess, []dnsmsg.RR{rrA(q.Questions[0].Name, "127.0.0.7", 5)}, nil, nil)
		return [][]byte{b[:len(b)-1]} // its ID, cut short
	})
	_, err := (&Client{Server: s.addr}).LookupNAPTR(context.Background(), "host.test")
	errorIs(t, err, ErrBadAnswer, dnsmsg.ErrMalformed)
}

// A silent server: the query is sent twice (once again at half time),
// then the lookup fails with ErrTimeout within its Timeout.
func TestClientTimeout(t *testing.T) {
	s := startDNS(t, func(*dnsmsg.Message, bool) [][]byte { return nil })
	c := &Client{Server: s.addr, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := c.LookupSRV(context.Background(), "_sip._udp.example.test")
	elapsed := time.Since(start)
	errorIs(t, err, ErrTimeout)
	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("took %v", elapsed)
	}
	if got := s.seen(); len(got) != 2 {
		t.Fatalf("queries %q, want the query and one retransmission", got)
	}
	// The caller's context bounds it too, and a cancelled one ends it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = (&Client{Server: s.addr}).LookupSRV(ctx, "_sip._udp.example.test")
	errorIs(t, err, ErrTimeout)
}

func TestClientUnreachable(t *testing.T) {
	// A UDP port nothing listens on: the ICMP error ends the lookup.
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	start := time.Now()
	_, err = (&Client{Server: addr, Timeout: 5 * time.Second}).LookupNAPTR(context.Background(), "example.test")
	errorIs(t, err, ErrNetwork)
	if time.Since(start) > 4*time.Second {
		t.Fatal("waited for the timeout")
	}
}

// The Cache in front of a Client: no query while the TTL runs, one after,
// timed by the fake clock; a negative answer for its SOA's time.
func TestClientCacheExpiry(t *testing.T) {
	s := startDNS(t, zoneAnswer(t))
	clock := newClock()
	c := NewCache(&Client{Server: s.addr}, clock, CacheConfig{})
	ctx := context.Background()
	lookup := func() {
		t.Helper()
		if _, err := c.LookupAddr(ctx, "b.example.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.LookupNAPTR(ctx, "nowhere.test"); !errors.Is(err, ErrNXDomain) {
			t.Fatal(err)
		}
	}
	lookup()
	lookup()
	if n := len(s.seen()); n != 3 { // A, AAAA, NAPTR
		t.Fatalf("%d queries, want 3: %q", n, s.seen())
	}
	clock.Advance(20 * time.Second) // the negative TTL
	lookup()
	if n := len(s.seen()); n != 4 {
		t.Fatalf("%d queries after 20 s, want 4: %q", n, s.seen())
	}
	clock.Advance(10 * time.Second) // the addresses' TTL
	lookup()
	if n := len(s.seen()); n != 6 {
		t.Fatalf("%d queries after 30 s, want 6: %q", n, s.seen())
	}
}

// The whole of RFC 3263 over real DNS messages, and a second call for the
// same domain answered from the cache.
func TestLocatorOverClient(t *testing.T) {
	s := startDNS(t, zoneAnswer(t))
	l := &Locator{Resolver: NewCache(&Client{Server: s.addr}, newClock(), CacheConfig{}), Rand: firstRand}
	var u = parseURI(t, "sip:bob@example.test")
	got, err := l.Targets(context.Background(), u)
	want := "udp 127.0.0.10:5070 a.example.test\nudp 127.0.0.11:5071 b.example.test\nudp [::11]:5071 b.example.test\n"
	if err != nil || show(got) != want {
		t.Fatalf("%q %v", show(got), err)
	}
	n := len(s.seen())
	if _, err := l.Targets(context.Background(), u); err != nil || len(s.seen()) != n {
		t.Fatalf("second call asked %q (%v)", s.seen()[n:], err)
	}
	if got[0].Addr != (transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("127.0.0.10:5070")}) {
		t.Fatal(got[0].Addr)
	}
}

func TestResolvConfServer(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for text, want := range map[string]string{
		"# comment\nsearch test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n": "192.0.2.53:53",
		"nameserver bogus\nnameserver ::1\n":                                     "[::1]:53",
		"options ndots:2\n":                                                      "",
	} {
		got, ok := ResolvConfServer(write("r", text))
		if want == "" && ok || want != "" && (!ok || got.String() != want) {
			t.Errorf("%q: %v %v", text, got, ok)
		}
	}
	if _, ok := ResolvConfServer(filepath.Join(dir, "missing")); ok {
		t.Error("missing file")
	}
}
