package dialog

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dnsmsg"
	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// fakeDNS is a locate.Resolver answering from maps, recording each
// question; unknown names do not exist.
type fakeDNS struct {
	mu    sync.Mutex
	srv   map[string][]locate.SRV
	addr  map[string][]locate.IP
	asked []string
}

func newFakeDNS() *fakeDNS {
	return &fakeDNS{srv: map[string][]locate.SRV{}, addr: map[string][]locate.IP{}}
}

func (f *fakeDNS) note(q string) {
	f.mu.Lock()
	f.asked = append(f.asked, q)
	f.mu.Unlock()
}

func (f *fakeDNS) questions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

func nx(name string, t dnsmsg.Type) error {
	return &locate.DNSError{Name: name, Type: t, Err: locate.ErrNXDomain, RCode: dnsmsg.RCodeNameError}
}

func (f *fakeDNS) LookupNAPTR(_ context.Context, name string) ([]locate.NAPTR, error) {
	f.note("NAPTR " + name)
	return nil, nx(name, dnsmsg.TypeNAPTR)
}

func (f *fakeDNS) LookupSRV(_ context.Context, name string) ([]locate.SRV, error) {
	f.note("SRV " + name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.srv[strings.TrimSuffix(name, ".")]; ok {
		return v, nil
	}
	return nil, nx(name, dnsmsg.TypeSRV)
}

func (f *fakeDNS) LookupAddr(_ context.Context, host string) ([]locate.IP, error) {
	f.note("ADDR " + host)
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.addr[strings.TrimSuffix(host, ".")]; ok {
		return v, nil
	}
	return nil, nx(host, dnsmsg.TypeA)
}

func srvRR(prio, weight, port uint16, target string) locate.SRV {
	return locate.SRV{SRV: dnsmsg.SRV{Priority: prio, Weight: weight, Port: port, Target: target}, TTL: 300}
}

func loopback() []locate.IP {
	return []locate.IP{{Addr: netip.MustParseAddr("127.0.0.1"), TTL: 300}}
}

// lastRand picks the largest number: of two SRV records of one priority,
// the heavier is tried first.
func lastRand(n uint32) uint32 { return n - 1 }

// locating returns a Config whose Locator asks f through a cache on the
// world's clock.
func (w *world) locating(f *fakeDNS) Config {
	return Config{Locator: &locate.Locator{Resolver: locate.NewCache(f, w.clock, locate.CacheConfig{}), Rand: lastRand}}
}

// answer answers an INVITE with 200 and the given Contact.
func answer(t *testing.T, p *peer, g siptest.Got, tag, contact string) {
	t.Helper()
	b := sip.AppendResponse(nil, g.Msg, 200, "", tag)
	b = append(b, "Contact: "+contact+"\r\n"...)
	b = sip.AppendNoBody(b)
	if err := p.Layer.SendResponse(g.Reply, b); err != nil {
		t.Fatal(err)
	}
}

// dialResult records the one outcome OnAnswer reports.
type dialResult struct {
	mu    sync.Mutex
	calls int
	err   error
	done  chan struct{}
}

func (r *dialResult) opts() *CallOptions {
	r.done = make(chan struct{})
	return &CallOptions{OnAnswer: func(_ *Call, err error) {
		r.mu.Lock()
		r.calls++
		r.err = err
		r.mu.Unlock()
		close(r.done)
	}}
}

func (r *dialResult) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("no outcome within 5 s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls != 1 {
		t.Fatalf("OnAnswer called %d times, want 1", r.calls)
	}
	return r.err
}

// A call to sip:bob@example.test goes where SRV says: the lower priority
// first, and within a priority the record the weighted draw picks (RFC
// 2782, RFC 3263 §4.4); the others hear nothing.
func TestLocateSRVOrder(t *testing.T) {
	w := newWorld(t)
	f := newFakeDNS()
	f.srv["_sip._udp.example.test"] = []locate.SRV{
		srvRR(20, 0, 5091, "c.example.test."),
		srvRR(10, 1, 5081, "a.example.test."),
		srvRR(10, 99, 5082, "b.example.test."),
	}
	for _, h := range []string{"a", "b", "c"} {
		f.addr[h+".example.test"] = loopback()
	}
	alice := w.ua("alice", 5060, w.locating(f))
	a, b, c := w.peer(5081), w.peer(5082), w.peer(5091)
	var res dialResult
	call, err := alice.Dial("sip:bob@example.test", res.opts())
	if err != nil {
		t.Fatal(err)
	}
	inv := b.Wait()
	if got := inv.Msg.RequestURI().String(); got != "sip:bob@example.test" {
		t.Errorf("Request-URI %s, want the target", got)
	}
	b.Respond(inv, 200, "b")
	b.Wait() // the ACK, from the 2xx's reader or the UA's goroutine
	if err := res.wait(t); err != nil {
		t.Fatal(err)
	}
	if call.State() != CallEstablished {
		t.Fatalf("call %v", call.State())
	}
	a.None()
	c.None()
}

// RFC 3263 §4.3: a request the first target does not take (no listener,
// a timeout, a 503) goes to the next, as a new transaction (new branch),
// the same Call-ID and CSeq; the application hears one outcome.
func TestLocateFailover(t *testing.T) {
	for _, tc := range []string{"no listener", "timeout", "503"} {
		t.Run(tc, func(t *testing.T) {
			w := newWorld(t)
			f := newFakeDNS()
			proto, label := transport.UDP, "_sip._udp"
			if tc == "no listener" {
				proto, label = transport.TCP, "_sip._tcp"
			}
			f.srv[label+".example.test"] = []locate.SRV{srvRR(10, 0, 5081, "a.example.test."), srvRR(20, 0, 5082, "b.example.test.")}
			f.addr["a.example.test"] = loopback()
			f.addr["b.example.test"] = loopback()
			cfg := w.locating(f)
			cfg.Clock, cfg.User, cfg.Logger = w.clock, "alice", quiet
			alice := NewUA(cfg)
			t.Cleanup(func() { alice.Close() })
			la := memAddr(5060)
			la.Proto = proto
			if _, err := alice.ListenMem(w.net, la); err != nil {
				t.Fatal(err)
			}
			second := transport.Addr{Proto: proto, AddrPort: memAddr(5082).AddrPort}
			b := &peer{siptest.NewPeer(t, w.clock, w.net, second)}
			var first *peer
			if tc != "no listener" {
				first = w.peer(5081)
			}
			var res dialResult
			if _, err := alice.Dial("sip:bob@example.test", res.opts()); err != nil {
				t.Fatal(err)
			}
			var branch1 string
			if first != nil {
				inv := first.Wait()
				v, _ := inv.Msg.TopVia()
				branch1 = string(v.Branch)
				if tc == "503" {
					first.Respond(inv, 503, "")
					// The INVITE transaction ACKs the 503 (§17.1.1.3), maybe
					// from the goroutine that sent the INVITE.
					if ack := first.Wait(); ack.Msg.Method() != sip.MethodAck {
						t.Fatalf("got %s, want the ACK", siptest.FirstLine(ack.Msg))
					}
				} else {
					// No answer at all: Timer B (64*T1) ends the attempt. The
					// INVITE left from the goroutine that located the
					// target, which arms the timers once the send returns.
					for deadline := time.Now().Add(5 * time.Second); w.clock.Pending() == 0 && time.Now().Before(deadline); {
						runtime.Gosched()
					}
					for len(b.In()) == 0 && w.clock.Pending() > 0 {
						w.clock.Advance(time.Second)
					}
				}
			}
			inv := b.Wait()
			v, _ := inv.Msg.TopVia()
			if branch1 != "" && string(v.Branch) == branch1 {
				t.Errorf("the second attempt reuses branch %s", branch1)
			}
			contact := "<sip:peer@127.0.0.1:5082>"
			if proto == transport.TCP {
				contact = "<sip:peer@127.0.0.1:5082;transport=tcp>"
			}
			answer(t, b, inv, "b", contact)
			b.Wait() // ACK
			if err := res.wait(t); err != nil {
				t.Fatalf("outcome %v, want the call set up at the second target", err)
			}
		})
	}
}

// A domain located once is not asked of DNS again while its records live
// (the Locator's cache); an IP address is never asked at all.
func TestLocateCachedDomain(t *testing.T) {
	w := newWorld(t)
	f := newFakeDNS()
	f.srv["_sip._udp.example.test"] = []locate.SRV{srvRR(10, 0, 5081, "a.example.test.")}
	f.addr["a.example.test"] = loopback()
	alice := w.ua("alice", 5060, w.locating(f))
	bob := w.peer(5081)
	for i := range 2 {
		var res dialResult
		if _, err := alice.Dial("sip:bob@example.test", res.opts()); err != nil {
			t.Fatal(err)
		}
		inv := bob.Wait()
		bob.Respond(inv, 486, fmt.Sprint("t", i))
		bob.Wait() // the ACK
		res.wait(t)
		if i == 0 {
			n := len(f.questions())
			if n == 0 {
				t.Fatal("no DNS question for the first call")
			}
			defer func() {
				if got := f.questions(); len(got) != n {
					t.Errorf("DNS asked %v, the second call added %d questions", got, len(got)-n)
				}
			}()
		}
	}
	before := len(f.questions())
	var res dialResult
	if _, err := alice.Dial("sip:bob@127.0.0.1:5081", res.opts()); err != nil {
		t.Fatal(err)
	}
	bob.Respond(bob.Expect("INVITE"), 486, "t3")
	bob.Expect("ACK")
	res.wait(t)
	if got := f.questions(); len(got) != before {
		t.Errorf("an IP address URI asked DNS %v", got[before:])
	}
}

// RFC 3261 §13.2.2.4: the UAC MUST ACK each 2xx, also one whose Contact
// names a host: the ACK goes where that name resolves, and only then is
// the call established.
func TestACKToHostNameContact(t *testing.T) {
	w := newWorld(t)
	f := newFakeDNS()
	f.addr["peer.example.test"] = loopback()
	alice := w.ua("alice", 5060, w.locating(f))
	bob := w.peer(5080)
	var res dialResult
	c, err := alice.Dial("sip:bob@127.0.0.1:5080", res.opts())
	if err != nil {
		t.Fatal(err)
	}
	inv := bob.Expect("INVITE")
	answer(t, bob, inv, "b", "<sip:peer@peer.example.test:5080>")
	ack := bob.Wait()
	if !ack.Msg.IsRequest() || ack.Msg.Method() != sip.MethodAck {
		t.Fatalf("got %s, want the ACK", siptest.FirstLine(ack.Msg))
	}
	if got := ack.Msg.RequestURI().String(); got != "sip:peer@peer.example.test:5080" {
		t.Errorf("ACK Request-URI %s, want the Contact", got)
	}
	if err := res.wait(t); err != nil {
		t.Fatal(err)
	}
	if c.State() != CallEstablished {
		t.Fatalf("call %v", c.State())
	}
	// The BYE goes there too, located already: no new question.
	n := len(f.questions())
	done := make(chan error, 1)
	go func() { done <- c.Bye(bg()) }()
	bye := bob.Wait()
	if bye.Msg.Method() != sip.MethodBye || bye.Msg.RequestURI().String() != "sip:peer@peer.example.test:5080" {
		t.Fatalf("got %s, want the BYE to the Contact", siptest.FirstLine(bye.Msg))
	}
	bob.Respond(bye, 200, "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.questions(); len(got) != n {
		t.Errorf("the BYE asked DNS %v", got[n:])
	}
}

// The callee's requests go to a caller's Contact that names a host: the
// UA locates it (from the moment the dialog exists) and its BYE arrives.
func TestByeToHostNameContact(t *testing.T) {
	w := newWorld(t)
	f := newFakeDNS()
	f.addr["peer.example.test"] = loopback()
	calls := make(chan *Call, 1)
	cfg := w.locating(f)
	cfg.OnInvite = func(c *Call, req *sip.Message) { calls <- c; autoAnswer(c, req) }
	w.ua("bob", 5070, cfg)
	alice := w.peer(5080)
	inv := alice.invite(memAddr(5070), "hn-1", "a1", 1)
	inv = strings.Replace(inv, "Contact: <sip:peer@127.0.0.1:5080>", "Contact: <sip:peer@peer.example.test:5080>", 1)
	alice.Send(memAddr(5070), inv)
	c := <-calls
	alice.ExpectStatus(180)
	ok := alice.ExpectStatus(200)
	alice.Send(memAddr(5070), alice.inDialog(memAddr(5070), "ACK", "hn-1", "a1", string(ok.Msg.ToTag()), 1))
	if err := c.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Bye(bg()) }()
	bye := alice.Wait()
	if bye.Msg.Method() != sip.MethodBye || bye.Msg.RequestURI().String() != "sip:peer@peer.example.test:5080" {
		t.Fatalf("got %s, want the BYE to the Contact", siptest.FirstLine(bye.Msg))
	}
	alice.Respond(bye, 200, "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Failover to a target over another transport: the request sent there
// carries a Contact for that transport, where the peer's requests must
// come back (RFC 3261 §8.1.1.8), and the same Call-ID and CSeq.
func TestLocateFailoverOtherTransport(t *testing.T) {
	w := newWorld(t)
	f := newFakeDNS()
	f.srv["_sip._udp.mixed.test"] = []locate.SRV{srvRR(10, 0, 5081, "a.mixed.test.")}
	f.srv["_sip._tcp.mixed.test"] = []locate.SRV{srvRR(10, 0, 5082, "b.mixed.test.")}
	f.addr["a.mixed.test"] = loopback()
	f.addr["b.mixed.test"] = loopback()
	alice := w.ua("alice", 5060, w.locating(f))
	tcp := memAddr(5060)
	tcp.Proto = transport.TCP
	if _, err := alice.ListenMem(w.net, tcp); err != nil {
		t.Fatal(err)
	}
	second := memAddr(5082)
	second.Proto = transport.TCP
	b := &peer{siptest.NewPeer(t, w.clock, w.net, second)}
	var res dialResult
	if _, err := alice.Dial("sip:bob@mixed.test", res.opts()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); w.clock.Pending() == 0 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	for len(b.In()) == 0 && w.clock.Pending() > 0 {
		w.clock.Advance(time.Second) // Timer B for the UDP target, which is silent
	}
	inv := b.Wait()
	if got := string(inv.Msg.Get(sip.HeaderContact)); got != "<sip:alice@127.0.0.1:5060;transport=tcp>" {
		t.Errorf("Contact %q over TCP, want the TCP listener", got)
	}
	answer(t, b, inv, "b", "<sip:peer@127.0.0.1:5082;transport=tcp>")
	b.Wait() // ACK
	if err := res.wait(t); err != nil {
		t.Fatal(err)
	}
}
