package transaction

// The INVITE server transaction: RFC 3261 §17.2.1, Figure 7, with the
// Accepted state of RFC 6026 §7.1 replacing the jump to Terminated on a 2xx.
//
//	Proceeding --INVITE-->          Proceeding (last provisional again; 100 Trying if none)
//	Proceeding --1xx from TU-->     Proceeding (sent)
//	Proceeding --2xx from TU-->     Accepted   (sent; Timer L)
//	Proceeding --300-699 from TU--> Completed  (sent; Timer G if unreliable; Timer H)
//	Completed  --INVITE-->          Completed  (final response again)
//	Completed  --Timer G-->         Completed  (final response again; G doubles up to T2)
//	Completed  --ACK-->             Confirmed  (Timer I)
//	Completed  --Timer H-->         Terminated (failure to TU)
//	Confirmed  --ACK, INVITE-->     Confirmed  (absorbed)
//	Confirmed  --Timer I-->         Terminated
//	Accepted   --INVITE-->          Accepted   (absorbed)
//	Accepted   --ACK-->             Accepted   (to TU)
//	Accepted   --2xx from TU-->     Accepted   (sent)
//	Accepted   --Timer L-->         Terminated
//	any        --transport error--> Terminated (to TU)

// respondInvite applies a response from the TU; the caller sends b unless
// err is set, and tx keeps a copy of b only while it may send it again.
// It reports whether the transaction ended. Called with the lock held.
func (tx *ServerTx) respondInvite(code int, b, tag []byte) (ended bool, err error) {
	m := tx.m
	switch tx.state {
	case StateProceeding:
		x := tx.more
		x.timer.stop() // the TU answered: no automatic 100
		x.trying = nil
		if tag != nil {
			x.tag = tag
		}
		switch {
		case code < 200:
			// RFC 3261 §17.2.1: each provisional response MUST be passed
			// to the transport; the state does not change.
			tx.resp = append(tx.resp[:0:0], b...)
		case code < 300:
			// RFC 6026 §7.1: a 2xx moves Proceeding to Accepted, with
			// Timer L = 64*T1; the TU core retransmits the 2xx itself,
			// so the transaction keeps no response for those 32 s.
			tx.resp = nil
			tx.state = StateAccepted
			tx.end.armLife(m.life, tx, slotEnd, 'L')
		default:
			// RFC 3261 §17.2.1: 300-699 moves to Completed; Timer G (T1)
			// for unreliable transports only, Timer H (64*T1) for all.
			tx.resp = append(tx.resp[:0:0], b...)
			tx.state = StateCompleted
			if !tx.reliable {
				x.interval = m.cfg.T1
				x.timer.arm(m.clock, tx, slotResponse, 'G', m.cfg.T1)
			}
			tx.end.arm(m.clock, tx, slotEnd, 'H', 64*m.cfg.T1)
		}
		return false, nil
	case StateAccepted:
		if code >= 200 && code < 300 {
			// RFC 6026 §7.1: in Accepted, 2xx responses from the TU (its
			// retransmissions, or another 2xx) are passed to the transport.
			return false, nil
		}
		return false, ErrFinal
	case StateCompleted, StateConfirmed:
		return false, ErrFinal
	}
	return false, ErrTerminated
}

// retransmissionInvite handles a retransmitted INVITE and returns the
// response to send again, if any. Called with the lock held.
func (tx *ServerTx) retransmissionInvite() []byte {
	switch tx.state {
	case StateProceeding:
		// RFC 3261 §17.2.1: send the most recent provisional response again.
		if tx.resp != nil {
			return tx.resp
		}
		// None yet: the retransmission shows the client needs quenching,
		// so the 100 Trying goes now rather than at 200 ms.
		if x := tx.more; x.trying != nil {
			x.timer.stop()
			tx.resp = x.trying
			return tx.resp
		}
	case StateCompleted:
		// RFC 3261 §17.2.1: "while in the Completed state, if a request
		// retransmission is received, the server SHOULD pass the response
		// to the transport for retransmission".
		return tx.resp
	case StateConfirmed, StateAccepted:
		// RFC 3261 §17.2.1 (Confirmed), RFC 6026 §7.1 (Accepted): absorbed,
		// not passed to the TU.
	}
	return nil
}

// ack handles an ACK matching the transaction. It reports false if the
// ACK is for the TU: the transaction is Accepted (RFC 6026 §7.1) or has
// ended.
func (tx *ServerTx) ack() bool {
	m := tx.m
	tx.mu.Lock()
	var ended bool
	switch tx.state {
	case StateCompleted:
		// RFC 3261 §17.2.1: ACK in Completed: Confirmed, where Timer G is
		// ignored (stopped here) and Timer I runs: T4 for unreliable
		// transports, zero for reliable ones.
		tx.state = StateConfirmed
		tx.more.timer.stop()
		if tx.reliable {
			ended = tx.terminate()
		} else {
			tx.end.armLife(m.lifeT4, tx, slotEnd, 'I')
		}
	case StateConfirmed, StateProceeding:
		// RFC 3261 §17.2.1: Confirmed absorbs ACK retransmissions. An ACK
		// before any final response acknowledges nothing.
	case StateAccepted, StateTerminated:
		tx.mu.Unlock()
		return false
	}
	tx.mu.Unlock()
	tx.endAfter(ended)
	return true
}
