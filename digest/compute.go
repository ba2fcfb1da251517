package digest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
)

// Account is what answers a challenge, or checks an answer: a username and
// either the password or HA1 = H(username ":" realm ":" password) in lower
// case hex, for servers (and clients) that store no passwords.
type Account struct {
	Username string
	Password string
	// HA1, when not empty, is used instead of Password. It must be the hash
	// of the algorithm being answered or checked (MD5 for MD5 and MD5-sess,
	// and so on), for the realm concerned; the -sess step is applied to it.
	HA1 string
}

// ha1 computes HA1 of RFC 7616 §3.4.2 for a, realm, and for a -sess
// algorithm the nonce and cnonce.
func (acct *Account) ha1(alg Algorithm, realm, nonce, cnonce string) string {
	ha1 := string(lowerHex([]byte(acct.HA1)))
	if ha1 == "" {
		ha1 = alg.h(acct.Username, realm, acct.Password)
	}
	if alg.Session() {
		ha1 = alg.h(ha1, nonce, cnonce)
	}
	return ha1
}

// digestOf computes request-digest (RFC 7616 §3.4.1) or, with an empty
// method, response-auth (RFC 7616 §3.5): KD(HA1, nonce:nc:cnonce:qop:HA2),
// or KD(HA1, nonce:HA2) without qop (RFC 2069, RFC 2617 §3.2.2.1).
func digestOf(alg Algorithm, ha1, nonce string, nc uint32, cnonce string, qop QOP, method, uri string, body []byte) string {
	var ha2 string
	if qop == QOPAuthInt {
		// RFC 3261 §22.4 item 7: no body hashes as H("").
		ha2 = alg.h(method, uri, alg.hBytes(body))
	} else {
		ha2 = alg.h(method, uri)
	}
	if qop == 0 {
		return alg.h(ha1, nonce, ha2)
	}
	return alg.h(ha1, nonce, string(appendNC(nil, nc)), cnonce, qop.String(), ha2)
}

// Respond computes the credentials answering ch for a request: its method,
// its Request-URI as written (the digest-uri, RFC 3261 §22.4), and its
// body (hashed for auth-int). nc is the nonce count, 1 for a nonce's first
// use; cnonce the client nonce, NewCNonce() when empty. Both are ignored
// when ch offers no qop (RFC 2069 compatibility).
//
// The qop is "auth" when offered, else "auth-int" (RFC 3261 §22.4 item 8:
// a qop offered MUST be sent). With ch.Userhash the username sent is
// H(username:realm) (RFC 7616 §3.4.4). The algorithm and opaque are echoed
// as challenged (RFC 7616 §3.4).
//
// Errors wrap ErrMalformed: a method that is not a token, an empty URI, or
// a username, URI or cnonce with control characters (they could not be
// sent as they were hashed); or a -sess algorithm without qop.
func Respond(ch *Challenge, method, uri string, body []byte, acct Account, nc uint32, cnonce string) (Credentials, error) {
	if !isTokenString(method) {
		return Credentials{}, fail(ErrMalformed, ch.Realm, "method is not a token")
	}
	if uri == "" || hasCtl(uri) || hasCtl(acct.Username) || hasCtl(cnonce) {
		return Credentials{}, fail(ErrMalformed, ch.Realm, "control character or empty uri")
	}
	if ch.Algorithm >= numAlgorithms {
		return Credentials{}, fail(ErrUnsupportedAlgorithm, ch.Realm, "algorithm "+ch.Algorithm.String())
	}
	c := Credentials{
		Username:      acct.Username,
		Realm:         ch.Realm,
		Nonce:         ch.Nonce,
		URI:           uri,
		Algorithm:     ch.Algorithm,
		AlgorithmName: ch.AlgorithmName,
		Opaque:        ch.Opaque,
		HasOpaque:     ch.HasOpaque,
		Userhash:      ch.Userhash,
	}
	switch {
	case ch.QOP&QOPAuth != 0:
		c.QOP = QOPAuth
	case ch.QOP&QOPAuthInt != 0:
		c.QOP = QOPAuthInt
	case ch.Algorithm.Session():
		return Credentials{}, fail(ErrMalformed, ch.Realm, ch.Algorithm.String()+" without qop")
	}
	if c.QOP != 0 {
		if cnonce == "" {
			cnonce = NewCNonce()
		}
		if nc == 0 {
			nc = 1
		}
		c.CNonce, c.NC = cnonce, nc
	}
	if ch.Userhash {
		c.Username = ch.Algorithm.h(acct.Username, ch.Realm)
	}
	ha1 := acct.ha1(ch.Algorithm, ch.Realm, ch.Nonce, c.CNonce)
	c.Response = digestOf(ch.Algorithm, ha1, c.Nonce, c.NC, c.CNonce, c.QOP, method, uri, body)
	return c, nil
}

// ResponseAuth computes the rspauth a server returns in Authentication-Info
// for credentials it accepted (RFC 7616 §3.5, RFC 2617 §3.2.3): the
// request-digest with an empty method, over the response's body for
// auth-int. acct is the account the credentials were checked against.
func ResponseAuth(c *Credentials, acct Account, responseBody []byte) string {
	ha1 := acct.ha1(c.Algorithm, c.Realm, c.Nonce, c.CNonce)
	return digestOf(c.Algorithm, ha1, c.Nonce, c.NC, c.CNonce, c.QOP, "", c.URI, responseBody)
}

// CheckAuthInfo verifies the Authentication-Info of a response to a
// request sent with credentials c (mutual authentication, RFC 7616 §3.5).
// Errors wrap ErrMalformed (no rspauth) or ErrBadResponse (a wrong
// rspauth, or cnonce, nc or qop not those of c).
func CheckAuthInfo(info *AuthInfo, c *Credentials, acct Account, responseBody []byte) error {
	if info.RspAuth == "" {
		return fail(ErrMalformed, c.Realm, "no rspauth")
	}
	if info.CNonce != "" && info.CNonce != c.CNonce || info.NC != 0 && info.NC != c.NC ||
		info.QOP != 0 && info.QOP != c.QOP {
		return fail(ErrBadResponse, c.Realm, "rspauth for other credentials")
	}
	want := ResponseAuth(c, acct, responseBody)
	if subtle.ConstantTimeCompare([]byte(want), []byte(info.RspAuth)) != 1 {
		return fail(ErrBadResponse, c.Realm, "wrong rspauth")
	}
	return nil
}

// NewCNonce returns a fresh client nonce: 128 bits from crypto/rand,
// base64url without padding (22 characters).
func NewCNonce() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCtl(s[i]) {
			return true
		}
	}
	return false
}
