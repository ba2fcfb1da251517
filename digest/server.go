package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// Defaults of Verifier's fields.
const (
	DefaultMaxAge       = 5 * time.Minute
	DefaultMaxNonceUses = 4096
)

// LookupFunc finds the account credentials claim, from c.Username and
// c.Realm; when c.Userhash is set the username is H(name:realm) of
// c.Algorithm and the account's real name must be returned in
// Account.Username. The account gives the password or, for a server that
// stores no passwords, HA1 of c.Algorithm. ok false: no such user.
type LookupFunc func(c *Credentials) (acct Account, ok bool)

// Verifier is a stateless Digest challenger and checker for a UAS,
// registrar or proxy. Its nonces carry their own proof (RFC 7616 §5.4
// suggests as much): base64url(time || salt || HMAC-SHA256(secret, time ||
// salt || realm || binding)), so any nonce it issued verifies without a
// table of outstanding nonces, for MaxAge. The only state is the replay
// memory: for the last MaxNonceUses nonces used, the highest nonce count
// accepted. The zero value is ready to use; a Verifier is safe for
// concurrent use. ACK and CANCEL are never challenged (RFC 3261 §22.1);
// do not Verify them.
type Verifier struct {
	// Secret keys the nonces' HMAC. Empty: 32 random bytes chosen on first
	// use, so nonces do not survive a restart (a client then gets
	// stale=true and retries without asking its user).
	Secret []byte
	// Algorithms are offered, one challenge each, in order of preference
	// (RFC 7616 §3.7: strongest first); nil means MD5 only, what SIP peers
	// support. Credentials of any other algorithm are refused, so a client
	// cannot downgrade.
	Algorithms []Algorithm
	// MaxAge is how long a nonce is good for; 0 means DefaultMaxAge. An
	// older nonce with a right response gives ErrStale.
	MaxAge time.Duration
	// Opaque, when not empty, is sent in challenges and must come back.
	Opaque string
	// Userhash offers userhash=true (RFC 7616 §3.4.4).
	Userhash bool
	// RequireQOP refuses credentials without qop (RFC 2069 style). RFC
	// 3261 §22.4 asks servers to accept them, so the default does; they
	// carry no nonce count, so only MaxAge bounds their replay.
	RequireQOP bool
	// MaxNonceUses bounds the replay memory; 0 means DefaultMaxNonceUses.
	// A nonce pushed out of it is answered as stale: never a replay window.
	MaxNonceUses int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	secret  []byte
	uses    map[[macLen]byte]nonceUse
	ring    [][macLen]byte
	next    int
	horizon int64 // newest issue time of a nonce pushed out of uses
}

type nonceUse struct {
	nc     uint32
	issued int64
}

const (
	saltLen  = 8
	macLen   = 16 // HMAC-SHA256 truncated to 128 bits (RFC 2104 §5)
	nonceLen = 8 + saltLen + macLen
)

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) key() []byte {
	if len(v.Secret) > 0 {
		return v.Secret
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.secret == nil {
		v.secret = make([]byte, 32)
		rand.Read(v.secret)
	}
	return v.secret
}

func (v *Verifier) algorithms() []Algorithm {
	if len(v.Algorithms) == 0 {
		return []Algorithm{MD5}
	}
	return v.Algorithms
}

func (v *Verifier) mac(issued, salt []byte, realm string, binding []byte) [macLen]byte {
	m := hmac.New(sha256.New, v.key())
	m.Write(issued)
	m.Write(salt)
	m.Write([]byte(realm))
	m.Write([]byte{0}) // realm and binding cannot trade bytes
	m.Write(binding)
	var sum [sha256.Size]byte
	var out [macLen]byte
	copy(out[:], m.Sum(sum[:0]))
	return out
}

// Nonce returns a fresh nonce for realm, bound to binding (for instance
// the client's address, so a nonce is good from there only; nil for none).
func (v *Verifier) Nonce(realm string, binding []byte) string {
	var raw [nonceLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(v.now().UnixNano()))
	rand.Read(raw[8 : 8+saltLen])
	m := v.mac(raw[:8], raw[8:8+saltLen], realm, binding)
	copy(raw[8+saltLen:], m[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// Challenge returns a WWW-Authenticate (or Proxy-Authenticate) value for
// realm with a fresh unbound nonce, the first of Algorithms and qop="auth"
// (RFC 3261 §22.4 item 8: servers MUST send qop). stale=true tells the
// client its password was right and only the nonce needs renewing.
func (v *Verifier) Challenge(realm string, stale bool) string {
	ch := v.challenge(realm, nil, stale)
	ch.Algorithm = v.algorithms()[0]
	ch.AlgorithmName = ch.Algorithm.String()
	return ch.String()
}

func (v *Verifier) challenge(realm string, binding []byte, stale bool) Challenge {
	return Challenge{
		Realm:     realm,
		Nonce:     v.Nonce(realm, binding),
		Opaque:    v.Opaque,
		HasOpaque: v.Opaque != "",
		Stale:     stale,
		QOP:       QOPAuth,
		Userhash:  v.Userhash,
	}
}

// AppendChallenges appends the header fields of a 401 (h is
// sip.HeaderWWWAuthenticate) or 407 (sip.HeaderProxyAuthenticate): one
// challenge per algorithm, strongest first as configured, sharing one
// nonce bound to binding (nil for none).
func (v *Verifier) AppendChallenges(dst []byte, h sip.HeaderName, realm string, binding []byte, stale bool) []byte {
	ch := v.challenge(realm, binding, stale)
	for _, a := range v.algorithms() {
		ch.Algorithm, ch.AlgorithmName = a, a.String()
		dst = append(dst, h.String()...)
		dst = append(dst, ": "...)
		dst = AppendChallenge(dst, &ch)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// Verified is the outcome of a successful Verify.
type Verified struct {
	// Username is the account's name as LookupFunc gave it (the real one
	// when the client hashed it).
	Username    string
	Credentials Credentials
	acct        Account
}

// AuthInfo returns the Authentication-Info of the response to the verified
// request (RFC 7616 §3.5): rspauth over responseBody, qop, cnonce and nc.
// Set NextNonce for the client's next request if wanted.
func (vd *Verified) AuthInfo(responseBody []byte) AuthInfo {
	c := &vd.Credentials
	return AuthInfo{RspAuth: ResponseAuth(c, vd.acct, responseBody), QOP: c.QOP, CNonce: c.CNonce, NC: c.NC}
}

// Verify checks one Authorization or Proxy-Authorization value of a
// request with the given method, against realm and the binding the nonce
// was issued for (nil for none). It returns what was verified, or an
// *Error to map to a response with its StatusCode and Stale methods:
//
//   - ErrMalformed: the value does not parse (400);
//   - ErrNoCredentials: credentials for another realm (401, challenge);
//   - ErrUnsupportedAlgorithm, ErrUnsupportedQOP: an algorithm not
//     offered, auth-int, or no qop under RequireQOP (401, challenge);
//   - ErrUnknownUser, ErrBadResponse: no such user or a wrong response
//     (403, or challenge again: RFC 3261 §22.1);
//   - ErrStale: a right response with a nonce too old, not issued here (or
//     for another realm or binding), a wrong opaque, or a nonce pushed out
//     of the replay memory (401 with stale=true);
//   - ErrReplay: a right response whose nonce count did not increase
//     (401 with stale=true).
//
// The response is checked before the nonce, as RFC 7616 §3.3 asks of
// stale: only a client that knows the password is told it may retry.
func (v *Verifier) Verify(realm, method string, authorization, binding []byte, lookup LookupFunc) (Verified, error) {
	c, err := ParseCredentials(authorization)
	if err != nil {
		return Verified{}, err
	}
	if c.Realm != realm {
		return Verified{}, fail(ErrNoCredentials, c.Realm, "credentials for another realm")
	}
	offered := false
	for _, a := range v.algorithms() {
		offered = offered || a == c.Algorithm
	}
	if !offered {
		return Verified{}, fail(ErrUnsupportedAlgorithm, realm, "algorithm "+c.Algorithm.String()+" not offered")
	}
	if c.QOP == QOPAuthInt || c.QOP == 0 && v.RequireQOP {
		return Verified{}, fail(ErrUnsupportedQOP, realm, "qop "+c.QOP.String()+" not offered")
	}
	acct, ok := lookup(&c)
	if !ok {
		return Verified{}, fail(ErrUnknownUser, realm, "unknown user")
	}
	if acct.Username == "" && !c.Userhash {
		acct.Username = c.Username
	}
	if c.Userhash && subtle.ConstantTimeCompare([]byte(c.Algorithm.h(acct.Username, realm)), []byte(c.Username)) != 1 {
		return Verified{}, fail(ErrBadResponse, realm, "username hash does not match")
	}
	want := digestOf(c.Algorithm, acct.ha1(c.Algorithm, realm, c.Nonce, c.CNonce), c.Nonce, c.NC, c.CNonce, c.QOP, method, c.URI, nil)
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Response)) != 1 {
		return Verified{}, fail(ErrBadResponse, realm, "wrong response")
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Nonce)
	if err != nil || len(raw) != nonceLen {
		return Verified{}, fail(ErrStale, realm, "nonce not issued here")
	}
	m := v.mac(raw[:8], raw[8:8+saltLen], realm, binding)
	if !hmac.Equal(m[:], raw[8+saltLen:]) {
		return Verified{}, fail(ErrStale, realm, "nonce not issued here")
	}
	if v.Opaque != "" && (!c.HasOpaque || c.Opaque != v.Opaque) {
		return Verified{}, fail(ErrStale, realm, "wrong opaque")
	}
	issued := int64(binary.BigEndian.Uint64(raw[:8]))
	maxAge := v.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if v.now().Sub(time.Unix(0, issued)) > maxAge {
		return Verified{}, fail(ErrStale, realm, "nonce expired")
	}
	if c.QOP != 0 {
		if err := v.use(m, issued, c.NC); err != nil {
			err.Realm = realm
			return Verified{}, err
		}
	}
	return Verified{Username: acct.Username, Credentials: c, acct: acct}, nil
}

// use records nonce count nc for the nonce whose MAC is m: it must exceed
// the last one accepted (RFC 7616 §3.4, §5.3: replay protection).
func (v *Verifier) use(m [macLen]byte, issued int64, nc uint32) *Error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if u, ok := v.uses[m]; ok {
		if nc <= u.nc {
			return &Error{Err: ErrReplay, Reason: "nonce count not increasing"}
		}
		v.uses[m] = nonceUse{nc, issued}
		return nil
	}
	if issued <= v.horizon {
		// Perhaps used before and forgotten: a replay cannot be ruled out.
		return &Error{Err: ErrStale, Reason: "nonce forgotten"}
	}
	max := v.MaxNonceUses
	if max <= 0 {
		max = DefaultMaxNonceUses
	}
	if v.uses == nil {
		v.uses = make(map[[macLen]byte]nonceUse)
	}
	if len(v.ring) < max {
		v.ring = append(v.ring, m)
	} else {
		v.next %= len(v.ring)
		old := v.ring[v.next]
		v.horizon = max64(v.horizon, v.uses[old].issued)
		delete(v.uses, old)
		v.ring[v.next] = m
		v.next++
	}
	v.uses[m] = nonceUse{nc, issued}
	return nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// VerifyRequest verifies req's credentials for realm: its Authorization
// values, or with proxy its Proxy-Authorization values (RFC 3261 §22.3: a
// proxy consumes only those of its realm). It succeeds if one of them
// verifies. Otherwise it returns the error of the first value for realm,
// else ErrMalformed if a value did not parse, else ErrNoCredentials. Do not call it for ACK or CANCEL.
func (v *Verifier) VerifyRequest(req *sip.Message, proxy bool, realm string, binding []byte, lookup LookupFunc) (Verified, error) {
	h := sip.HeaderAuthorization
	if proxy {
		h = sip.HeaderProxyAuthorization
	}
	method := string(req.MethodName())
	var first, malformed error
	for it := req.Values(h); ; {
		value, ok := it.Next()
		if !ok {
			break
		}
		vd, err := v.Verify(realm, method, value, binding, lookup)
		switch e, _ := err.(*Error); {
		case err == nil:
			return vd, nil
		case e.Err == ErrNoCredentials:
		case e.Err == ErrMalformed:
			// Perhaps another realm's: it matters only if nothing else does.
			if malformed == nil {
				malformed = err
			}
		case first == nil:
			first = err
		}
	}
	switch {
	case first != nil:
		return Verified{}, first
	case malformed != nil:
		return Verified{}, malformed
	}
	return Verified{}, fail(ErrNoCredentials, realm, "no credentials")
}
