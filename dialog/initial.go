package dialog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Initial is a request this UA sends outside any dialog that can create
// dialogs: INVITE, SUBSCRIBE or REFER (RFC 3261 §12.1.2, RFC 6665 §4.1.2,
// RFC 3515 §2.4.4). Responses with a To tag create dialogs from it, one per
// tag when the request forks, and so can requests: a NOTIFY may arrive
// before the 2xx to its SUBSCRIBE. While it is open (until Close), requests
// with its Call-ID and its From tag as their To tag reach Handlers with
// Request.Initial set.
type Initial struct {
	ua       *UA
	method   string
	callID   string
	localTag string
	localURI string // From without tag
	remote   string // To
	target   string // Request-URI
	seq      uint32
	secure   bool
	req      []byte // without Via
	dst      transport.Addr
	targets  []locate.Target // RFC 3263: dst first, then the failover targets
	contact  string          // the Contact of req, written for dst.Proto
	abandon  func() bool     // set by Dial: a cancelled call tries no further target
	auth     []byte          // credentials of the last retry (RFC 3261 §22.2), for the ACK
}

// InitialOptions adjusts an Initial request.
type InitialOptions struct {
	RequestOptions
	// From is the From value without tag. Default: the UA's URI on the
	// protocol used, with Config.DisplayName.
	From string
	// To is the To value. Default: the target URI in angle brackets.
	To string
	// CallID is the Call-ID. Default: 128 random bits in hex.
	CallID string
	// Seq is the CSeq number. Default: a random one below 2**16. A
	// registrar wants them increasing within a Call-ID (RFC 3261 §10.2).
	Seq uint32
}

func initialKey(callID, localTag []byte) string {
	return string(dialogKey(nil, callID, localTag, nil))
}

// NewInitial builds a dialog-forming request for target (a SIP URI) and
// registers it with the UA; send it with Send, and Close it when it can
// create no more dialogs. Where it goes (the target, or
// Config.OutboundProxy) is located by RFC 3263, which for a host name
// waits for DNS: call it from the application, not from a handler.
func (ua *UA) NewInitial(method, target string, o *InitialOptions) (*Initial, error) {
	return ua.newInitial(context.Background(), method, target, o)
}

// nextHop returns the URI a request outside a dialog is sent to (the
// target, or the first URI of the preloaded route set: the outbound proxy,
// RFC 3261 §8.1.2, else the Service-Route, RFC 3608), that first URI as
// proxy, and the rest of the route set.
func (ua *UA) nextHop(target, method string) (next, proxy string, routes []string, err error) {
	proxy = ua.cfg.OutboundProxy
	routes = ua.preloadedRoute(method)
	if proxy == "" && len(routes) > 0 {
		// RFC 3608 §6: the Service-Route is the preloaded route set.
		var na sip.NameAddr
		if err := na.Parse([]byte(routes[0])); err != nil {
			return "", "", nil, errors.Join(ErrNoAddress, err)
		}
		proxy, routes = string(na.URI.Raw), routes[1:]
	}
	if proxy == "" {
		return target, "", nil, nil
	}
	// RFC 3261 §8.1.2: a preloaded route set; the request goes to its
	// first URI. Only a loose router keeps the Request-URI the target.
	var p sip.URI
	if err := p.Parse([]byte(proxy)); err != nil {
		return "", "", nil, errors.Join(ErrNoAddress, fmt.Errorf("dialog: OutboundProxy %q: %w", proxy, err))
	}
	if !p.HasParam("lr") {
		return "", "", nil, fmt.Errorf("%w: OutboundProxy %q is not a loose router (no lr parameter)", ErrNoAddress, proxy)
	}
	return proxy, proxy, routes, nil
}

func (ua *UA) newInitial(ctx context.Context, method, target string, o *InitialOptions) (*Initial, error) {
	if o == nil {
		o = &InitialOptions{}
	}
	var u sip.URI
	if err := u.Parse([]byte(target)); err != nil {
		return nil, errors.Join(ErrNoAddress, err)
	}
	next, proxy, routes, err := ua.nextHop(target, method)
	if err != nil {
		return nil, err
	}
	// RFC 3261 §26.2.2: a SIPS Request-URI means TLS on every hop, the
	// outbound proxy's included.
	targets, err := ua.targets(ctx, next, u.Scheme == sip.SchemeSIPS)
	if err != nil {
		return nil, err
	}
	dst := targets[0].Addr
	in := &Initial{
		ua:       ua,
		method:   method,
		callID:   o.CallID,
		localTag: newTag(),
		localURI: o.From,
		remote:   o.To,
		target:   target,
		// RFC 3261 §8.1.1.5: an initial CSeq less than 2**31.
		seq:     1 + rand.Uint32N(1<<16),
		secure:  u.Scheme == sip.SchemeSIPS && dst.Proto == transport.TLS,
		dst:     dst,
		targets: targets,
	}
	if in.callID == "" {
		in.callID = newCallID()
	}
	if o.Seq != 0 {
		in.seq = o.Seq
	}
	if in.localURI == "" {
		self, err := ua.uri(dst)
		if err != nil {
			return nil, err
		}
		in.localURI = "<" + self + ">"
		if n := ua.cfg.DisplayName; n != "" {
			in.localURI = `"` + n + `" ` + in.localURI
		}
	}
	if in.remote == "" {
		in.remote = "<" + target + ">"
	}
	contact, err := ua.contact(dst, in.secure)
	if err != nil {
		return nil, err
	}
	in.contact = contact
	b := make([]byte, 0, 512+len(o.Body))
	b = sip.AppendRequestLine(b, method, target)
	if proxy != "" {
		b = sip.AppendHeader(b, sip.HeaderRoute, "<"+proxy+">")
	}
	for _, r := range routes {
		b = sip.AppendHeader(b, sip.HeaderRoute, r)
	}
	b = sip.AppendHeaderUint(b, sip.HeaderMaxForwards, 70)
	b = appendTagged(b, sip.HeaderFrom, in.localURI, in.localTag)
	b = sip.AppendHeader(b, sip.HeaderTo, in.remote)
	b = sip.AppendHeader(b, sip.HeaderCallID, in.callID)
	b = sip.AppendCSeq(b, in.seq, method)
	// RFC 3261 §8.1.1.8: a request that can establish a dialog MUST carry
	// a Contact.
	b = sip.AppendHeader(b, sip.HeaderContact, contact)
	b = ua.appendCapabilities(b)
	b = ua.appendUserAgent(b)
	in.req = appendOptions(b, &o.RequestOptions)

	ua.mu.Lock()
	ua.initials[initialKey([]byte(in.callID), []byte(in.localTag))] = in
	ua.mu.Unlock()
	return in, nil
}

// Method returns the request's method.
func (in *Initial) Method() string { return in.method }

// CallID returns the request's Call-ID.
func (in *Initial) CallID() string { return in.callID }

// LocalTag returns the From tag: the local tag of every dialog it creates.
func (in *Initial) LocalTag() string { return in.localTag }

// Seq returns the CSeq number of the request: after a retry with
// credentials (Config.Credentials), the retry's.
func (in *Initial) Seq() uint32 {
	in.ua.mu.Lock()
	defer in.ua.mu.Unlock()
	return in.seq
}

// Target returns the Request-URI.
func (in *Initial) Target() string { return in.target }

// Bytes returns the request as built, without Via; nil for the INVITE of
// a Call once it has been answered (the Call releases it).
func (in *Initial) Bytes() []byte {
	in.ua.mu.Lock()
	defer in.ua.mu.Unlock()
	return in.req
}

// release drops the request bytes (the transaction keeps its own copy)
// and the abandon callback, which references the call: an INVITE's
// Initial outlives its call in the handler of the Accepted transaction.
func (in *Initial) release() {
	in.ua.mu.Lock()
	in.req = nil
	in.abandon = nil
	in.ua.mu.Unlock()
}

// Dest returns where the request goes.
func (in *Initial) Dest() transport.Addr { return in.dst }

// Send sends the request as a new client transaction reporting to h. When
// RFC 3263 gave several targets, a transport error, a timeout or a 503
// from one sends the request again to the next, as a new transaction
// (§4.3); h sees one final outcome.
//
// With Config.Credentials, challenges are answered in between, to the
// target that challenged (see RetryHandler).
func (in *Initial) Send(h transaction.ClientHandler) (*transaction.ClientTx, error) {
	first := func(h transaction.ClientHandler, dest *func() transport.Addr) (*transaction.ClientTx, error) {
		return in.ua.requestFor(in.Bytes(), in.forTarget, in.targets, h, in.abandon, dest)
	}
	return in.ua.sendRetrying(first, in.Bytes(), h, func(old uint32) uint32 { return old + 1 }, in.retried)
}

// forTarget returns the request for a failover target reached over
// another transport than the first: its Contact names that transport's
// listener (RFC 3261 §8.1.1.8: where the peer sends requests back). Via
// is the transport's own.
func (in *Initial) forTarget(t locate.Target) []byte {
	req := in.Bytes()
	if t.Proto == in.dst.Proto {
		return req
	}
	c, err := in.ua.contact(t.Addr, in.secure)
	if err != nil {
		return req
	}
	old := []byte("\r\nContact: " + in.contact + "\r\n")
	i := bytes.Index(req, old)
	if i < 0 {
		return req
	}
	out := make([]byte, 0, len(req)+len(c))
	out = append(out, req[:i]...)
	out = append(out, "\r\nContact: "+c+"\r\n"...)
	return append(out, req[i+len(old):]...)
}

// Close unregisters the request: later requests with its tag get 481.
func (in *Initial) Close() {
	in.ua.mu.Lock()
	k := initialKey([]byte(in.callID), []byte(in.localTag))
	if in.ua.initials[k] == in {
		delete(in.ua.initials, k)
	}
	in.ua.mu.Unlock()
}

// DialogFromResponse returns the dialog a response with a To tag creates
// (RFC 3261 §12.1.2): early for 101-199, confirmed for 2xx, with the route
// set from the Record-Route in reverse order and the remote target from
// Contact. A 2xx for a dialog that exists confirms it and recomputes both
// (§13.2.2.4). The response must belong to this request.
func (in *Initial) DialogFromResponse(resp *sip.Message) (*Dialog, error) {
	tag := resp.ToTag()
	if len(tag) == 0 {
		return nil, errors.New("dialog: response without To tag creates no dialog")
	}
	code := resp.StatusCode()
	target, ok := contactURI(resp)
	if !ok {
		target = in.target
	}
	routes := recordRoutes(resp)
	slices.Reverse(routes) // §12.1.2: reverse order
	if d := in.ua.findDialog([]byte(in.callID), []byte(in.localTag), tag); d != nil {
		if code >= 200 && code < 300 {
			d.mu.Lock()
			if d.state == StateEarly {
				d.state = StateConfirmed
				d.routes, d.remoteTarget = routes, target
			} else if ok {
				d.remoteTarget = target
			}
			d.mu.Unlock()
			d.prelocate()
		}
		return d, nil
	}
	d := in.ua.newDialog(ID{CallID: in.callID, LocalTag: in.localTag, RemoteTag: string(tag)}, true)
	d.state = StateEarly
	if code >= 200 {
		d.state = StateConfirmed
	}
	d.secure = in.secure
	d.localURI, d.remoteURI = in.localURI, in.remote
	d.remoteTarget = target
	d.routes = routes
	d.localSeq, d.localSeqSet = in.Seq(), true
	in.authForACK(d)
	return in.ua.prelocated(in.ua.addDialog(d))
}

// prelocated starts locating the first hop of a dialog just entered.
func (ua *UA) prelocated(d *Dialog, err error) (*Dialog, error) {
	if err == nil {
		d.prelocate()
	}
	return d, err
}

// DialogFromRequest returns the dialog a request with this Initial's tag
// creates: a NOTIFY for a SUBSCRIBE or REFER that arrived before (or
// instead of) its 2xx (RFC 6665 §4.1.2.4). The route set is the NOTIFY's
// Record-Route in order and the remote target its Contact, as a UAS
// builds them (RFC 3261 §12.1.1).
func (in *Initial) DialogFromRequest(req *sip.Message, from transport.Addr) (*Dialog, error) {
	tag := req.FromTag()
	if d := in.ua.findDialog([]byte(in.callID), []byte(in.localTag), tag); d != nil {
		return d, nil
	}
	target, ok := contactURI(req)
	if !ok {
		return nil, errMissingContact
	}
	cseq, err := req.CSeq()
	if err != nil {
		return nil, err
	}
	d := in.ua.newDialog(ID{CallID: in.callID, LocalTag: in.localTag, RemoteTag: string(tag)}, true)
	d.state = StateConfirmed
	d.secure = in.secure
	d.localURI, d.remoteURI = in.localURI, in.remote
	d.remoteTarget = target
	d.routes = recordRoutes(req)
	d.localSeq, d.localSeqSet = in.Seq(), true
	d.remoteSeq, d.remoteSeqSet = cseq.Seq, true
	return in.ua.prelocated(in.ua.addDialog(d))
}

func (ua *UA) findInitial(callID, localTag []byte) *Initial {
	var kb [256]byte
	k := dialogKey(kb[:0], callID, localTag, nil)
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.initials[string(k)]
}
