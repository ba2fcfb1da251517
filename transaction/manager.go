// Package transaction implements the transaction layer of SIP: the four
// state machines of RFC 3261 §17 (INVITE and non-INVITE, client and server)
// with the "Accepted" state of RFC 6026, their timers, the matching of
// responses and requests to transactions (§17.1.3, §17.2.3, with the
// RFC 2543 fallback), the ACK a client transaction sends for a non-2xx
// final response (§17.1.1.3) and the answer a server gives a CANCEL
// (§9.2).
//
// A Manager sits between the transport layer, whose Handler it is, and the
// transaction user (TU: a UA core or dialog layer), which starts client
// transactions with Manager.Request and receives server transactions
// through the TU interface.
package transaction

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sipxfer/sipxfer/internal/ratelog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Transport is what the transaction layer needs from the transport layer;
// *transport.Layer implements it.
type Transport interface {
	// SendRequest inserts a top Via with the given branch (and sent-by,
	// transport, rport) into req, a complete request without its top Via,
	// sends it to dst, and returns the exact bytes sent and the transport
	// address actually used (UDP may become TCP for a large request). The
	// transaction keeps wire for retransmissions: the transport must not
	// reuse it.
	SendRequest(dst transport.Addr, branch []byte, req []byte) (wire []byte, used transport.Addr, err error)
	// Send sends bytes as they are: retransmissions, and the ACK for a
	// non-2xx final response.
	Send(dst transport.Addr, wire []byte) error
	// SendResponse sends a response where RFC 3261 §18.2.2 says, given how
	// the request arrived.
	SendResponse(rt transport.ReplyTo, wire []byte) error
}

// Manager holds the client and server transactions of one SIP element and
// routes every inbound message to the transaction it belongs to. It
// implements transport.Handler.
//
// Concurrency. A Manager is safe for concurrent use: the transport calls
// HandleInbound from its reading goroutines, clock timers fire on their own
// (SystemClock) and the TU calls Request, Respond and Cancel from anywhere.
// One mutex guards the two tables; each transaction has its own mutex
// guarding its state, its timers and the bytes it retransmits. A lookup
// may take a transaction's lock while holding the table lock, never the
// reverse. No lock is held while calling the transport or the TU: a
// transition runs under the transaction's lock and yields what to do
// (send these bytes, pass this message up, leave the table), which runs
// after unlocking, so the TU may call back into the Manager from any
// callback. Timer callbacks (Clock.AfterFunc) take the transaction's lock
// and ignore a timer that was stopped or replaced meanwhile. A transaction
// leaves its table the moment it enters Terminated, with every timer
// stopped: nothing outlives it. With a transport.FakeClock and a
// synchronous Transport everything runs on the caller's goroutine, in a
// deterministic order.
//
// Because transitions are decided under the lock, a transaction passes a
// final response (or a failure) to its TU once; the one exception is a
// failure to send the ACK for a non-2xx, reported after that response
// (see ClientHandler). Callbacks of one
// transaction are not serialised with each other, though: two responses
// read by two transport goroutines at once may reach the TU in either
// order, as they could over the network.
//
// The TU is called synchronously from HandleInbound (and from timer
// callbacks); it should not block. Messages passed to it are valid only
// during the call (transport.Inbound).
type Manager struct {
	cfg   Config
	clock transport.Clock
	tp    Transport
	tu    TU
	log   *slog.Logger

	mu      sync.Mutex
	closed  bool
	clients map[string]*ClientTx // by branch; see key.go
	servers map[string]*ServerTx // by branch and sent-by
	legacy  map[string]*ServerTx // RFC 2543 requests, by Call-ID
	merged  map[string]*ServerTx // requests without To tag, by mergeKey
	nclient int
	nserver int

	life   *lifeQueue // Timers J, L and M: 64*T1
	lifeT4 *lifeQueue // Timers K and I: T4

	unanswered   atomic.Int64 // server transactions awaiting a final response
	overloads    atomic.Uint64
	overloadWarn ratelog.Limiter // one warning per 10 s of a flood
}

var _ transport.Handler = (*Manager)(nil)

// NewManager returns a Manager that sends through tp and passes server
// transactions, ACKs for 2xx, CANCELs and stray responses to tu. A nil tu
// suits an element that only sends requests: every request it receives is
// answered 501 (Not Implemented), except that a CANCEL still gets its 200
// or 481 from the Manager and an ACK is dropped, as is everything else.
func NewManager(cfg Config, tp Transport, tu TU) *Manager {
	cfg = cfg.withDefaults()
	if tu == nil {
		tu = nopTU{}
	}
	m := &Manager{
		cfg:     cfg,
		clock:   cfg.Clock,
		tp:      tp,
		tu:      tu,
		log:     cfg.Logger,
		clients: make(map[string]*ClientTx),
		servers: make(map[string]*ServerTx),
		merged:  make(map[string]*ServerTx),
		legacy:  make(map[string]*ServerTx),
		life:    &lifeQueue{clock: cfg.Clock, d: 64 * cfg.T1},
		lifeT4:  &lifeQueue{clock: cfg.Clock, d: cfg.T4},
	}
	// A final response the transport cannot pass up (it fails to parse or
	// validate) still ends its transaction, visibly (see HandleBadResponse).
	if r, ok := tp.(badResponseSource); ok {
		r.OnBadResponse(m.HandleBadResponse)
	}
	return m
}

// badResponseSource is a Transport that reports unusable final responses,
// as *transport.Layer does (Layer.OnBadResponse).
type badResponseSource interface {
	OnBadResponse(f func(in *transport.Inbound, status int, err error))
}

// HandleBadResponse ends the client transaction that a final response
// answers (top Via branch and CSeq method, RFC 3261 §17.1.3) when that
// response cannot be used: the TU gets an *Error wrapping ErrBadResponse
// and err, treated as 502, instead of a wait that, for an INVITE past its
// provisional response, has no end. A transaction that already has its
// final response ignores it. NewManager registers it with a Transport that
// has OnBadResponse, such as *transport.Layer.
func (m *Manager) HandleBadResponse(in *transport.Inbound, status int, err error) {
	if in == nil || in.Msg == nil || status < 200 {
		return
	}
	via, verr := in.Msg.TopVia()
	cseq, cerr := in.Msg.CSeq()
	if verr != nil || cerr != nil {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	tx := m.clients[string(via.Branch)]
	for tx != nil && tx.method != string(cseq.MethodName) {
		tx = tx.next
	}
	m.mu.Unlock()
	if tx == nil {
		m.drop("unusable response matching no transaction", in, err)
		return
	}
	tx.fail(&Error{Err: ErrBadResponse, Code: status, Cause: err}, false)
}

// Transactions returns how many client and server transactions exist, for
// tests that check nothing leaks.
func (m *Manager) Transactions() (client, server int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nclient, m.nserver
}

// Close ends every transaction at once, stopping its timers, without
// telling any TU; afterwards HandleInbound drops everything and Request
// fails with ErrClosed.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	var cs []*ClientTx
	var ss []*ServerTx
	for _, tx := range m.clients {
		for ; tx != nil; tx = tx.next {
			cs = append(cs, tx)
		}
	}
	for _, table := range [...]map[string]*ServerTx{m.servers, m.legacy} {
		for _, tx := range table {
			for ; tx != nil; tx = tx.next {
				ss = append(ss, tx)
			}
		}
	}
	m.mu.Unlock()
	for _, tx := range cs {
		tx.mu.Lock()
		ended := tx.terminate()
		tx.mu.Unlock()
		if ended {
			m.removeClient(tx)
		}
	}
	for _, tx := range ss {
		tx.mu.Lock()
		ended := tx.terminate()
		tx.mu.Unlock()
		if ended {
			m.removeServer(tx)
		}
	}
	m.life.close()
	m.lifeT4.close()
}

// HandleInbound routes a message from the transport: a response to its
// client transaction (RFC 3261 §17.1.3) or to the TU as stray (§18.1.2); a
// request to its server transaction (§17.2.3), to a new one, or, for an
// ACK matching none, to the TU.
func (m *Manager) HandleInbound(in *transport.Inbound) {
	if in == nil || in.Msg == nil {
		return
	}
	if in.Msg.IsRequest() {
		m.handleRequest(in)
	} else {
		m.handleResponse(in)
	}
}

func (m *Manager) handleResponse(in *transport.Inbound) {
	msg := in.Msg
	via, err := msg.TopVia()
	if err != nil {
		m.drop("response without a valid top Via", in, err)
		return
	}
	cseq, err := msg.CSeq()
	if err != nil {
		m.drop("response without a valid CSeq", in, err)
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	// RFC 3261 §17.1.3: same top Via branch as the request sent, and the
	// CSeq method of that request (a CANCEL shares its INVITE's branch).
	tx := m.clients[string(via.Branch)]
	for tx != nil && tx.method != string(cseq.MethodName) {
		tx = tx.next
	}
	m.mu.Unlock()
	if tx != nil && tx.receive(msg) {
		return
	}
	// RFC 3261 §18.1.2: no match, so the response goes to the core (a 2xx
	// retransmission after the INVITE transaction ended, for one).
	m.tu.HandleStrayResponse(in)
}

func (m *Manager) handleRequest(in *transport.Inbound) {
	msg := in.Msg
	via, err := msg.TopVia()
	if err != nil {
		m.drop("request without a valid top Via", in, err)
		return
	}
	var kb [keyBufLen]byte
	var key []byte
	// RFC 3261 §17.2.3: a branch with the magic cookie identifies the
	// transaction with the sent-by; without it, RFC 2543 rules apply.
	rfc3261 := via.IsRFC3261Branch()
	if rfc3261 {
		key = serverKey(kb[:0], &via)
	} else if key = msg.CallID(); len(key) == 0 {
		m.drop("RFC 2543 request without Call-ID", in, nil)
		return
	}
	switch msg.Method() {
	case sip.MethodAck:
		m.handleACK(in, key, rfc3261)
		return
	case sip.MethodCancel:
		m.handleCancel(in, key, rfc3261)
		return
	}
	// A retransmission can find a transaction that ends before it is
	// handled; the second pass then sees the request as new.
	for pass := 0; pass < 2; pass++ {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return
		}
		tx := m.findServer(msg, key, rfc3261, matchSame)
		if tx == nil {
			if limit := m.cfg.MaxUnanswered; limit > 0 && m.unanswered.Load() >= int64(limit) {
				m.mu.Unlock()
				m.overloaded(in)
				return
			}
			// RFC 3261 §8.2.2.2: a request without To tag whose From tag,
			// Call-ID and CSeq are those of an ongoing transaction it does
			// not match reached us twice, forked on different paths:
			// answer the copy 482 through a transaction of its own. A UAS
			// core rule, applied here for the TU, since only the Manager
			// knows the ongoing transactions.
			var mkey string
			if rfc3261 && len(msg.ToTag()) == 0 {
				mkey = mergeKey(msg)
			}
			if other := m.merged[mkey]; other != nil && !other.ended.Load() {
				tx = m.newServerTx(in, key, rfc3261)
				m.mu.Unlock()
				m.log.Debug("transaction: merged request answered 482", "method", tx.name, "remote", in.Remote.String())
				resp := sip.AppendResponse(make([]byte, 0, 64+len(msg.Bytes())), msg, 482, "Loop Detected", newTag())
				tx.Respond(sip.AppendNoBody(resp))
				return
			}
			tx = m.newServerTx(in, key, rfc3261)
			if mkey != "" {
				tx.mergeKey = mkey
				m.merged[mkey] = tx
			}
			m.mu.Unlock()
			tx.start(msg)
			return
		}
		m.mu.Unlock()
		if tx.retransmission() {
			return
		}
	}
}

// handleACK passes an ACK to the INVITE server transaction it matches
// (RFC 3261 §17.2.3: by branch and sent-by with method INVITE, or by the
// RFC 2543 rules with the To tag of the response sent) or, matching none,
// to the TU: it acknowledges a 2xx (RFC 3261 §17: the ACK for a 2xx is not
// part of the INVITE transaction).
func (m *Manager) handleACK(in *transport.Inbound, key []byte, rfc3261 bool) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	tx := m.findServer(in.Msg, key, rfc3261, matchSame)
	m.mu.Unlock()
	if tx != nil && tx.ack() {
		return
	}
	m.tu.HandleACK(in)
}

// handleCancel gives a CANCEL its own non-INVITE server transaction,
// matches it to the request it cancels and answers it (RFC 3261 §9.2): 200
// if that request's transaction exists, 481 otherwise. If the cancelled
// request is an INVITE still awaiting its final response, the TU hears of
// it through HandleCancel and should answer the INVITE 487.
func (m *Manager) handleCancel(in *transport.Inbound, key []byte, rfc3261 bool) {
	msg := in.Msg
	var own, target *ServerTx
	for pass := 0; pass < 2; pass++ {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return
		}
		own = m.findServer(msg, key, rfc3261, matchSame)
		if own == nil {
			// RFC 3261 §9.2: match as if the method were anything but
			// CANCEL or ACK.
			target = m.findServer(msg, key, rfc3261, matchCancelled)
			own = m.newServerTx(in, key, rfc3261)
			m.mu.Unlock()
			break
		}
		m.mu.Unlock()
		if own.retransmission() {
			return
		}
		own = nil
	}
	if own == nil {
		return
	}
	code, reason := 481, "" // RFC 3261 §9.2: no matching transaction
	var tag []byte
	if err := msg.Validate(); err != nil {
		// The 200 or 481 copies From, To, Call-ID and CSeq (§8.2.6.2):
		// without them answer 400, and cancel nothing.
		code, reason, target = 400, "Bad Request", nil
		var pe *sip.ParseError
		if errors.As(err, &pe) {
			code, reason = pe.StatusCode(), pe.ReasonPhrase()
		}
	}
	if target != nil {
		code = 200 // RFC 3261 §9.2: "the UAS answers the CANCEL request itself with a 200 (OK)"
		tag = target.LocalTag()
	} else {
		tag = newTag()
	}
	resp := sip.AppendResponse(make([]byte, 0, 64+len(msg.Bytes())), msg, code, reason, tag)
	resp = sip.AppendNoBody(resp)
	if err := own.Respond(resp); err != nil {
		m.warn("cannot answer CANCEL", in, err)
	}
	if target != nil && target.invite && target.pending() {
		m.tu.HandleCancel(target, msg)
	}
}

// matchMode selects what findServer looks for.
type matchMode uint8

const (
	matchSame      matchMode = iota // the transaction of this request (INVITE for an ACK)
	matchCancelled                  // for a CANCEL: the request it cancels
)

// findServer returns the live server transaction that msg matches, or nil.
// Called with m.mu held.
func (m *Manager) findServer(msg *sip.Message, key []byte, rfc3261 bool, mode matchMode) *ServerTx {
	method, name := msg.Method(), msg.MethodName()
	if method == sip.MethodAck {
		method, name = sip.MethodInvite, nil // RFC 3261 §17.2.3 rule 3
	}
	if rfc3261 {
		for tx := m.servers[string(key)]; tx != nil; tx = tx.next {
			if tx.ended.Load() {
				continue
			}
			if mode == matchCancelled {
				if tx.method != sip.MethodCancel && tx.method != sip.MethodAck {
					return tx
				}
			} else if tx.sameMethod(method, name) {
				return tx
			}
		}
		return nil
	}
	for tx := m.legacy[string(key)]; tx != nil; tx = tx.next {
		if tx.ended.Load() {
			continue
		}
		if mode == matchSame && !tx.sameMethod(method, name) {
			continue
		}
		var respTag []byte
		if msg.Method() == sip.MethodAck {
			respTag = tx.ToTag()
		}
		if match2543(tx.orig, msg, respTag, mode == matchCancelled) {
			return tx
		}
	}
	return nil
}

// mergeKey identifies a request for merged-request detection (RFC 3261
// §8.2.2.2): Call-ID, From tag, CSeq number and method; "" if its CSeq
// does not parse.
func mergeKey(msg *sip.Message) string {
	cseq, err := msg.CSeq()
	if err != nil {
		return ""
	}
	b := make([]byte, 0, 96)
	b = append(b, msg.CallID()...)
	b = append(b, 0)
	b = append(b, msg.FromTag()...)
	b = append(b, 0)
	b = strconv.AppendUint(b, uint64(cseq.Seq), 10)
	b = append(b, ' ')
	b = append(b, cseq.MethodName...)
	return string(b)
}

// newServerTx creates a server transaction for the request in in and
// enters it in its table. Called with m.mu held.
func (m *Manager) newServerTx(in *transport.Inbound, key []byte, rfc3261 bool) *ServerTx {
	msg := in.Msg
	tx := &ServerTx{
		m:        m,
		method:   msg.Method(),
		name:     methodName(msg.Method(), msg.MethodName()),
		invite:   msg.Method() == sip.MethodInvite,
		reply:    in.Reply,
		reliable: reliableInbound(in),
		key:      string(key),
	}
	tx.state = StateTrying // RFC 3261 §17.2.2
	if tx.invite {
		tx.state = StateProceeding // RFC 3261 §17.2.1
		tx.more = &serverMore{}
	}
	table := m.servers
	if !rfc3261 {
		tx.orig = msg.Clone() // RFC 2543 matching compares field by field
		table = m.legacy
	}
	tx.next = table[tx.key]
	table[tx.key] = tx
	m.nserver++
	tx.awaiting = true
	m.unanswered.Add(1)
	return tx
}

// overloaded answers a request over Config.MaxUnanswered with 503 and a
// Retry-After (RFC 3261 §21.5.4), statelessly: a retransmission gets the
// same answer, or a transaction if there is room by then.
func (m *Manager) overloaded(in *transport.Inbound) {
	resp := sip.AppendResponse(make([]byte, 0, 64+len(in.Msg.Bytes())), in.Msg, 503, "Too Many Pending Requests", newTag())
	resp = sip.AppendHeaderUint(resp, sip.HeaderRetryAfter, 1+rand.Uint64N(5)) // 1-5 s, spread
	resp = sip.AppendNoBody(resp)
	m.overloads.Add(1)
	if ok, skipped := m.overloadWarn.Allow(m.clock.Now()); ok {
		m.log.Warn("transaction: request refused: MaxUnanswered reached", "remote", in.Remote.String(), "suppressed", skipped)
	}
	if err := m.tp.SendResponse(in.Reply, resp); err != nil {
		m.warn("cannot answer 503", in, err)
	}
}

// Overloaded returns how many requests were answered 503 because of
// Config.MaxUnanswered.
func (m *Manager) Overloaded() uint64 { return m.overloads.Load() }

// reliableInbound reports whether the request arrived over a reliable
// transport, which sets the server timers (RFC 3261 §17.2).
func reliableInbound(in *transport.Inbound) bool {
	if p := in.Reply.Remote.Proto; p != 0 {
		return p.Reliable()
	}
	return in.Local.Proto.Reliable()
}

// removeServer takes a terminated transaction out of its table.
func (m *Manager) removeServer(tx *ServerTx) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tx.mergeKey != "" && m.merged[tx.mergeKey] == tx {
		delete(m.merged, tx.mergeKey)
	}
	table := m.servers
	if tx.orig != nil {
		table = m.legacy
	}
	head := table[tx.key]
	if head == tx {
		if tx.next == nil {
			delete(table, tx.key)
		} else {
			table[tx.key] = tx.next
		}
		m.nserver--
		return
	}
	for p := head; p != nil; p = p.next {
		if p.next == tx {
			p.next = tx.next
			m.nserver--
			return
		}
	}
}

// removeClient takes a terminated transaction out of the client table.
func (m *Manager) removeClient(tx *ClientTx) {
	m.mu.Lock()
	defer m.mu.Unlock()
	head := m.clients[tx.key]
	if head == tx {
		if tx.next == nil {
			delete(m.clients, tx.key)
		} else {
			m.clients[tx.key] = tx.next
		}
		m.nclient--
		return
	}
	for p := head; p != nil; p = p.next {
		if p.next == tx {
			p.next = tx.next
			m.nclient--
			return
		}
	}
}

// debugging reports whether debug records are wanted, so that the hot
// path builds no attributes otherwise.
func (m *Manager) debugging() bool { return m.log.Enabled(context.Background(), slog.LevelDebug) }

func (m *Manager) drop(why string, in *transport.Inbound, err error) {
	if m.debugging() {
		m.log.Debug("transaction: dropped "+why, "remote", in.Remote.String(), "err", err)
	}
}

func (m *Manager) warn(why string, in *transport.Inbound, err error) {
	m.log.Warn("transaction: "+why, "remote", in.Remote.String(), "err", err)
}
