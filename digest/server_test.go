package digest

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// clock is a settable Verifier.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type serverFixture struct {
	v     *Verifier
	clk   *clock
	users map[string]Account
}

func newServer(v *Verifier) *serverFixture {
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if v.Secret == nil {
		v.Secret = []byte("k")
	}
	v.Now = clk.now
	return &serverFixture{v: v, clk: clk, users: map[string]Account{"bob": {Username: "bob", Password: "zanzibar"}}}
}

func (s *serverFixture) lookup(c *Credentials) (Account, bool) {
	a, ok := s.users[c.Username]
	return a, ok
}

// answer is a client answering the verifier's challenge for realm.
func answer(t *testing.T, challenge string, acct Account, nc uint32) Credentials {
	t.Helper()
	return answerMethod(t, "REGISTER", challenge, acct, nc)
}

func answerMethod(t *testing.T, method, challenge string, acct Account, nc uint32) Credentials {
	t.Helper()
	ch, err := ParseChallenge([]byte(challenge))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Respond(&ch, method, "sip:biloxi.com", nil, acct, nc, "cn")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *serverFixture) verify(c Credentials, binding []byte) (Verified, error) {
	return s.v.Verify("biloxi.com", "REGISTER", []byte(c.String()), binding, s.lookup)
}

func wantErr(t *testing.T, what string, err, sentinel error, stale bool, code int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: %v, want %v", what, err, sentinel)
		return
	}
	if !errors.Is(err, sentinel) || e.Stale() != stale || e.StatusCode() != code {
		t.Errorf("%s: %v (stale %v, %d), want %v stale %v %d", what, err, e.Stale(), e.StatusCode(), sentinel, stale, code)
	}
}

func TestVerifierRoundTrip(t *testing.T) {
	s := newServer(&Verifier{})
	ch := s.v.Challenge("biloxi.com", false)
	if !strings.HasPrefix(ch, `Digest realm="biloxi.com", nonce="`) || !strings.HasSuffix(ch, `", algorithm=MD5, qop="auth"`) {
		t.Errorf("challenge %s", ch)
	}
	bob := s.users["bob"]
	vd, err := s.verify(answer(t, ch, bob, 1), nil)
	if err != nil || vd.Username != "bob" {
		t.Fatalf("verified %+v, %v", vd, err)
	}
	// nc must increase per nonce (RFC 7616 §3.4).
	wantErr(t, "nc 1 again", second(s.verify(answer(t, ch, bob, 1), nil)), ErrReplay, true, 401)
	if _, err := s.verify(answer(t, ch, bob, 3), nil); err != nil {
		t.Errorf("nc 3: %v", err)
	}
	wantErr(t, "nc 2 after 3", second(s.verify(answer(t, ch, bob, 2), nil)), ErrReplay, true, 401)
	// The server's rspauth satisfies the client.
	info := vd.AuthInfo([]byte("body"))
	if err := CheckAuthInfo(&info, &vd.Credentials, bob, []byte("body")); err != nil || info.NC != 1 || info.CNonce != "cn" {
		t.Errorf("auth-info %+v: %v", info, err)
	}
}

func second(_ Verified, err error) error { return err }

func TestVerifierRejects(t *testing.T) {
	s := newServer(&Verifier{Opaque: "op"})
	bob := s.users["bob"]
	ch := s.v.Challenge("biloxi.com", false)

	wantErr(t, "wrong password", second(s.verify(answer(t, ch, Account{Username: "bob", Password: "x"}, 1), nil)), ErrBadResponse, false, 403)
	wantErr(t, "unknown user", second(s.verify(answer(t, ch, Account{Username: "eve"}, 1), nil)), ErrUnknownUser, false, 403)

	tampered := answer(t, ch, bob, 1)
	raw, _ := base64.RawURLEncoding.DecodeString(tampered.Nonce)
	raw[9] ^= 1 // another salt: only the MAC can tell
	forged := tampered
	forged.Nonce = base64.RawURLEncoding.EncodeToString(raw)
	forged = answer(t, strings.Replace(ch, tampered.Nonce, forged.Nonce, 1), bob, 1)
	wantErr(t, "tampered nonce", second(s.verify(forged, nil)), ErrStale, true, 401)
	made := answer(t, `Digest realm="biloxi.com", nonce="made-up", qop="auth", opaque="op"`, bob, 1)
	wantErr(t, "made-up nonce", second(s.verify(made, nil)), ErrStale, true, 401)

	noOpaque := answer(t, strings.Replace(ch, `opaque="op"`, `opaque="other"`, 1), bob, 1)
	wantErr(t, "wrong opaque", second(s.verify(noOpaque, nil)), ErrStale, true, 401)

	other := s.v.Challenge("atlanta.com", false)
	wantErr(t, "other realm", second(s.verify(answer(t, other, bob, 1), nil)), ErrNoCredentials, false, 401)
	c := answer(t, other, bob, 1)
	c.Realm = "biloxi.com" // a nonce of atlanta.com presented to biloxi.com
	c.Response = answer(t, strings.Replace(other, "atlanta.com", "biloxi.com", 1), bob, 1).Response
	wantErr(t, "nonce of another realm", second(s.verify(c, nil)), ErrStale, true, 401)

	sha := answer(t, strings.Replace(ch, "algorithm=MD5", "algorithm=SHA-256", 1), bob, 1)
	wantErr(t, "algorithm not offered", second(s.verify(sha, nil)), ErrUnsupportedAlgorithm, false, 401)
	authInt := answer(t, strings.Replace(ch, `qop="auth"`, `qop="auth-int"`, 1), bob, 1)
	wantErr(t, "auth-int not offered", second(s.verify(authInt, nil)), ErrUnsupportedQOP, false, 401)

	_, err := s.v.Verify("biloxi.com", "REGISTER", []byte(`Digest username="bob"`), nil, s.lookup)
	wantErr(t, "malformed", err, ErrMalformed, false, 400)

	if _, err := s.verify(answer(t, ch, bob, 1), nil); err != nil {
		t.Errorf("after all that, the right answer: %v", err)
	}
}

// A nonce older than MaxAge with a right response is stale (RFC 7616 §3.3).
func TestVerifierStale(t *testing.T) {
	s := newServer(&Verifier{MaxAge: time.Minute})
	ch := s.v.Challenge("biloxi.com", false)
	s.clk.t = s.clk.t.Add(time.Minute)
	if _, err := s.verify(answer(t, ch, s.users["bob"], 1), nil); err != nil {
		t.Fatalf("at MaxAge: %v", err)
	}
	s.clk.t = s.clk.t.Add(time.Nanosecond)
	wantErr(t, "past MaxAge", second(s.verify(answer(t, ch, s.users["bob"], 2), nil)), ErrStale, true, 401)
	// The wrong password past MaxAge is no stale: it says nothing of the nonce.
	wantErr(t, "old and wrong", second(s.verify(answer(t, ch, Account{Username: "bob"}, 3), nil)), ErrBadResponse, false, 403)
	if !strings.Contains(s.v.Challenge("biloxi.com", true), ", stale=true, ") {
		t.Errorf("stale challenge: %s", s.v.Challenge("biloxi.com", true))
	}
	// Default MaxAge.
	s = newServer(&Verifier{})
	ch = s.v.Challenge("biloxi.com", false)
	s.clk.t = s.clk.t.Add(DefaultMaxAge + time.Second)
	wantErr(t, "past DefaultMaxAge", second(s.verify(answer(t, ch, s.users["bob"], 1), nil)), ErrStale, true, 401)
}

// A nonce pushed out of the replay memory is stale, not open to replay.
func TestVerifierForgets(t *testing.T) {
	s := newServer(&Verifier{MaxNonceUses: 2})
	bob := s.users["bob"]
	var chs []string
	for i := 0; i < 3; i++ {
		chs = append(chs, s.v.Challenge("biloxi.com", false))
		s.clk.t = s.clk.t.Add(time.Second)
	}
	for i, ch := range chs {
		if _, err := s.verify(answer(t, ch, bob, 1), nil); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
	if len(s.v.uses) != 2 {
		t.Errorf("%d nonces remembered, bound 2", len(s.v.uses))
	}
	wantErr(t, "replay of a forgotten nonce", second(s.verify(answer(t, chs[0], bob, 1), nil)), ErrStale, true, 401)
	wantErr(t, "forgotten nonce, next nc", second(s.verify(answer(t, chs[0], bob, 2), nil)), ErrStale, true, 401)
	if _, err := s.verify(answer(t, chs[2], bob, 2), nil); err != nil {
		t.Errorf("remembered nonce, next nc: %v", err)
	}
	// Issued after the forgotten one: new, accepted.
	if _, err := s.verify(answer(t, s.v.Challenge("biloxi.com", false), bob, 1), nil); err != nil {
		t.Errorf("fresh nonce: %v", err)
	}
}

func TestVerifierBinding(t *testing.T) {
	s := newServer(&Verifier{})
	lines := string(s.v.AppendChallenges(nil, sip.HeaderWWWAuthenticate, "biloxi.com", []byte("192.0.2.1:5060"), false))
	_, value, _ := strings.Cut(strings.TrimSuffix(lines, "\r\n"), ": ")
	c := answer(t, value, s.users["bob"], 1)
	wantErr(t, "from elsewhere", second(s.verify(c, []byte("192.0.2.2:5060"))), ErrStale, true, 401)
	wantErr(t, "unbound", second(s.verify(c, nil)), ErrStale, true, 401)
	if _, err := s.verify(c, []byte("192.0.2.1:5060")); err != nil {
		t.Errorf("from the address bound: %v", err)
	}
}

// RFC 2069 credentials (no qop) are accepted unless RequireQOP; a server
// storing HA1 and offering userhash works too.
func TestVerifierVariants(t *testing.T) {
	s := newServer(&Verifier{})
	ch := strings.Replace(s.v.Challenge("biloxi.com", false), `, qop="auth"`, "", 1)
	c := answer(t, ch, s.users["bob"], 1)
	if c.QOP != 0 {
		t.Fatalf("qop %v", c.QOP)
	}
	if _, err := s.verify(c, nil); err != nil {
		t.Errorf("rfc2069: %v", err)
	}
	s.v.RequireQOP = true
	wantErr(t, "rfc2069 with RequireQOP", second(s.verify(c, nil)), ErrUnsupportedQOP, false, 401)

	s = newServer(&Verifier{Algorithms: []Algorithm{SHA512_256, SHA256}, Userhash: true})
	ha1 := SHA512_256.h("bob", "biloxi.com", "zanzibar")
	byHash := map[string]Account{SHA512_256.h("bob", "biloxi.com"): {Username: "bob", HA1: ha1}}
	lines := string(s.v.AppendChallenges(nil, sip.HeaderWWWAuthenticate, "biloxi.com", nil, false))
	first, _, _ := strings.Cut(lines, "\r\n")
	_, value, _ := strings.Cut(first, ": ")
	c = answer(t, value, s.users["bob"], 1)
	if !c.Userhash || c.Algorithm != SHA512_256 || c.Username == "bob" {
		t.Fatalf("answered %s", c.String())
	}
	vd, err := s.v.Verify("biloxi.com", "REGISTER", []byte(c.String()), nil, func(c *Credentials) (Account, bool) {
		a, ok := byHash[c.Username]
		return a, ok && c.Userhash
	})
	if err != nil || vd.Username != "bob" {
		t.Errorf("userhash, stored HA1: %+v %v", vd, err)
	}
	// A lookup that gives the wrong real name for the hash.
	_, err = s.v.Verify("biloxi.com", "REGISTER", []byte(c.String()), nil, func(*Credentials) (Account, bool) {
		return Account{Username: "alice", HA1: ha1}, true
	})
	wantErr(t, "userhash of another", err, ErrBadResponse, false, 403)
}

func TestVerifyRequest(t *testing.T) {
	s := newServer(&Verifier{})
	ch := s.v.Challenge("biloxi.com", false)
	good := answerMethod(t, "INVITE", ch, s.users["bob"], 1)
	foreign := answerMethod(t, "INVITE", `Digest realm="atlanta.com", nonce="x", qop="auth"`, Account{Username: "alice"}, 1)
	req := request(t, "Proxy-Authorization: Digest garbage\nProxy-Authorization: "+foreign.String()+"\nProxy-Authorization: "+good.String()+"\n")
	if _, err := s.v.VerifyRequest(req, true, "biloxi.com", nil, s.lookup); err != nil {
		t.Errorf("ours among others: %v", err)
	}
	if _, err := s.v.VerifyRequest(req, false, "biloxi.com", nil, s.lookup); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no Authorization: %v", err)
	}
	wantErr(t, "ours replayed, behind garbage", second(s.v.VerifyRequest(req, true, "biloxi.com", nil, s.lookup)), ErrReplay, true, 401)
	req = request(t, "Authorization: Digest garbage\nAuthorization: "+foreign.String()+"\n")
	wantErr(t, "only garbage and others", second(s.v.VerifyRequest(req, false, "biloxi.com", nil, s.lookup)), ErrMalformed, false, 400)
}

// Without a Secret, one is made once and nonces verify.
func TestVerifierRandomSecret(t *testing.T) {
	v := &Verifier{}
	ch := v.Challenge("r", false)
	c := answer(t, ch, Account{Username: "u", Password: "p"}, 1)
	if _, err := v.Verify("r", "REGISTER", []byte(c.String()), nil, func(*Credentials) (Account, bool) {
		return Account{Password: "p"}, true
	}); err != nil {
		t.Errorf("random secret: %v", err)
	}
	if len(v.secret) != 32 {
		t.Errorf("secret of %d bytes", len(v.secret))
	}
}
