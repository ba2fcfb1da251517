package transaction

import (
	"context"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Response is what a client transaction passes to its TU: a response, or a
// transaction layer error standing in for one (RFC 3261 §8.1.3.1).
type Response struct {
	// Msg is the response; nil when Err is set. It is valid only during
	// the HandleResponse call; use Msg.Clone to keep it.
	Msg *sip.Message
	// Status is Msg's status code, or for an error the code RFC 3261
	// §8.1.3.1 says to treat it as: 408 for ErrTimeout, 503 for
	// ErrTransport.
	Status int
	// Err is nil for a response, else an *Error: the transaction ended
	// without a final response.
	Err error
}

// Final reports whether r ends the request: a final response or an error.
func (r Response) Final() bool { return r.Status >= 200 }

// ClientHandler receives what a client transaction passes up to its TU:
// every provisional response, the final response, each further 2xx while an
// INVITE transaction is Accepted (RFC 6026: the UAC core ACKs each; the TU
// may hand those to a smaller handler with ClientTx.SetHandler), or one
// error if the transaction ends without a final response. After a non-2xx
// final response to an INVITE, a failure to send the ACK is also reported
// (RFC 3261 Figure 5: Completed, transport error, inform TU).
type ClientHandler interface {
	// HandleResponse is called with each response or failure of tx, from
	// the transport's or the clock's goroutine, with no lock held.
	HandleResponse(tx *ClientTx, r Response)
}

// ClientHandlerFunc adapts a function to ClientHandler.
type ClientHandlerFunc func(tx *ClientTx, r Response)

// HandleResponse calls f(tx, r).
func (f ClientHandlerFunc) HandleResponse(tx *ClientTx, r Response) { f(tx, r) }

// Timer slots of a client transaction.
const (
	slotRetransmit = 0 // A (INVITE) or E (non-INVITE); INVITE in Proceeding: the wait after a CANCEL
	slotLifetime   = 1 // B then D or M (INVITE); F then K (non-INVITE)
	slotTimerC     = 2 // C (INVITE, when configured): ClientTx.timerC
)

// ClientTx is a client transaction (RFC 3261 §17.1): an INVITE one
// (Figure 5 with RFC 6026) or a non-INVITE one (Figure 6).
type ClientTx struct {
	// Fields ordered for size (256 bytes, a size class of the Go
	// allocator): finished transactions wait out Timer K or M.
	m      *Manager
	method string // the request method, matched against the CSeq method of responses
	branch [branchLen]byte
	invite bool
	key    string    // string(branch), the client table key
	next   *ClientTx // next in the table chain; guarded by Manager.mu

	mu          sync.Mutex
	state       State
	sending     bool // SendRequest has not returned; timers wait for it
	reliable    bool
	provisional bool           // a provisional response arrived
	final       bool           // a final response arrived
	cancelled   bool           // a CANCEL was sent: the §9.1 wait runs in slotRetransmit
	ackPending  bool           // INVITE: ack holds the To of a non-2xx final that came while sending
	h           ClientHandler  // nil once nothing more can go to the TU
	wire        []byte         // the request as sent, for retransmissions and the ACK
	used        transport.Addr // where it was sent
	interval    time.Duration  // the current Timer A or E interval
	ack         []byte         // INVITE: the ACK for the non-2xx final response (see ackPending)
	timers      [2]timerSlot   // slotRetransmit, slotLifetime
	timerC      *timerSlot     // slotTimerC, once Timer C has run
}

// slot returns timer slot i. Called with the lock held.
func (tx *ClientTx) slot(i int) *timerSlot {
	if i == slotTimerC {
		if tx.timerC == nil {
			tx.timerC = new(timerSlot)
		}
		return tx.timerC
	}
	return &tx.timers[i]
}

// Method returns the request's method.
func (tx *ClientTx) Method() string { return tx.method }

// Branch returns the branch parameter of the request's top Via.
func (tx *ClientTx) Branch() string { return tx.key }

// State returns the transaction's current state.
func (tx *ClientTx) State() State {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.state
}

// Request returns the request as the transport sent it, top Via included;
// nil until the send returns, and nil again once a final response has
// arrived (the request is never sent again then, and a transaction waiting
// out Timer K or M keeps no more than it needs). The bytes must not be
// modified.
func (tx *ClientTx) Request() []byte {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.wire
}

// Dest returns the transport address the request was sent to, which may
// differ from the one asked for (UDP becoming TCP).
func (tx *ClientTx) Dest() transport.Addr {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.used
}

// Request starts a client transaction: it sends req (a complete request
// without its top Via, which the transport adds with a fresh branch) to
// dst and passes every response, or the error ending the transaction, to
// h. An INVITE gets an INVITE client transaction, any other method a
// non-INVITE one; ACK has none (RFC 3261 §17.1) and is refused.
//
// If the first send fails, Request returns an *Error wrapping ErrTransport
// (RFC 3261 §17.1.4) and the transaction is over. h may be called before
// Request returns, if the transport delivers a response that fast.
func (m *Manager) Request(dst transport.Addr, req []byte, h ClientHandler) (*ClientTx, error) {
	name, ok := requestMethod(req)
	if !ok {
		return nil, ErrBadMessage
	}
	method := sip.LookupMethod(name)
	if method == sip.MethodAck {
		return nil, ErrACK
	}
	return m.startClient(dst, req, method, name, newBranch(), h)
}

// Do sends req as Request does and waits for the final response, which it
// returns cloned, or for the transaction's failure (an *Error). If ctx ends
// first, Do returns ctx.Err(); the transaction runs on to its end
// unobserved. Provisional responses are discarded. Do suits non-INVITE
// requests: for an INVITE, the caller would still owe the ACK for a 2xx
// and would miss its retransmissions.
func (m *Manager) Do(ctx context.Context, dst transport.Addr, req []byte) (*sip.Message, error) {
	type result struct {
		msg *sip.Message
		err error
	}
	ch := make(chan result, 1)
	h := ClientHandlerFunc(func(_ *ClientTx, r Response) {
		if !r.Final() {
			return
		}
		res := result{err: r.Err}
		if r.Msg != nil {
			res.msg = r.Msg.Clone()
		}
		select {
		case ch <- res:
		default: // only the first final response counts
		}
	})
	if _, err := m.Request(dst, req, h); err != nil {
		return nil, err
	}
	select {
	case res := <-ch:
		return res.msg, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startClient creates a client transaction, enters it in the table and
// sends its request.
func (m *Manager) startClient(dst transport.Addr, req []byte, method sip.Method, name []byte, branch [branchLen]byte, h ClientHandler) (*ClientTx, error) {
	if h == nil {
		h = ClientHandlerFunc(func(*ClientTx, Response) {})
	}
	tx := &ClientTx{
		m:       m,
		h:       h,
		invite:  method == sip.MethodInvite,
		method:  methodName(method, name),
		branch:  branch,
		sending: true,
	}
	tx.key = string(tx.branch[:])
	tx.state = StateTrying // RFC 3261 §17.1.2.2
	if tx.invite {
		tx.state = StateCalling // RFC 3261 §17.1.1.2
	}
	// Entered before the send, so that a response however fast finds it.
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	tx.next = m.clients[tx.key]
	m.clients[tx.key] = tx
	m.nclient++
	m.mu.Unlock()

	// RFC 3261 §17.1.1.2, §17.1.2.2: the request MUST be passed to the
	// transport layer.
	wire, used, err := m.tp.SendRequest(dst, tx.branch[:], req)
	if err := tx.sent(wire, used, err); err != nil {
		return nil, err
	}
	return tx, nil
}

// sent records the outcome of the first send and starts the timers of the
// state the transaction is now in (a response may have moved it on while
// the transport was sending).
func (tx *ClientTx) sent(wire []byte, used transport.Addr, err error) error {
	m := tx.m
	tx.mu.Lock()
	tx.sending = false
	if err != nil {
		// RFC 3261 §17.1.4: inform the TU (here: the caller) and terminate.
		ended := tx.terminate()
		tx.mu.Unlock()
		if ended {
			m.removeClient(tx)
		}
		return transportError(err)
	}
	tx.wire, tx.used, tx.reliable = wire, used, used.Proto.Reliable()
	var ack []byte
	var early *sip.Message
	ended := false
	switch tx.state {
	case StateCalling:
		tx.enterCalling()
	case StateTrying:
		tx.enterTrying()
	case StateProceeding:
		if tx.invite {
			tx.startTimerC()
		} else {
			if !tx.reliable {
				tx.interval = m.cfg.T2
				tx.timers[slotRetransmit].arm(m.clock, tx, slotRetransmit, 'E', m.cfg.T2)
			}
			tx.timers[slotLifetime].arm(m.clock, tx, slotLifetime, 'F', 64*m.cfg.T1)
		}
	case StateCompleted:
		if tx.invite {
			if tx.ackPending {
				// ack holds the final response that came during the send
				// (receiveInvite): ACK it, then pass it up.
				tx.ackPending = false
				early = new(sip.Message)
				p := sip.Parser{MaxMessageSize: -1, MaxHeaders: -1, MaxLineLength: -1}
				if perr := p.Parse(early, tx.ack); perr != nil {
					early = nil // parsed once already: cannot happen
				}
				tx.ack = nil
				if early != nil {
					tx.ack, err = buildACK(tx.wire, early.Get(sip.HeaderTo))
				}
				if err != nil {
					m.log.Warn("transaction: cannot build ACK", "branch", tx.key, "err", err)
				}
				ack = tx.ack
			}
			ended = tx.enterCompletedInvite()
		} else {
			ended = tx.enterCompletedNonInvite()
		}
	case StateAccepted:
		tx.timers[slotLifetime].armLife(m.life, tx, slotLifetime, 'M')
	}
	if tx.final {
		tx.wire = nil
	}
	h := tx.h
	tx.mu.Unlock()
	if ended {
		m.removeClient(tx)
	}
	var ackErr error
	if ack != nil {
		ackErr = m.tp.Send(used, ack)
	}
	if early != nil && h != nil {
		h.HandleResponse(tx, Response{Msg: early, Status: early.StatusCode()})
	}
	if ackErr != nil {
		tx.fail(transportError(ackErr), true)
	}
	return nil
}

// receive passes a matching response to the machine. It reports false if
// the transaction has ended, making the response stray.
func (tx *ClientTx) receive(resp *sip.Message) bool {
	if tx.invite {
		return tx.receiveInvite(resp)
	}
	return tx.receiveNonInvite(resp)
}

// onTimer runs a timer of the transaction.
func (tx *ClientTx) onTimer(slot int, gen uint32) {
	tx.mu.Lock()
	id := tx.slot(slot).fire(gen)
	if id == timerNone {
		tx.mu.Unlock()
		return
	}
	if tx.invite {
		tx.onTimerInvite(id) // unlocks
	} else {
		tx.onTimerNonInvite(id) // unlocks
	}
}

// retransmit sends the request again after a timer fired, with the lock
// released; a failure ends the transaction (RFC 3261 §17.1.4).
func (tx *ClientTx) retransmit(wire []byte, dst transport.Addr) {
	if err := tx.m.tp.Send(dst, wire); err != nil {
		tx.fail(transportError(err), false)
	}
}

// fail ends the transaction with a transaction layer error and tells the
// TU. Unless always is set, nothing happens if it has already ended or a
// final response has arrived (the TU heard about that; a retransmission
// that raced with the final response failing is no failure of the request).
func (tx *ClientTx) fail(e *Error, always bool) {
	tx.mu.Lock()
	if !always && tx.final {
		tx.mu.Unlock()
		return
	}
	ended := tx.terminate()
	h := tx.h
	tx.mu.Unlock()
	if ended {
		tx.m.removeClient(tx)
	}
	if (ended || always) && h != nil {
		tx.m.log.Warn("transaction: client transaction failed", "method", tx.method, "branch", tx.key, "err", e)
		h.HandleResponse(tx, Response{Status: e.Status(), Err: e})
	}
}

// timeout ends the transaction because timer id fired, with the lock held,
// and unlocks; the TU hears of it as a 408 (RFC 3261 §8.1.3.1).
func (tx *ClientTx) timeout(id timerID) {
	tx.terminate()
	h := tx.h
	tx.h = nil
	tx.mu.Unlock()
	tx.m.removeClient(tx)
	if h != nil {
		e := timeoutError(id.String())
		h.HandleResponse(tx, Response{Status: e.Status(), Err: e})
	}
}

// terminate moves to Terminated and stops every timer (RFC 3261 §17.1.1.2:
// "destroyed the instant it enters the Terminated state"). It reports
// whether the state changed, the caller then removing the transaction from
// the table. Called with the lock held.
func (tx *ClientTx) terminate() bool {
	if tx.state == StateTerminated {
		return false
	}
	tx.state = StateTerminated
	tx.stopAll()
	return true
}

// SetHandler replaces the handler that receives what tx passes up from
// now on; a call in progress still reaches the handler it started with.
// A UAC core that has handled the first 2xx to an INVITE can hand over a
// smaller handler for the further 2xx of the Accepted state (RFC 6026
// §7.2), which lasts 64*T1: the transaction then stops keeping alive what
// the first one referenced (a call, the request a retry wrapper keeps).
// A nil h drops whatever comes.
func (tx *ClientTx) SetHandler(h ClientHandler) {
	tx.mu.Lock()
	tx.h = h
	tx.mu.Unlock()
}

// endAfter ends the transaction after the lock is released, if ended.
func (tx *ClientTx) endAfter(ended bool) {
	if ended {
		tx.m.removeClient(tx)
	}
}
