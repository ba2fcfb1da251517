package locate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

func newClock() *transport.FakeClock { return transport.NewFakeClock(time.Unix(1_000_000, 0)) }

func TestCacheHonoursLeastTTL(t *testing.T) {
	f := newFake()
	f.srv["_sip._udp.example.test"] = []SRV{srv(1, 0, 5060, "a.example.test.", "192.0.2.1"), srv(2, 0, 5060, "b.example.test.")}
	f.srv["_sip._udp.example.test"][1].TTL = 100
	f.srv["_sip._udp.example.test"][0].Addrs[0].TTL = 40 // the least TTL, in the glue
	clock := newClock()
	c := NewCache(f, clock, CacheConfig{})
	ctx := context.Background()
	for range 3 {
		if _, err := c.LookupSRV(ctx, "_SIP._udp.Example.Test."); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.questions()); n != 1 {
		t.Fatalf("%d questions within the TTL, want 1", n)
	}
	clock.Advance(39 * time.Second)
	c.LookupSRV(ctx, "_sip._udp.example.test")
	if n := len(f.questions()); n != 1 {
		t.Fatalf("%d questions at 39 s, want 1", n)
	}
	clock.Advance(time.Second)
	c.LookupSRV(ctx, "_sip._udp.example.test")
	if n := len(f.questions()); n != 2 {
		t.Fatalf("%d questions at 40 s, want 2", n)
	}
}

func TestCacheNegative(t *testing.T) {
	f := newFake()
	f.errs["ADDR soa.test"] = &DNSError{Name: "soa.test.", Err: ErrNoData, SOA: true, NegativeTTL: 10 * time.Second}
	f.errs["ADDR long.test"] = &DNSError{Name: "long.test.", Err: ErrNXDomain, SOA: true, NegativeTTL: 24 * time.Hour}
	clock := newClock()
	c := NewCache(f, clock, CacheConfig{})
	ctx := context.Background()
	count := func(name string) int {
		n := 0
		for _, q := range f.questions() {
			if q == "ADDR "+name {
				n++
			}
		}
		return n
	}
	ask := func(name string) {
		t.Helper()
		if _, err := c.LookupAddr(ctx, name); !IsNotFound(err) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"nowhere.test", "soa.test", "long.test"} {
		ask(name)
		ask(name)
		if count(name) != 1 {
			t.Fatalf("%s asked %d times", name, count(name))
		}
	}
	// RFC 2308 §5: the SOA's negative TTL (10 s) ...
	clock.Advance(10 * time.Second)
	ask("soa.test")
	if count("soa.test") != 2 {
		t.Fatal("negative answer with SOA kept past its TTL")
	}
	// ... else DefaultNegativeTTL (30 s); and never past the cap (5 min).
	clock.Advance(20*time.Second - time.Nanosecond)
	ask("nowhere.test")
	if count("nowhere.test") != 1 {
		t.Fatal("negative answer without SOA dropped early")
	}
	clock.Advance(time.Nanosecond)
	ask("nowhere.test")
	if count("nowhere.test") != 2 {
		t.Fatal("negative answer without SOA kept past 30 s")
	}
	clock.Advance(DefaultMaxNegativeTTL)
	ask("long.test")
	if count("long.test") != 2 {
		t.Fatal("negative TTL not capped")
	}
}

func TestCacheKeepsNoFailureAndNoZeroTTL(t *testing.T) {
	f := newFake()
	f.errs["NAPTR fail.test"] = &DNSError{Err: ErrServFail}
	f.addr["zero.test"] = []IP{{TTL: 0}}
	c := NewCache(f, newClock(), CacheConfig{})
	ctx := context.Background()
	for range 2 {
		if _, err := c.LookupNAPTR(ctx, "fail.test"); !errors.Is(err, ErrServFail) {
			t.Fatal(err)
		}
		c.LookupAddr(ctx, "zero.test")
	}
	if q := f.questions(); len(q) != 4 {
		t.Fatalf("asked %q", q)
	}
	if c.Len() != 0 {
		t.Fatalf("%d entries kept", c.Len())
	}
}

func TestCacheEmptyAnswerIsNoData(t *testing.T) {
	f := newFake()
	f.naptr["empty.test"] = []NAPTR{}
	c := NewCache(f, newClock(), CacheConfig{})
	if _, err := c.LookupNAPTR(context.Background(), "empty.test"); !errors.Is(err, ErrNoData) {
		t.Fatal(err)
	}
}

func TestCacheBounded(t *testing.T) {
	f := newFake()
	clock := newClock()
	c := NewCache(f, clock, CacheConfig{MaxEntries: 3})
	ctx := context.Background()
	for i := range 10 {
		name := fmt.Sprintf("h%d.test", i)
		f.addr[name] = []IP{{TTL: uint32(100 + i)}}
		c.LookupAddr(ctx, name)
		if c.Len() > 3 {
			t.Fatalf("%d entries", c.Len())
		}
	}
	// The entries closest to expiry went first: the last three stay.
	before := len(f.questions())
	for _, name := range []string{"h7.test", "h8.test", "h9.test"} {
		c.LookupAddr(ctx, name)
	}
	if len(f.questions()) != before {
		t.Fatal("recent entries were evicted")
	}
	// Expired entries make room before live ones are evicted.
	clock.Advance(200 * time.Second)
	f.addr["new.test"] = []IP{{TTL: 5}}
	c.LookupAddr(ctx, "new.test")
	if c.Len() != 1 {
		t.Fatalf("%d entries after expiry", c.Len())
	}
}

// A Locator over a Cache asks nothing for a domain it resolved before.
func TestLocatorCachedDomainAsksNothing(t *testing.T) {
	f := exampleZone()
	clock := newClock()
	l := &Locator{Resolver: NewCache(f, clock, CacheConfig{}), Rand: firstRand}
	ctx := context.Background()
	first, err := l.Targets(ctx, parseURI(t, "sip:bob@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(f.questions())
	second, err := l.Targets(ctx, parseURI(t, "sip:alice@EXAMPLE.test"))
	if err != nil || show(second) != show(first) {
		t.Fatalf("%q %v", show(second), err)
	}
	if len(f.questions()) != n {
		t.Fatalf("cached domain asked %q", f.questions()[n:])
	}
	clock.Advance(300 * time.Second)
	l.Targets(ctx, parseURI(t, "sip:bob@example.test"))
	if len(f.questions()) != 2*n {
		t.Fatalf("after the TTL asked %d questions, want %d", len(f.questions())-n, n)
	}
}
