package digest

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

func TestClientNextNC(t *testing.T) {
	var c Client
	for want := uint32(1); want <= 3; want++ {
		if got := c.NextNC("r", "n"); got != want {
			t.Errorf("use %d of a nonce: nc %d", want, got)
		}
	}
	if got := c.NextNC("r2", "n"); got != 1 {
		t.Errorf("same nonce, other realm: nc %d", got)
	}
	// Bounded: the oldest nonce is forgotten and starts again.
	c = Client{MaxNonces: 2}
	c.NextNC("r", "a")
	c.NextNC("r", "a")
	c.NextNC("r", "b")
	c.NextNC("r", "c") // pushes a out
	if len(c.count) != 2 || len(c.ring) != 2 {
		t.Errorf("%d nonces kept, bound 2", len(c.count))
	}
	if got := c.NextNC("r", "a"); got != 1 {
		t.Errorf("forgotten nonce: nc %d", got)
	}
	if got := c.NextNC("r", "c"); got != 2 {
		t.Errorf("kept nonce: nc %d", got)
	}
}

// Concurrent answers to one nonce get distinct counts 1..N.
func TestClientNCConcurrent(t *testing.T) {
	var c Client
	const n = 64
	seen := make([]bool, n+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ch := Challenge{Realm: "r", Nonce: "n", QOP: QOPAuth}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr, err := c.Answer(&ch, "INVITE", "sip:b@r", nil, Account{Username: "u", Password: "p"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil || cr.NC == 0 || cr.NC > n || seen[cr.NC] {
				t.Errorf("nc %d, %v", cr.NC, err)
				return
			}
			seen[cr.NC] = true
		}()
	}
	wg.Wait()
}

func TestSelect(t *testing.T) {
	v := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i := range s {
			out[i] = []byte(s[i])
		}
		return out
	}
	got, err := Select(v(
		`Basic realm="a"`,
		`Digest realm="a", nonce="1", algorithm=MD5, qop="auth"`,
		`Digest realm="a", nonce="2", algorithm=SHA-256-sess, qop="auth"`,
		`Digest realm="a", nonce="3", algorithm=SHA-256, qop="auth"`,
		`Digest realm="a", nonce="4", algorithm=SHA-256-sess, qop="auth"`,
		`Digest realm="b", nonce="5"`,
		`Digest realm="c", nonce="6", algorithm=AKAv1-MD5`,
		`Digest realm="a", nonce="7", algorithm=SHA-512`,
		`Digest realm="d", nonce="8", algorithm=SHA-512-256, qop="auth"`,
		`Digest realm="d", nonce="9", algorithm=MD5, qop="auth"`,
	))
	if err != nil {
		t.Fatal(err)
	}
	var nonces []string
	for _, c := range got {
		nonces = append(nonces, c.Realm+c.Nonce)
	}
	// Realm a: SHA-256 family, first listed is -sess, both -sess kept
	// (two proxies); b: MD5 alone; c unknown; d: SHA-512-256 over MD5.
	if s := strings.Join(nonces, " "); s != "a2 a4 b5 d8" {
		t.Errorf("selected %s", s)
	}
	if _, err := Select(nil); !errors.Is(err, ErrNoChallenge) {
		t.Errorf("none: %v", err)
	}
	if _, err := Select(v(`Basic realm="a"`, `Digest realm="a"`, `Digest realm="a", nonce="1", algorithm=SHA-1`)); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("unsupported: %v", err)
	}
	if _, err := Select(v(`Basic realm="a"`)); !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("basic: %v", err)
	}
}

func parse(t *testing.T, s string) *sip.Message {
	t.Helper()
	var m sip.Message
	if err := sip.Parse(&m, []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return &m
}

const reqHead = `INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.com
CSeq: 1 INVITE
Content-Type: application/sdp
`

func request(t *testing.T, auth string) *sip.Message {
	return parse(t, reqHead+auth+"Content-Length: 4\n\nv=0\n")
}

func response(t *testing.T, code int, challenges string) *sip.Message {
	return parse(t, "SIP/2.0 "+strconv.Itoa(code)+" "+sip.StatusText(code)+
		"\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\nTo: <sip:bob@biloxi.com>;tag=x\n"+
		"From: <sip:alice@atlanta.com>;tag=1928301774\nCall-ID: a84b4c76e66710@pc33.atlanta.com\nCSeq: 1 INVITE\n"+
		challenges+"Content-Length: 0\n\n")
}

// accounts answers for the realms it knows and records what it was asked.
type accounts struct {
	known map[string]Account
	asked []string
}

func (a *accounts) get(ch *Challenge) (Account, bool) {
	a.asked = append(a.asked, ch.Realm)
	acct, ok := a.known[ch.Realm]
	return acct, ok
}

// credentialsOf parses the header lines Authorize wrote.
func credentialsOf(t *testing.T, lines []byte) (auth, proxy []Credentials) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(string(lines), "\r\n"), "\r\n") {
		name, value, _ := strings.Cut(line, ": ")
		c, err := ParseCredentials([]byte(value))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch name {
		case "Authorization":
			auth = append(auth, c)
		case "Proxy-Authorization":
			proxy = append(proxy, c)
		default:
			t.Fatalf("line %q", line)
		}
	}
	return auth, proxy
}

// A 401 then a 407 on the retry: the second retry answers the proxy and
// re-answers the UAS's nonce with nc 2; a verifier accepts both.
func TestAuthorizeRetries(t *testing.T) {
	uas := &Verifier{Secret: []byte("uas"), Algorithms: []Algorithm{SHA256, MD5}}
	proxy := &Verifier{Secret: []byte("proxy"), Opaque: "op"}
	accts := &accounts{known: map[string]Account{"biloxi.com": {Username: "bob", Password: "zanzibar"},
		"atlanta.com": {Username: "alice", Password: "secret"}}}
	lookup := func(c *Credentials) (Account, bool) { return accts.known[c.Realm], true }
	var c Client

	req := request(t, "")
	lines, err := c.Authorize(nil, req, response(t, 401, string(uas.AppendChallenges(nil, sip.HeaderWWWAuthenticate, "biloxi.com", nil, false))), accts.get)
	if err != nil {
		t.Fatal(err)
	}
	auth, px := credentialsOf(t, lines)
	if len(auth) != 1 || len(px) != 0 || auth[0].Algorithm != SHA256 || auth[0].NC != 1 || auth[0].URI != "sip:bob@biloxi.com" {
		t.Fatalf("first retry: %s", lines)
	}
	firstNonce := auth[0].Nonce
	retry := request(t, string(lines))
	if _, err := uas.VerifyRequest(retry, false, "biloxi.com", nil, lookup); err != nil {
		t.Fatalf("uas: %v", err)
	}

	var challenge []byte
	challenge = proxy.AppendChallenges(challenge, sip.HeaderProxyAuthenticate, "atlanta.com", nil, false)
	lines, err = c.Authorize(nil, retry, response(t, 407, string(challenge)), accts.get)
	if err != nil {
		t.Fatal(err)
	}
	auth, px = credentialsOf(t, lines)
	if len(auth) != 1 || len(px) != 1 || auth[0].NC != 2 || auth[0].Nonce != firstNonce ||
		px[0].NC != 1 || px[0].Opaque != "op" || px[0].AlgorithmName != "MD5" {
		t.Fatalf("second retry: %s", lines)
	}
	retry2 := request(t, string(lines))
	if _, err := proxy.VerifyRequest(retry2, true, "atlanta.com", nil, lookup); err != nil {
		t.Errorf("proxy: %v", err)
	}
	if vd, err := uas.VerifyRequest(retry2, false, "biloxi.com", nil, lookup); err != nil || vd.Username != "bob" {
		t.Errorf("uas, nc 2: %+v %v", vd, err)
	}
	// The same request again is a replay.
	if _, err := uas.VerifyRequest(retry2, false, "biloxi.com", nil, lookup); !errors.Is(err, ErrReplay) {
		t.Errorf("replayed: %v", err)
	}
}

// RFC 3261 §22.1: credentials refused are not sent again; a stale nonce is
// retried.
func TestAuthorizeRejectedAndStale(t *testing.T) {
	accts := &accounts{known: map[string]Account{"biloxi.com": {Username: "bob", Password: "wrong"}}}
	var c Client
	first, err := c.Authorize(nil, request(t, ""), response(t, 401, "WWW-Authenticate: Digest realm=\"biloxi.com\", nonce=\"1\", qop=\"auth\"\n"), accts.get)
	if err != nil {
		t.Fatal(err)
	}
	retry := request(t, string(first))
	again := response(t, 401, "WWW-Authenticate: Digest realm=\"biloxi.com\", nonce=\"2\", qop=\"auth\"\n")
	if out, err := c.Authorize([]byte("keep"), retry, again, accts.get); !errors.Is(err, ErrRejected) || string(out) != "keep" {
		t.Errorf("challenged again: %q, %v", out, err)
	}
	// Credentials on a nonce used before (nc 2) are answered once more
	// when challenged without stale: an expired nonce, for some servers.
	reused := strings.Replace(string(first), "nc=00000001", "nc=00000002", 1)
	lines, err := c.Authorize(nil, request(t, reused), again, accts.get)
	if auth, _ := credentialsOf(t, lines); err != nil || len(auth) != 1 || auth[0].Nonce != "2" || auth[0].NC != 1 {
		t.Errorf("reused nonce challenged again: %q, %v", lines, err)
	}
	stale := response(t, 401, "WWW-Authenticate: Digest realm=\"biloxi.com\", nonce=\"2\", qop=\"auth\", stale=true\n")
	lines, err = c.Authorize(nil, retry, stale, accts.get)
	if err != nil {
		t.Fatal(err)
	}
	// Nonce "2" was answered once above: this is its second use.
	if auth, _ := credentialsOf(t, lines); len(auth) != 1 || auth[0].Nonce != "2" || auth[0].NC != 2 {
		t.Errorf("stale retry: %s", lines)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	accts := &accounts{known: map[string]Account{"biloxi.com": {Username: "bob", Password: "p"}}}
	var c Client
	req := request(t, "")
	for _, tc := range []struct {
		challenges string
		want       error
	}{
		{"", ErrNoChallenge},
		{"WWW-Authenticate: Digest realm=\"elsewhere\", nonce=\"1\"\n", ErrNoCredentials},
		{"WWW-Authenticate: Digest realm=\"biloxi.com\", nonce=\"1\", algorithm=SHA-1\n", ErrUnsupportedAlgorithm},
		{"WWW-Authenticate: Basic realm=\"biloxi.com\"\n", ErrUnsupportedScheme},
		{"Proxy-Authenticate: Digest realm=\"biloxi.com\"\n", ErrMalformed},
	} {
		out, err := c.Authorize(nil, req, response(t, 401, tc.challenges), accts.get)
		if !errors.Is(err, tc.want) || len(out) != 0 {
			t.Errorf("%q: %q, %v, want %v", tc.challenges, out, err, tc.want)
		}
	}
	// A realm without an account does not stop the others.
	accts.asked = nil
	out, err := c.Authorize(nil, req, response(t, 407,
		"Proxy-Authenticate: Digest realm=\"elsewhere\", nonce=\"1\"\nProxy-Authenticate: Digest realm=\"biloxi.com\", nonce=\"2\"\n"), accts.get)
	if _, px := credentialsOf(t, out); err != nil || len(px) != 1 || px[0].Realm != "biloxi.com" || px[0].QOP != 0 {
		t.Errorf("partial: %q, %v", out, err)
	}
	if strings.Join(accts.asked, " ") != "elsewhere biloxi.com" {
		t.Errorf("asked for %v", accts.asked)
	}
}
