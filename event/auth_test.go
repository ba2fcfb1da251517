package event

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// wireLog records "METHOD[ A]" for every request written, A when it
// carries Authorization.
type wireLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *wireLog) TraceMessage(t *transport.Trace) {
	var m sip.Message
	if !t.Sent || sip.Parse(&m, append([]byte(nil), t.Msg...)) != nil || !m.IsRequest() || m.Method() == sip.MethodAck {
		return
	}
	s := string(m.MethodName())
	if m.Has(sip.HeaderAuthorization) {
		s += " A"
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, s)
	l.mu.Unlock()
}

func (l *wireLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.reqs, ", ")
	l.reqs = nil
	return s
}

// authNode is a node that answers challenges as user and challenges the
// requests of methods it receives (users alice and bob, realm "event").
func (w *world) authNode(name string, port uint16, log *wireLog, methods ...string) *node {
	pw := map[string]string{"alice": "a-secret", "bob": "b-secret"}
	return w.node(name, port, dialog.Config{
		Transport: transport.Config{Tracer: log},
		Credentials: func(ch *digest.Challenge) (digest.Account, bool) {
			return digest.Account{Username: name, Password: pw[name]}, ch.Realm == "event"
		},
		Authenticate: &dialog.Authenticator{
			Verifier: &digest.Verifier{Now: w.clock.Now}, Realm: "event", Methods: methods,
			Lookup: func(c *digest.Credentials) (digest.Account, bool) {
				p, ok := pw[c.Username]
				return digest.Account{Password: p}, ok
			},
		},
	})
}

// Every SUBSCRIBE (initial, refresh, unsubscribe) and every NOTIFY is
// challenged and sent once more with credentials (RFC 3261 §22.2); the
// subscription runs as it would unchallenged, and nothing is left.
func TestAuthSubscribeNotify(t *testing.T) {
	before := runtime.NumGoroutine()
	w := newWorld(t)
	wire := &wireLog{}
	alice := w.authNode("alice", 5060, wire, "NOTIFY")
	bob := w.authNode("bob", 5070, wire, "SUBSCRIBE")
	nlog := &notifierLog{}
	if err := alice.m.Register(Package{Name: "test", DefaultExpires: 600 * time.Second, Accept: []string{"text/plain"}}); err != nil {
		t.Fatal(err)
	}
	if err := bob.m.Register(testPackage(nlog)); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	s, err := alice.m.Subscribe(bob.uri(), rec.options("test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	if got, want := wire.take(), "SUBSCRIBE, SUBSCRIBE A, NOTIFY, NOTIFY A"; got != want {
		t.Fatalf("initial: %s, want %s", got, want)
	}
	w.clock.Advance(568 * time.Second) // the refresh (see TestSubscribeNotifyRefresh)
	if got, want := wire.take(), "SUBSCRIBE, SUBSCRIBE A, NOTIFY, NOTIFY A"; got != want {
		t.Fatalf("refresh: %s, want %s", got, want)
	}
	if want := w.clock.Now().Add(600 * time.Second); !s.Expires().Equal(want) {
		t.Errorf("refresh did not extend: %v, want %v", s.Expires(), want)
	}
	if err := s.Unsubscribe(bg()); err != nil {
		t.Fatal(err)
	}
	mustTerminate(t, s, ErrUnsubscribed)
	if got, want := wire.take(), "SUBSCRIBE, SUBSCRIBE A, NOTIFY, NOTIFY A"; got != want {
		t.Fatalf("unsubscribe: %s, want %s", got, want)
	}
	if got := rec.bodies(); !slices.Equal(got, []string{"active:s0", "active:s0", "terminated:s0"}) {
		t.Errorf("notifications %q", got)
	}
	noLeaks(t, w, before, alice, bob)
}
