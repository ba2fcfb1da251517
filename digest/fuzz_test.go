package digest

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzChallenge feeds the same bytes to the three parsers. None may panic;
// every error wraps one sentinel; what parses, written out again, parses to
// the same value, and writing that is stable.
func FuzzChallenge(f *testing.F) {
	for _, s := range []string{
		`Digest realm="biloxi.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", charset=UTF-8, userhash=true, stale=TRUE, domain="sip:a"`,
		`Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest username="u\"x", realm="r", nonce=n, uri="sip:r", response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", algorithm=sha-256-SESS, qop=auth-int, nc=0000000A, cnonce="", userhash=true`,
		`nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="abcd", cnonce="c", nc=00000002`,
		`Digest realm="r\\", nonce="n\"", , x="a,b"`,
		`Basic realm="r"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		if ch, err := ParseChallenge(b); err == nil {
			out := AppendChallenge(nil, &ch)
			again, err := ParseChallenge(out)
			if err != nil || again != ch {
				t.Fatalf("challenge %q\nwrote %q\nparsed %+v, %v\nfirst  %+v", b, out, again, err, ch)
			}
			if out2 := AppendChallenge(nil, &again); !bytes.Equal(out, out2) {
				t.Fatalf("challenge written twice differs: %q %q", out, out2)
			}
		} else {
			checkError(t, err)
		}
		if c, err := ParseCredentials(b); err == nil {
			out := AppendCredentials(nil, &c)
			again, err := ParseCredentials(out)
			if err != nil || again != c {
				t.Fatalf("credentials %q\nwrote %q\nparsed %+v, %v\nfirst  %+v", b, out, again, err, c)
			}
		} else {
			checkError(t, err)
		}
		if a, err := ParseAuthInfo(b); err == nil {
			out := AppendAuthInfo(nil, &a)
			again, err := ParseAuthInfo(out)
			if err != nil || again != a {
				t.Fatalf("auth-info %q\nwrote %q\nparsed %+v, %v\nfirst  %+v", b, out, again, err, a)
			}
		} else {
			checkError(t, err)
		}
		if !bytes.Equal(in, b) {
			t.Fatalf("input modified")
		}
	})
}

func checkError(t *testing.T, err error) {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is no *Error", err)
	}
	for _, s := range []error{ErrMalformed, ErrUnsupportedScheme, ErrUnsupportedAlgorithm, ErrUnsupportedQOP} {
		if e.Err == s {
			return
		}
	}
	t.Fatalf("error %v wraps %v", err, e.Err)
}
