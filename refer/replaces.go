package refer

import (
	"context"
	"errors"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// ErrNoReplaces: the INVITE carries no Replaces header; it is an ordinary
// call.
var ErrNoReplaces = errors.New("refer: no Replaces header")

// Replacing applies RFC 3891 §3 to an incoming INVITE and returns the call
// it is to replace. It returns ErrNoReplaces for an INVITE without
// Replaces, and otherwise an *Error carrying the response to send:
//
//   - 400: more than one Replaces, a Replaces that does not parse, or a
//     Join beside it (contradictory semantics);
//   - 481: no dialog matches, the dialog was not created by an INVITE, or
//     it is an early dialog this UA did not initiate;
//   - 603: the dialog matched has just ended;
//   - 486: the dialog is confirmed and the Replaces says early-only.
//
// authorize is the local policy RFC 3891 §3 asks for (is the sender
// allowed to replace this dialog? its call is replaced.Call()); nil is
// PartyOfReplaced. It returning
// false gives 403. The caller answers the new call, then ends the old one
// with Replace.
func Replacing(ua *dialog.UA, req *sip.Message, authorize func(replaced *dialog.Dialog, req *sip.Message) bool) (*dialog.Call, error) {
	if !req.Has(sip.HeaderReplaces) {
		return nil, ErrNoReplaces
	}
	// RFC 3891 §3: more than one Replaces, or one in a request other than
	// INVITE, MUST get 400.
	if req.Method() != sip.MethodInvite {
		return nil, &Error{Status: 400, Reason: "Replaces Not Allowed", Err: ErrReplaces}
	}
	r, err := req.Replaces()
	if err != nil {
		return nil, &Error{Status: 400, Reason: "Bad Replaces", Err: errors.Join(ErrReplaces, err)}
	}
	// RFC 3891 §3: "another header field with contradictory semantics"
	// MUST get 400; Join (RFC 3911) is the one defined.
	if req.GetName("Join") != nil {
		return nil, &Error{Status: 400, Reason: "Replaces With Join", Err: ErrReplaces}
	}
	// RFC 3891 §3: to-tag is compared to the local tag, from-tag to the
	// remote tag.
	id := dialog.ID{CallID: string(r.CallID), LocalTag: string(r.ToTag), RemoteTag: string(r.FromTag)}
	d := ua.FindDialog(id)
	if d == nil && (id.LocalTag == "0" || id.RemoteTag == "0") {
		// RFC 3891 §6.1: "a tag of zero matches both tags of zero and
		// null", for a dialog with an RFC 2543 peer, which sent no tag.
		alt := id
		if alt.LocalTag == "0" {
			alt.LocalTag = ""
		}
		if alt.RemoteTag == "0" {
			alt.RemoteTag = ""
		}
		d = ua.FindDialog(alt)
	}
	if d == nil {
		if ua.RecentlyEnded(id) {
			// RFC 3891 §3: a dialog that has already terminated: 603.
			return nil, &Error{Status: 603, Reason: "Replaced Call Ended", Err: ErrReplaces}
		}
		return nil, &Error{Status: 481, Reason: "Replaced Call Does Not Exist", Err: ErrReplaces}
	}
	if !d.Invite() {
		// RFC 3891 §3: a dialog not created with an INVITE MUST get 481.
		return nil, &Error{Status: 481, Reason: "Replaced Dialog Has No Call", Err: ErrReplaces}
	}
	old := d.Call()
	if old == nil {
		// The call has ended (BYE) while another usage keeps the dialog:
		// the invitation has terminated, RFC 3891 §3's 603.
		return nil, &Error{Status: 603, Reason: "Replaced Call Ended", Err: ErrReplaces}
	}
	switch d.State() {
	case dialog.StateEarly:
		if !old.Outgoing() {
			// RFC 3891 §3: an early dialog this UA did not initiate: 481.
			return nil, &Error{Status: 481, Reason: "Replaced Call Not Ours", Err: ErrReplaces}
		}
	case dialog.StateConfirmed:
		if r.EarlyOnly {
			// RFC 3891 §3: early-only and a confirmed dialog: 486.
			return nil, &Error{Status: 486, Reason: "Replaced Call Answered", Err: ErrReplaces}
		}
	default:
		return nil, &Error{Status: 603, Reason: "Replaced Call Ended", Err: ErrReplaces}
	}
	if authorize == nil {
		authorize = PartyOfReplaced
	}
	// RFC 3891 §3: the replacement MUST be authorized as the call would be.
	if !authorize(d, req) {
		return nil, &Error{Status: 403, Reason: "Replacement Not Authorized", Err: ErrReplaces}
	}
	return old, nil
}

// PartyOfReplaced is the default authorization of an INVITE with Replaces
// (RFC 3891 §3, §6.1): the INVITE's From, or its Referred-By (the
// transferor of an attended transfer, RFC 5589 §7), must name a party of
// the replaced dialog: its remote or its local URI (the latter for a
// user's own other device picking up the call). Identities are compared
// as address-of-record: user, host and port, sip and sips alike (RFC 3892
// §4), parameters ignored. Neither header is proof of identity; an
// application that authenticates requests (package digest) can check
// them before trusting either.
func PartyOfReplaced(d *dialog.Dialog, req *sip.Message) bool {
	var parties [2]sip.NameAddr
	if parties[0].Parse([]byte(d.RemoteURI())) != nil || parties[1].Parse([]byte(d.LocalURI())) != nil {
		return false
	}
	for _, h := range [...]sip.HeaderName{sip.HeaderFrom, sip.HeaderReferredBy} {
		v := req.Get(h)
		if v == nil {
			continue
		}
		var who sip.NameAddr
		if who.Parse(v) != nil || who.Wildcard {
			continue
		}
		for i := range parties {
			if sameIdentity(&who.URI, &parties[i].URI) {
				return true
			}
		}
	}
	return false
}

// sameIdentity compares two URIs as identities: scheme sip and sips
// alike, user, host and port as RFC 3261 §19.1.4 does, parameters and
// headers ignored.
func sameIdentity(a, b *sip.URI) bool {
	if (a.Scheme != sip.SchemeSIP && a.Scheme != sip.SchemeSIPS) || (b.Scheme != sip.SchemeSIP && b.Scheme != sip.SchemeSIPS) {
		return a.Equal(b)
	}
	x, y := *a, *b
	x.Scheme, y.Scheme = sip.SchemeSIP, sip.SchemeSIP
	x.Params, y.Params, x.Headers, y.Headers = nil, nil, nil, nil
	return x.Equal(&y)
}

// Replace shuts down the call a new one has replaced, once the new one has
// been accepted (RFC 3891 §3): with a BYE if it was confirmed, with a
// CANCEL if it is an early one this UA initiated.
func Replace(ctx context.Context, old *dialog.Call) error {
	switch old.State() {
	case dialog.CallCalling, dialog.CallEarly:
		return old.Cancel()
	case dialog.CallEnded:
		return nil
	}
	return old.Bye(ctx)
}

// AcceptReplaces handles an incoming INVITE that carries Replaces (RFC
// 3891), from a UA's OnInvite: it rejects it as §3 prescribes (see
// Replacing), or answers it 200 with the session description given and
// ends the replaced call (BYE or CANCEL, not waiting for the answer). It
// reports false for an INVITE without Replaces, which the caller answers
// as usual.
func (a *Agent) AcceptReplaces(c *dialog.Call, req *sip.Message, contentType string, body []byte) bool {
	old, err := Replacing(a.ua, req, a.cfg.AuthorizeReplaces)
	if errors.Is(err, ErrNoReplaces) {
		return false
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			c.Reject(e.Status, e.Reason)
		} else {
			c.Reject(500, "")
		}
		return true
	}
	if c.Answer(contentType, body) != nil {
		return true // RFC 3891 §3: the matched dialog is left unchanged
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // send, do not wait: this runs on the transport's goroutine
	Replace(ctx, old)
	return true
}
