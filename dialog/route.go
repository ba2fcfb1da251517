package dialog

import (
	"slices"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// The UA is the transaction user of its Manager: every request, the ACKs
// for 2xx, CANCELs and stray responses arrive here.
var _ transaction.TU = (*UA)(nil)

// HandleRequest routes a request that created a server transaction.
func (ua *UA) HandleRequest(tx *transaction.ServerTx, req *sip.Message) {
	r := &Request{UA: ua, Tx: tx, Msg: req, Remote: tx.Reply().Remote}
	method := string(req.MethodName())
	// RFC 3261 §8.2.2.3: an option tag in Require we do not support gets
	// 420 with Unsupported listing it.
	if u := ua.unsupported(req); u != "" {
		r.Respond(420, "", &ResponseOptions{Headers: []Header{{"Unsupported", u}}})
		return
	}
	// RFC 3891 §3: a UA supporting Replaces answers 400 to a Replaces in
	// any request but INVITE.
	if req.Method() != sip.MethodInvite && req.Method() != sip.MethodAck && req.Has(sip.HeaderReplaces) && ua.hasExtension("replaces") {
		r.Respond(400, "Replaces Only in INVITE", nil)
		return
	}
	if ua.challenge(r) {
		return // RFC 3261 §22.1: answered 401/407 (Config.Authenticate)
	}
	if toTag := req.ToTag(); len(toTag) > 0 {
		ua.inDialog(r, method, toTag)
		return
	}
	switch req.Method() {
	case sip.MethodInvite:
		ua.newIncomingCall(r)
		return
	case sip.MethodBye:
		// RFC 3261 §15.1.2: a BYE outside a dialog gets 481.
		r.Respond(481, "", nil)
		return
	}
	if h := ua.handler(method); h != nil {
		h.HandleRequest(r)
		return
	}
	ua.notAllowed(r)
}

// answerOptions answers an OPTIONS no Handler takes, in a dialog or out of
// one, with the capabilities of the UA: RFC 3261 §11.2, the response an
// INVITE would get, 200 with Allow, Accept and Supported.
func (ua *UA) answerOptions(r *Request) {
	hs := []Header{{"Allow", ua.allow()}, {"Accept", "application/sdp"}}
	if s := ua.supported(); s != "" {
		hs = append(hs, Header{"Supported", s})
	}
	if e := ua.allowEvents(); e != "" {
		hs = append(hs, Header{"Allow-Events", e})
	}
	r.Respond(200, "", &ResponseOptions{Headers: hs})
}

// hasExtension reports whether tag is one of the option tags of Support.
func (ua *UA) hasExtension(tag string) bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return slices.Contains(ua.exts, tag)
}

func (ua *UA) handler(method string) Handler {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.handlers[method]
}

// notAllowed answers a method nobody handles: 405 with Allow for methods
// of RFC 3261 and its extensions, 501 for unknown ones (§8.2.1). OPTIONS,
// which Allow always lists, is answered by the UA itself (§11.2).
func (ua *UA) notAllowed(r *Request) {
	if r.Msg.Method() == sip.MethodOptions {
		ua.answerOptions(r)
		return
	}
	if r.Msg.Method() == sip.MethodOther {
		r.Respond(501, "", &ResponseOptions{Headers: []Header{{"Allow", ua.allow()}}})
		return
	}
	r.Respond(405, "", nil)
}

// inDialog routes a request with a To tag (RFC 3261 §12.2.2).
func (ua *UA) inDialog(r *Request, method string, toTag []byte) {
	req := r.Msg
	d := ua.findDialog(req.CallID(), toTag, req.FromTag())
	if d == nil {
		if in := ua.findInitial(req.CallID(), toTag); in != nil && req.Method() != sip.MethodInvite {
			if h := ua.handler(method); h != nil {
				r.Initial = in
				h.HandleRequest(r)
				return
			}
		}
		// RFC 3261 §12.2.2: no dialog matches: 481.
		r.Respond(481, "", nil)
		return
	}
	r.Dialog = d
	cseq, err := req.CSeq()
	if err != nil {
		r.Respond(400, "Bad CSeq", nil)
		return
	}
	// RFC 3261 §12.2.2: a CSeq lower than the remote sequence number is
	// out of order and MUST be rejected with a 500; Retry-After lets the
	// peer try again (RFC 3261 §14.2 does the same for INVITE).
	if !d.checkRemoteSeq(cseq.Seq) {
		r.Respond(500, "CSeq Out of Order", &ResponseOptions{Headers: []Header{{"Retry-After", retryAfter()}}})
		return
	}
	if req.Method() == sip.MethodUpdate && ua.sessionTimersOn() {
		if c := d.call(); c != nil {
			c.handleUpdate(r) // RFC 3311, RFC 4028 §9
			return
		}
	}
	switch req.Method() {
	case sip.MethodInvite, sip.MethodBye:
		if c := d.call(); c != nil {
			if req.Method() == sip.MethodInvite {
				c.handleReInvite(r)
			} else {
				c.handleBye(r)
			}
			return
		}
		// The dialog carries no INVITE usage (a subscription dialog):
		// RFC 5057 §5.2, a BYE there matches no usage.
		r.Respond(481, "", nil)
		return
	}
	if refreshesTarget(method) {
		d.refreshTarget(req) // RFC 3261 §12.2.2, RFC 6665 §4.1.2.2/§4.2.1
	}
	if h := ua.handler(method); h != nil {
		h.HandleRequest(r)
		return
	}
	ua.notAllowed(r)
}

// call returns the dialog's INVITE usage, if any.
func (d *Dialog) call() *Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.usages {
		if c, ok := u.(*Call); ok {
			return c
		}
	}
	return nil
}

// HandleACK receives the ACK for a 2xx (RFC 3261 §13.3.1.4): it ends the
// retransmissions of that 2xx. ACKs matching nothing are dropped (§17.2.3
// and §12.2.2: an ACK is never answered).
func (ua *UA) HandleACK(in *transport.Inbound) {
	req := in.Msg
	d := ua.findDialog(req.CallID(), req.ToTag(), req.FromTag())
	if d == nil {
		return
	}
	cseq, err := req.CSeq()
	if err != nil {
		return
	}
	if c := d.call(); c != nil {
		c.handleACK(d, cseq.Seq, req)
	}
}

// HandleCancel receives a CANCEL of a pending incoming INVITE; the
// Manager has answered it 200. RFC 3261 §9.2: the INVITE gets 487.
func (ua *UA) HandleCancel(tx *transaction.ServerTx, _ *sip.Message) {
	ua.mu.Lock()
	c := ua.incoming[tx]
	ua.mu.Unlock()
	if c != nil {
		c.cancelled()
	}
}

// HandleStrayResponse receives responses matching no client transaction.
// A 2xx to an INVITE is a retransmission (or a late fork) after the INVITE
// transaction ended: the UAC core ACKs it again (RFC 3261 §13.2.2.4).
func (ua *UA) HandleStrayResponse(in *transport.Inbound) {
	resp := in.Msg
	code := resp.StatusCode()
	cseq, err := resp.CSeq()
	if err != nil || cseq.Method != sip.MethodInvite || code < 200 || code >= 300 {
		return
	}
	if d := ua.findDialog(resp.CallID(), resp.FromTag(), resp.ToTag()); d != nil {
		if c := d.call(); c != nil {
			c.resendACK(d, cseq.Seq)
		}
	}
}

// HandleServerError reports an INVITE server transaction that failed on
// its own (Timer H, transport): the incoming call it carried ends.
func (ua *UA) HandleServerError(tx *transaction.ServerTx, err error) {
	ua.mu.Lock()
	c := ua.incoming[tx]
	delete(ua.incoming, tx)
	ua.mu.Unlock()
	if c != nil {
		c.end(err)
	}
}
