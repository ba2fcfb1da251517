package transaction

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// epoch is where every FakeClock starts.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	clientAddr = netip.MustParseAddrPort("192.0.2.1:5060")
	serverAddr = netip.MustParseAddrPort("192.0.2.4:5060")
)

func addr(p transport.Protocol, ap netip.AddrPort) transport.Addr {
	return transport.Addr{Proto: p, AddrPort: ap}
}

// sent is one call the transaction layer made on the fake transport.
type sent struct {
	Kind string         // "request" (SendRequest), "send" (Send), "response" (SendResponse)
	At   time.Duration  // FakeClock time since epoch
	Dst  transport.Addr // request, send
	RT   transport.ReplyTo
	Wire string
	Err  error // what the fake returned
}

// first line of the message, e.g. "INVITE sip:bob@..." or "SIP/2.0 180 Ringing"
func (s sent) line() string { l, _, _ := strings.Cut(s.Wire, "\r\n"); return l }

// what names the message: the method of a request, the code of a response.
func (s sent) what() string {
	l := s.line()
	if strings.HasPrefix(l, "SIP/2.0 ") {
		return l[8:11]
	}
	m, _, _ := strings.Cut(l, " ")
	return m
}

// fakeTransport records every send with its FakeClock time and can fail
// on demand. SendRequest inserts a Via as the real layer would.
type fakeTransport struct {
	clock  *transport.FakeClock
	sentBy string             // Via sent-by
	proto  transport.Protocol // if set, the protocol SendRequest "uses" whatever asked

	mu    sync.Mutex
	sends []sent
	// fail, if set, decides the error of each send (nil: success).
	fail func(s sent) error
	// after, if set, is called after each successful send, without the lock
	// (to deliver it somewhere).
	after func(s sent)
}

func newFakeTransport(clock *transport.FakeClock) *fakeTransport {
	return &fakeTransport{clock: clock, sentBy: "192.0.2.1:5060"}
}

func (f *fakeTransport) record(s sent) error {
	s.At = f.clock.Now().Sub(epoch)
	f.mu.Lock()
	if f.fail != nil {
		s.Err = f.fail(s)
	}
	f.sends = append(f.sends, s)
	after := f.after
	f.mu.Unlock()
	if s.Err == nil && after != nil {
		after(s)
	}
	return s.Err
}

func (f *fakeTransport) SendRequest(dst transport.Addr, branch, req []byte) ([]byte, transport.Addr, error) {
	used := dst
	if f.proto != 0 {
		used.Proto = f.proto
	}
	i := bytes.Index(req, []byte("\r\n")) + 2
	var b []byte
	b = append(b, req[:i]...)
	b = fmt.Appendf(b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", used.Proto, f.sentBy, branch)
	b = append(b, req[i:]...)
	if err := f.record(sent{Kind: "request", Dst: used, Wire: string(b)}); err != nil {
		return nil, used, err
	}
	return b, used, nil
}

func (f *fakeTransport) Send(dst transport.Addr, wire []byte) error {
	return f.record(sent{Kind: "send", Dst: dst, Wire: string(wire)})
}

func (f *fakeTransport) SendResponse(rt transport.ReplyTo, wire []byte) error {
	return f.record(sent{Kind: "response", RT: rt, Wire: string(wire)})
}

// take returns the sends recorded since the last take.
func (f *fakeTransport) take() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sends
	f.sends = nil
	return s
}

// whats lists what each send was: "INVITE", "ACK", "180"...
func whats(ss []sent) []string {
	var w []string
	for _, s := range ss {
		w = append(w, s.what())
	}
	return w
}

// times lists when each send happened.
func times(ss []sent) []time.Duration {
	var t []time.Duration
	for _, s := range ss {
		t = append(t, s.At)
	}
	return t
}

// event is one thing a TU heard.
type event struct {
	At     time.Duration
	Kind   string // "response", "request", "ack", "cancel", "stray", "error"
	Status int    // response status (408/503 for client errors)
	Method string
	Err    error
	Msg    *sip.Message // cloned
	Client *ClientTx
	Server *ServerTx
}

func (e event) String() string {
	s := e.Kind
	if e.Method != "" {
		s += " " + e.Method
	}
	if e.Status != 0 {
		s += fmt.Sprintf(" %d", e.Status)
	}
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// recorder is a ClientHandler and a TU that records everything.
type recorder struct {
	clock *transport.FakeClock

	mu     sync.Mutex
	events []event
	// onRequest, if set, answers requests (else they wait).
	onRequest func(tx *ServerTx, req *sip.Message)
	onCancel  func(tx *ServerTx, cancel *sip.Message)
}

func newRecorder(clock *transport.FakeClock) *recorder { return &recorder{clock: clock} }

func (r *recorder) add(e event) {
	e.At = r.clock.Now().Sub(epoch)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func (r *recorder) HandleResponse(tx *ClientTx, resp Response) {
	e := event{Kind: "response", Status: resp.Status, Err: resp.Err, Client: tx, Method: tx.Method()}
	if resp.Msg != nil {
		e.Msg = resp.Msg.Clone()
	}
	r.add(e)
}

func (r *recorder) HandleRequest(tx *ServerTx, req *sip.Message) {
	r.add(event{Kind: "request", Method: string(req.MethodName()), Msg: req.Clone(), Server: tx})
	if r.onRequest != nil {
		r.onRequest(tx, req)
	}
}

func (r *recorder) HandleACK(in *transport.Inbound) {
	r.add(event{Kind: "ack", Method: "ACK", Msg: in.Msg.Clone()})
}

func (r *recorder) HandleCancel(tx *ServerTx, cancel *sip.Message) {
	r.add(event{Kind: "cancel", Method: "CANCEL", Msg: cancel.Clone(), Server: tx})
	if r.onCancel != nil {
		r.onCancel(tx, cancel)
	}
}

func (r *recorder) HandleStrayResponse(in *transport.Inbound) {
	r.add(event{Kind: "stray", Status: in.Msg.StatusCode(), Msg: in.Msg.Clone()})
}

func (r *recorder) HandleServerError(tx *ServerTx, err error) {
	r.add(event{Kind: "error", Method: tx.Method(), Err: err, Server: tx})
}

func eventStrings(es []event) []string {
	var s []string
	for _, e := range es {
		s = append(s, e.String())
	}
	return s
}

// crlf turns the readable "\n" line ends of a test message into CRLF.
func crlf(s string) string {
	s = strings.TrimLeft(s, "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// parse parses a test message, failing the test if it does not parse.
func parse(t testing.TB, s string) *sip.Message {
	t.Helper()
	var m sip.Message
	if err := sip.Parse(&m, []byte(s)); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return &m
}

// inbound wraps a message as the transport would deliver it from remote.
func inbound(msg *sip.Message, p transport.Protocol, remote, local netip.AddrPort) *transport.Inbound {
	r, l := addr(p, remote), addr(p, local)
	var conn uint64
	if p.Reliable() {
		conn = 7
	}
	return &transport.Inbound{Msg: msg, Local: l, Remote: r, Reply: transport.ReplyTo{Remote: r, Local: l, ConnID: conn}}
}

// response builds the response to a request as sent (its wire bytes).
func response(t testing.TB, reqWire string, code int, tag string) string {
	t.Helper()
	req := parse(t, reqWire)
	b := sip.AppendResponse(nil, req, code, "", tag)
	return string(sip.AppendNoBody(b))
}

// The requests the client tests send: no top Via, the transport adds it.
var (
	inviteReq = crlf(`
INVITE sip:bob@biloxi.example.com SIP/2.0
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@client.atlanta.example.com>
Content-Length: 0

`)
	optionsReq = crlf(`
OPTIONS sip:bob@biloxi.example.com SIP/2.0
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@atlanta.example.com
CSeq: 63104 OPTIONS
Content-Length: 0

`)
)

// Requests as the server tests receive them, with a top Via.
func serverInvite(branch string) string {
	return crlf(`
INVITE sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=` + branch + `
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@192.0.2.1>
Content-Length: 0

`)
}

func serverOptions(branch string) string {
	return crlf(`
OPTIONS sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=` + branch + `
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@atlanta.example.com
CSeq: 63104 OPTIONS
Content-Length: 0

`)
}

// serverACK is the ACK for a non-2xx response with To tag tag to
// serverInvite(branch), as RFC 3261 §17.1.1.3 builds it.
func serverACK(branch, tag string) string {
	return crlf(`
ACK sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=` + branch + `
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>;tag=` + tag + `
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 ACK
Content-Length: 0

`)
}

func serverCancel(branch string) string {
	return crlf(`
CANCEL sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=` + branch + `
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 CANCEL
Content-Length: 0

`)
}

// env is one Manager with a fake transport, a FakeClock and a recorder as
// both TU and client handler.
type env struct {
	t     testing.TB
	clock *transport.FakeClock
	tp    *fakeTransport
	rec   *recorder
	m     *Manager
}

func newEnv(t testing.TB) *env {
	clock := transport.NewFakeClock(epoch)
	e := &env{t: t, clock: clock, tp: newFakeTransport(clock), rec: newRecorder(clock)}
	e.m = NewManager(Config{Clock: clock}, e.tp, e.rec)
	return e
}

// at advances the clock to d after epoch.
func (e *env) at(d time.Duration) {
	e.t.Helper()
	now := e.clock.Now().Sub(epoch)
	if d < now {
		e.t.Fatalf("at(%v): clock already at %v", d, now)
	}
	e.clock.Advance(d - now)
}

// deliver hands a message to the Manager as received from the peer.
func (e *env) deliver(s string, p transport.Protocol) {
	e.t.Helper()
	msg := parse(e.t, s)
	if msg.IsRequest() {
		e.m.HandleInbound(inbound(msg, p, clientAddr, serverAddr))
	} else {
		e.m.HandleInbound(inbound(msg, p, serverAddr, clientAddr))
	}
}

// checkEmpty fails unless every transaction has ended and no timer is
// pending.
func (e *env) checkEmpty() {
	e.t.Helper()
	if c, s := e.m.Transactions(); c != 0 || s != 0 {
		e.t.Errorf("transactions left: %d client, %d server", c, s)
	}
	if n := e.clock.Pending(); n != 0 {
		e.t.Errorf("%d timers pending", n)
	}
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	if len(e.m.clients)+len(e.m.servers)+len(e.m.legacy)+len(e.m.merged) != 0 {
		e.t.Errorf("tables not empty: %d %d %d %d", len(e.m.clients), len(e.m.servers), len(e.m.legacy), len(e.m.merged))
	}
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
