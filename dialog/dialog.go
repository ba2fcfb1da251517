package dialog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// State is the state of a dialog (RFC 3261 §12).
type State uint8

// Dialog states.
const (
	StateEarly      State = iota + 1 // created by a provisional response
	StateConfirmed                   // created or confirmed by a 2xx (or a NOTIFY)
	StateTerminated                  // ended; it has left the UA's table
)

func (s State) String() string {
	switch s {
	case StateEarly:
		return "early"
	case StateConfirmed:
		return "confirmed"
	case StateTerminated:
		return "terminated"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ID identifies a dialog (RFC 3261 §12): the Call-ID and the two tags,
// compared byte for byte.
type ID struct {
	CallID    string
	LocalTag  string
	RemoteTag string
}

// Usage is one use of a dialog (RFC 5057 §2): the INVITE session (Call) or
// a subscription. A dialog lives while it has usages.
type Usage interface {
	// DialogTerminated tells the usage that its dialog ended under it:
	// Terminate was called (the UA closing, or a response that ends the
	// whole dialog). The usage must not call back into
	// the dialog to remove itself; it is already gone.
	DialogTerminated(d *Dialog, err error)
}

// Dialog is a SIP dialog (RFC 3261 §12). Its identity is fixed at
// creation; the rest is guarded by its mutex. It is safe for concurrent
// use.
type Dialog struct {
	// Fields ordered for size (248 bytes, the 256-byte size class): a
	// UA holding many idle calls holds this many dialogs.
	ua  *UA
	id  ID
	key string // the UA table key, see dialogKey
	uac bool   // created by a request this UA sent

	mu           sync.Mutex
	state        State
	secure       bool
	localURI     string   // From (UAC) or To (UAS) value without its tag
	remoteURI    string   // the other one
	remoteTarget string   // Contact URI of the peer (§12.1)
	routes       []string // route set: Record-Route values, in sending order
	localSeq     uint32
	localSeqSet  bool
	remoteSeqSet bool
	invite       bool // created by an INVITE (a Call was its usage)
	hopSecure    bool
	remoteSeq    uint32
	usages       []Usage

	// Where the first hop (remote target or first route) was last located:
	// requests reuse it until the hop changes, so no request of a dialog
	// asks DNS twice, and an ACK can be sent from a reader goroutine.
	// hopSecure, above, belongs with them.
	hop   string
	hopTo []locate.Target

	ackAuth *ackAuth // credentials of an INVITE sent with them; nil mostly
}

// ackAuth is what the ACK of an INVITE that was challenged carries: the
// credentials of the INVITE with CSeq number seq (RFC 3261 §22.1).
type ackAuth struct {
	lines []byte
	seq   uint32
}

// dialogKey is the table key of a dialog ID: the three parts, NUL
// separated (none of them may contain NUL on the wire).
func dialogKey(dst []byte, callID, localTag, remoteTag []byte) []byte {
	dst = append(dst, callID...)
	dst = append(dst, 0)
	dst = append(dst, localTag...)
	dst = append(dst, 0)
	return append(dst, remoteTag...)
}

// ID returns the dialog's identity.
func (d *Dialog) ID() ID { return d.id }

// UA returns the user agent that holds the dialog.
func (d *Dialog) UA() *UA { return d.ua }

// State returns the dialog's state.
func (d *Dialog) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Secure reports the secure flag (RFC 3261 §12.1.1, §12.1.2).
func (d *Dialog) Secure() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.secure
}

// LocalURI returns the local URI as written in From or To, without tag.
func (d *Dialog) LocalURI() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.localURI
}

// RemoteURI returns the remote URI as written in From or To, without tag.
func (d *Dialog) RemoteURI() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remoteURI
}

// RemoteTarget returns the remote target: the peer's Contact URI, updated
// by target refresh requests and their responses (RFC 3261 §12.2).
func (d *Dialog) RemoteTarget() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remoteTarget
}

// RouteSet returns a copy of the route set, in the order requests visit it.
func (d *Dialog) RouteSet() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.routes...)
}

// LocalSeq returns the local CSeq number last used, and whether one has.
func (d *Dialog) LocalSeq() (uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.localSeq, d.localSeqSet
}

// RemoteSeq returns the remote CSeq number last seen, and whether one has.
func (d *Dialog) RemoteSeq() (uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remoteSeq, d.remoteSeqSet
}

// String returns the dialog ID in a form for logs.
func (d *Dialog) String() string {
	return d.id.CallID + ";local=" + d.id.LocalTag + ";remote=" + d.id.RemoteTag
}

// AddUsage attaches u to the dialog. It fails with ErrTerminated once the
// dialog has ended.
func (d *Dialog) AddUsage(u Usage) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == StateTerminated {
		return ErrTerminated
	}
	d.usages = append(d.usages, u)
	if _, ok := u.(*Call); ok {
		d.invite = true
	}
	return nil
}

// Call returns the dialog's INVITE usage, nil if it has none (a dialog
// made by SUBSCRIBE or REFER, or after the call's BYE).
func (d *Dialog) Call() *Call { return d.call() }

// Invite reports whether the dialog was created by an INVITE (RFC 3891 §3:
// a Replaces may only name such a dialog).
func (d *Dialog) Invite() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.invite
}

// RemoveUsage detaches u. When it was the last usage the dialog ends
// (RFC 5057 §2: a dialog is destroyed when its last usage is).
func (d *Dialog) RemoveUsage(u Usage) {
	d.mu.Lock()
	found := false
	for i, x := range d.usages {
		if x == u {
			d.usages = slices.Delete(d.usages, i, i+1) // zeroes the tail: no stale usage kept alive
			found = true
			break
		}
	}
	last := found && len(d.usages) == 0 && d.state != StateTerminated
	if last {
		d.state = StateTerminated
	}
	d.mu.Unlock()
	if last {
		d.ua.removeDialog(d)
	}
}

// Usages returns how many usages the dialog has.
func (d *Dialog) Usages() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.usages)
}

// Terminate ends the dialog at once, with every usage (each is told through
// DialogTerminated with err). Use it for a dialog that got no usage, or
// when the peer says the dialog is gone (481).
func (d *Dialog) Terminate(err error) {
	d.mu.Lock()
	if d.state == StateTerminated {
		d.mu.Unlock()
		return
	}
	d.state = StateTerminated
	usages := d.usages
	d.usages = nil
	d.mu.Unlock()
	d.ua.removeDialog(d)
	for _, u := range usages {
		u.DialogTerminated(d, err)
	}
}

// confirm moves an early dialog to confirmed.
func (d *Dialog) confirm() {
	d.mu.Lock()
	if d.state == StateEarly {
		d.state = StateConfirmed
	}
	d.mu.Unlock()
}

// Header is an extra header field of an outgoing request or response.
type Header struct {
	Name  string
	Value string
}

// RequestOptions is what the caller adds to a request a Dialog builds.
type RequestOptions struct {
	Headers     []Header // written after the dialog's own header fields
	ContentType string   // required when Body is not empty
	Body        []byte
}

// refreshesTarget reports whether method is a target refresh request
// (RFC 3261 §12.2: INVITE, UPDATE; RFC 6665 §3.1, §3.2: SUBSCRIBE, NOTIFY).
func refreshesTarget(method string) bool {
	switch method {
	case "INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY":
		return true
	}
	return false
}

// carriesContact reports whether a request of method carries a Contact in
// a dialog: target refresh requests, and REFER, whose Contact serves the
// implicit subscription it may create (RFC 3515 §2.4.4, RFC 6665 §4.1.2).
func carriesContact(method string) bool {
	return refreshesTarget(method) || method == "REFER"
}

// NewRequest builds a request within the dialog (RFC 3261 §12.2.1.1) and
// returns it, without a Via, with the next hop to send it to. It takes the
// next local CSeq number unless method is ACK or CANCEL, which reuse the
// INVITE's (callers building those use buildRequest directly).
func (d *Dialog) NewRequest(method string, o *RequestOptions) (req []byte, dst transport.Addr, err error) {
	req, dst, _, err = d.newRequestSeq(method, o)
	return req, dst, err
}

// NewRequestSeq is NewRequest, also returning the CSeq number taken: the
// id of the subscription a REFER creates (RFC 3515 §2.4.6).
func (d *Dialog) NewRequestSeq(method string, o *RequestOptions) ([]byte, transport.Addr, uint32, error) {
	return d.newRequestSeq(method, o)
}

// newRequestSeq is NewRequest, also returning the CSeq number taken.
func (d *Dialog) newRequestSeq(method string, o *RequestOptions) ([]byte, transport.Addr, uint32, error) {
	seq, err := d.takeSeq()
	if err != nil {
		return nil, transport.Addr{}, 0, err
	}
	req, dst, err := d.buildRequest(method, seq, o)
	return req, dst, seq, err
}

// takeSeq takes the next local CSeq number.
func (d *Dialog) takeSeq() (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == StateTerminated {
		return 0, ErrTerminated
	}
	// RFC 3261 §12.2.1.1: the local sequence number MUST be incremented by
	// one for each request; if empty, an initial one is chosen as for an
	// out-of-dialog request (§8.1.1.5: less than 2**31).
	if !d.localSeqSet {
		d.localSeq = rand.Uint32N(1 << 16)
		d.localSeqSet = true
	}
	d.localSeq++
	return d.localSeq, nil
}

// route returns the Request-URI, the Route values and the URI of the
// first hop of a request of the dialog (RFC 3261 §12.2.1.1).
func (d *Dialog) route() (ruri string, route []string, hop string, secure bool, err error) {
	d.mu.Lock()
	target, routes, secure := d.remoteTarget, d.routes, d.secure
	d.mu.Unlock()
	// With an empty route set, or a loose router first, the Request-URI is
	// the remote target and Route the route set; with a strict router
	// first, the Request-URI is that router's URI (without the parameters
	// a Request-URI may not have), and the remote target goes last in
	// Route.
	ruri, hop = target, target
	if len(routes) > 0 {
		var first sip.NameAddr
		if err := first.Parse([]byte(routes[0])); err != nil {
			return "", nil, "", secure, fmt.Errorf("dialog: route set: %w", err)
		}
		hop = string(first.URI.Raw)
		if first.URI.LR() {
			route = routes
		} else {
			ruri = requestURIOf(&first.URI)
			route = append(append([]string(nil), routes[1:]...), "<"+target+">")
		}
	}
	return ruri, route, hop, secure, nil
}

// destination returns the targets of the dialog's first hop (RFC 3263),
// located once per hop. When the hop names a host not located yet it asks
// DNS if wait is true, else it fails with errNeedsDNS at once.
func (d *Dialog) destination(ctx context.Context, wait bool) ([]locate.Target, error) {
	_, _, hop, secure, err := d.route()
	if err != nil {
		return nil, err
	}
	return d.locateHop(ctx, hop, secure, wait)
}

func (d *Dialog) locateHop(ctx context.Context, hop string, secure, wait bool) ([]locate.Target, error) {
	d.mu.Lock()
	if d.hopTo != nil && d.hop == hop && d.hopSecure == secure {
		ts := d.hopTo
		d.mu.Unlock()
		return ts, nil
	}
	d.mu.Unlock()
	t, ok, err := d.ua.numeric(hop, secure)
	var ts []locate.Target
	switch {
	case err != nil:
		return nil, err
	case ok:
		ts = []locate.Target{t}
	case !wait:
		return nil, errNeedsDNS
	default:
		if ts, err = d.ua.targets(ctx, hop, secure); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	d.hop, d.hopSecure, d.hopTo = hop, secure, ts
	d.mu.Unlock()
	return ts, nil
}

// prelocate starts locating the dialog's first hop on a goroutine of the
// UA when it names a host not located yet. Requests of a dialog may be
// built on a transport reader goroutine (a NOTIFY reporting a response, a
// BYE after a failed re-INVITE), where buildRequest would wait for DNS:
// located ahead, they find the targets ready (or the Locator's cache warm).
func (d *Dialog) prelocate() {
	_, _, hop, secure, err := d.route()
	if err != nil {
		return
	}
	d.mu.Lock()
	cached := d.hopTo != nil && d.hop == hop && d.hopSecure == secure
	d.mu.Unlock()
	if cached {
		return
	}
	if _, ok, err := d.ua.numeric(hop, secure); ok || err != nil {
		return
	}
	d.ua.background(func(ctx context.Context) { d.locateHop(ctx, hop, secure, true) })
}

// located returns the target dst was located as, for its domain.
func (d *Dialog) located(dst transport.Addr) (locate.Target, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.hopTo {
		if t.Addr == dst {
			return t, true
		}
	}
	return locate.Target{}, false
}

// buildRequest writes a request of the dialog with the given CSeq number.
// A first hop named by a host not located yet is located here, waiting for
// DNS (bounded by the Locator): callers on a reader goroutine locate it
// first with destination in the background.
func (d *Dialog) buildRequest(method string, seq uint32, o *RequestOptions) ([]byte, transport.Addr, error) {
	d.mu.Lock()
	localURI, remoteURI := d.localURI, d.remoteURI
	d.mu.Unlock()
	ruri, route, hop, secure, err := d.route()
	if err != nil {
		return nil, transport.Addr{}, err
	}
	ts, err := d.locateHop(context.Background(), hop, secure, true)
	if err != nil {
		return nil, transport.Addr{}, err
	}
	dst := ts[0].Addr

	b := make([]byte, 0, 512+len(o.body()))
	b = sip.AppendRequestLine(b, method, ruri)
	for _, r := range route {
		b = sip.AppendHeader(b, sip.HeaderRoute, r)
	}
	b = sip.AppendHeaderUint(b, sip.HeaderMaxForwards, 70)
	b = appendTagged(b, sip.HeaderFrom, localURI, d.id.LocalTag)
	b = appendTagged(b, sip.HeaderTo, remoteURI, d.id.RemoteTag)
	b = sip.AppendHeader(b, sip.HeaderCallID, d.id.CallID)
	b = sip.AppendCSeq(b, seq, method)
	if carriesContact(method) {
		contact, err := d.ua.contact(dst, secure)
		if err != nil {
			return nil, dst, err
		}
		b = sip.AppendHeader(b, sip.HeaderContact, contact)
	}
	if method == "INVITE" || method == "UPDATE" {
		b = d.ua.appendCapabilities(b)
	}
	b = d.ua.appendUserAgent(b)
	if method == "ACK" {
		b = d.appendACKAuth(b, seq)
	}
	b = appendOptions(b, o)
	return b, dst, nil
}

func (o *RequestOptions) body() []byte {
	if o == nil {
		return nil
	}
	return o.Body
}

// appendOptions writes the caller's header fields and body, ending the
// message.
func appendOptions(b []byte, o *RequestOptions) []byte {
	if o == nil {
		return sip.AppendNoBody(b)
	}
	for _, h := range o.Headers {
		b = sip.AppendHeaderName(b, h.Name, h.Value)
	}
	if len(o.Body) == 0 {
		return sip.AppendNoBody(b)
	}
	return sip.AppendBody(b, o.ContentType, o.Body)
}

// appendTagged writes From or To: a value without tag, then ;tag= when the
// tag is known (the To of a request outside a dialog has none).
func appendTagged(b []byte, h sip.HeaderName, value, tag string) []byte {
	if tag == "" {
		return sip.AppendHeader(b, h, value)
	}
	return sip.AppendHeader(b, h, value+";tag="+tag)
}

// requestURIOf returns u without the parameters RFC 3261 §19.1.1 Table 1
// forbids in a Request-URI (method, and ttl/maddr are allowed; the
// header part is not).
func requestURIOf(u *sip.URI) string {
	s := string(u.Raw)
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Request sends a request built by NewRequest (or any request of the
// dialog, without Via) as a new client transaction reporting to h. What a
// failure means is the sending usage's to decide: RFC 3261 §12.2.1.2 has a
// 481 or 408 end the dialog, but with several usages RFC 5057 narrows a
// 481 to the usage the request belonged to (a NOTIFY's 481 says nothing
// of the call beside it).
//
// When dst is the first of the targets RFC 3263 gave for the dialog's
// first hop, a transport error, a timeout or a 503 from it sends the
// request again to the next target, as a new transaction (§4.3); h sees
// one final outcome. With Config.Credentials, a 401 or 407 is answered in
// between: the request goes again, to the target that challenged, with
// the dialog's next CSeq number (see RetryHandler).
func (d *Dialog) Request(req []byte, dst transport.Addr, h transaction.ClientHandler) (*transaction.ClientTx, error) {
	first := func(h transaction.ClientHandler, dest *func() transport.Addr) (*transaction.ClientTx, error) {
		d.mu.Lock()
		ts := d.hopTo
		d.mu.Unlock()
		if len(ts) == 0 || ts[0].Addr != dst {
			ts = []locate.Target{{Addr: dst}}
		}
		return d.ua.requestFor(req, nil, ts, h, nil, dest)
	}
	return d.ua.sendRetrying(first, req, h, d.nextSeq, d.retried)
}

// Do builds a request with NewRequest, sends it and waits for its final
// response, which it returns cloned; a transaction failure (timeout,
// transport) comes back as a *transaction.Error, and ErrTerminated if the
// UA closes first. A non-2xx response is
// returned with a nil error: the caller reads its code. If ctx ends first
// Do returns ctx.Err() and the transaction runs on unobserved. Do suits
// non-INVITE methods (BYE, SUBSCRIBE, NOTIFY, REFER, INFO).
func (d *Dialog) Do(ctx context.Context, method string, o *RequestOptions) (*sip.Message, error) {
	req, dst, err := d.NewRequest(method, o)
	if err != nil {
		return nil, err
	}
	type result struct {
		msg *sip.Message
		err error
	}
	done := make(chan result, 1)
	_, err = d.Request(req, dst, transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, r transaction.Response) {
		switch {
		case r.Err != nil:
			done <- result{err: r.Err}
		case r.Final():
			done <- result{msg: r.Msg.Clone()}
		}
	}))
	if err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		return r.msg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.ua.closing:
		return nil, ErrTerminated // Close ended the transaction unanswered
	}
}

// refreshTarget takes the Contact of a target refresh request or of a 2xx
// to one (RFC 3261 §12.2.1.2, §12.2.2) as the new remote target.
func (d *Dialog) refreshTarget(m *sip.Message) {
	if uri, ok := contactURI(m); ok {
		d.mu.Lock()
		changed := d.remoteTarget != uri
		d.remoteTarget = uri
		d.mu.Unlock()
		if changed {
			d.prelocate()
		}
	}
}

// checkRemoteSeq applies RFC 3261 §12.2.2 to an in-dialog request's CSeq:
// it reports false for one lower than the remote sequence number (out of
// order: 500), and otherwise records it.
func (d *Dialog) checkRemoteSeq(seq uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remoteSeqSet && seq < d.remoteSeq {
		return false
	}
	d.remoteSeq, d.remoteSeqSet = seq, true
	return true
}

// contactURI returns the URI of the first Contact of m.
func contactURI(m *sip.Message) (string, bool) {
	v := m.Get(sip.HeaderContact)
	if v == nil {
		return "", false
	}
	var na sip.NameAddr
	if na.Parse(v) != nil || na.Wildcard {
		return "", false
	}
	return string(na.URI.Raw), true
}

// withoutTag returns a From or To value with its tag parameter removed, to
// be written back with a tag of the dialog.
func withoutTag(v []byte) (string, error) {
	var na sip.NameAddr
	if err := na.Parse(v); err != nil {
		return "", err
	}
	var b strings.Builder
	if len(na.DisplayName) > 0 {
		if na.Quoted {
			b.WriteByte('"')
			b.Write(na.DisplayName)
			b.WriteString(`" `)
		} else {
			b.Write(na.DisplayName)
			b.WriteByte(' ')
		}
	}
	b.WriteByte('<')
	b.Write(na.URI.Raw)
	b.WriteByte('>')
	for p := na.Params; len(p) > 0; {
		var name, value []byte
		name, value, p = p.Next()
		if len(name) == 0 || strings.EqualFold(string(name), "tag") {
			continue
		}
		b.WriteByte(';')
		b.Write(name)
		if value != nil {
			b.WriteByte('=')
			b.Write(value)
		}
	}
	return b.String(), nil
}

// recordRoutes returns the Record-Route values of m, in order.
func recordRoutes(m *sip.Message) []string {
	n := m.Count(sip.HeaderRecordRoute)
	if n == 0 {
		return nil
	}
	var out []string
	vs := m.Values(sip.HeaderRecordRoute)
	for v, ok := vs.Next(); ok; v, ok = vs.Next() {
		out = append(out, string(v))
	}
	return out
}
