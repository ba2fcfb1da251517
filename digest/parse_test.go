package digest

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseChallenge(t *testing.T) {
	// RFC 3261 §22.2's example, folded and with every liberty allowed.
	c, err := ParseChallenge([]byte("dIgEsT  REALM=\"biloxi.com\",\tQop=\"auth, auth-int ,auth-conf\", , " +
		`nonce="dcd98b\"71\02"  ,opaque="", algorithm=md5-SESS, stale=TRUE, domain="sip:a sip:b", ` +
		`charset=utf-8, userhash="true", future-param=x, other="y,z"`))
	if err != nil {
		t.Fatal(err)
	}
	want := Challenge{Realm: "biloxi.com", Nonce: `dcd98b"7102`, Opaque: "", HasOpaque: true, Stale: true,
		Domain: "sip:a sip:b", Algorithm: MD5Sess, AlgorithmName: "md5-SESS", QOP: QOPAuth | QOPAuthInt, UTF8: true, Userhash: true}
	if c != want {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	// Defaults: MD5, no qop, nothing else.
	c, err = ParseChallenge([]byte(`Digest realm="r", nonce=abc/def+=`))
	if err != nil || c != (Challenge{Realm: "r", Nonce: "abc/def+="}) {
		t.Errorf("minimal: %+v, %v", c, err)
	}
	if c.Algorithm != MD5 || c.QOP != 0 || c.Stale {
		t.Errorf("defaults: %+v", c)
	}
	c, _ = ParseChallenge([]byte(`Digest realm="r", nonce="n", stale=false, userhash=no`))
	if c.Stale || c.Userhash {
		t.Errorf("false flags: %+v", c)
	}
}

func TestParseChallengeErrors(t *testing.T) {
	many := `Digest realm="r", nonce="n"`
	for i := 0; i < 62; i++ {
		many += ", p" + strconv.Itoa(i) + "=1"
	}
	if _, err := ParseChallenge([]byte(many)); err != nil {
		t.Errorf("64 parameters: %v", err)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`Basic realm="r"`, ErrUnsupportedScheme},
		{`Bearer`, ErrUnsupportedScheme},
		{``, ErrMalformed},
		{`Digest`, ErrMalformed},
		{`Digestrealm="r", nonce="n"`, ErrUnsupportedScheme},
		{`Digest, realm="r", nonce="n"`, ErrMalformed},
		{`Digest nonce="n"`, ErrMalformed},
		{`Digest realm="r"`, ErrMalformed},
		{`Digest realm="r", nonce="n", algorithm=SHA-1`, ErrUnsupportedAlgorithm},
		{`Digest realm="r", nonce="n", algorithm="AKAv1-MD5"`, ErrUnsupportedAlgorithm},
		{`Digest realm="r", nonce="n", qop="auth-conf"`, ErrUnsupportedQOP},
		{`Digest realm="r", nonce="n", algorithm=SHA-256-sess`, ErrMalformed}, // -sess needs qop
		{`Digest realm="r", nonce="n", Realm="s"`, ErrMalformed},
		{`Digest realm="r", nonce="n", x=1, X=2`, ErrMalformed},
		{`Digest realm="r" nonce="n"`, ErrMalformed},
		{`Digest realm="r, nonce="n"`, ErrMalformed},
		{`Digest realm="r\`, ErrMalformed},
		{`Digest realm=, nonce="n"`, ErrMalformed},
		{`Digest realm, nonce="n"`, ErrMalformed},
		{`Digest realm="r` + "\x00" + `", nonce="n"`, ErrMalformed},
		{`Digest realm="r\` + "\x7f" + `", nonce="n"`, ErrMalformed},
		{`Digest realm="r", nonce="n", "x"=1`, ErrMalformed},
		{`Digest realm="r", nonce="n"x`, ErrMalformed},
		{many + ", p62=1", ErrMalformed},
	} {
		_, err := ParseChallenge([]byte(tc.in))
		var e *Error
		if !errors.Is(err, tc.want) || !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "digest: ") {
			t.Errorf("%q: %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	// RFC 3261 §22.2's example; response and nc in upper case hex.
	c, err := ParseCredentials([]byte(`Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ` +
		`uri="sip:bob@biloxi.com", qop=auth, nc=0000000A, cnonce="0a4f113b", ` +
		`response="6629FAE49393A05397450978507C4EF1", opaque="5ccc069c403ebaf9f0171e9517f40e41", future=1`))
	if err != nil {
		t.Fatal(err)
	}
	want := Credentials{Username: "bob", Realm: "biloxi.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", URI: "sip:bob@biloxi.com",
		QOP: QOPAuth, NC: 10, CNonce: "0a4f113b", Response: "6629fae49393a05397450978507c4ef1",
		Opaque: "5ccc069c403ebaf9f0171e9517f40e41", HasOpaque: true}
	if c != want {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	const base = `Digest username="u", realm="r", nonce="n", uri="sip:r", `
	const md5 = `response="6629fae49393a05397450978507c4ef1"`
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`Basic dXNlcjpwYXNz`, ErrUnsupportedScheme},
		{`Digest realm="r", nonce="n", uri="sip:r", ` + md5, ErrMalformed},
		{`Digest username="u", nonce="n", uri="sip:r", ` + md5, ErrMalformed},
		{`Digest username="u", realm="r", uri="sip:r", ` + md5, ErrMalformed},
		{`Digest username="u", realm="r", nonce="n", ` + md5, ErrMalformed},
		{base[:len(base)-2], ErrMalformed},
		{`Digest username="u", realm="r", nonce="n", uri="", ` + md5, ErrMalformed},
		{base + `response="6629fae49393a05397450978507c4ef"`, ErrMalformed},
		{base + `response="6629fae49393a05397450978507c4efg"`, ErrMalformed},
		{base + md5 + `, algorithm=SHA-256`, ErrMalformed}, // an MD5-sized response
		{base + md5 + `, algorithm=SHA-1`, ErrUnsupportedAlgorithm},
		{base + md5 + `, qop=auth-conf, nc=00000001, cnonce="c"`, ErrUnsupportedQOP},
		{base + md5 + `, qop=auth, cnonce="c"`, ErrMalformed},
		{base + md5 + `, qop=auth, nc=00000001`, ErrMalformed},
		{base + md5 + `, qop=auth, nc=1, cnonce="c"`, ErrMalformed},
		{base + md5 + `, qop=auth, nc=00000000, cnonce="c"`, ErrMalformed},
		{base + md5 + `, qop=auth, nc=0000000g, cnonce="c"`, ErrMalformed},
		{base + md5 + `, algorithm=MD5-sess`, ErrMalformed},
		{base + md5 + `, username="v"`, ErrMalformed},
	} {
		if _, err := ParseCredentials([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestParseAuthInfo(t *testing.T) {
	a, err := ParseAuthInfo([]byte(`nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="ABCDEF01", cnonce="c", nc=00000002, x=y`))
	want := AuthInfo{NextNonce: "47364c23432d2e131a5fb210812c", QOP: QOPAuth, RspAuth: "abcdef01", CNonce: "c", NC: 2}
	if err != nil || a != want {
		t.Errorf("got %+v, %v", a, err)
	}
	if a, err := ParseAuthInfo(nil); err != nil || a != (AuthInfo{}) {
		t.Errorf("empty: %+v, %v", a, err)
	}
	for _, in := range []string{`rspauth="xyz"`, `nc=1`, `qop=auth, qop=auth`, `nextnonce="n`, `Digest nextnonce="n"`} {
		if _, err := ParseAuthInfo([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", in, err)
		}
	}
	if _, err := ParseAuthInfo([]byte(`qop=auth-conf`)); !errors.Is(err, ErrUnsupportedQOP) {
		t.Errorf("qop=auth-conf: %v", err)
	}
}

// What the Append functions write parses back to the same struct, with
// quotes and backslashes escaped and nothing able to break the line.
func TestAppendRoundTrip(t *testing.T) {
	ch := Challenge{Realm: `a "quoted" \ realm`, Nonce: "n", Opaque: "", HasOpaque: true, Domain: "sip:x",
		Algorithm: SHA512_256Sess, AlgorithmName: "sha-512-256-SESS", QOP: QOPAuthInt, Stale: true, UTF8: true, Userhash: true}
	if got, err := ParseChallenge(AppendChallenge(nil, &ch)); err != nil || got != ch {
		t.Errorf("challenge %s: %+v, %v", ch.String(), got, err)
	}
	cr := Credentials{Username: "a\\b\"c", Realm: "r", Nonce: "n", URI: "sip:r;x=\"y\"", Response: strings.Repeat("0f", 32),
		Algorithm: SHA256, AlgorithmName: "SHA-256", CNonce: "", QOP: QOPAuthInt, NC: 0xffffffff, HasOpaque: true, Userhash: true}
	if got, err := ParseCredentials(AppendCredentials(nil, &cr)); err != nil || got != cr {
		t.Errorf("credentials %s: %+v, %v", cr.String(), got, err)
	}
	ai := AuthInfo{NextNonce: "x\"y", QOP: QOPAuth, RspAuth: "00ff", CNonce: "c", NC: 7}
	if got, err := ParseAuthInfo(AppendAuthInfo(nil, &ai)); err != nil || got != ai {
		t.Errorf("auth-info %s: %+v, %v", ai.String(), got, err)
	}
	// A hand-built value with a line break cannot inject a header field.
	evil := Challenge{Realm: "r\r\nVia: x", Nonce: "n"}
	if s := evil.String(); strings.ContainsAny(s, "\r\n") {
		t.Errorf("line break written: %q", s)
	}
	// algorithm is written when set without a name, and not for MD5.
	if s := (&Challenge{Realm: "r", Nonce: "n", Algorithm: SHA256}).String(); !strings.Contains(s, "algorithm=SHA-256") {
		t.Errorf("nameless SHA-256: %s", s)
	}
	if s := (&Challenge{Realm: "r", Nonce: "n"}).String(); s != `Digest realm="r", nonce="n"` {
		t.Errorf("MD5 by default: %s", s)
	}
}
