package transaction

import (
	"github.com/sipxfer/sipxfer/sip"
)

// The non-INVITE client transaction: RFC 3261 §17.1.2, Figure 6.
//
//	Trying     --1xx-->     Proceeding  (to TU)
//	Trying     --200-699--> Completed   (to TU; Timer E and F stop; Timer K)
//	Trying     --Timer E--> Trying      (request again; E doubles, capped at T2)
//	Trying     --Timer F--> Terminated  (timeout to TU: 408)
//	Proceeding --1xx-->     Proceeding  (to TU)
//	Proceeding --200-699--> Completed   (to TU; Timer K)
//	Proceeding --Timer E--> Proceeding  (request again; E = T2)
//	Proceeding --Timer F--> Terminated  (timeout to TU: 408)
//	Completed  --any response--> Completed (absorbed)
//	Completed  --Timer K--> Terminated
//	Trying, Proceeding --transport error--> Terminated (to TU: 503)

// enterTrying starts the timers of Trying once the request is sent. Called
// with the lock held.
func (tx *ClientTx) enterTrying() {
	m := tx.m
	if !tx.reliable {
		// RFC 3261 §17.1.2.2: unreliable transport, Timer E starts at T1.
		tx.interval = m.cfg.T1
		tx.timers[slotRetransmit].arm(m.clock, tx, slotRetransmit, 'E', m.cfg.T1)
	}
	// RFC 3261 §17.1.2.2: Timer F = 64*T1.
	tx.timers[slotLifetime].arm(m.clock, tx, slotLifetime, 'F', 64*m.cfg.T1)
}

// enterCompletedNonInvite starts Timer K, or ends the transaction at once
// on a reliable transport; it reports whether it ended. Called with the
// lock held, with the request sent.
func (tx *ClientTx) enterCompletedNonInvite() bool {
	// RFC 3261 §17.1.2.2: Timer K, "T4 seconds for unreliable transports,
	// and zero seconds for reliable transports".
	if tx.reliable {
		return tx.terminate()
	}
	tx.timers[slotLifetime].armLife(tx.m.lifeT4, tx, slotLifetime, 'K')
	return false
}

func (tx *ClientTx) receiveNonInvite(resp *sip.Message) bool {
	code := resp.StatusCode()
	var deliver, ended bool
	tx.mu.Lock()
	h := tx.h
	switch tx.state {
	case StateTerminated:
		tx.mu.Unlock()
		return false
	case StateTrying, StateProceeding:
		if code < 200 {
			// RFC 3261 §17.1.2.2: provisional responses go to the TU;
			// Trying moves to Proceeding, where Timer E keeps running
			// (every T2 from its next firing).
			tx.state = StateProceeding
			tx.provisional = true
		} else {
			// RFC 3261 §17.1.2.2: a final response goes to the TU and
			// moves to Completed.
			tx.state = StateCompleted
			tx.final = true
			tx.stopAll()
			// Nothing more goes to the TU: Completed absorbs the rest and
			// Timer K ends it silently. Holding the handler for Timer K
			// would keep whatever it references (a call, a subscription,
			// the request a retry wrapper keeps) alive that long.
			h, tx.h = tx.h, nil
			if !tx.sending {
				tx.wire = nil
				ended = tx.enterCompletedNonInvite()
			}
		}
		deliver = true
	case StateCompleted:
		// RFC 3261 §17.1.2.2: Completed buffers response retransmissions.
	}
	tx.mu.Unlock()
	tx.endAfter(ended)
	if deliver && h != nil {
		h.HandleResponse(tx, Response{Msg: resp, Status: code})
	}
	return true
}

// onTimerNonInvite runs timer id, with the lock held; it unlocks.
func (tx *ClientTx) onTimerNonInvite(id timerID) {
	m := tx.m
	switch id {
	case 'E':
		if tx.state != StateTrying && tx.state != StateProceeding {
			break
		}
		// RFC 3261 §17.1.2.2: in Trying, E is reset to MIN(2*interval, T2);
		// in Proceeding, to T2.
		if tx.state == StateProceeding {
			tx.interval = m.cfg.T2
		} else {
			tx.interval = min(2*tx.interval, m.cfg.T2)
		}
		tx.timers[slotRetransmit].arm(m.clock, tx, slotRetransmit, 'E', tx.interval)
		wire, dst := tx.wire, tx.used
		tx.mu.Unlock()
		tx.retransmit(wire, dst)
		return
	case 'F':
		if tx.state == StateTrying || tx.state == StateProceeding {
			// RFC 3261 §17.1.2.2: Timer F: inform the TU of the timeout
			// and terminate.
			tx.timeout(id)
			return
		}
	case 'K':
		// RFC 3261 §17.1.2.2: Timer K in Completed: Terminated.
		ended := tx.terminate()
		tx.h = nil
		tx.mu.Unlock()
		tx.endAfter(ended)
		return
	}
	tx.mu.Unlock()
}
