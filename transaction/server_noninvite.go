package transaction

// The non-INVITE server transaction: RFC 3261 §17.2.2, Figure 8.
//
//	Trying     --request-->          Trying     (absorbed)
//	Trying     --1xx from TU-->      Proceeding (sent)
//	Trying     --200-699 from TU-->  Completed  (sent; Timer J)
//	Proceeding --request-->          Proceeding (last provisional again)
//	Proceeding --1xx from TU-->      Proceeding (sent)
//	Proceeding --200-699 from TU-->  Completed  (sent; Timer J)
//	Completed  --request-->          Completed  (final response again)
//	Completed  --response from TU--> Completed  (discarded: ErrFinal)
//	Completed  --Timer J-->          Terminated
//	Proceeding, Completed --transport error--> Terminated (to TU)

// respondNonInvite applies a response from the TU; the caller sends b
// unless err is set, and tx keeps a copy of b only while it may send it
// again. It reports whether the transaction ended. Called with the lock
// held.
func (tx *ServerTx) respondNonInvite(code int, b []byte) (ended bool, err error) {
	switch tx.state {
	case StateTrying, StateProceeding:
		if code < 200 {
			// RFC 3261 §17.2.2: a provisional response moves Trying to
			// Proceeding and MUST be passed to the transport.
			tx.state = StateProceeding
			tx.resp = append(tx.resp[:0:0], b...)
			return false, nil
		}
		// RFC 3261 §17.2.2: a final response moves to Completed; Timer J
		// is 64*T1 for unreliable transports and zero for reliable ones.
		tx.state = StateCompleted
		if tx.reliable {
			tx.resp = nil
			return tx.terminate(), nil
		}
		tx.resp = append(tx.resp[:0:0], b...)
		tx.end.armLife(tx.m.life, tx, slotEnd, 'J')
		return false, nil
	case StateCompleted:
		// RFC 3261 §17.2.2: "Any other final responses passed by the TU to
		// the server transaction MUST be discarded while in the Completed
		// state."
		return false, ErrFinal
	}
	return false, ErrTerminated
}

// retransmissionNonInvite handles a retransmitted request and returns the
// response to send again, if any. Called with the lock held.
func (tx *ServerTx) retransmissionNonInvite() []byte {
	switch tx.state {
	case StateProceeding, StateCompleted:
		// RFC 3261 §17.2.2: in Proceeding the most recent provisional
		// response, in Completed the final one, MUST be sent again.
		return tx.resp
	}
	// RFC 3261 §17.2.2: in Trying, retransmissions are discarded.
	return nil
}
