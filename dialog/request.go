package dialog

import (
	"errors"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Request is a request the UA routes to a Handler.
type Request struct {
	UA *UA
	Tx *transaction.ServerTx
	// Msg is the request. It is valid only during HandleRequest; call
	// Keep there to answer it later.
	Msg *sip.Message
	// Dialog is the dialog the request is in, nil outside one.
	Dialog *Dialog
	// Initial is set for a request with a To tag that matches no dialog
	// but matches an Initial request of ours that is still open: a NOTIFY
	// that arrives before the 2xx to its SUBSCRIBE, or from a fork (RFC
	// 6665 §4.1.2.4). The handler creates the dialog with
	// Initial.DialogFromRequest, or answers 481.
	Initial *Initial
	// Remote is where the request came from.
	Remote transport.Addr
	// AuthUser is the user whose digest credentials the request carried,
	// when Config.Authenticate covers its method; else empty.
	AuthUser string

	tag     string // To tag of our responses outside a dialog
	created bool   // a dialog was created for this request: 2xx carry Contact
}

// Keep makes r.Msg a copy that stays valid after HandleRequest returns.
func (r *Request) Keep() { r.Msg = r.Msg.Clone() }

// ResponseOptions is what a Handler adds to a response.
type ResponseOptions struct {
	// Contact adds the UA's Contact to a response that creates no
	// dialog, such as the 2xx to a REFER inside one: it tells the referrer
	// where the subscription's requests go.
	Contact     bool
	Headers     []Header
	ContentType string
	Body        []byte
}

// Respond answers r (RFC 3261 §8.2.6): the To tag is the dialog's local tag
// (or one tag chosen for the request outside a dialog); a 2xx to a request
// that created a dialog carries Contact and the Record-Route of the request
// (§12.1.1). 405 carries Allow and 420 Unsupported when Headers say so.
func (r *Request) Respond(code int, reason string, o *ResponseOptions) error {
	b := make([]byte, 0, 512+len(r.Msg.Bytes())/2)
	b = sip.AppendResponse(b, r.Msg, code, reason, r.ToTag())
	if code >= 200 && code < 300 && r.created {
		b = appendDialogFields(b, r.UA, r.Msg, r.Remote)
	} else if o != nil && o.Contact {
		if c, err := r.UA.contact(r.Remote, isSecure(r.Msg, r.Remote.Proto)); err == nil {
			b = sip.AppendHeader(b, sip.HeaderContact, c)
		}
	}
	if code == 405 {
		b = sip.AppendHeader(b, sip.HeaderAllow, r.UA.allow())
	}
	b = r.UA.appendServer(b)
	if o == nil {
		b = sip.AppendNoBody(b)
	} else {
		for _, h := range o.Headers {
			b = sip.AppendHeaderName(b, h.Name, h.Value)
		}
		if len(o.Body) == 0 {
			b = sip.AppendNoBody(b)
		} else {
			b = sip.AppendBody(b, o.ContentType, o.Body)
		}
	}
	return r.Tx.Respond(b)
}

// ToTag returns the To tag of the responses to r.
func (r *Request) ToTag() string {
	if r.Dialog != nil {
		return r.Dialog.id.LocalTag
	}
	if t := r.Msg.ToTag(); t != nil {
		return string(t)
	}
	if r.tag == "" {
		// The transaction's tag: a CANCEL's 200 carries it too (RFC 3261 §9.2).
		r.tag = string(r.Tx.LocalTag())
	}
	return r.tag
}

// CreateDialog creates the dialog a 2xx to r will establish, as the UAS
// (RFC 3261 §12.1.1): SUBSCRIBE and REFER outside a dialog. The caller
// attaches its usage to it, then answers 2xx (which carries Contact).
func (r *Request) CreateDialog() (*Dialog, error) {
	if r.Dialog != nil {
		return r.Dialog, nil
	}
	d, err := r.UA.uasDialog(r.Msg, r.ToTag(), r.Remote)
	if err != nil {
		return nil, err
	}
	r.Dialog, r.created = d, true
	return d, nil
}

// appendDialogFields writes what a response establishing a dialog owes
// (RFC 3261 §12.1.1): the Record-Route of the request, copied in order,
// and a Contact; then Allow and Supported (§13.3.1.4 SHOULD).
func appendDialogFields(b []byte, ua *UA, req *sip.Message, remote transport.Addr) []byte {
	vs := req.Values(sip.HeaderRecordRoute)
	for v, ok := vs.Next(); ok; v, ok = vs.Next() {
		b = sip.AppendHeader(b, sip.HeaderRecordRoute, v)
	}
	if c, err := ua.contact(remote, isSecure(req, remote.Proto)); err == nil {
		b = sip.AppendHeader(b, sip.HeaderContact, c)
	}
	return ua.appendCapabilities(b)
}

func (ua *UA) appendServer(b []byte) []byte {
	if ua.cfg.UserAgent == "-" {
		return b
	}
	return sip.AppendHeader(b, sip.HeaderServer, ua.cfg.UserAgent)
}

// isSecure is the secure flag of a dialog created by req received over p
// (RFC 3261 §12.1.1: TLS and a SIPS Request-URI).
func isSecure(req *sip.Message, p transport.Protocol) bool {
	return p == transport.TLS && req.RequestURI() != nil && req.RequestURI().Scheme == sip.SchemeSIPS
}

// uasDialog creates and enters the dialog of a request received (RFC 3261
// §12.1.1), with localTag as the tag of its responses.
func (ua *UA) uasDialog(req *sip.Message, localTag string, from transport.Addr) (*Dialog, error) {
	to, err := withoutTag(req.Get(sip.HeaderTo))
	if err != nil {
		return nil, err
	}
	fromURI, err := withoutTag(req.Get(sip.HeaderFrom))
	if err != nil {
		return nil, err
	}
	cseq, err := req.CSeq()
	if err != nil {
		return nil, err
	}
	target, ok := contactURI(req)
	if !ok {
		return nil, errMissingContact
	}
	d := ua.newDialog(ID{CallID: string(req.CallID()), LocalTag: localTag, RemoteTag: string(req.FromTag())}, false)
	d.state = StateConfirmed
	d.secure = isSecure(req, from.Proto)
	d.localURI, d.remoteURI = to, fromURI
	d.remoteTarget = target
	d.routes = recordRoutes(req) // §12.1.1: in order
	d.remoteSeq, d.remoteSeqSet = cseq.Seq, true
	got, err := ua.addDialog(d)
	if err != nil {
		return nil, err
	}
	if got == d {
		d.prelocate()
	}
	return got, nil
}

var errMissingContact = errors.New("dialog: request has no Contact")
