package dialog

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// sentLog records the requests a UA writes, parsed.
type sentLog struct {
	mu   sync.Mutex
	reqs []*sip.Message
}

func (l *sentLog) TraceMessage(t *transport.Trace) {
	var m sip.Message
	if !t.Sent || sip.Parse(&m, append([]byte(nil), t.Msg...)) != nil || !m.IsRequest() {
		return
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, m.Clone())
	l.mu.Unlock()
}

// take returns the requests logged since the last take, in CSeq order
// (stable): the transaction layer ACKs a 401 after its TU has seen it, so
// the retry may be written before that ACK.
func (l *sentLog) take() []*sip.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	slices.SortStableFunc(r, func(a, b *sip.Message) int { return cmp.Compare(seqOf(a), seqOf(b)) })
	return r
}

func seqOf(m *sip.Message) uint32 { c, _ := m.CSeq(); return c.Seq }

func branchOf(m *sip.Message) string {
	v, err := m.TopVia()
	if err != nil {
		return ""
	}
	return string(v.Branch)
}

// describe is "METHOD seq [A][P]" per request: A for Authorization, P for
// Proxy-Authorization.
func describe(reqs []*sip.Message) string {
	var out []string
	for _, m := range reqs {
		s := string(m.MethodName()) + " " + strings.TrimSpace(strings.Fields(string(m.Get(sip.HeaderCSeq)))[0])
		if m.Has(sip.HeaderAuthorization) {
			s += " A"
		}
		if m.Has(sip.HeaderProxyAuthorization) {
			s += " P"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

var accounts = map[string]string{"alice": "wonderland"}

func lookup(c *digest.Credentials) (digest.Account, bool) {
	p, ok := accounts[c.Username]
	return digest.Account{Username: c.Username, Password: p}, ok
}

func creds(user, password string) digest.CredentialsFunc {
	return func(ch *digest.Challenge) (digest.Account, bool) {
		return digest.Account{Username: user, Password: password}, ch.Realm == "biloxi"
	}
}

// authWorld is alice, who has credentials and logs what she sends, and
// bob, who challenges methods (every one if none given).
func authWorld(t *testing.T, password string, proxy bool, bobCfg Config, methods ...string) (*world, *UA, *UA, *sentLog) {
	w := newWorld(t)
	log := &sentLog{}
	alice := w.ua("alice", 5060, Config{Credentials: creds("alice", password), Transport: transport.Config{Tracer: log}})
	bobCfg.Authenticate = &Authenticator{
		Verifier: &digest.Verifier{Now: w.clock.Now, Secret: []byte("test secret")},
		Realm:    "biloxi", Lookup: lookup, Methods: methods, Proxy: proxy,
	}
	bob := w.ua("bob", 5070, bobCfg)
	return w, alice, bob, log
}

// A challenged INVITE is sent again with credentials: same Call-ID, CSeq
// + 1, a new branch; the ACK of the 401 has none, the ACK of the 2xx has
// the INVITE's (RFC 3261 §22.1, §22.2). The BYE is challenged in turn and
// takes the dialog's next CSeq (§12.2.1.1).
func TestAuthInviteAndBye(t *testing.T) {
	var bobCall *Call
	w, alice, _, log := authWorld(t, "wonderland", false, Config{OnInvite: func(c *Call, req *sip.Message) {
		bobCall = c
		autoAnswer(c, req)
	}})
	var progress []int
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", &CallOptions{OnProgress: func(_ *Call, code int, _ string) { progress = append(progress, code) }})
	if err != nil {
		t.Fatal(err)
	}
	reqs := log.take()
	if len(reqs) != 4 {
		t.Fatalf("sent %s, want INVITE, ACK, INVITE A, ACK A", describe(reqs))
	}
	inv1, ack1, inv2, ack2 := reqs[0], reqs[1], reqs[2], reqs[3]
	want := []string{"INVITE", "ACK", "INVITE", "ACK"}
	for i, m := range reqs {
		if string(m.MethodName()) != want[i] {
			t.Fatalf("sent %s, want INVITE, ACK, INVITE A, ACK A", describe(reqs))
		}
	}
	if inv1.Has(sip.HeaderAuthorization) || ack1.Has(sip.HeaderAuthorization) {
		t.Errorf("first INVITE or the ACK of its 401 carries credentials: %s", describe(reqs))
	}
	if !inv2.Has(sip.HeaderAuthorization) || !ack2.Has(sip.HeaderAuthorization) {
		t.Errorf("retried INVITE or the ACK of its 2xx lacks credentials: %s", describe(reqs))
	}
	if string(ack2.Get(sip.HeaderAuthorization)) != string(inv2.Get(sip.HeaderAuthorization)) {
		t.Errorf("ACK credentials %q, want the INVITE's %q", ack2.Get(sip.HeaderAuthorization), inv2.Get(sip.HeaderAuthorization))
	}
	if string(inv1.CallID()) != string(inv2.CallID()) || seqOf(inv2) != seqOf(inv1)+1 || seqOf(ack2) != seqOf(inv2) {
		t.Errorf("CSeq %d then %d (ACK %d), Call-ID %s then %s", seqOf(inv1), seqOf(inv2), seqOf(ack2), inv1.CallID(), inv2.CallID())
	}
	if branchOf(inv1) == branchOf(inv2) || branchOf(ack1) != branchOf(inv1) {
		t.Errorf("branches INVITE %s ACK %s INVITE %s", branchOf(inv1), branchOf(ack1), branchOf(inv2))
	}
	if len(progress) != 1 || progress[0] != 180 {
		t.Errorf("OnProgress saw %v, want [180] (the challenge is not shown)", progress)
	}
	if s, _ := c.Dialog().LocalSeq(); s != seqOf(inv2) {
		t.Errorf("dialog local CSeq %d, want the retried INVITE's %d", s, seqOf(inv2))
	}

	if err := c.Bye(bg()); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	reqs = log.take()
	if got := describe(reqs); got != "BYE "+itoa(seqOf(inv2)+1)+", BYE "+itoa(seqOf(inv2)+2)+" A" {
		t.Fatalf("sent %s, want BYE then BYE A with the next CSeq numbers", got)
	}
	mustEnd(t, bobCall, ErrRemoteBye)
	w.settle(time.Minute)
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// A wrong password: the INVITE is sent twice, no more; the second
// challenge ends the call with an *AuthError that errors.Is finds as
// digest.ErrRejected and that names the status and realm.
func TestAuthWrongPassword(t *testing.T) {
	w, alice, _, log := authWorld(t, "looking-glass", false, Config{OnInvite: autoAnswer})
	_, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if !errors.Is(err, digest.ErrRejected) {
		t.Fatalf("Invite: %v, want digest.ErrRejected", err)
	}
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Code != 401 || ae.Realm != "biloxi" || ae.Method != "INVITE" {
		t.Fatalf("error %#v, want an AuthError for 401 realm biloxi", err)
	}
	if !strings.Contains(err.Error(), "biloxi") {
		t.Errorf("message %q does not name the realm", err)
	}
	if got := describe(log.take()); !strings.HasPrefix(got, "INVITE ") || strings.Count(got, "INVITE") != 2 || strings.Count(got, "ACK") != 2 {
		t.Fatalf("sent %s, want INVITE, ACK, INVITE A, ACK (one retry)", got)
	}
	w.settle(time.Minute)
	if got := describe(log.take()); got != "" {
		t.Errorf("then sent %s, want nothing", got)
	}
}

// No account for the realm: the challenge ends the request with
// digest.ErrNoCredentials, nothing is retried. Without Config.Credentials
// the handler sees the 401 itself, as before.
func TestAuthNoCredentials(t *testing.T) {
	w := newWorld(t)
	log := &sentLog{}
	alice := w.ua("alice", 5060, Config{Transport: transport.Config{Tracer: log},
		Credentials: func(*digest.Challenge) (digest.Account, bool) { return digest.Account{}, false }})
	carol := w.ua("carol", 5062, Config{})
	w.ua("bob", 5070, Config{OnInvite: autoAnswer, Authenticate: &Authenticator{
		Verifier: &digest.Verifier{Now: w.clock.Now}, Realm: "biloxi", Lookup: lookup}})
	_, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if !errors.Is(err, digest.ErrNoCredentials) {
		t.Fatalf("Invite: %v, want digest.ErrNoCredentials", err)
	}
	if got := describe(log.take()); strings.Count(got, "INVITE") != 1 {
		t.Fatalf("sent %s, want one INVITE", got)
	}
	_, err = carol.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("Invite without Credentials: %v, want a StatusError 401", err)
	}
}

// RFC 3261 §9.1: the CANCEL of a challenged call names the INVITE pending,
// the retry: its CSeq number and branch.
func TestAuthCancelAfterChallenge(t *testing.T) {
	var bobCall *Call
	_, alice, _, log := authWorld(t, "wonderland", false, Config{OnInvite: func(c *Call, _ *sip.Message) { bobCall = c; c.Ring() }})
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != CallEarly {
		t.Fatalf("call %v, want early (180 to the retried INVITE)", c.State())
	}
	if err := c.Cancel(); err != nil {
		t.Fatal(err)
	}
	mustEnd(t, c, ErrCancelled)
	mustEnd(t, bobCall, ErrCancelled)
	reqs := log.take()
	var inv, cancel *sip.Message
	for _, m := range reqs {
		switch string(m.MethodName()) {
		case "INVITE":
			inv = m
		case "CANCEL":
			cancel = m
		}
	}
	if inv == nil || cancel == nil || !inv.Has(sip.HeaderAuthorization) {
		t.Fatalf("sent %s, want the retried INVITE and a CANCEL", describe(reqs))
	}
	if seqOf(cancel) != seqOf(inv) || branchOf(cancel) != branchOf(inv) || cancel.RequestURI().String() != inv.RequestURI().String() {
		t.Errorf("CANCEL CSeq %d branch %s, want the retried INVITE's %d %s", seqOf(cancel), branchOf(cancel), seqOf(inv), branchOf(inv))
	}
	if cancel.Has(sip.HeaderAuthorization) {
		t.Error("CANCEL carries credentials (RFC 3261 §22.1: it cannot be resubmitted)")
	}
}

// A re-INVITE challenged 407 (a proxy on the route, RFC 3261 §22.3): sent
// again with Proxy-Authorization and the dialog's next CSeq; its ACK
// carries the same credentials and CSeq. An in-dialog request through
// Dialog.Do is retried the same way, and a later request of the dialog
// follows on from the retry's CSeq.
func TestAuthReInviteAndDo(t *testing.T) {
	_, alice, bob, log := authWorld(t, "wonderland", true, Config{OnInvite: autoAnswer}, "INVITE", "INFO")
	bob.Handle("INFO", HandlerFunc(func(r *Request) {
		if r.AuthUser != "alice" {
			r.Respond(403, "", nil)
			return
		}
		r.Respond(200, "", nil)
	}))
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	log.take()
	start, _ := c.Dialog().LocalSeq()
	if _, err := c.ReInvite(bg(), "application/sdp", []byte(sdp)); err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	reqs := log.take()
	s := func(n uint32) string { return itoa(start + n) }
	if got, want := describe(reqs), "INVITE "+s(1)+", ACK "+s(1)+", INVITE "+s(2)+" P, ACK "+s(2)+" P"; got != want {
		t.Fatalf("sent %s, want %s", got, want)
	}
	if string(reqs[3].Get(sip.HeaderProxyAuthorization)) != string(reqs[2].Get(sip.HeaderProxyAuthorization)) {
		t.Error("ACK credentials differ from the re-INVITE's")
	}
	resp, err := c.Dialog().Do(bg(), "INFO", nil)
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("INFO: %v %v, want 200", resp, err)
	}
	if got, want := describe(log.take()), "INFO "+s(3)+", INFO "+s(4)+" P"; got != want {
		t.Fatalf("sent %s, want %s", got, want)
	}
	if err := c.Bye(bg()); err != nil { // BYE is not challenged here
		t.Fatal(err)
	}
	if got, want := describe(log.take()), "BYE "+s(5); got != want {
		t.Fatalf("sent %s, want %s", got, want)
	}
}

// The server side: malformed credentials get 400, a request that verifies
// reaches its handler with AuthUser set, ACK and CANCEL are never
// challenged (they do not reach the Authenticator).
func TestAuthenticatorMalformed(t *testing.T) {
	w := newWorld(t)
	w.ua("bob", 5070, Config{Authenticate: &Authenticator{
		Verifier: &digest.Verifier{Now: w.clock.Now}, Realm: "biloxi", Lookup: lookup, Methods: []string{"OPTIONS"}}})
	p := w.peer(5080)
	p.Send(memAddr(5070), "OPTIONS sip:bob@127.0.0.1:5070 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:p@127.0.0.1:5080>;tag=1\r\nTo: <sip:bob@127.0.0.1:5070>\r\nCall-ID: m1\r\nCSeq: 1 OPTIONS\r\nAuthorization: Digest realm=\"biloxi\r\nContent-Length: 0\r\n\r\n")
	p.ExpectStatus(400)
	p.Send(memAddr(5070), "OPTIONS sip:bob@127.0.0.1:5070 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:p@127.0.0.1:5080>;tag=1\r\nTo: <sip:bob@127.0.0.1:5070>\r\nCall-ID: m2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	ch := p.ExpectStatus(401)
	if _, err := digest.ParseChallenge(ch.Msg.Get(sip.HeaderWWWAuthenticate)); err != nil {
		t.Fatalf("401 challenge: %v", err)
	}
}

// A server that answers every retry with stale=true (a new nonce, "your
// password was right") would have the client send for ever: the rounds
// are bounded, and the request fails with digest.ErrRejected naming the
// realm.
func TestAuthRoundsBounded(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{Credentials: creds("alice", "wonderland")})
	p := w.peer(5080)
	v := &digest.Verifier{Now: w.clock.Now}
	in, err := alice.NewInitial("OPTIONS", "sip:bob@127.0.0.1:5080", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var final transaction.Response
	if _, err := in.Send(transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, r transaction.Response) {
		if r.Final() {
			final = r
		}
	})); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for len(p.In()) > 0 {
		g := p.Expect("OPTIONS")
		sent++
		ch := strings.TrimSuffix(string(v.AppendChallenges(nil, sip.HeaderWWWAuthenticate, "biloxi", nil, true)), "\r\n")
		p.Respond(g, 401, "", ch)
	}
	if sent != maxAuthRounds+1 {
		t.Errorf("%d OPTIONS sent, want %d", sent, maxAuthRounds+1)
	}
	var ae *AuthError
	if !errors.Is(final.Err, digest.ErrRejected) || !errors.As(final.Err, &ae) || ae.Realm != "biloxi" || ae.Code != 401 {
		t.Fatalf("outcome %+v, want an AuthError for realm biloxi", final)
	}
}

// RFC 3263 §4.3 and RFC 3261 §22.2 together: the first server answers 503,
// so the INVITE fails over to the second, which challenges it; the retry
// with credentials goes to the server that challenged, not back to the
// first target.
func TestAuthAfterFailover(t *testing.T) {
	w := newWorld(t)
	f := newFakeDNS()
	f.srv["_sip._udp.example.test"] = []locate.SRV{srvRR(10, 0, 5081, "a.example.test."), srvRR(20, 0, 5082, "b.example.test.")}
	f.addr["a.example.test"] = loopback()
	f.addr["b.example.test"] = loopback()
	cfg := w.locating(f)
	cfg.Clock, cfg.User, cfg.Logger = w.clock, "alice", quiet
	cfg.Credentials = creds("alice", "wonderland")
	alice := NewUA(cfg)
	t.Cleanup(func() { alice.Close() })
	if _, err := alice.ListenMem(w.net, memAddr(5060)); err != nil {
		t.Fatal(err)
	}
	first := w.peer(5081)
	bobCalls := make(chan *Call, 1)
	w.ua("bob", 5082, Config{
		OnInvite: func(c *Call, req *sip.Message) { bobCalls <- c; autoAnswer(c, req) },
		Authenticate: &Authenticator{
			Verifier: &digest.Verifier{Now: w.clock.Now, Secret: []byte("test secret")},
			Realm:    "biloxi", Lookup: lookup,
		},
	})
	var res dialResult
	if _, err := alice.Dial("sip:bob@example.test", res.opts()); err != nil {
		t.Fatal(err)
	}
	inv := first.Wait()
	first.Respond(inv, 503, "")
	if ack := first.Wait(); ack.Msg.Method() != sip.MethodAck {
		t.Fatalf("got %s, want the ACK of the 503", siptest.FirstLine(ack.Msg))
	}
	if err := res.wait(t); err != nil {
		t.Fatalf("outcome %v, want the call set up with the second server", err)
	}
	if c := <-bobCalls; c.Invite() != nil && len(c.Invite().Get(sip.HeaderAuthorization)) == 0 {
		t.Error("the call Bob took carries no Authorization")
	}
	first.None() // the retry did not go back to the first target
}
