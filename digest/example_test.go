package digest_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/sip"
)

func parse(s string) *sip.Message {
	var m sip.Message
	if err := sip.Parse(&m, []byte(strings.ReplaceAll(s, "\n", "\r\n"))); err != nil {
		panic(err)
	}
	return &m
}

// A registrar challenges a REGISTER; the client answers; the registrar
// verifies the retried request, then refuses the same credentials again.
func Example() {
	registrar := &digest.Verifier{
		Secret: []byte("registrar secret"),
		Now:    func() time.Time { return time.Unix(1700000000, 0) },
	}
	users := func(c *digest.Credentials) (digest.Account, bool) {
		if c.Username != "bob" {
			return digest.Account{}, false
		}
		return digest.Account{Username: "bob", Password: "zanzibar"}, true
	}
	const head = "REGISTER sip:biloxi.com SIP/2.0\n" +
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnashds7\n" +
		"To: <sip:bob@biloxi.com>\nFrom: <sip:bob@biloxi.com>;tag=456248\n" +
		"Call-ID: 843817637684230@998sdasdh09\nCSeq: 1826 REGISTER\n"
	req := parse(head + "Content-Length: 0\n\n")

	// The registrar finds no credentials and answers 401.
	if _, err := registrar.VerifyRequest(req, false, "biloxi.com", nil, users); err != nil {
		fmt.Println("registrar:", err)
	}
	challenge := registrar.AppendChallenges(nil, sip.HeaderWWWAuthenticate, "biloxi.com", nil, false)
	resp := parse("SIP/2.0 401 Unauthorized\n" +
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnashds7\n" +
		"To: <sip:bob@biloxi.com>;tag=2493k59kd\nFrom: <sip:bob@biloxi.com>;tag=456248\n" +
		"Call-ID: 843817637684230@998sdasdh09\nCSeq: 1826 REGISTER\n" +
		strings.ReplaceAll(string(challenge), "\r\n", "\n") + "Content-Length: 0\n\n")

	// The client answers it.
	client := &digest.Client{CNonce: func() string { return "0a4f113b" }}
	lines, err := client.Authorize(nil, req, resp, func(ch *digest.Challenge) (digest.Account, bool) {
		return digest.Account{Username: "bob", Password: "zanzibar"}, ch.Realm == "biloxi.com"
	})
	if err != nil {
		fmt.Println("client:", err)
		return
	}
	retry := parse(strings.Replace(head, "1826", "1827", 1) + strings.ReplaceAll(string(lines), "\r\n", "\n") + "Content-Length: 0\n\n")
	cr, _ := digest.ParseCredentials(retry.Get(sip.HeaderAuthorization))
	fmt.Printf("client: username=%s uri=%s qop=%v nc=%d\n", cr.Username, cr.URI, cr.QOP, cr.NC)

	// The registrar verifies it, and refuses it replayed.
	vd, err := registrar.VerifyRequest(retry, false, "biloxi.com", nil, users)
	fmt.Println("registrar: authenticated", vd.Username, err)
	_, err = registrar.VerifyRequest(retry, false, "biloxi.com", nil, users)
	if e, ok := err.(*digest.Error); ok {
		fmt.Printf("registrar: replay: %v; answer %d, stale=%v\n", err, e.StatusCode(), e.Stale())
	}
	// Output:
	// registrar: digest: no credentials (realm biloxi.com)
	// client: username=bob uri=sip:biloxi.com qop=auth nc=1
	// registrar: authenticated bob <nil>
	// registrar: replay: digest: nonce count not increasing (realm biloxi.com); answer 401, stale=true
}

// Respond computes credentials without a Client: here RFC 2617 §3.5.
func ExampleRespond() {
	ch, _ := digest.ParseChallenge([]byte(`Digest realm="testrealm@host.com", qop="auth,auth-int", ` +
		`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`))
	c, _ := digest.Respond(&ch, "GET", "/dir/index.html", nil,
		digest.Account{Username: "Mufasa", Password: "Circle Of Life"}, 1, "0a4f113b")
	fmt.Println(c.Response)
	// Output: 6629fae49393a05397450978507c4ef1
}
