package dialog

import (
	"errors"
	"slices"
	"strconv"
	"sync"

	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Digest authentication, client side (RFC 3261 §22.2, §22.3): one loop
// around "send a request, read its final response", used by every request
// the UA sends through Initial.Send and Dialog.Request (so Dialog.Do, the
// calls, the event and refer packages and REGISTER). A 401 or 407 is not
// shown to the request's handler: the request is sent again as a new
// transaction (same Call-ID, next CSeq, a new branch) with the credentials
// digest.Client computes, and the handler sees that transaction's
// responses. It gives up, with an *AuthError, when the challenge cannot be
// answered or the credentials were refused. The same loop retries an
// INVITE or UPDATE answered 422 with a larger session interval, when the
// UA uses session timers (RFC 4028 §7.3, session_timer.go).

// maxAuthRounds bounds the retries of one request: a proxy's 407, then the
// UAS's 401, then a stale nonce is three; a server that keeps saying stale
// (or 422) must not keep us sending.
const maxAuthRounds = 4

// AuthError reports a request that was challenged (401 or 407) and not
// retried: no credentials for the realm, credentials refused (a second
// challenge after they were sent, RFC 3261 §22.1: never sent again), a
// challenge that cannot be answered, or too many rounds. errors.Is finds
// the digest sentinel (digest.ErrRejected, digest.ErrNoCredentials ...).
// A handler gets it as transaction.Response.Err, with Msg the challenge.
type AuthError struct {
	Method string
	Code   int    // 401 or 407
	Realm  string // the realm concerned, if known
	Err    error  // a *digest.Error
}

func (e *AuthError) Error() string {
	s := "dialog: " + e.Method + " answered " + strconv.Itoa(e.Code)
	if e.Realm != "" {
		s += " by realm " + strconv.Quote(e.Realm)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the digest error.
func (e *AuthError) Unwrap() error { return e.Err }

// Status returns the response code (401 or 407), like StatusError.Status.
func (e *AuthError) Status() int { return e.Code }

// RetryHandler is a transaction.ClientHandler that wants to know when its
// request is sent again with credentials, before it goes: seq is the new
// CSeq number. A REFER's handler moves its implicit subscription to the id
// seq (RFC 3515 §2.4.6: the id is the CSeq of the REFER that was
// accepted). Returning false gives up instead: the handler then receives
// the challenge as an ordinary final response.
type RetryHandler interface {
	transaction.ClientHandler
	RetryRequest(seq uint32) bool
}

// retrier is the handler the UA puts between a request's transactions and
// the caller's handler while Config.Credentials or Config.SessionExpires
// is set.
type retrier struct {
	ua *UA
	h  transaction.ClientHandler
	// dest reports where the request's attempt in progress went (RFC
	// 3263 failover may have moved on): the server that challenged. Set
	// by the first send before it sends, then to the retries' server.
	dest func() transport.Addr
	// next returns the CSeq number of the retried request, given the one
	// challenged; retried records what was sent (Initial: its bytes and
	// seq; Dialog: the INVITE's credentials for its ACK).
	next    func(old uint32) uint32
	retried func(seq uint32, req, auth []byte)

	mu     sync.Mutex
	req    []byte // the request last sent, without Via
	auth   []byte // the credentials it carries (header lines), if any
	rounds int
	old    []*transaction.ClientTx // superseded: what they still report is dropped
}

// sendRetrying sends req with first (one transaction, or RFC 3263
// failover among targets) reporting to h, answering challenges when the
// UA has credentials and 422s when it uses session timers.
func (ua *UA) sendRetrying(first func(transaction.ClientHandler, *func() transport.Addr) (*transaction.ClientTx, error), req []byte, h transaction.ClientHandler, next func(uint32) uint32, retried func(uint32, []byte, []byte)) (*transaction.ClientTx, error) {
	if ua.cfg.Credentials == nil && !ua.sessionTimersOn() {
		return first(h, nil)
	}
	if h == nil {
		h = transaction.ClientHandlerFunc(func(*transaction.ClientTx, transaction.Response) {})
	}
	a := &retrier{ua: ua, h: h, next: next, retried: retried, req: req}
	// first sets a.dest before it sends: the challenge may come back
	// within the send (the in-memory network answers synchronously).
	return first(a, &a.dest)
}

// retries reports whether a final response of this status is retried.
func (a *retrier) retries(status int) bool {
	switch status {
	case 401, 407:
		return a.ua.cfg.Credentials != nil
	case 422:
		return a.ua.sessionTimersOn()
	}
	return false
}

// HandleResponse implements transaction.ClientHandler.
func (a *retrier) HandleResponse(tx *transaction.ClientTx, r transaction.Response) {
	a.mu.Lock()
	if slices.Contains(a.old, tx) {
		// The ACK of the challenge failed, or a late retransmission: the
		// request lives on in its retry.
		a.mu.Unlock()
		return
	}
	if r.Err != nil || r.Msg == nil || !a.retries(r.Status) {
		a.mu.Unlock()
		a.h.HandleResponse(tx, r)
		return
	}
	req, auth, rounds := a.req, a.auth, a.rounds
	a.mu.Unlock()

	var m sip.Message
	if err := sip.Parse(&m, slices.Clone(req)); err != nil {
		a.h.HandleResponse(tx, r)
		return
	}
	if r.Status == 422 {
		a.retryInterval(tx, r, &m, rounds, auth)
		return
	}
	method := string(m.MethodName())
	fail := func(err error) {
		e := &AuthError{Method: method, Code: r.Status, Err: err}
		var de *digest.Error
		if errors.As(err, &de) {
			e.Realm = de.Realm
		}
		a.h.HandleResponse(tx, transaction.Response{Msg: r.Msg, Status: r.Status, Err: e})
	}
	if rounds >= maxAuthRounds {
		e := &digest.Error{Err: digest.ErrRejected, Reason: "challenged " + strconv.Itoa(rounds+1) + " times"}
		for _, h := range [...]sip.HeaderName{sip.HeaderWWWAuthenticate, sip.HeaderProxyAuthenticate} {
			if ch, err := digest.ParseChallenge(r.Msg.Get(h)); err == nil && e.Realm == "" {
				e.Realm = ch.Realm
			}
		}
		fail(e)
		return
	}
	// RFC 3261 §22.2, §22.3: credentials for every challenge of the
	// response; a realm challenged again after its credentials were sent
	// refused them (digest.ErrRejected).
	auth, err := a.ua.digest.Authorize(nil, &m, r.Msg, a.ua.cfg.Credentials)
	if err != nil {
		fail(err)
		return
	}
	cseq, err := m.CSeq()
	if err != nil {
		fail(err)
		return
	}
	// §22.2: the same request with a new CSeq (and so, from the
	// transaction layer, a new branch) and the new credentials in place of
	// the old.
	a.resend(tx, r, &m, cseq.Seq, isCredentials, auth, auth)
}

// isCredentials reports the header fields a retry with new credentials
// replaces.
func isCredentials(f sip.Field) bool {
	return f.Name == sip.HeaderAuthorization || f.Name == sip.HeaderProxyAuthorization
}

// resend sends m again as a new transaction after tx's final response r:
// with the next CSeq number after seq, without the fields drop selects,
// with lines (header lines) added; auth is the credentials it carries.
// The caller's handler may refuse (RetryHandler): it then gets r.
func (a *retrier) resend(tx *transaction.ClientTx, r transaction.Response, m *sip.Message, seq uint32, drop func(sip.Field) bool, lines, auth []byte) {
	seq = a.next(seq)
	if rh, ok := a.h.(RetryHandler); ok && !rh.RetryRequest(seq) {
		a.h.HandleResponse(tx, r)
		return
	}
	retry := rewriteRequest(m, seq, drop, lines)
	a.mu.Lock()
	// To the server that challenged: RFC 3263 failover is over once one
	// has answered. Later rounds go there too.
	dst := tx.Dest()
	if a.dest != nil {
		dst = a.dest()
	}
	a.dest = func() transport.Addr { return dst }
	a.req, a.auth = retry, auth
	a.rounds++
	a.old = append(a.old, tx)
	a.mu.Unlock()
	if a.retried != nil {
		a.retried(seq, retry, auth)
	}
	if _, err := a.ua.tm.Request(dst, retry, a); err != nil {
		a.h.HandleResponse(tx, transaction.Response{Status: 503, Err: err})
	}
}

// rewriteRequest writes m again with CSeq number seq, without the fields
// drop selects and with lines (header lines) added.
func rewriteRequest(m *sip.Message, seq uint32, drop func(sip.Field) bool, lines []byte) []byte {
	b := make([]byte, 0, len(m.Bytes())+len(lines))
	b = sip.AppendRequestLine(b, m.MethodName(), m.RequestURI().Raw)
	for _, f := range m.Fields() {
		if drop(f) {
			continue
		}
		switch f.Name {
		case sip.HeaderCSeq:
			cseq, _ := m.CSeq()
			b = sip.AppendCSeq(b, seq, cseq.MethodName)
			continue
		case sip.HeaderContentLength:
			continue // written last, after the lines added
		}
		b = sip.AppendHeaderName(b, f.RawName, f.Value)
	}
	b = append(b, lines...)
	b = sip.AppendHeaderUint(b, sip.HeaderContentLength, uint64(len(m.Body())))
	b = append(b, "\r\n"...)
	return append(b, m.Body()...)
}

// authHeaders turns header lines ("Name: value\r\n" ...) into Headers.
func authHeaders(lines []byte) []Header {
	var hs []Header
	for len(lines) > 0 {
		line := lines
		if i := indexCRLF(lines); i >= 0 {
			line, lines = lines[:i], lines[i+2:]
		} else {
			lines = nil
		}
		for i := 0; i+1 < len(line); i++ {
			if line[i] == ':' {
				hs = append(hs, Header{Name: string(line[:i]), Value: string(trimSpace(line[i+1:]))})
				break
			}
		}
	}
	return hs
}

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// retried records a retry of the Initial: its CSeq, bytes and credentials.
func (in *Initial) retried(seq uint32, req, auth []byte) {
	in.ua.mu.Lock()
	in.seq = seq
	if in.req != nil {
		in.req = req
	}
	in.auth = auth
	in.ua.mu.Unlock()
}

// authForACK hands a dialog created by the INVITE the credentials it was
// last sent with: RFC 3261 §22.1, the ACK for a 2xx carries the same
// credentials as its INVITE.
func (in *Initial) authForACK(d *Dialog) {
	if in.method != "INVITE" {
		return
	}
	in.ua.mu.Lock()
	if in.auth != nil {
		d.ackAuth = &ackAuth{lines: in.auth, seq: in.seq}
	}
	in.ua.mu.Unlock()
}

// nextSeq takes the dialog's next local CSeq number for a retried request
// (RFC 3261 §12.2.1.1: one more for each request).
func (d *Dialog) nextSeq(uint32) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.localSeq++
	return d.localSeq
}

// retried keeps the credentials of a retried re-INVITE for its ACK.
func (d *Dialog) retried(seq uint32, req, auth []byte) {
	if len(req) < 7 || string(req[:7]) != "INVITE " {
		return
	}
	d.mu.Lock()
	d.ackAuth = &ackAuth{lines: auth, seq: seq}
	d.mu.Unlock()
}

// appendACKAuth writes the credentials of the INVITE with CSeq seq into
// its ACK (RFC 3261 §22.1).
func (d *Dialog) appendACKAuth(b []byte, seq uint32) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.ackAuth; a != nil && a.seq == seq {
		b = append(b, a.lines...)
	}
	return b
}

// Authenticator makes a UA challenge requests it receives (RFC 3261 §22.1,
// §22.4), for instance REFERs before acting on them (RFC 3515 §5): a
// request of a covered method without valid credentials is answered 401
// with WWW-Authenticate (407 with Proxy-Authenticate when Proxy is set);
// one that verifies goes on with Request.AuthUser set. ACK and CANCEL are
// never challenged (§22.1); they do not come this way.
type Authenticator struct {
	// Verifier issues and checks nonces; required.
	Verifier *digest.Verifier
	// Realm is the protection domain (RFC 3261 §22.1); required.
	Realm string
	// Lookup finds the account of a username; required.
	Lookup digest.LookupFunc
	// Methods are the methods challenged; nil means every method.
	Methods []string
	// Proxy challenges with 407 and Proxy-Authenticate, reading
	// Proxy-Authorization, as a proxy does (RFC 3261 §22.3).
	Proxy bool
}

// challenge applies Config.Authenticate to r, reporting true when it has
// answered r (a challenge, or 400 for malformed credentials).
func (ua *UA) challenge(r *Request) bool {
	a := ua.cfg.Authenticate
	if a == nil || a.Verifier == nil {
		return false
	}
	method := string(r.Msg.MethodName())
	if a.Methods != nil && !slices.Contains(a.Methods, method) {
		return false
	}
	vd, err := a.Verifier.VerifyRequest(r.Msg, a.Proxy, a.Realm, nil, a.Lookup)
	if err == nil {
		r.AuthUser = vd.Username
		return false
	}
	var de *digest.Error
	if errors.As(err, &de) && de.Err == digest.ErrMalformed {
		r.Respond(400, "Malformed Credentials", nil)
		return true
	}
	// A wrong password is challenged again rather than refused with 403,
	// as registrars do (RFC 3261 §22.1: the client MUST NOT retry with
	// the same credentials, so it stops there).
	code, h := 401, sip.HeaderWWWAuthenticate
	if a.Proxy {
		code, h = 407, sip.HeaderProxyAuthenticate
	}
	stale := de != nil && de.Stale()
	lines := a.Verifier.AppendChallenges(nil, h, a.Realm, nil, stale)
	r.Respond(code, "", &ResponseOptions{Headers: authHeaders(lines)})
	return true
}

// inviteHandler takes the responses of a Call's INVITE. A retry with
// credentials is a new INVITE transaction: from then on it is the one a
// CANCEL names (RFC 3261 §9.1: the pending request), once it has had a
// provisional response. A call cancelled meanwhile is not retried.
type inviteHandler struct{ c *Call }

func (h inviteHandler) HandleResponse(tx *transaction.ClientTx, r transaction.Response) {
	h.c.inviteResponse(tx, r)
}

func (h inviteHandler) RetryRequest(uint32) bool {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel || c.state == CallEnded {
		return false
	}
	c.tx, c.provisional = nil, false
	return true
}

// SetServiceRoute sets the route a registrar returned in Service-Route
// (RFC 3608 §6): the preloaded route set, after Config.OutboundProxy, of
// every request the UA sends outside a dialog but REGISTER. Each value is
// a name-addr as received ("<sip:orig@scscf.example.com;lr>"); the first
// hop must be a loose router. Nil clears it.
func (ua *UA) SetServiceRoute(routes []string) {
	ua.mu.Lock()
	ua.serviceRoute = slices.Clone(routes)
	ua.mu.Unlock()
}

// preloadedRoute returns the Route values a request of method outside a
// dialog carries after the outbound proxy's, in order.
func (ua *UA) preloadedRoute(method string) []string {
	if method == "REGISTER" {
		return nil // RFC 3608 §6: Service-Route is for other requests
	}
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.serviceRoute
}
