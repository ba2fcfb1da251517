package locate

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dnsmsg"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

func parseURI(t *testing.T, s string) *sip.URI {
	t.Helper()
	var u sip.URI
	if err := u.Parse([]byte(s)); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return &u
}

// show renders targets one a line: "udp 192.0.2.1:5060 host".
func show(ts []Target) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(strings.ToLower(t.Proto.String()) + " " + t.AddrPort.String() + " " + t.Host + "\n")
	}
	return b.String()
}

// firstRand always picks the first candidate: with it, records of one
// priority keep their order, zero weights first.
func firstRand(uint32) uint32 { return 0 }

// exampleZone is a domain with NAPTR records for all three services (and
// some to ignore), SRV records for each, and addresses.
func exampleZone() *fakeResolver {
	f := newFake()
	f.naptr["example.test"] = []NAPTR{
		naptr(20, 10, "s", "SIP+D2T", "_sip._tcp.example.test."),
		naptr(10, 50, "s", "SIP+D2U", "_sip._udp.example.test."),
		naptr(10, 10, "S", "SIPS+D2T", "_sips._tcp.example.test."),
		naptr(5, 10, "s", "SIP+D2S", "_sip._sctp.example.test."), // SCTP: not ours
		naptr(5, 10, "u", "E2U+sip", "."),                        // ENUM: not SIP
		naptr(5, 20, "", "SIP+D2U", "_sip._udp.other.test."),     // no "s" flag
	}
	f.srv["_sip._udp.example.test"] = []SRV{srv(20, 0, 5071, "b.example.test."), srv(10, 0, 5070, "a.example.test.")}
	f.srv["_sip._tcp.example.test"] = []SRV{srv(10, 0, 5072, "a.example.test.")}
	f.srv["_sips._tcp.example.test"] = []SRV{srv(10, 0, 5073, "a.example.test.")}
	f.addr["a.example.test"] = ips("2001:db8::a", "192.0.2.10")
	f.addr["b.example.test"] = ips("192.0.2.11")
	f.addr["example.test"] = ips("192.0.2.1")
	return f
}

func TestTargets(t *testing.T) {
	tcpOnly := func(p transport.Protocol) bool { return p == transport.TCP }
	cases := []struct {
		name      string
		uri       string
		zone      func(*fakeResolver)
		supported func(transport.Protocol) bool
		want      string
		asked     []string
	}{
		// RFC 3263 §4.1/§4.2: a numeric TARGET needs no DNS.
		{name: "ipv4", uri: "sip:bob@192.0.2.1", want: "udp 192.0.2.1:5060 \n"},
		{name: "ipv4 port", uri: "sip:bob@192.0.2.1:5070", want: "udp 192.0.2.1:5070 \n"},
		{name: "ipv4 sips", uri: "sips:bob@192.0.2.1", want: "tls 192.0.2.1:5061 \n"},
		{name: "ipv4 tcp", uri: "sip:192.0.2.1;transport=TCP", want: "tcp 192.0.2.1:5060 \n"},
		{name: "ipv4 sips tcp", uri: "sips:192.0.2.1;transport=tcp", want: "tls 192.0.2.1:5061 \n"},
		{name: "ipv4 tls", uri: "sip:192.0.2.1;transport=tls", want: "tls 192.0.2.1:5061 \n"},
		{name: "ipv6 port", uri: "sip:bob@[::1]:5070", want: "udp [::1]:5070 \n"},
		{name: "ipv6 sips", uri: "sips:[2001:db8::1]", want: "tls [2001:db8::1]:5061 \n"},
		{name: "maddr ip", uri: "sip:bob@example.test;maddr=192.0.2.9", want: "udp 192.0.2.9:5060 \n"},
		{name: "only tcp, ip", uri: "sip:192.0.2.1", supported: tcpOnly, want: "tcp 192.0.2.1:5060 \n"},
		// §4.2: an explicit port means A/AAAA only, transport as given or
		// the default.
		{name: "port", uri: "sip:bob@example.test:5080", want: "udp 192.0.2.1:5080 example.test\n",
			asked: []string{"ADDR example.test"}},
		{name: "port tcp", uri: "sip:bob@example.test:5080;transport=tcp", want: "tcp 192.0.2.1:5080 example.test\n",
			asked: []string{"ADDR example.test"}},
		{name: "port sips", uri: "sips:bob@Example.Test.:5081", want: "tls 192.0.2.1:5081 Example.Test\n",
			asked: []string{"ADDR example.test"}},
		{name: "maddr name", uri: "sip:bob@elsewhere.test:5080;maddr=example.test", want: "udp 192.0.2.1:5080 example.test\n",
			asked: []string{"ADDR example.test"}},
		// §4.2: a transport parameter without a port: SRV for it.
		{name: "transport tcp", uri: "sip:bob@example.test;transport=tcp",
			want:  "tcp 192.0.2.10:5072 a.example.test\ntcp [2001:db8::a]:5072 a.example.test\n",
			asked: []string{"SRV _sip._tcp.example.test", "ADDR a.example.test"}},
		{name: "transport tls", uri: "sip:bob@example.test;transport=tls",
			want:  "tls 192.0.2.10:5073 a.example.test\ntls [2001:db8::a]:5073 a.example.test\n",
			asked: []string{"SRV _sips._tcp.example.test", "ADDR a.example.test"}},
		{name: "sips transport tcp", uri: "sips:bob@example.test;transport=tcp",
			want:  "tls 192.0.2.10:5073 a.example.test\ntls [2001:db8::a]:5073 a.example.test\n",
			asked: []string{"SRV _sips._tcp.example.test", "ADDR a.example.test"}},
		{name: "transport without SRV", uri: "sip:bob@example.test;transport=tcp",
			zone:  func(f *fakeResolver) { delete(f.srv, "_sip._tcp.example.test") },
			want:  "tcp 192.0.2.1:5060 example.test\n",
			asked: []string{"SRV _sip._tcp.example.test", "ADDR example.test"}},
		{name: "tls without SRV", uri: "sips:bob@example.test;transport=tls",
			zone: func(f *fakeResolver) { delete(f.srv, "_sips._tcp.example.test") },
			want: "tls 192.0.2.1:5061 example.test\n"},
		// §4.1: NAPTR, supported services with flag "s", order then
		// preference, each through its SRV records by priority.
		{name: "naptr", uri: "sip:bob@example.test",
			want: "tls 192.0.2.10:5073 a.example.test\ntls [2001:db8::a]:5073 a.example.test\n" +
				"udp 192.0.2.10:5070 a.example.test\nudp [2001:db8::a]:5070 a.example.test\n" +
				"udp 192.0.2.11:5071 b.example.test\n" +
				"tcp 192.0.2.10:5072 a.example.test\ntcp [2001:db8::a]:5072 a.example.test\n",
			asked: []string{"NAPTR example.test", "SRV _sips._tcp.example.test", "ADDR a.example.test",
				"SRV _sip._udp.example.test", "ADDR a.example.test", "ADDR b.example.test",
				"SRV _sip._tcp.example.test", "ADDR a.example.test"}},
		// §4.1: a SIPS URI keeps only SIPS+D2T.
		{name: "naptr sips", uri: "sips:bob@example.test",
			want: "tls 192.0.2.10:5073 a.example.test\ntls [2001:db8::a]:5073 a.example.test\n"},
		// Only the transports the caller has.
		{name: "naptr tcp only", uri: "sip:bob@example.test", supported: tcpOnly,
			want: "tcp 192.0.2.10:5072 a.example.test\ntcp [2001:db8::a]:5072 a.example.test\n"},
		// §4.1: no NAPTR: SRV for _sip._udp, _sip._tcp, _sips._tcp.
		{name: "no naptr", uri: "sip:bob@example.test",
			zone: func(f *fakeResolver) { delete(f.naptr, "example.test") },
			want: "udp 192.0.2.10:5070 a.example.test\nudp [2001:db8::a]:5070 a.example.test\n" +
				"udp 192.0.2.11:5071 b.example.test\n" +
				"tcp 192.0.2.10:5072 a.example.test\ntcp [2001:db8::a]:5072 a.example.test\n" +
				"tls 192.0.2.10:5073 a.example.test\ntls [2001:db8::a]:5073 a.example.test\n"},
		{name: "no naptr sips", uri: "sips:bob@example.test",
			zone:  func(f *fakeResolver) { delete(f.naptr, "example.test") },
			want:  "tls 192.0.2.10:5073 a.example.test\ntls [2001:db8::a]:5073 a.example.test\n",
			asked: []string{"NAPTR example.test", "SRV _sips._tcp.example.test", "ADDR a.example.test"}},
		{name: "no naptr tcp only", uri: "sip:bob@example.test", supported: tcpOnly,
			zone:  func(f *fakeResolver) { delete(f.naptr, "example.test") },
			want:  "tcp 192.0.2.10:5072 a.example.test\ntcp [2001:db8::a]:5072 a.example.test\n",
			asked: []string{"NAPTR example.test", "SRV _sip._tcp.example.test", "ADDR a.example.test"}},
		// NAPTR records none of which we can use count as none.
		{name: "naptr unusable", uri: "sip:bob@example.test",
			zone: func(f *fakeResolver) {
				f.naptr["example.test"] = f.naptr["example.test"][3:]
				f.srv = map[string][]SRV{"_sip._tcp.example.test": {srv(1, 0, 5090, "b.example.test")}}
			},
			want: "tcp 192.0.2.11:5090 b.example.test\n"},
		// §4.2: no NAPTR, no SRV: A/AAAA at the default port, UDP for SIP,
		// TLS for SIPS.
		{name: "a only", uri: "sip:bob@example.test",
			zone: func(f *fakeResolver) { f.naptr, f.srv = nil, nil },
			want: "udp 192.0.2.1:5060 example.test\n",
			asked: []string{"NAPTR example.test", "SRV _sip._udp.example.test", "SRV _sip._tcp.example.test",
				"SRV _sips._tcp.example.test", "ADDR example.test"}},
		{name: "a only sips", uri: "sips:bob@example.test",
			zone: func(f *fakeResolver) { f.naptr, f.srv = nil, nil },
			want: "tls 192.0.2.1:5061 example.test\n"},
		{name: "a only tcp", uri: "sip:bob@example.test", supported: tcpOnly,
			zone: func(f *fakeResolver) { f.naptr, f.srv = nil, nil },
			want: "tcp 192.0.2.1:5060 example.test\n"},
		// RFC 2782: addresses from the additional section are used as they are.
		{name: "srv additional", uri: "sip:bob@example.test;transport=udp",
			zone: func(f *fakeResolver) {
				f.srv["_sip._udp.example.test"] = []SRV{srv(1, 0, 5070, "glue.example.test.", "192.0.2.50", "2001:db8::50")}
			},
			want:  "udp 192.0.2.50:5070 glue.example.test\nudp [2001:db8::50]:5070 glue.example.test\n",
			asked: []string{"SRV _sip._udp.example.test"}},
		// A target without addresses is skipped; the others stay.
		{name: "srv target missing", uri: "sip:bob@example.test;transport=udp",
			zone: func(f *fakeResolver) { delete(f.addr, "a.example.test") },
			want: "udp 192.0.2.11:5071 b.example.test\n"},
		// The same address from two records is listed once.
		{name: "dedup", uri: "sip:bob@example.test;transport=udp",
			zone: func(f *fakeResolver) {
				f.srv["_sip._udp.example.test"] = []SRV{srv(10, 0, 5070, "a.example.test."), srv(20, 0, 5070, "b.example.test.")}
				f.addr["b.example.test"] = ips("192.0.2.10", "192.0.2.11")
			},
			want: "udp 192.0.2.10:5070 a.example.test\nudp [2001:db8::a]:5070 a.example.test\n" +
				"udp 192.0.2.11:5070 b.example.test\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := exampleZone()
			if c.zone != nil {
				c.zone(f)
			}
			l := &Locator{Resolver: f, Supported: c.supported, Rand: firstRand}
			got, err := l.Targets(context.Background(), parseURI(t, c.uri))
			if err != nil {
				t.Fatal(err)
			}
			if s := show(got); s != c.want {
				t.Errorf("targets\n%s\nwant\n%s", s, c.want)
			}
			if q := f.questions(); c.asked != nil && !reflect.DeepEqual(q, c.asked) {
				t.Errorf("asked %q\nwant %q", q, c.asked)
			}
			if q := f.questions(); c.asked == nil && strings.HasPrefix(c.name, "ip") && len(q) > 0 {
				t.Errorf("numeric URI asked %q", q)
			}
			for _, tg := range got {
				if tg.Host != "" && tg.Domain != strings.TrimSuffix(string(parseURI(t, c.uri).Host), ".") &&
					!strings.Contains(c.uri, "maddr") {
					t.Errorf("domain %q for %s", tg.Domain, c.uri)
				}
			}
		})
	}
}

func TestTargetsDomainIsTheURIDomain(t *testing.T) {
	f := exampleZone()
	got, err := (&Locator{Resolver: f, Rand: firstRand}).Targets(context.Background(), parseURI(t, "sips:bob@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 5922 §4: TLS checks the SIP domain, not the SRV target.
	if got[0].Domain != "example.test" || got[0].Host != "a.example.test" {
		t.Fatalf("target %+v", got[0])
	}
	if got[0].Addr != (transport.Addr{Proto: transport.TLS, AddrPort: got[0].AddrPort}) {
		t.Fatal("Addr is not the transport.Addr")
	}
}

func TestTargetsNumericNoDNS(t *testing.T) {
	f := newFake()
	got, err := (&Locator{Resolver: f}).Targets(context.Background(), parseURI(t, "sip:[::1]:5070;transport=tcp"))
	if err != nil || show(got) != "tcp [::1]:5070 \n" || got[0].Domain != "" {
		t.Fatalf("%q %v", show(got), err)
	}
	if q := f.questions(); len(q) != 0 {
		t.Fatalf("asked %q", q)
	}
}

func TestNumericAllocatesNothing(t *testing.T) {
	u := parseURI(t, "sips:bob@[2001:db8::1]:5071;transport=tcp")
	l := &Locator{Resolver: newFake()}
	var got Target
	allocs := testing.AllocsPerRun(100, func() {
		got, _, _ = l.Numeric(u)
	})
	if allocs != 0 {
		t.Fatalf("Numeric allocates %v times", allocs)
	}
	if got.Addr.String() != "tls/[2001:db8::1]:5071" {
		t.Fatalf("got %v", got.Addr)
	}
	if _, ok, err := l.Numeric(parseURI(t, "sip:example.test")); ok || err != nil {
		t.Fatalf("Numeric of a name: %v %v", ok, err)
	}
}

func TestTargetsUnsupported(t *testing.T) {
	udpOnly := func(p transport.Protocol) bool { return p == transport.UDP }
	for _, c := range []struct {
		uri       string
		supported func(transport.Protocol) bool
	}{
		{uri: "tel:+15551234567"},
		{uri: "mailto:bob@example.test"},
		{uri: "sips:bob@example.test;transport=udp"},
		{uri: "sips:bob@192.0.2.1;transport=udp"},
		{uri: "sip:bob@example.test;transport=sctp"},
		{uri: "sip:bob@example.test;transport=tcp", supported: udpOnly},
		{uri: "sips:bob@192.0.2.1", supported: udpOnly},
		{uri: "sips:bob@example.test:5061", supported: udpOnly},
	} {
		f := exampleZone()
		_, err := (&Locator{Resolver: f, Supported: c.supported}).Targets(context.Background(), parseURI(t, c.uri))
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v", c.uri, err)
		}
		if q := f.questions(); len(q) > 0 && !strings.Contains(c.uri, ":5061") {
			t.Errorf("%s asked %q", c.uri, q)
		}
	}
}

func TestTargetsFailures(t *testing.T) {
	servfail := &DNSError{Name: "example.test.", Type: dnsmsg.TypeNAPTR, Err: ErrServFail, RCode: dnsmsg.RCodeServerFailure}
	timeout := &DNSError{Name: "example.test.", Err: ErrTimeout}
	malformed := &DNSError{Name: "example.test.", Err: ErrBadAnswer, Cause: &dnsmsg.Error{Err: dnsmsg.ErrMalformed, Reason: "x"}}
	cases := []struct {
		name  string
		uri   string
		zone  func(*fakeResolver)
		want  []error
		asked []string
	}{
		{name: "nxdomain", uri: "sip:bob@nowhere.test", want: []error{ErrNoTargets, ErrNXDomain},
			asked: []string{"NAPTR nowhere.test", "SRV _sip._udp.nowhere.test", "SRV _sip._tcp.nowhere.test",
				"SRV _sips._tcp.nowhere.test", "ADDR nowhere.test"}},
		{name: "servfail stops", uri: "sip:bob@example.test",
			zone: func(f *fakeResolver) { f.errs["NAPTR example.test"] = servfail },
			want: []error{ErrServFail}, asked: []string{"NAPTR example.test"}},
		{name: "timeout stops", uri: "sip:bob@example.test;transport=tcp",
			zone: func(f *fakeResolver) { f.errs["SRV _sip._tcp.example.test"] = timeout },
			want: []error{ErrTimeout}, asked: []string{"SRV _sip._tcp.example.test"}},
		{name: "malformed stops", uri: "sip:bob@example.test:5060",
			zone: func(f *fakeResolver) { f.errs["ADDR example.test"] = malformed },
			want: []error{ErrBadAnswer, dnsmsg.ErrMalformed}},
		{name: "no data", uri: "sip:bob@example.test:5060",
			zone: func(f *fakeResolver) { f.addr["example.test"] = nil },
			want: []error{ErrNoTargets}},
		// RFC 2782: a lone "." target: the service is not offered, and
		// no A/AAAA fallback is tried.
		{name: "srv dot", uri: "sip:bob@example.test;transport=tcp",
			zone: func(f *fakeResolver) { f.srv["_sip._tcp.example.test"] = []SRV{srv(0, 0, 0, ".")} },
			want: []error{ErrNoTargets}, asked: []string{"SRV _sip._tcp.example.test"}},
		// A failing target is skipped; if it was the only one, its error shows.
		{name: "srv target servfail", uri: "sip:bob@example.test;transport=tcp",
			zone: func(f *fakeResolver) { f.errs["ADDR a.example.test"] = servfail },
			want: []error{ErrNoTargets, ErrServFail}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := exampleZone()
			if c.zone != nil {
				c.zone(f)
			}
			got, err := (&Locator{Resolver: f, Rand: firstRand}).Targets(context.Background(), parseURI(t, c.uri))
			if err == nil {
				t.Fatalf("targets %q, want an error", show(got))
			}
			for _, w := range c.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q is not %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "locate: ") {
				t.Errorf("error text %q", err)
			}
			if q := f.questions(); c.asked != nil && !reflect.DeepEqual(q, c.asked) {
				t.Errorf("asked %q\nwant %q", q, c.asked)
			}
		})
	}
}

func TestTargetsMaxTargets(t *testing.T) {
	f := newFake()
	var records []SRV
	for i := range 50 {
		records = append(records, srv(uint16(i), 0, uint16(6000+i), "a.example.test."))
	}
	f.srv["_sip._udp.example.test"] = records
	f.addr["a.example.test"] = ips("192.0.2.10", "2001:db8::a")
	got, err := (&Locator{Resolver: f, MaxTargets: 5}).Targets(context.Background(), parseURI(t, "sip:example.test;transport=udp"))
	if err != nil || len(got) != 5 || got[4].Port() != 6002 || !got[4].Addr.Addr().Is4() {
		t.Fatalf("%q %v", show(got), err)
	}
	// Once full, no more addresses are looked up.
	if q := f.questions(); len(q) != 1+3 {
		t.Fatalf("asked %d questions: %q", len(q), q)
	}
}

func TestTargetsWeightedOrder(t *testing.T) {
	f := newFake()
	f.srv["_sip._udp.example.test"] = []SRV{
		srv(10, 30, 5003, "c.example.test.", "192.0.2.3"),
		srv(10, 10, 5002, "b.example.test.", "192.0.2.2"),
		srv(5, 0, 5000, "z.example.test.", "192.0.2.9"),
		srv(10, 0, 5001, "a.example.test.", "192.0.2.1"),
	}
	// Priority 5 alone; then in 10: a (weight 0) is put first, sum 40;
	// the draws 11 (passes a:0 and b:10, stops at c:40) then 0.
	draws := []uint32{11, 0}
	var ns []uint32
	rnd := func(n uint32) uint32 { ns = append(ns, n); d := draws[0]; draws = draws[1:]; return d }
	got, err := (&Locator{Resolver: f, Rand: rnd}).Targets(context.Background(), parseURI(t, "sip:example.test;transport=udp"))
	if err != nil {
		t.Fatal(err)
	}
	want := "udp 192.0.2.9:5000 z.example.test\nudp 192.0.2.3:5003 c.example.test\n" +
		"udp 192.0.2.1:5001 a.example.test\nudp 192.0.2.2:5002 b.example.test\n"
	if show(got) != want {
		t.Fatalf("order\n%s\nwant\n%s", show(got), want)
	}
	// RFC 2782: a number between 0 and the sum, inclusive.
	if !reflect.DeepEqual(ns, []uint32{41, 11}) {
		t.Fatalf("rand asked for %v", ns)
	}
}

// blockingResolver answers nothing until the context ends.
type blockingResolver struct{ *fakeResolver }

func (blockingResolver) LookupNAPTR(ctx context.Context, name string) ([]NAPTR, error) {
	<-ctx.Done()
	return nil, &DNSError{Name: name, Type: dnsmsg.TypeNAPTR, Err: ErrTimeout, Cause: ctx.Err()}
}

// Locator.Timeout bounds a whole resolution, whatever the Resolver does.
func TestTargetsTimeout(t *testing.T) {
	l := &Locator{Resolver: blockingResolver{newFake()}, Timeout: 50 * time.Millisecond}
	start := time.Now()
	_, err := l.Targets(context.Background(), parseURI(t, "sip:bob@example.test"))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}
