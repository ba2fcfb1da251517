package register

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/internal/leakcheck"
	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func memAddr(port uint16) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
}

// bench is alice's UA and a scripted registrar on a fake clock.
type bench struct {
	t      *testing.T
	clock  *transport.FakeClock
	ua     *dialog.UA
	reg    *siptest.Peer
	mu     sync.Mutex
	events []Event
}

const contact = "<sip:alice@127.0.0.1:5060>"

func newBench(t *testing.T, cfg dialog.Config) *bench {
	clock := transport.NewFakeClock(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	cfg.Clock, cfg.User, cfg.Logger = clock, "alice", quiet
	ua := dialog.NewUA(cfg)
	if _, err := ua.ListenMem(net, memAddr(5060)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return &bench{t: t, clock: clock, ua: ua, reg: siptest.NewPeer(t, clock, net, memAddr(5070))}
}

func (b *bench) config() Config {
	return Config{
		Registrar: "sip:127.0.0.1:5070", AOR: "sip:alice@example.com",
		Rand: func() float64 { return 0 },
		OnEvent: func(_ *Registration, e Event) {
			b.mu.Lock()
			b.events = append(b.events, e)
			b.mu.Unlock()
		},
	}
}

func (b *bench) lastEvent() Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) == 0 {
		return Event{}
	}
	return b.events[len(b.events)-1]
}

func (b *bench) nEvents() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

// close closes r; an unregistration it sends is answered 200.
func (b *bench) close(r *Registration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Close(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			b.t.Fatalf("Close: %v", err)
		}
		return
	case g := <-b.reg.In():
		if expires(g) != "0" {
			b.t.Fatalf("Close sent Expires %s", expires(g))
		}
		b.reg.Respond(g, 200, "")
	}
	if err := <-done; err != nil {
		b.t.Fatalf("Close: %v", err)
	}
}

func seq(g siptest.Got) uint32 { c, _ := g.Msg.CSeq(); return c.Seq }

func expires(g siptest.Got) string { return string(g.Msg.Get(sip.HeaderExpires)) }

// A registration: Expires asked, the granted 60 s from our Contact's
// parameter, the refresh at 54 s (60 - max(5, 6)) with the same Call-ID
// and the next CSeq; then a grant by the Expires header (120 s: refresh at
// 108 s); Close removes the binding with Expires: 0.
func TestRegisterRefreshUnregister(t *testing.T) {
	b := newBench(t, dialog.Config{})
	r, err := Register(b.ua, b.config())
	if err != nil {
		t.Fatal(err)
	}
	g := b.reg.Expect("REGISTER")
	if expires(g) != "3600" || string(g.Msg.Get(sip.HeaderTo)) != "<sip:alice@example.com>" || g.Msg.RequestURI().String() != "sip:127.0.0.1:5070" {
		t.Fatalf("REGISTER:\n%s", g.Msg.Bytes())
	}
	if string(g.Msg.Get(sip.HeaderContact)) != contact {
		t.Fatalf("Contact %q", g.Msg.Get(sip.HeaderContact))
	}
	callID, first := string(g.Msg.CallID()), seq(g)
	b.reg.Respond(g, 200, "reg", "Contact: <sip:other@192.0.2.9>;expires=3000", "Contact: "+contact+";expires=60", "Expires: 3600")
	if e := b.lastEvent(); e.State != StateRegistered || e.Expires != 60*time.Second || r.State() != StateRegistered {
		t.Fatalf("event %+v, state %v", e, r.State())
	}
	b.clock.Advance(53 * time.Second)
	b.reg.None()
	b.clock.Advance(time.Second)
	g = b.reg.Expect("REGISTER")
	if string(g.Msg.CallID()) != callID || seq(g) != first+1 || expires(g) != "3600" {
		t.Fatalf("refresh Call-ID %s CSeq %d, want %s %d", g.Msg.CallID(), seq(g), callID, first+1)
	}
	b.reg.Respond(g, 200, "reg", "Contact: "+contact, "Expires: 120")
	b.clock.Advance(107 * time.Second)
	b.reg.None()
	b.clock.Advance(time.Second)
	g = b.reg.Expect("REGISTER")
	if seq(g) != first+2 {
		t.Fatalf("second refresh CSeq %d", seq(g))
	}
	b.reg.Respond(g, 200, "reg", "Contact: "+contact+";expires=120")

	done := make(chan error, 1)
	go func() { done <- r.Close(context.Background()) }()
	g = b.reg.Wait()
	if string(g.Msg.MethodName()) != "REGISTER" || expires(g) != "0" || string(g.Msg.CallID()) != callID || seq(g) != first+3 {
		t.Fatalf("unregister:\n%s", g.Msg.Bytes())
	}
	b.reg.Respond(g, 200, "reg")
	if err := <-done; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r.State() != StateUnregistered {
		t.Fatalf("state %v", r.State())
	}
	b.clock.Advance(time.Hour)
	b.reg.None()
	if p := b.clock.Pending(); p != 0 {
		t.Errorf("%d timers left", p)
	}
}

// RFC 3261 §10.2.8: 423 with Min-Expires: the REGISTER goes again at once
// asking that much; a 423 without a larger Min-Expires is a failure.
func TestRegister423(t *testing.T) {
	b := newBench(t, dialog.Config{})
	cfg := b.config()
	cfg.Expires = 30 * time.Second
	r, err := Register(b.ua, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := b.reg.Expect("REGISTER")
	first := seq(g)
	b.reg.Respond(g, 423, "", "Min-Expires: 600")
	g = b.reg.Expect("REGISTER")
	if expires(g) != "600" || seq(g) != first+1 {
		t.Fatalf("after 423: Expires %s CSeq %d", expires(g), seq(g))
	}
	b.reg.Respond(g, 200, "", "Contact: "+contact+";expires=600")
	if r.Expires() != 600*time.Second {
		t.Fatalf("granted %v", r.Expires())
	}
	b.clock.Advance(540 * time.Second)
	g = b.reg.Expect("REGISTER")
	b.reg.Respond(g, 423, "", "Min-Expires: 300") // not above what we asked
	if e := b.lastEvent(); e.State != StateRetrying || e.Code != 423 || !errors.Is(e.Err, ErrBadResponse) {
		t.Fatalf("event %+v", e)
	}
	b.close(r)
}

// RFC 5626 §4.5 back-off: W = min(1800, base * 2^n), the wait 50-100 % of
// W (Rand 0 gives 50 %); base 30 s when nothing is bound, 90 s while the
// last binding holds. A success resets the count.
func TestRegisterBackoff(t *testing.T) {
	b := newBench(t, dialog.Config{})
	r, err := Register(b.ua, b.config())
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for i := 0; i < 7; i++ {
		g := b.reg.Expect("REGISTER")
		b.reg.Respond(g, 503, "")
		e := b.lastEvent()
		if e.State != StateRetrying || e.Code != 503 {
			t.Fatalf("event %+v", e)
		}
		waits = append(waits, e.RetryIn)
		b.clock.Advance(e.RetryIn - time.Second)
		b.reg.None()
		b.clock.Advance(time.Second)
	}
	if got, want := fmt.Sprint(waits), "[30s 1m0s 2m0s 4m0s 8m0s 15m0s 15m0s]"; got != want {
		t.Fatalf("waits %s, want %s", got, want)
	}
	g := b.reg.Expect("REGISTER")
	b.reg.Respond(g, 200, "", "Contact: "+contact+";expires=3600")
	b.clock.Advance(3240 * time.Second)
	g = b.reg.Expect("REGISTER")
	b.reg.Respond(g, 500, "")
	if e := b.lastEvent(); e.RetryIn != 90*time.Second {
		t.Fatalf("retry in %v, want 90 s (base 90 s while bound, first failure)", e.RetryIn)
	}
	// A timeout (no answer at all) counts the same way.
	b.clock.Advance(90 * time.Second)
	b.reg.Expect("REGISTER")
	b.clock.Advance(32 * time.Second) // Timer F
	if e := b.lastEvent(); e.State != StateRetrying || e.Code != 408 || e.RetryIn != 180*time.Second {
		t.Fatalf("after a timeout: %+v", e)
	}
	for len(b.reg.In()) > 0 {
		<-b.reg.In() // retransmissions
	}
	b.close(r)
}

// A registrar that answers nonsense: each is a clear error and a retry
// after the back-off, never a binding.
func TestRegisterNonsense(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra []string
		want  error
	}{
		{"no contact", []string{"Expires: 60"}, ErrNoBinding},
		{"other contact", []string{"Contact: <sip:bob@127.0.0.1:5060>;expires=60"}, ErrNoBinding},
		{"no expires", []string{"Contact: " + contact}, ErrNoExpires},
		// The transaction layer already refuses a 2xx whose Contact does
		// not parse (treated as 502).
		{"garbage contact", []string{"Contact: <sip:alice@127.0.0.1:5060;expires=60"}, transaction.ErrBadResponse},
		{"garbage expires", []string{"Contact: " + contact + ";expires=soon"}, transaction.ErrBadResponse},
		{"garbage Expires", []string{"Contact: " + contact, "Expires: soon"}, transaction.ErrBadResponse},
		{"zero", []string{"Contact: " + contact + ";expires=0"}, ErrNoBinding},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBench(t, dialog.Config{})
			r, err := Register(b.ua, b.config())
			if err != nil {
				t.Fatal(err)
			}
			b.reg.Respond(b.reg.Expect("REGISTER"), 200, "", c.extra...)
			if e := b.lastEvent(); e.State != StateRetrying || !errors.Is(e.Err, c.want) || e.RetryIn != 30*time.Second {
				t.Fatalf("event %+v, want retrying with %v", e, c.want)
			}
			if r.State() != StateRetrying {
				t.Fatalf("state %v", r.State())
			}
			b.close(r)
			b.clock.Advance(time.Hour)
			b.reg.None()
		})
	}
}

// 401: the REGISTER goes again with credentials (dialog.Config.Credentials)
// under the same Call-ID with the next CSeq, and the refresh goes on from
// that CSeq. A wrong password stops the registration in StateFailed with
// digest.ErrRejected after exactly one retry.
func TestRegisterDigest(t *testing.T) {
	for _, pw := range []string{"right", "wrong"} {
		t.Run(pw, func(t *testing.T) {
			b := newBench(t, dialog.Config{Credentials: func(ch *digest.Challenge) (digest.Account, bool) {
				return digest.Account{Username: "alice", Password: pw}, true
			}})
			v := &digest.Verifier{Now: b.clock.Now, Algorithms: []digest.Algorithm{digest.SHA256, digest.MD5}}
			lookup := func(*digest.Credentials) (digest.Account, bool) { return digest.Account{Password: "right"}, true }
			challenge := func(g siptest.Got) {
				lines := strings.TrimSuffix(string(v.AppendChallenges(nil, sip.HeaderWWWAuthenticate, "example.com", nil, false)), "\r\n")
				b.reg.Respond(g, 401, "", strings.Split(lines, "\r\n")...)
			}
			r, err := Register(b.ua, b.config())
			if err != nil {
				t.Fatal(err)
			}
			g := b.reg.Expect("REGISTER")
			callID, first := string(g.Msg.CallID()), seq(g)
			challenge(g)
			g = b.reg.Expect("REGISTER")
			if string(g.Msg.CallID()) != callID || seq(g) != first+1 || !g.Msg.Has(sip.HeaderAuthorization) {
				t.Fatalf("retry:\n%s", g.Msg.Bytes())
			}
			if _, err := v.VerifyRequest(g.Msg, false, "example.com", nil, lookup); err != nil {
				if pw == "right" {
					t.Fatalf("credentials: %v", err)
				}
				challenge(g)
				if e := b.lastEvent(); e.State != StateFailed || !errors.Is(e.Err, digest.ErrRejected) || e.Code != 401 || !strings.Contains(e.Err.Error(), "example.com") {
					t.Fatalf("event %+v", e)
				}
				b.clock.Advance(time.Hour)
				b.reg.None() // exactly one retry, and no more
				b.close(r)
				return
			}
			b.reg.Respond(g, 200, "", "Contact: "+contact+";expires=60")
			b.clock.Advance(54 * time.Second)
			g = b.reg.Expect("REGISTER")
			if seq(g) != first+2 {
				t.Fatalf("refresh CSeq %d, want %d", seq(g), first+2)
			}
			b.reg.Respond(g, 200, "", "Contact: "+contact+";expires=60")
			b.close(r)
		})
	}
}

// RFC 3608: the Service-Route of the 2xx is the preloaded route of later
// requests outside dialogs, but not of REGISTER; Path is kept.
func TestRegisterServiceRoute(t *testing.T) {
	b := newBench(t, dialog.Config{})
	r, err := Register(b.ua, b.config())
	if err != nil {
		t.Fatal(err)
	}
	b.reg.Respond(b.reg.Expect("REGISTER"), 200, "", "Contact: "+contact+";expires=60",
		"Service-Route: <sip:orig@127.0.0.1:5070;lr>, <sip:scscf@192.0.2.7;lr>", "Path: <sip:edge@192.0.2.1;lr>")
	if p := r.Path(); len(p) != 1 || p[0] != "<sip:edge@192.0.2.1;lr>" {
		t.Fatalf("Path %q", p)
	}
	in, err := b.ua.NewInitial("MESSAGE", "sip:bob@192.0.2.50", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.Send(nil); err != nil {
		t.Fatal(err)
	}
	g := b.reg.Expect("MESSAGE") // to the first Service-Route hop
	var routes []string
	for it := g.Msg.Values(sip.HeaderRoute); ; {
		v, ok := it.Next()
		if !ok {
			break
		}
		routes = append(routes, string(v))
	}
	if got := strings.Join(routes, ", "); got != "<sip:orig@127.0.0.1:5070;lr>, <sip:scscf@192.0.2.7;lr>" || g.Msg.RequestURI().String() != "sip:bob@192.0.2.50" {
		t.Fatalf("MESSAGE %s Route %s", g.Msg.RequestURI(), got)
	}
	b.reg.Respond(g, 200, "")
	b.clock.Advance(54 * time.Second)
	g = b.reg.Expect("REGISTER")
	if g.Msg.Has(sip.HeaderRoute) {
		t.Errorf("REGISTER carries Route %q", g.Msg.Get(sip.HeaderRoute))
	}
	b.reg.Respond(g, 200, "", "Contact: "+contact+";expires=60")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Close(ctx) }()
	b.reg.Respond(b.reg.Wait(), 200, "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
