// Package digest is SIP Digest authentication (RFC 3261 §22, RFC 7616,
// RFC 8760): a client answering 401 and 407 challenges, and a server
// challenging requests and checking their credentials.
//
// A user agent keeps one Client. When a request gets a 401 or 407,
// Client.Authorize turns the response's challenges into the
// Authorization and Proxy-Authorization lines of the retried request,
// asking a CredentialsFunc for each realm's account:
//
//	lines, err := client.Authorize(nil, req, resp, func(ch *digest.Challenge) (digest.Account, bool) {
//		return digest.Account{Username: "bob", Password: "zanzibar"}, ch.Realm == "biloxi.com"
//	})
//	// errors.Is(err, digest.ErrNoCredentials): no account for the realm
//	// errors.Is(err, digest.ErrRejected): the server refused them; give up
//	// otherwise: remove req's Authorization/Proxy-Authorization fields, add
//	// lines, send again with CSeq + 1.
//
// The Client counts nonce uses (nc 1, 2, 3 ...), answers every realm
// challenged and, within a realm, the strongest algorithm offered
// (SHA-512-256, then SHA-256, then MD5), and keeps credentials already
// accepted by other proxies on the path.
//
// A UAS, registrar or proxy keeps one Verifier. Its nonces are stateless,
// HMAC-signed with their issue time; it remembers only, for a bounded
// number of recent nonces, the highest nonce count seen. Verify (or
// VerifyRequest) returns who authenticated or an *Error whose StatusCode
// and Stale say how to answer: a fresh challenge, one with stale=true, 403
// or 400.
//
// Underneath are pure functions of bytes and strings, for other designs:
// ParseChallenge, ParseCredentials and ParseAuthInfo with their Append
// counterparts; Respond, the computation of RFC 7616 §3.4 for every
// algorithm and qop (and none, RFC 2069); ResponseAuth and CheckAuthInfo
// for Authentication-Info. Parsers copy what they keep and are bounded by
// sip.MaxParams parameters; errors are *Error values wrapping a sentinel
// (ErrMalformed, ErrUnsupportedAlgorithm ...) for errors.Is.
//
// Not done: the username* parameter (RFC 7616 §3.4.4, RFC 8187) and
// Unicode normalization of charset=UTF-8 names; AKA algorithms (RFC 3310);
// auth-int and Authentication-Info nextnonce in the Verifier.
//
// The package sits just above sip/ and takes time as a func() time.Time,
// so it needs nothing of transport/.
package digest
