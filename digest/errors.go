package digest

import "errors"

// Sentinel errors, for errors.Is. Every error the package returns is an
// *Error wrapping exactly one of these.
var (
	// ErrMalformed: a header value breaks the Digest grammar (RFC 3261 §25,
	// RFC 7616 §3.3-§3.5), lacks a parameter it must have, or repeats one.
	ErrMalformed = errors.New("digest: malformed")
	// ErrUnsupportedScheme: the value is a challenge or credentials of
	// another scheme ("Basic", which RFC 3261 §22 forbids, "Bearer" ...).
	ErrUnsupportedScheme = errors.New("digest: not a Digest value")
	// ErrUnsupportedAlgorithm: the algorithm is none of MD5, SHA-256,
	// SHA-512-256 and their -sess variants. RFC 7616 §3.3: such a challenge
	// is ignored.
	ErrUnsupportedAlgorithm = errors.New("digest: unsupported algorithm")
	// ErrUnsupportedQOP: a qop parameter names no quality of protection
	// this package knows ("auth", "auth-int").
	ErrUnsupportedQOP = errors.New("digest: unsupported qop")
	// ErrNoChallenge: a 401 or 407 response carries no Digest challenge
	// that can be answered.
	ErrNoChallenge = errors.New("digest: no challenge to answer")
	// ErrNoCredentials: client side, the CredentialsFunc had no account for
	// the realm; server side, the request carries no credentials for the
	// verifier's realm. A server answers with a challenge.
	ErrNoCredentials = errors.New("digest: no credentials for realm")
	// ErrRejected: the server challenged again, without stale=true, a
	// realm the request already had credentials for: they were refused.
	// RFC 3261 §22.1: a UAC MUST NOT retry with them.
	ErrRejected = errors.New("digest: credentials rejected")
	// ErrStale: the response is right but the nonce is too old, was not
	// issued by this verifier, or was forgotten. The server challenges
	// again with stale=true (RFC 7616 §3.3) and the client retries without
	// asking its user.
	ErrStale = errors.New("digest: stale nonce")
	// ErrReplay: the nonce count did not increase since the last request
	// with this nonce (RFC 7616 §3.4: replay protection). Answered like
	// ErrStale, so that a genuine client gets a fresh nonce.
	ErrReplay = errors.New("digest: nonce count replayed")
	// ErrBadResponse: the response (or rspauth) does not match: wrong
	// password, wrong username, or a tampered request. A server challenges
	// again or answers 403 (RFC 3261 §22.1).
	ErrBadResponse = errors.New("digest: wrong response")
	// ErrUnknownUser: the server's LookupFunc does not know the username.
	// Tell the peer no more than for ErrBadResponse.
	ErrUnknownUser = errors.New("digest: unknown user")
)

// Error describes a failure: the sentinel it wraps, the realm concerned if
// known, and a short lower-case reason ("missing nonce").
type Error struct {
	Err    error  // one of the sentinel errors above
	Realm  string // realm of the challenge or credentials, "" if unknown
	Reason string // what was wrong
}

func (e *Error) Error() string {
	s := "digest: " + e.Reason
	if e.Realm != "" {
		s += " (realm " + e.Realm + ")"
	}
	return s
}

// Unwrap returns the sentinel error, so errors.Is(err, ErrStale) works.
func (e *Error) Unwrap() error { return e.Err }

// Stale reports whether a server's new challenge should carry stale=true:
// the client proved it knows the password and only needs a fresh nonce.
func (e *Error) Stale() bool { return e.Err == ErrStale || e.Err == ErrReplay }

// StatusCode is the response a server sends for a request whose
// credentials failed this way: 400 for malformed credentials (RFC 3261
// §21.4.1), 403 for a wrong response or unknown user (RFC 3261 §22.1 lets
// a server refuse rather than challenge again), 401 otherwise (a new
// challenge, stale when Stale says so). A proxy sends 407 where this says
// 401.
func (e *Error) StatusCode() int {
	switch e.Err {
	case ErrMalformed:
		return 400
	case ErrBadResponse, ErrUnknownUser:
		return 403
	}
	return 401
}

func fail(sentinel error, realm, reason string) *Error {
	return &Error{Err: sentinel, Realm: realm, Reason: reason}
}
