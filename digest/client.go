package digest

import (
	"sync"

	"github.com/sipxfer/sipxfer/sip"
)

// CredentialsFunc supplies the account answering a challenge, usually by
// its Realm alone (RFC 3261 §22.1: the realm defines the protection
// domain); a client storing HA1 rather than passwords also looks at its
// Algorithm. ok false means none: that challenge goes unanswered
// (ErrNoCredentials). It may be called for several realms per response and
// again for realms answered before (their nonce count moves on).
type CredentialsFunc func(ch *Challenge) (acct Account, ok bool)

// DefaultMaxNonces is the number of nonces a Client counts for when
// Client.MaxNonces is zero.
const DefaultMaxNonces = 256

// Client answers challenges on behalf of a user agent. It keeps, for each
// (realm, nonce) it answered, the last nonce count, so that a nonce used
// again is sent with nc 2, 3 ... (RFC 7616 §3.4); it forgets the oldest
// beyond MaxNonces. The zero value is ready to use and a Client is safe
// for concurrent use.
type Client struct {
	// CNonce makes client nonces; nil means NewCNonce. Tests set it.
	CNonce func() string
	// MaxNonces bounds the nonces counted; 0 means DefaultMaxNonces. A
	// forgotten nonce starts again at nc 1, which its server may refuse
	// as a replay: it then challenges with stale=true and a fresh nonce.
	MaxNonces int

	mu    sync.Mutex
	count map[nonceKey]uint32
	ring  []nonceKey // insertion order, for eviction
	next  int
}

type nonceKey struct{ realm, nonce string }

// NextNC returns the nonce count for the next use of (realm, nonce): 1 the
// first time, then 2, 3 ...
func (c *Client) NextNC(realm, nonce string) uint32 {
	k := nonceKey{realm, nonce}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.count[k]; ok {
		if n == ^uint32(0) {
			n = 0 // nc-value is 8 hex digits; wrap rather than send 9
		}
		c.count[k] = n + 1
		return n + 1
	}
	max := c.MaxNonces
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if c.count == nil {
		c.count = make(map[nonceKey]uint32)
	}
	if len(c.ring) < max {
		c.ring = append(c.ring, k)
	} else {
		c.next %= len(c.ring)
		delete(c.count, c.ring[c.next])
		c.ring[c.next] = k
		c.next++
	}
	c.count[k] = 1
	return 1
}

// Answer answers ch with acct for a request (method, Request-URI, body),
// with the next nonce count of ch's nonce and a fresh cnonce; see Respond.
func (c *Client) Answer(ch *Challenge, method, uri string, body []byte, acct Account) (Credentials, error) {
	var nc uint32
	var cnonce string
	if ch.QOP != 0 {
		nc = c.NextNC(ch.Realm, ch.Nonce)
		if c.CNonce != nil {
			cnonce = c.CNonce()
		}
	}
	return Respond(ch, method, uri, body, acct, nc, cnonce)
}

// Select parses the challenge values of one kind (every WWW-Authenticate
// value of a 401, or every Proxy-Authenticate value of a 407) and returns
// those to answer, in order:
//
//   - values that are not Digest, that do not parse, or that name an
//     unknown algorithm are left out (RFC 7616 §3.3: ignored);
//   - every realm is answered (RFC 3261 §22.3: a forked request may be
//     challenged by several proxies);
//   - of the challenges for one realm, only those of the strongest
//     algorithm offered, SHA-512-256 > SHA-256 > MD5, and of those the
//     algorithm listed first (RFC 7616 §3.7). Several challenges of that
//     algorithm (several proxies sharing a realm) are all kept.
//
// With nothing left, the error says why: ErrNoChallenge when values is
// empty, else the most telling failure (ErrUnsupportedAlgorithm before
// ErrUnsupportedQOP, ErrMalformed and ErrUnsupportedScheme).
func Select(values [][]byte) ([]Challenge, error) {
	var all []Challenge
	var worst *Error
	for _, v := range values {
		ch, err := ParseChallenge(v)
		if err != nil {
			if e := err.(*Error); worst == nil || rank(e.Err) < rank(worst.Err) {
				worst = e
			}
			continue
		}
		all = append(all, ch)
	}
	if len(all) == 0 {
		if worst == nil {
			return nil, fail(ErrNoChallenge, "", "no challenge")
		}
		return nil, worst
	}
	out := all[:0:0]
	for i := range all {
		// Pick, for this challenge's realm, the algorithm to answer.
		best := -1
		for j := range all {
			if all[j].Realm == all[i].Realm && (best < 0 || all[j].Algorithm.strength() > all[best].Algorithm.strength()) {
				best = j
			}
		}
		if all[i].Algorithm == all[best].Algorithm {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// rank orders Select's reasons for leaving every challenge out, most
// telling first.
func rank(err error) int {
	switch err {
	case ErrUnsupportedAlgorithm:
		return 0
	case ErrUnsupportedQOP:
		return 1
	case ErrMalformed:
		return 2
	}
	return 3
}

// Authorize builds the credentials of a request retried after resp, a 401
// or 407 to req (RFC 3261 §22.2, §22.3). It appends to dst header field
// lines, "Authorization: Digest ...\r\n" and "Proxy-Authorization: Digest
// ...\r\n": the caller removes every Authorization and Proxy-Authorization
// field from req, adds these lines, and sends it again with a new CSeq
// (RFC 3261 §22.2).
//
// The lines answer resp's WWW-Authenticate and Proxy-Authenticate values
// as Select picks them, each with the account creds gives for it, and keep
// req's own credentials for realms resp does not challenge (proxies that
// accepted them check the retried request too), recomputed with the
// next nonce count. The method, digest-uri and body are req's.
//
// A realm challenged again without stale=true after req answered a fresh
// challenge for it (nc 1) refused those credentials; RFC 3261 §22.1
// forbids sending them again, so it is skipped (ErrRejected). Credentials
// on a nonce used before (nc > 1) are answered once more, as servers that
// do not send stale=true re-challenge an expired nonce that way; the new
// answer has nc 1, so a second refusal stops.
//
// Authorize succeeds if it answered at least one challenge of resp; the
// other realms may then be skipped, as RFC 3261 §22.3 allows. Otherwise
// the error says why, checked in this order: ErrRejected, ErrNoCredentials,
// then Select's errors (ErrNoChallenge ...); dst is returned unchanged.
func (c *Client) Authorize(dst []byte, req, resp *sip.Message, creds CredentialsFunc) ([]byte, error) {
	method, uri, body := string(req.MethodName()), string(req.RequestURI().Raw), req.Body()
	start := len(dst)
	kinds := [2]struct {
		challenge, credentials sip.HeaderName
	}{
		{sip.HeaderWWWAuthenticate, sip.HeaderAuthorization},
		{sip.HeaderProxyAuthenticate, sip.HeaderProxyAuthorization},
	}
	var (
		answered   int
		firstErr   *Error
		selectErrs [2]error
	)
	prio := func(e *Error) int {
		switch e.Err {
		case ErrRejected:
			return 0
		case ErrNoCredentials:
			return 1
		}
		return 2
	}
	note := func(e *Error) {
		if firstErr == nil || prio(e) < prio(firstErr) {
			firstErr = e
		}
	}
	for k, kind := range kinds {
		var values [][]byte
		for it := resp.Values(kind.challenge); ; {
			v, ok := it.Next()
			if !ok {
				break
			}
			values = append(values, v)
		}
		var fresh []Challenge
		if len(values) > 0 {
			fresh, selectErrs[k] = Select(values)
		}
		// What req carried for this kind, by realm.
		var prior []Credentials
		for it := req.Values(kind.credentials); ; {
			v, ok := it.Next()
			if !ok {
				break
			}
			if cr, err := ParseCredentials(v); err == nil {
				prior = append(prior, cr)
			}
		}
		// refused reports whether req's credentials for realm answered a
		// fresh challenge (nc 1, or no qop) and so were refused as such. A
		// nonce used before (nc > 1) may just have expired: some servers
		// (Kamailio without flag 16) say so without stale=true.
		refused := func(realm string) bool {
			for i := range prior {
				if prior[i].Realm == realm && prior[i].NC <= 1 {
					return true
				}
			}
			return false
		}
		for i := range fresh {
			ch := &fresh[i]
			if !ch.Stale && refused(ch.Realm) {
				note(fail(ErrRejected, ch.Realm, "credentials refused"))
				continue
			}
			line, err := c.answerLine(dst, kind.credentials, ch, method, uri, body, creds)
			if err != nil {
				note(err.(*Error))
				continue
			}
			dst = line
			answered++
		}
		// Realms req carried that resp leaves alone: answer their
		// challenge again, rebuilt from what was sent.
		for i := range prior {
			pr := &prior[i]
			challenged := false
			for j := range fresh {
				challenged = challenged || fresh[j].Realm == pr.Realm
			}
			if challenged {
				continue
			}
			ch := Challenge{Realm: pr.Realm, Nonce: pr.Nonce, Opaque: pr.Opaque, HasOpaque: pr.HasOpaque,
				Algorithm: pr.Algorithm, AlgorithmName: pr.AlgorithmName, QOP: pr.QOP, Userhash: pr.Userhash}
			if line, err := c.answerLine(dst, kind.credentials, &ch, method, uri, body, creds); err == nil {
				dst = line
			}
		}
	}
	if answered > 0 {
		return dst, nil
	}
	dst = dst[:start]
	if firstErr != nil {
		return dst, firstErr
	}
	for _, err := range selectErrs {
		if err != nil {
			return dst, err
		}
	}
	return dst, fail(ErrNoChallenge, "", "no challenge in response")
}

// answerLine appends "Name: <credentials>\r\n" answering ch.
func (c *Client) answerLine(dst []byte, name sip.HeaderName, ch *Challenge, method, uri string, body []byte, creds CredentialsFunc) ([]byte, error) {
	acct, ok := creds(ch)
	if !ok {
		return dst, fail(ErrNoCredentials, ch.Realm, "no account")
	}
	cr, err := c.Answer(ch, method, uri, body, acct)
	if err != nil {
		return dst, err
	}
	dst = append(dst, name.String()...)
	dst = append(dst, ": "...)
	dst = AppendCredentials(dst, &cr)
	return append(dst, "\r\n"...), nil
}
