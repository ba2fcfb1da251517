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
// normally 487, through the INVITE's own handler.
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
	return m.startClient(used, req, sip.MethodCancel, nil, invite.branch, h)
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
