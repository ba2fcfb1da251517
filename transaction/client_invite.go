package transaction

import (
	"github.com/sipxfer/sipxfer/sip"
)

// The INVITE client transaction: RFC 3261 §17.1.1, Figure 5, with the
// Accepted state of RFC 6026 §7.2 replacing the jump to Terminated on a 2xx.
//
//	Calling    --1xx-->     Proceeding  (1xx to TU; Timer A and B stop)
//	Calling    --2xx-->     Accepted    (2xx to TU; Timer M)
//	Calling    --300-699--> Completed   (to TU; ACK sent; Timer D)
//	Calling    --Timer A--> Calling     (request again; A doubles)
//	Calling    --Timer B--> Terminated  (timeout to TU: 408)
//	Proceeding --1xx-->     Proceeding  (to TU)
//	Proceeding --2xx-->     Accepted    (to TU; Timer M)
//	Proceeding --300-699--> Completed   (to TU; ACK sent; Timer D)
//	Completed  --300-699--> Completed   (ACK again, not to TU)
//	Completed  --Timer D--> Terminated
//	Accepted   --2xx-->     Accepted    (to TU, which ACKs it)
//	Accepted   --Timer M--> Terminated
//	any        --transport error--> Terminated (to TU: 503)

// enterCalling starts the timers of Calling once the request is sent.
// Called with the lock held.
func (tx *ClientTx) enterCalling() {
	m := tx.m
	if !tx.reliable {
		// RFC 3261 §17.1.1.2: unreliable transport, Timer A starts at T1;
		// a reliable one SHOULD NOT start it.
		tx.interval = m.cfg.T1
		tx.timers[slotRetransmit].arm(m.clock, tx, slotRetransmit, 'A', m.cfg.T1)
	}
	// RFC 3261 §17.1.1.2: "For any transport, the client transaction MUST
	// start timer B with a value of 64*T1 seconds".
	tx.timers[slotLifetime].arm(m.clock, tx, slotLifetime, 'B', 64*m.cfg.T1)
	tx.startTimerC()
}

// startTimerC (re)starts Timer C if it is configured (RFC 3261 §16.6 item
// 11, §16.7 step 2). Called with the lock held.
func (tx *ClientTx) startTimerC() {
	if c := tx.m.cfg.TimerC; c > 0 && !tx.cancelled {
		tx.slot(slotTimerC).arm(tx.m.clock, tx, slotTimerC, 'C', c)
	}
}

// enterCompletedInvite starts Timer D, or ends the transaction at once on a
// reliable transport. It reports whether the transaction ended. Called with
// the lock held, with the request sent.
func (tx *ClientTx) enterCompletedInvite() bool {
	// RFC 3261 §17.1.1.2: Timer D, "at least 32 seconds for unreliable
	// transports, and a value of zero seconds for reliable transports".
	if tx.reliable {
		return tx.terminate()
	}
	tx.timers[slotLifetime].arm(tx.m.clock, tx, slotLifetime, 'D', max(minTimerD, 64*tx.m.cfg.T1))
	return false
}

func (tx *ClientTx) receiveInvite(resp *sip.Message) bool {
	m := tx.m
	code := resp.StatusCode()
	var deliver, sendACK, ended bool
	tx.mu.Lock()
	switch tx.state {
	case StateTerminated:
		tx.mu.Unlock()
		return false
	case StateCalling, StateProceeding:
		switch {
		case code < 200:
			if tx.state == StateCalling {
				// RFC 3261 §17.1.1.2: Proceeding, where the request is not
				// retransmitted any longer; Timer B bounds Calling only.
				tx.state = StateProceeding
				tx.timers[slotRetransmit].stop()
				tx.timers[slotLifetime].stop()
			}
			tx.provisional = true
			if code > 100 && !tx.sending {
				tx.startTimerC() // RFC 3261 §16.7 step 2: reset on 101-199
			}
			// RFC 3261 §17.1.1.2: every provisional response MUST be
			// passed to the TU.
			deliver = true
		case code < 300:
			// RFC 6026 §7.2: a 2xx moves Calling or Proceeding to
			// Accepted, passed to the TU (the UAC core ACKs it, RFC 3261
			// §13.2.2.4); Timer M = 64*T1 absorbs the rest.
			tx.state = StateAccepted
			tx.final = true
			tx.stopAll()
			if !tx.sending {
				tx.timers[slotLifetime].armLife(m.life, tx, slotLifetime, 'M')
				tx.wire = nil
			}
			deliver = true
		default:
			// RFC 3261 §17.1.1.2: 300-699 moves to Completed; pass it up and
			// send an ACK, even over a reliable transport.
			tx.state = StateCompleted
			tx.final = true
			tx.stopAll()
			if tx.sending {
				// The top Via is in the bytes the transport has not
				// returned yet: ACK once it has (sent), and only then
				// pass the response up, as below: a TU that sends a new
				// INVITE at once (a retry) must not overtake the ACK.
				// ack keeps a copy of the response meanwhile.
				tx.ack = append([]byte(nil), resp.Bytes()...)
				tx.ackPending = true
			} else {
				var err error
				if tx.ack, err = buildACK(tx.wire, resp.Get(sip.HeaderTo)); err != nil {
					m.log.Warn("transaction: cannot build ACK", "branch", tx.key, "err", err)
				}
				sendACK = tx.ack != nil
				tx.wire = nil
				ended = tx.enterCompletedInvite()
				deliver = true
			}
		}
	case StateCompleted:
		// RFC 3261 §17.1.1.2: a retransmitted final response is ACKed
		// again and not passed up.
		sendACK = code >= 300 && tx.ack != nil && !tx.ackPending
	case StateAccepted:
		// RFC 6026 §7.2: in Accepted every 2xx goes to the TU; anything
		// else is absorbed.
		deliver = code >= 200 && code < 300
	}
	ack, dst, h := tx.ack, tx.used, tx.h
	tx.mu.Unlock()
	tx.endAfter(ended)

	var ackErr error
	if sendACK {
		// RFC 3261 §17.1.1.2: "The ACK MUST be sent to the same address,
		// port, and transport to which the original request was sent."
		ackErr = m.tp.Send(dst, ack)
	}
	if deliver && h != nil {
		h.HandleResponse(tx, Response{Msg: resp, Status: code})
	}
	if ackErr != nil {
		// RFC 3261 Figure 5: Completed --Transport Err.--> Terminated,
		// inform TU.
		tx.fail(transportError(ackErr), true)
	}
	return true
}

// onTimerInvite runs timer id, with the lock held; it unlocks.
func (tx *ClientTx) onTimerInvite(id timerID) {
	m := tx.m
	switch id {
	case 'A':
		if tx.state != StateCalling {
			break
		}
		// RFC 3261 §17.1.1.2: Timer A fires: retransmit, and reset the
		// timer to twice its value (T1, 2*T1, 4*T1 ...; no cap).
		tx.interval *= 2
		tx.timers[slotRetransmit].arm(m.clock, tx, slotRetransmit, 'A', tx.interval)
		wire, dst := tx.wire, tx.used
		tx.mu.Unlock()
		tx.retransmit(wire, dst)
		return
	case 'B':
		if tx.state == StateCalling {
			// RFC 3261 §17.1.1.2: Timer B in Calling: inform the TU of
			// the timeout; no ACK.
			tx.timeout(id)
			return
		}
	case 'C':
		if tx.state == StateCalling || tx.state == StateProceeding {
			// RFC 3261 §16.8: Timer C fired with no final response;
			// treat as 408; the TU may CANCEL.
			tx.timeout(id)
			return
		}
	case timerCancel:
		if tx.state == StateCalling || tx.state == StateProceeding {
			// RFC 3261 §9.1: no final response 64*T1 after the CANCEL: the
			// original transaction is considered cancelled and destroyed.
			tx.timeout(id)
			return
		}
	case 'D', 'M':
		// RFC 3261 §17.1.1.2 (Timer D in Completed), RFC 6026 §7.2 (Timer
		// M in Accepted): Terminated.
		ended := tx.terminate()
		tx.h = nil
		tx.mu.Unlock()
		tx.endAfter(ended)
		return
	}
	tx.mu.Unlock()
}

// stopAll stops every timer of the transaction. Called with the lock held.
func (tx *ClientTx) stopAll() {
	for i := range tx.timers {
		tx.timers[i].stop()
	}
	if tx.timerC != nil {
		tx.timerC.stop()
	}
}

// buildACK builds the ACK for a non-2xx final response to the INVITE
// invite (as sent, top Via included), given the To of that response.
// RFC 3261 §17.1.1.3: the Request-URI, Call-ID and From of the INVITE; the
// To of the response; a single Via equal to the INVITE's top Via (so the
// same branch); the INVITE's CSeq number with method ACK; its Route
// header fields. Max-Forwards is copied too (§8.1.1.6: every request has
// one). No body.
func buildACK(invite, to []byte) ([]byte, error) {
	var req sip.Message
	if err := sip.Parse(&req, append([]byte(nil), invite...)); err != nil {
		return nil, err
	}
	cseq, err := req.CSeq()
	if err != nil {
		return nil, err
	}
	vias := req.Values(sip.HeaderVia)
	via, ok := vias.Next()
	if !ok {
		return nil, ErrBadMessage
	}
	b := make([]byte, 0, len(invite)/2+len(to)+64)
	b = sip.AppendRequestLine(b, "ACK", req.RequestURI().Raw)
	b = sip.AppendHeader(b, sip.HeaderVia, via)
	b = appendRoutes(b, &req)
	b = appendMaxForwards(b, &req)
	b = sip.AppendHeader(b, sip.HeaderFrom, req.Get(sip.HeaderFrom))
	b = sip.AppendHeader(b, sip.HeaderTo, to)
	b = sip.AppendHeader(b, sip.HeaderCallID, req.CallID())
	b = sip.AppendCSeq(b, cseq.Seq, "ACK")
	return sip.AppendNoBody(b), nil
}

// appendRoutes copies every Route header field of req, in order.
func appendRoutes(b []byte, req *sip.Message) []byte {
	for _, f := range req.Fields() {
		if f.Name == sip.HeaderRoute {
			b = sip.AppendHeader(b, sip.HeaderRoute, f.Value)
		}
	}
	return b
}

// appendMaxForwards copies req's Max-Forwards, or writes 70 (RFC 3261
// §8.1.1.6) if it has none.
func appendMaxForwards(b []byte, req *sip.Message) []byte {
	if mf := req.Get(sip.HeaderMaxForwards); mf != nil {
		return sip.AppendHeader(b, sip.HeaderMaxForwards, mf)
	}
	return sip.AppendHeader(b, sip.HeaderMaxForwards, "70")
}
