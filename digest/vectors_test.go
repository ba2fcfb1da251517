package digest

import (
	"errors"
	"testing"
)

// RFC 2617 §3.5, which RFC 3261 §22.2 reuses for its Authorization example.
func TestRFC2617Example(t *testing.T) {
	ch, err := ParseChallenge([]byte(`Digest realm="testrealm@host.com", qop="auth,auth-int", ` +
		`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Respond(&ch, "GET", "/dir/index.html", nil, Account{Username: "Mufasa", Password: "Circle Of Life"}, 1, "0a4f113b")
	if err != nil {
		t.Fatal(err)
	}
	if c.Response != "6629fae49393a05397450978507c4ef1" {
		t.Errorf("response %s", c.Response)
	}
	want := `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ` +
		`uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", ` +
		`opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001`
	if got := c.String(); got != want {
		t.Errorf("credentials\n got %s\nwant %s", got, want)
	}
}

// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
func TestRFC7616Examples(t *testing.T) {
	for _, tc := range []struct{ alg, response string }{
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		ch, err := ParseChallenge([]byte(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + tc.alg +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Respond(&ch, "GET", "/dir/index.html", nil, Account{Username: "Mufasa", Password: "Circle of Life"},
			1, "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if err != nil {
			t.Fatal(err)
		}
		if c.Response != tc.response {
			t.Errorf("%s: response %s, want %s", tc.alg, c.Response, tc.response)
		}
		want := `Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ` +
			`uri="/dir/index.html", response="` + tc.response + `", algorithm=` + tc.alg + `, ` +
			`cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", qop=auth, nc=00000001`
		if got := c.String(); got != want {
			t.Errorf("%s credentials\n got %s\nwant %s", tc.alg, got, want)
		}
	}
}

// RFC 7616 §3.9.2 with Erratum 4897: the published username hash and
// response were computed with a draft SHA-512/256; the erratum's values
// are those of the final FIPS 180-4 function, which these are.
func TestRFC7616UserhashExample(t *testing.T) {
	ch, err := ParseChallenge([]byte(`Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, ` +
		`nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", ` +
		`charset=UTF-8, userhash=true`))
	if err != nil {
		t.Fatal(err)
	}
	if !ch.UTF8 || !ch.Userhash || ch.Algorithm != SHA512_256 {
		t.Fatalf("parsed %+v", ch)
	}
	c, err := Respond(&ch, "GET", "/doe.json", nil, Account{Username: "J\u00e4s\u00f8n Doe", Password: "Secret, or not?"},
		1, "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
	if err != nil {
		t.Fatal(err)
	}
	want := `Digest username="793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b", realm="api@example.org", ` +
		`nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", uri="/doe.json", ` +
		`response="3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5", algorithm=SHA-512-256, ` +
		`cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", ` +
		`qop=auth, nc=00000001, userhash=true`
	if got := c.String(); got != want {
		t.Errorf("credentials\n got %s\nwant %s", got, want)
	}
}

// The formulas, written out once more by hand for the variants the RFC
// examples do not cover: RFC 2069 (no qop), auth-int, -sess, a stored HA1.
func TestComputationVariants(t *testing.T) {
	const user, realm, pass, nonce, cnonce, uri = "bob", "biloxi.com", "zanzibar", "n0nce", "c0nce", "sip:bob@biloxi.com"
	body := []byte("v=0\r\n")
	for _, alg := range []Algorithm{MD5, MD5Sess, SHA256, SHA256Sess, SHA512_256, SHA512_256Sess} {
		h := alg.h
		ha1 := h(user, realm, pass)
		sessHA1 := ha1
		if alg.Session() {
			sessHA1 = h(ha1, nonce, cnonce)
		}
		cases := []struct {
			name string
			qop  QOP
			acct Account
			want string
		}{
			{"auth", QOPAuth, Account{Username: user, Password: pass}, h(sessHA1, nonce, "00000003", cnonce, "auth", h("INVITE", uri))},
			{"auth-int", QOPAuthInt, Account{Username: user, Password: pass},
				h(sessHA1, nonce, "00000003", cnonce, "auth-int", h("INVITE", uri, alg.hBytes(body)))},
			{"stored HA1", QOPAuth, Account{Username: user, HA1: ha1}, h(sessHA1, nonce, "00000003", cnonce, "auth", h("INVITE", uri))},
		}
		if !alg.Session() {
			cases = append(cases, struct {
				name string
				qop  QOP
				acct Account
				want string
			}{"rfc2069", 0, Account{Username: user, Password: pass}, h(ha1, nonce, h("INVITE", uri))})
		}
		for _, tc := range cases {
			ch := Challenge{Realm: realm, Nonce: nonce, Algorithm: alg, QOP: tc.qop}
			c, err := Respond(&ch, "INVITE", uri, body, tc.acct, 3, cnonce)
			if err != nil {
				t.Fatalf("%v %s: %v", alg, tc.name, err)
			}
			if c.Response != tc.want || len(c.Response) != 2*alg.Size() || c.QOP != tc.qop {
				t.Errorf("%v %s: response %s qop %v, want %s", alg, tc.name, c.Response, c.QOP, tc.want)
			}
			if tc.qop == 0 && (c.NC != 0 || c.CNonce != "") {
				t.Errorf("%v rfc2069: nc %d cnonce %q sent without qop", alg, c.NC, c.CNonce)
			}
		}
	}
	// RFC 3261 §22.4 item 7: an empty body hashes as MD5("").
	if got := MD5.hBytes(nil); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("H(empty) = %s", got)
	}
}

// RFC 3261 §22.4 item 8: qop offered is qop sent; auth is preferred to
// auth-int, which is used when it is the only one offered.
func TestQOPChoice(t *testing.T) {
	for _, tc := range []struct {
		offered, want QOP
	}{{QOPAuth, QOPAuth}, {QOPAuthInt, QOPAuthInt}, {QOPAuth | QOPAuthInt, QOPAuth}, {0, 0}} {
		ch := Challenge{Realm: "r", Nonce: "n", QOP: tc.offered}
		c, err := Respond(&ch, "REGISTER", "sip:r", nil, Account{Username: "u"}, 1, "c")
		if err != nil || c.QOP != tc.want {
			t.Errorf("offered %q: chose %q, %v", tc.offered, c.QOP, err)
		}
	}
	ch := Challenge{Realm: "r", Nonce: "n", Algorithm: MD5Sess}
	if _, err := Respond(&ch, "REGISTER", "sip:r", nil, Account{Username: "u"}, 1, "c"); !errors.Is(err, ErrMalformed) {
		t.Errorf("MD5-sess without qop: %v", err)
	}
	ch = Challenge{Realm: "r", Nonce: "n", QOP: QOPAuth}
	for _, bad := range []struct{ method, uri, user string }{{"REG ISTER", "sip:r", "u"}, {"REGISTER", "", "u"}, {"REGISTER", "sip:r", "u\r\nX: y"}} {
		if _, err := Respond(&ch, bad.method, bad.uri, nil, Account{Username: bad.user}, 1, "c"); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	c, err := Respond(&ch, "REGISTER", "sip:r", nil, Account{Username: "u"}, 0, "")
	if err != nil || c.NC != 1 || len(c.CNonce) != 22 {
		t.Errorf("defaults: nc %d cnonce %q, %v", c.NC, c.CNonce, err)
	}
}

// RFC 7616 §3.5: rspauth is the request digest with an empty method, and
// the client checks it.
func TestResponseAuth(t *testing.T) {
	ch := Challenge{Realm: "biloxi.com", Nonce: "n", QOP: QOPAuth, Algorithm: SHA256, AlgorithmName: "SHA-256"}
	acct := Account{Username: "bob", Password: "zanzibar"}
	c, err := Respond(&ch, "INVITE", "sip:bob@biloxi.com", nil, acct, 1, "c")
	if err != nil {
		t.Fatal(err)
	}
	ha1 := SHA256.h("bob", "biloxi.com", "zanzibar")
	want := SHA256.h(ha1, "n", "00000001", "c", "auth", SHA256.h("", "sip:bob@biloxi.com"))
	if got := ResponseAuth(&c, acct, []byte("ignored for auth")); got != want {
		t.Fatalf("rspauth %s, want %s", got, want)
	}
	info, err := ParseAuthInfo([]byte(`qop=auth, rspauth="` + want + `", cnonce="c", nc=00000001, nextnonce="next"`))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAuthInfo(&info, &c, acct, nil); err != nil {
		t.Errorf("good rspauth: %v", err)
	}
	if err := CheckAuthInfo(&info, &c, Account{Username: "bob", Password: "other"}, nil); !errors.Is(err, ErrBadResponse) {
		t.Errorf("rspauth with another password: %v", err)
	}
	other := info
	other.NC = 2
	if err := CheckAuthInfo(&other, &c, acct, nil); !errors.Is(err, ErrBadResponse) {
		t.Errorf("rspauth for nc 2: %v", err)
	}
	if err := CheckAuthInfo(&AuthInfo{NextNonce: "x"}, &c, acct, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("no rspauth: %v", err)
	}
}
