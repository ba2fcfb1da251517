package event

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

var epoch = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

// world is an in-memory network on a fake clock.
type world struct {
	t     testing.TB
	clock *transport.FakeClock
	net   *transport.Network
}

func newWorld(t testing.TB) *world {
	clock := transport.NewFakeClock(epoch)
	return &world{t: t, clock: clock, net: transport.NewNetwork(clock, 1)}
}

func memAddr(port uint16) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
}

// node is a UA with its event Manager.
type node struct {
	ua *dialog.UA
	m  *Manager
}

// node starts a UA called name on 127.0.0.1:port with a Manager.
func (w *world) node(name string, port uint16, cfg dialog.Config) *node {
	w.t.Helper()
	return w.nodeWith(name, port, cfg, Config{})
}

// nodeWith is node with a Manager configuration.
func (w *world) nodeWith(name string, port uint16, cfg dialog.Config, ecfg Config) *node {
	w.t.Helper()
	cfg.Clock = w.clock
	cfg.User = name
	ua := dialog.NewUA(cfg)
	if _, err := ua.ListenMem(w.net, memAddr(port)); err != nil {
		w.t.Fatal(err)
	}
	m := New(ua, ecfg)
	w.t.Cleanup(func() { m.Close(); ua.Close() })
	return &node{ua: ua, m: m}
}

func (n *node) uri() string {
	return "sip:" + n.ua.Addrs()[0].AddrPort.String()
}

// settle runs every timer for d of fake time.
func (w *world) settle(d time.Duration) { w.clock.Advance(d) }

// recorder collects what a subscriber's callbacks report.
type recorder struct {
	mu     sync.Mutex
	notes  []*Notification
	subs   []*Subscription
	terms  []*Termination
	tsubs  []*Subscription
	forks  []*Subscription
	keep   bool // OnFork's answer
	resubs []*Subscription
}

func (r *recorder) options(pkg string) *SubscribeOptions {
	return &SubscribeOptions{
		Package: pkg,
		OnNotify: func(s *Subscription, n *Notification) {
			r.mu.Lock()
			n.Msg = nil // valid only during the call
			r.notes = append(r.notes, n)
			r.subs = append(r.subs, s)
			r.mu.Unlock()
		},
		OnTerminated: func(s *Subscription, t *Termination) {
			r.mu.Lock()
			r.terms = append(r.terms, t)
			r.tsubs = append(r.tsubs, s)
			r.mu.Unlock()
		},
		OnFork: func(f *Subscription) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.forks = append(r.forks, f)
			return r.keep
		},
		OnResubscribe: func(_, s *Subscription) {
			r.mu.Lock()
			r.resubs = append(r.resubs, s)
			r.mu.Unlock()
		},
	}
}

func (r *recorder) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notes {
		out = append(out, n.State.String()+":"+string(n.Body))
	}
	return out
}

func (r *recorder) lastNote() *Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notes) == 0 {
		return nil
	}
	return r.notes[len(r.notes)-1]
}

// notifierLog collects the notifier-side subscriptions a package creates.
type notifierLog struct {
	mu    sync.Mutex
	ns    []*Notifier
	ended []error
}

func (l *notifierLog) last() *Notifier {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ns) == 0 {
		return nil
	}
	return l.ns[len(l.ns)-1]
}

// testPackage is an event package "test" whose notifier accepts every
// SUBSCRIBE as active with body "s0".
func testPackage(l *notifierLog) Package {
	return Package{
		Name:           "test",
		DefaultExpires: 600 * time.Second,
		Accept:         []string{"text/plain"},
		OnSubscribe: func(n *Notifier, r *SubscribeRequest) Answer {
			if r.Refresh {
				return Answer{} // keep the state
			}
			l.mu.Lock()
			l.ns = append(l.ns, n)
			l.mu.Unlock()
			return Answer{ContentType: "text/plain", Body: []byte("s0")}
		},
		OnTerminated: func(n *Notifier, err error) {
			l.mu.Lock()
			l.ended = append(l.ended, err)
			l.mu.Unlock()
		},
	}
}

func bg() context.Context { return context.Background() }

// peer is a scripted SIP element (siptest.Peer) with the requests of
// these tests.
type peer struct {
	*siptest.Peer
	t testing.TB
}

// peer starts a peer on 127.0.0.1:port of the world's network.
func (w *world) peer(port uint16) *peer {
	w.t.Helper()
	return &peer{Peer: siptest.NewPeer(w.t, w.clock, w.net, memAddr(port)), t: w.t}
}

// request is a request from the peer to the UA at dst: From carries
// fromTag, To toTag (none if empty); Contact names the peer; body, if not
// empty, is text/plain.
func (p *peer) request(dst transport.Addr, method, callID, fromTag, toTag string, seq int, body string, extra ...string) string {
	to := fmt.Sprintf("<sip:ua@%s>", dst.AddrPort)
	if toTag != "" {
		to += ";tag=" + toTag
	}
	s := fmt.Sprintf("%s sip:ua@%s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@%s>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:peer@%s>\r\n",
		method, dst.AddrPort, p.Addr.AddrPort, fromTag, to, callID, seq, method, p.Addr.AddrPort)
	for _, h := range extra {
		s += h + "\r\n"
	}
	if body != "" {
		return s + fmt.Sprintf("Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	return s + "Content-Length: 0\r\n\r\n"
}

// notifyFor is a NOTIFY from the peer (as notifier, tag fromTag) for the
// SUBSCRIBE sub, with Subscription-State state.
func (p *peer) notifyFor(sub *sip.Message, fromTag string, seq int, event, state, body string) string {
	dst := sub.Get(sip.HeaderContact)
	var na sip.NameAddr
	if err := na.Parse(dst); err != nil {
		p.t.Fatal(err)
	}
	var u sip.URI
	u.Parse(na.URI.Raw)
	s := fmt.Sprintf("NOTIFY %s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: %s;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d NOTIFY\r\nContact: <sip:peer@%s>\r\nEvent: %s\r\nSubscription-State: %s\r\n",
		na.URI.Raw, withoutTag(sub.Get(sip.HeaderTo)), fromTag, sub.Get(sip.HeaderFrom), sub.CallID(), seq, p.Addr.AddrPort, event, state)
	if body != "" {
		return s + fmt.Sprintf("Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	return s + "Content-Length: 0\r\n\r\n"
}

// withoutTag strips a ;tag= parameter (the peer's To never has one here).
func withoutTag(v []byte) string {
	s := string(v)
	if i := strings.Index(s, ";tag="); i >= 0 {
		return s[:i]
	}
	return s
}

// uaAddr is the in-memory address of a node's UA.
func (n *node) addr() transport.Addr { return n.ua.Addrs()[0] }

// mustTerminate asserts that s has ended with an error matching want.
func mustTerminate(t testing.TB, s *Subscription, want error) *Termination {
	t.Helper()
	select {
	case <-s.Done():
	default:
		t.Fatalf("subscription still %v, want terminated", s.State())
	}
	if want != nil && !errorsIs(s.Err(), want) {
		t.Fatalf("subscription ended with %v, want %v", s.Err(), want)
	}
	return s.Termination()
}

// noLeaks checks, after everything has settled, that no transaction, timer
// or subscription is left and that no goroutine outlived the test.
func noLeaks(t *testing.T, w *world, before int, nodes ...*node) {
	t.Helper()
	w.settle(time.Minute)
	for _, n := range nodes {
		if a, b := n.m.Subscriptions(); a+b != 0 {
			t.Errorf("%d subscriber and %d notifier subscriptions left", a, b)
		}
		if n.ua.Dialogs() != 0 {
			t.Errorf("%d dialogs left", n.ua.Dialogs())
		}
		if c, s := n.ua.Transactions().Transactions(); c+s != 0 {
			t.Errorf("%d client and %d server transactions left", c, s)
		}
	}
	if p := w.clock.Pending(); p != 0 {
		t.Errorf("%d timers pending", p)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines, %d before", g, before)
	}
}
