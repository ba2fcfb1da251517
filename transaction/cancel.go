package transaction

import (
	"github.com/sipxfer/sipxfer/sip"
)

// Cancel cancels the INVITE of invite (RFC 3261 §9.1): it builds a CANCEL
// with the INVITE's Request-URI, Call-ID, To, From, CSeq number and Route
// header fields and sends it, as a non-INVITE client transaction reporting
// to h, to the address the INVITE went to, with the same top Via branch.
// RFC 3261 §9.1 forbids sending it before a provisional response
// (ErrNoProvisional: wait for one) and advises against it after a final
// one (ErrFinal). The TU still receives the INVITE's final response,
// normally 487, through the INVITE's own handler, or, if none comes within
// 64*T1, an *Error wrapping ErrTimeout with Timer "CANCEL" (§9.1).
func (m *Manager) Cancel(invite *ClientTx, h ClientHandler) (*ClientTx, error) {
	if !invite.invite {
		return nil, ErrNotInvite
	}
	invite.mu.Lock()
	wire, used := invite.wire, invite.used
	provisional, final := invite.provisional, invite.final
	invite.mu.Unlock()
	switch {
	case final:
		return nil, ErrFinal
	case !provisional || wire == nil:
		return nil, ErrNoProvisional
	}
	req, err := buildCancel(wire)
	if err != nil {
		return nil, err
	}
	tx, err := m.startClient(used, req, sip.MethodCancel, nil, invite.branch, h)
	if err != nil {
		return nil, err
	}
	// RFC 3261 §9.1: "If there is no final response for the original
	// request in 64*T1 seconds", the client SHOULD consider it cancelled
	// and destroy its transaction (say the UAS has forgotten it and
	// answers the CANCEL 481). The wait replaces Timer C, and runs in the
	// slot of Timer A, which stopped at the provisional response.
	invite.mu.Lock()
	if !invite.final && !invite.cancelled && invite.state != StateTerminated {
		invite.cancelled = true
		if invite.timerC != nil {
			invite.timerC.stop()
		}
		invite.timers[slotRetransmit].arm(m.clock, invite, slotRetransmit, timerCancel, 64*m.cfg.T1)
	}
	invite.mu.Unlock()
	return tx, nil
}

// buildCancel builds the CANCEL for invite, the INVITE as sent (RFC 3261
// §9.1): Request-URI, Call-ID, To, From and CSeq number equal to the
// INVITE's, method CANCEL, its Route header fields, Max-Forwards, no body.
// The top Via, equal to the INVITE's, is the transport's to add with the
// same branch.
func buildCancel(invite []byte) ([]byte, error) {
	var req sip.Message
	if err := sip.Parse(&req, append([]byte(nil), invite...)); err != nil {
		return nil, err
	}
	cseq, err := req.CSeq()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(invite)/2+64)
	b = sip.AppendRequestLine(b, "CANCEL", req.RequestURI().Raw)
	b = appendRoutes(b, &req)
	b = appendMaxForwards(b, &req)
	b = sip.AppendHeader(b, sip.HeaderFrom, req.Get(sip.HeaderFrom))
	b = sip.AppendHeader(b, sip.HeaderTo, req.Get(sip.HeaderTo))
	b = sip.AppendHeader(b, sip.HeaderCallID, req.CallID())
	b = sip.AppendCSeq(b, cseq.Seq, "CANCEL")
	return sip.AppendNoBody(b), nil
}
