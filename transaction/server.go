package transaction

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// TU is the transaction user at the server side: a UA core, a dialog layer
// or a stateful proxy core. Its methods are called from the transport's and
// the clock's goroutines, never with a lock held, and should not block;
// the messages they receive are valid only during the call.
type TU interface {
	// HandleRequest receives a request that created a server transaction:
	// any method but ACK and CANCEL, which the Manager handles. The TU
	// answers through tx.Respond, at once or later. It must answer every
	// request: a non-INVITE transaction has no timer in Trying (RFC 3261
	// §17.2.2) and an INVITE one none in Proceeding.
	HandleRequest(tx *ServerTx, req *sip.Message)
	// HandleACK receives an ACK matching no INVITE server transaction, the
	// ACK for a 2xx (RFC 3261 §17: not part of the INVITE transaction), or
	// one matching a transaction in the Accepted state (RFC 6026 §7.1).
	HandleACK(in *transport.Inbound)
	// HandleCancel reports that cancel matched tx, an INVITE server
	// transaction that has sent no final response. The Manager has already
	// answered the CANCEL 200; the TU SHOULD answer the INVITE 487 (RFC
	// 3261 §9.2).
	HandleCancel(tx *ServerTx, cancel *sip.Message)
	// HandleStrayResponse receives a response matching no client
	// transaction (RFC 3261 §18.1.2), such as a retransmitted 2xx after its
	// INVITE transaction ended, which the UAC core ACKs again (§13.2.2.4).
	HandleStrayResponse(in *transport.Inbound)
	// HandleServerError reports that tx failed on its own, outside a call
	// to Respond: Timer H fired before the ACK came (an *Error wrapping
	// ErrTimeout, RFC 3261 §17.2.1), or a response it retransmitted could
	// not be sent (an *Error wrapping ErrTransport, §17.2.4). The
	// transaction has ended.
	HandleServerError(tx *ServerTx, err error)
}

// nopTU is the TU of a Manager given none: it answers every request 501
// (Not Implemented) and ignores everything else.
type nopTU struct{}

func (nopTU) HandleRequest(tx *ServerTx, req *sip.Message) {
	tx.Respond(sip.AppendNoBody(sip.AppendResponse(nil, req, 501, "", newTag())))
}
func (nopTU) HandleACK(*transport.Inbound)           {}
func (nopTU) HandleCancel(*ServerTx, *sip.Message)   {}
func (nopTU) HandleStrayResponse(*transport.Inbound) {}
func (nopTU) HandleServerError(*ServerTx, error)     {}

// Timer slots of a server transaction.
const (
	slotResponse = 0 // the wait before 100 Trying, then G (INVITE)
	slotEnd      = 1 // H then I, or L (INVITE); J (non-INVITE)
)

// ServerTx is a server transaction (RFC 3261 §17.2): an INVITE one (Figure
// 7 with RFC 6026) or a non-INVITE one (Figure 8). The TU answers the
// request through Respond.
type ServerTx struct {
	// Fields ordered for size: under load most live transactions are
	// finished ones waiting out Timer J or L.
	m        *Manager
	name     string
	key      string
	mergeKey string // a request without To tag: its key in Manager.merged
	reply    transport.ReplyTo
	orig     *sip.Message // RFC 2543 transactions: the creating request, for matching
	next     *ServerTx    // next in the table chain; guarded by Manager.mu
	ended    atomic.Bool  // Terminated, for lookups that hold only Manager.mu
	method   sip.Method
	invite   bool
	reliable bool

	mu       sync.Mutex
	resp     []byte      // the last response sent, to send again
	more     *serverMore // INVITE (or a non-INVITE asked its LocalTag)
	end      timerSlot   // slotEnd
	state    State
	awaiting bool // counted in Manager.unanswered
}

// serverMore is what only an INVITE server transaction needs, apart, so
// that the non-INVITE ones (most, and most of them waiting out Timer J)
// fit a smaller size class. Guarded by the transaction's lock.
type serverMore struct {
	trying   []byte        // 100 Trying, built when the request came
	tag      []byte        // the To tag of the responses sent
	interval time.Duration // Timer G
	timer    timerSlot     // slotResponse
}

// slot returns timer slot i (slotResponse, slotEnd). Called with the lock
// held.
func (tx *ServerTx) slot(i int) *timerSlot {
	if i == slotResponse {
		return &tx.more.timer
	}
	return &tx.end
}

// Method returns the request's method.
func (tx *ServerTx) Method() string { return tx.name }

// State returns the transaction's current state.
func (tx *ServerTx) State() State {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.state
}

// Reply returns how the request arrived, which decides where its responses
// go (RFC 3261 §18.2.2).
func (tx *ServerTx) Reply() transport.ReplyTo { return tx.reply }

// Respond sends a response the TU built for the request (with
// sip.AppendResponse) and drives the machine: provisional responses are
// sent as they come; the first final response moves the transaction on
// and is sent again as RFC 3261 §17.2 requires. Respond keeps a copy of
// wire as long as the machine may send it again, and no longer.
//
// It returns ErrFinal for a response after the final one (except further
// 2xx to an INVITE, which the TU retransmits itself, RFC 6026 §7.1),
// ErrTerminated once the transaction has ended, ErrBadMessage if wire is
// not a response, and an *Error wrapping ErrTransport if the transport
// failed, which ends the transaction (RFC 3261 §17.2.4).
func (tx *ServerTx) Respond(wire []byte) error {
	code, ok := statusCode(wire)
	if !ok {
		return ErrBadMessage
	}
	var tag []byte
	if tx.invite {
		tag = responseTag(wire)
	}
	tx.mu.Lock()
	var ended bool
	var err error
	if tx.invite {
		ended, err = tx.respondInvite(code, wire, tag)
	} else {
		ended, err = tx.respondNonInvite(code, wire)
	}
	if err == nil && code >= 200 {
		tx.answered()
	}
	tx.mu.Unlock()
	if err != nil {
		return err
	}
	tx.endAfter(ended)
	if err := tx.m.tp.SendResponse(tx.reply, wire); err != nil {
		// RFC 3261 §17.2.4: inform the TU (the caller) and terminate.
		tx.mu.Lock()
		ended := tx.terminate()
		tx.mu.Unlock()
		tx.endAfter(ended)
		return transportError(err)
	}
	return nil
}

// answered takes tx out of the unanswered count, once. Called with the
// lock held.
func (tx *ServerTx) answered() {
	if tx.awaiting {
		tx.awaiting = false
		tx.m.unanswered.Add(-1)
	}
}

// responseTag returns the To tag of a response, nil if it has none or
// does not parse.
func responseTag(b []byte) []byte {
	var resp sip.Message
	if sip.Parse(&resp, b) != nil {
		return nil
	}
	if tag := toTag(&resp); tag != nil {
		return append([]byte(nil), tag...)
	}
	return nil
}

// start begins the machine for a new request and passes it to the TU.
func (tx *ServerTx) start(req *sip.Message) {
	if tx.invite {
		// RFC 3261 §17.2.1: 100 Trying built per §8.2.6, without a To tag,
		// sent if the TU has not answered within 200 ms (tryingDelay).
		trying := sip.AppendResponse(make([]byte, 0, len(req.Bytes())), req, 100, "", "")
		trying = sip.AppendNoBody(trying)
		tx.mu.Lock()
		if tx.state == StateProceeding && tx.resp == nil {
			tx.more.trying = trying
			tx.more.timer.arm(tx.m.clock, tx, slotResponse, timerTrying, tryingDelay)
		}
		tx.mu.Unlock()
	}
	// RFC 3261 §17.2.1, §17.2.2: the request MUST be passed to the TU.
	tx.m.tu.HandleRequest(tx, req)
}

// retransmission handles a retransmitted request. It reports false if the
// transaction has ended, the request then being new.
func (tx *ServerTx) retransmission() bool {
	tx.mu.Lock()
	if tx.state == StateTerminated {
		tx.mu.Unlock()
		return false
	}
	var resend []byte
	if tx.invite {
		resend = tx.retransmissionInvite()
	} else {
		resend = tx.retransmissionNonInvite()
	}
	state := tx.state
	tx.mu.Unlock()
	if resend != nil {
		tx.send(resend, state)
	}
	if resend == nil && tx.m.debugging() {
		tx.m.log.Debug("transaction: absorbed retransmitted request", "method", tx.name)
	}
	return true
}

// send sends a response again, outside Respond, decided in state decided;
// a failure ends the transaction and goes to the TU (RFC 3261 §17.2.4),
// unless the transaction moved on meanwhile (an ACK confirmed it, the TU's
// final replaced a 100 Trying): the resend no longer mattered.
func (tx *ServerTx) send(b []byte, decided State) {
	if err := tx.m.tp.SendResponse(tx.reply, b); err != nil {
		tx.mu.Lock()
		if tx.state != decided {
			tx.mu.Unlock()
			return
		}
		ended := tx.terminate()
		tx.mu.Unlock()
		if ended {
			tx.m.removeServer(tx)
			e := transportError(err)
			tx.m.log.Warn("transaction: server transaction failed", "method", tx.name, "err", e)
			tx.m.tu.HandleServerError(tx, e)
		}
	}
}

// onTimer runs a timer of the transaction.
func (tx *ServerTx) onTimer(slot int, gen uint32) {
	tx.mu.Lock()
	id := tx.slot(slot).fire(gen)
	var resend []byte
	var ended bool
	switch id {
	case timerNone:
	case timerTrying:
		// RFC 3261 §17.2.1: the TU said nothing for 200 ms: 100 Trying.
		if tx.state == StateProceeding && tx.resp == nil {
			tx.resp, resend = tx.more.trying, tx.more.trying
		}
	case 'G':
		if tx.state == StateCompleted {
			// RFC 3261 §17.2.1: Timer G: send the response again; G doubles
			// up to T2.
			x := tx.more
			x.interval = min(2*x.interval, tx.m.cfg.T2)
			x.timer.arm(tx.m.clock, tx, slotResponse, 'G', x.interval)
			resend = tx.resp
		}
	case 'H':
		if tx.state == StateCompleted {
			// RFC 3261 §17.2.1: Timer H: no ACK came. Terminated, and the TU
			// MUST be told of the failure.
			tx.terminate()
			tx.mu.Unlock()
			tx.m.removeServer(tx)
			tx.m.tu.HandleServerError(tx, timeoutError("H"))
			return
		}
	case 'I', 'J', 'L':
		// RFC 3261 §17.2.1 (Timer I, Confirmed), §17.2.2 (Timer J,
		// Completed), RFC 6026 §7.1 (Timer L, Accepted): Terminated.
		ended = tx.terminate()
	}
	state := tx.state
	tx.mu.Unlock()
	tx.endAfter(ended)
	if resend != nil {
		tx.send(resend, state)
	}
}

// terminate moves to Terminated and stops every timer (RFC 3261 §17.2.1,
// §17.2.2: destroyed at once). It reports whether the state changed, the
// caller then removing the transaction from its table. Called with the
// lock held.
func (tx *ServerTx) terminate() bool {
	if tx.state == StateTerminated {
		return false
	}
	tx.state = StateTerminated
	tx.ended.Store(true)
	tx.answered()
	tx.end.stop()
	if tx.more != nil {
		tx.more.timer.stop()
	}
	return true
}

// endAfter removes the transaction from its table, if ended.
func (tx *ServerTx) endAfter(ended bool) {
	if ended {
		tx.m.removeServer(tx)
	}
}

// sameMethod reports whether the transaction was created by a request of
// the given method.
func (tx *ServerTx) sameMethod(method sip.Method, name []byte) bool {
	if method != sip.MethodOther {
		return tx.method == method
	}
	return tx.method == sip.MethodOther && tx.name == string(name)
}

// LocalTag returns the To tag for the responses to the request: the tag
// of the last response sent with one, else a tag chosen now and kept. The
// Manager's 200 to a CANCEL uses it, so a TU that takes its tags from it
// gives its 487 the same tag as that 200 even when no tagged provisional
// response went first (RFC 3261 §9.2 SHOULD). The caller must not modify
// the result.
func (tx *ServerTx) LocalTag() []byte {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.more == nil {
		tx.more = &serverMore{} // a non-INVITE request being cancelled
	}
	if tx.more.tag == nil {
		tx.more.tag = newTag()
	}
	return tx.more.tag
}

// ToTag returns the To tag of the last response sent with one, or the tag
// the Manager chose for its 200 to a CANCEL of this request (use it in the
// 487, RFC 3261 §9.2); nil if none. Responses' tags are recorded for
// INVITE transactions only.
func (tx *ServerTx) ToTag() []byte {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.more == nil {
		return nil
	}
	return tx.more.tag
}

// pending reports whether the transaction still awaits a final response.
func (tx *ServerTx) pending() bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.state == StateTrying || tx.state == StateProceeding
}
