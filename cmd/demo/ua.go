package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

const uaUsage = `usage: demo ua [flags]

Runs a standalone SIP user agent (package dialog) on one transport address
until SIGINT or SIGTERM, -duration, or, with -call, the end of its last
call.

As a callee it answers OPTIONS (200 with Allow and Accept) and MESSAGE
(200); it answers every INVITE outside a dialog with -answer-code (200 with
a minimal SDP that offers no media, a=inactive; or a rejection), after a
180 Ringing with -ring, and answers BYE with 200. REFER, SUBSCRIBE, NOTIFY
and other methods of RFC 3261 and its extensions get 405, unknown methods
501, both with Allow.

As a caller (-call URI) it places -max-calls calls, at most -call-rate a
second, each with the same minimal SDP offer; it keeps each call -hold
long once established, then sends BYE. It exits when every call has ended,
with status 1 if one of them failed: not established, or its BYE not
answered 2xx. At exit (any exit) it cancels calls still being set up and
hangs up those still up, waiting at most 2 s for the answers to its BYEs.

Standard output carries one JSON object per line:
  {"event":"listening","transport":"udp","addr":"127.0.0.1:5070"}  once listening
  {"event":"call_incoming","call_id":...,"direction":"in","from":...}
  {"event":"call_established","call_id":...,"direction":"in"|"out"}
  {"event":"call_ended","call_id":...,"direction":...,"reason":...}
        an established call ended; reason is the call's error ("dialog:
        local hang-up", "dialog: remote hung up", ...); "bye_error" says
        why a BYE this side sent failed
  {"event":"call_failed","call_id":...,"direction":...,"status":486,"reason":...}
        a call ended without being established; status is the final
        response code when there was one, and "cancelled" is true for a
        call cut short by the exit
  {"event":"request","method":...,"call_id":...,"status":...}
        per final response sent, retransmissions included, with -v
  {"event":"stats",...}  at exit: transport counters, final responses sent
        ("answered", retransmissions included), dialogs and transactions
        left, and the calls placed, established, failed and received
Logs go to standard error.

With -transport tls the UA makes a self-signed ECDSA P-256 certificate in
memory at start-up (transport.SelfSignedTLS), valid for 24 hours for
127.0.0.1, ::1 and localhost; peers must be told not to verify it (or to
trust it). Two demo processes hold different certificates, so one cannot
call the other over TLS.

Flags:
`

// uaFlags are the settings of "demo ua".
type uaFlags struct {
	listen   netip.AddrPort
	proto    transport.Protocol
	user     string
	duration time.Duration
	verbose  bool
	logDebug bool

	answerCode int
	ring       bool

	call     string // target of outgoing calls; empty places none
	maxCalls int    // 0: no limit
	callRate float64
	hold     time.Duration
}

// maxCallRate bounds -call-rate: the demo is a test tool, not a flood.
const maxCallRate = 10_000

// parseUAFlags reads the arguments after "ua"; usage and errors go to out.
func parseUAFlags(args []string, out io.Writer) (*uaFlags, error) {
	fs := flag.NewFlagSet("demo ua", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), uaUsage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:5070", "`address` to listen on, IP:port or [IPv6]:port; port 0 picks a free one")
	proto := fs.String("transport", "udp", "`protocol`: udp, tcp or tls (self-signed certificate, see above)")
	f := &uaFlags{}
	fs.StringVar(&f.user, "user", "bob", "`user` part of the Contact URI and of the From of calls placed")
	fs.DurationVar(&f.duration, "duration", 0, "exit after this long; 0 runs until SIGINT or SIGTERM (or the last call placed with -call)")
	fs.BoolVar(&f.verbose, "v", false, "write a request event for every final response sent (slows a load test)")
	fs.BoolVar(&f.logDebug, "debug", false, "log at debug level: messages dropped or absorbed by the stack")
	fs.IntVar(&f.answerCode, "answer-code", 200, "final response to incoming INVITEs: 200 answers with SDP, 300-699 rejects")
	fs.BoolVar(&f.ring, "ring", false, "send 180 Ringing before the final response to an INVITE")
	fs.StringVar(&f.call, "call", "", "place calls to this `URI`, e.g. sip:alice@127.0.0.1:5060 (IP address hosts only; add ;transport=tcp for TCP)")
	fs.IntVar(&f.maxCalls, "max-calls", 1, "with -call: calls to place in all; 0 places calls until the UA is told to exit")
	fs.Float64Var(&f.callRate, "call-rate", 10, "with -call: at most this many `calls` started per second (up to 10000)")
	fs.DurationVar(&f.hold, "hold", 0, "with -call: how long to keep each call once established before BYE; 0 hangs up at once")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("ua: unexpected argument %q", fs.Arg(0))
	}
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil {
		return nil, fmt.Errorf("ua: -listen: %w", err)
	}
	f.listen = ap
	p, ok := transport.ParseProtocol([]byte(*proto))
	if !ok {
		return nil, fmt.Errorf("ua: -transport %q: want udp, tcp or tls", *proto)
	}
	f.proto = p
	if f.answerCode != 200 && (f.answerCode < 300 || f.answerCode > 699) {
		return nil, fmt.Errorf("ua: -answer-code %d: want 200 or 300-699", f.answerCode)
	}
	if f.call != "" {
		var u sip.URI
		if err := u.Parse([]byte(f.call)); err != nil {
			return nil, fmt.Errorf("ua: -call: %w", err)
		}
		if u.Scheme != sip.SchemeSIP && u.Scheme != sip.SchemeSIPS {
			return nil, fmt.Errorf("ua: -call %q: want a sip or sips URI", f.call)
		}
		if _, ok := sip.HostIP(u.Host); !ok {
			return nil, fmt.Errorf("ua: -call %q: the host must be an IP address (no DNS here)", f.call)
		}
	}
	if f.maxCalls < 0 {
		return nil, fmt.Errorf("ua: -max-calls %d: want 0 or more", f.maxCalls)
	}
	if !(f.callRate > 0 && f.callRate <= maxCallRate) {
		return nil, fmt.Errorf("ua: -call-rate %v: want more than 0, at most %d", f.callRate, maxCallRate)
	}
	if f.hold < 0 {
		return nil, fmt.Errorf("ua: -hold %v: want 0 or more", f.hold)
	}
	return f, nil
}

// runUA is "demo ua": it runs until SIGINT or SIGTERM, -duration or the
// end of its calls.
func runUA(args []string) error {
	// Catch the signals first, so that one sent during start-up ends the
	// run instead of being lost (or killing the process before its stats).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runUAContext(ctx, args, os.Stdout, os.Stderr)
}

// errCallsFailed is returned by runUAContext when a call it placed failed.
var errCallsFailed = errors.New("ua: calls failed")

// runUAContext runs the UA until ctx ends (or -duration, or its calls
// end), writing events to stdout and logs to stderr. The stats event is
// the last line it writes.
func runUAContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseUAFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	level := slog.LevelInfo
	if f.logDebug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	events := &eventWriter{enc: json.NewEncoder(stdout)}

	cfg := dialog.Config{Logger: logger}
	if f.proto == transport.TLS {
		if cfg.Transport.TLS, err = transport.SelfSignedTLS(); err != nil {
			return err
		}
	}
	app := newUAApp(f, events, cfg)

	var addr transport.Addr
	switch f.proto {
	case transport.UDP:
		addr, err = app.ua.ListenUDP(f.listen)
	case transport.TCP:
		addr, err = app.ua.ListenTCP(f.listen)
	case transport.TLS:
		addr, err = app.ua.ListenTLS(f.listen)
	}
	if err != nil {
		app.ua.Close()
		return fmt.Errorf("ua: listen: %w", err)
	}
	app.listening(addr)
	logger.Info("ua listening", "addr", addr.String(), "contact", contactHeader(f.user, addr))
	events.write(listeningEvent{Event: "listening", Transport: transportName(addr.Proto), Addr: addr.AddrPort.String()})

	// stopping ends when the UA is told to exit; its calls then get
	// shutdownGrace more to be hung up, with hardStop.
	stopping, stopCalls := context.WithCancel(ctx)
	defer stopCalls()
	hardStop, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	context.AfterFunc(stopping, func() { time.AfterFunc(shutdownGrace, cancelHard) })

	callsDone := make(chan struct{})
	if f.call != "" {
		go func() {
			app.placeCalls(stopping, hardStop)
			close(callsDone)
		}()
	}
	select {
	case <-ctx.Done():
	case <-callsDone:
	}
	stopCalls()
	if f.call != "" {
		<-callsDone
	}
	app.hangUpIncoming(hardStop)

	s := app.close()
	events.write(s)
	if s.CallsFailed > 0 || s.HangupsFailed > 0 {
		return fmt.Errorf("%w: %d of %d calls placed not established, %d hang-ups failed",
			errCallsFailed, s.CallsFailed, s.CallsPlaced, s.HangupsFailed)
	}
	return nil
}

// shutdownGrace is how long the UA waits at exit for the answers to the
// BYEs it sends then.
const shutdownGrace = 2 * time.Second

// uaApp is the application on top of the dialog UA: the policy for
// incoming calls, the caller, and the events and counters.
type uaApp struct {
	f      *uaFlags
	ua     *dialog.UA
	events *eventWriter
	log    *slog.Logger
	tracer *responseTracer
	sdp    []byte // set by listening

	mu       sync.Mutex
	closing  bool                      // no more incoming calls
	incoming map[*dialog.Call]struct{} // incoming calls not ended yet
	watchers sync.WaitGroup            // one per incoming call, until its last event

	placed, established, failed, cancelled, hangupsFailed atomic.Uint64
	received, receivedEstablished, receivedFailed         atomic.Uint64
}

// newUAApp makes the dialog UA with the application's handlers; base
// supplies the clock, logger and TLS configuration.
func newUAApp(f *uaFlags, events *eventWriter, base dialog.Config) *uaApp {
	a := &uaApp{f: f, events: events, incoming: make(map[*dialog.Call]struct{})}
	a.tracer = &responseTracer{}
	if f.verbose {
		a.tracer.events = events
	}
	cfg := base
	cfg.User = f.user
	cfg.Transport.Tracer = a.tracer
	cfg.OnInvite = a.onInvite
	a.ua = dialog.NewUA(cfg)
	a.log = a.ua.Logger()
	// RFC 3428 §7: a MESSAGE outside a dialog is answered 200 by the UAS
	// that accepts it; this UA shows nothing, so it accepts them all.
	a.ua.Handle("MESSAGE", dialog.HandlerFunc(func(r *dialog.Request) {
		if err := r.Respond(200, "", nil); err != nil {
			a.log.Warn("ua: cannot answer MESSAGE", "err", err)
		}
	}))
	return a
}

// listening records the listening address, which the SDP names.
func (a *uaApp) listening(addr transport.Addr) {
	a.sdp = minimalSDP(addr.AddrPort.Addr())
}

// minimalSDP is the session description of every call (RFC 4566, RFC
// 3264): one PCMU audio stream, inactive, since the demo has no media.
// Port 9 (discard) stands for "no media here" as RFC 8839 uses it.
func minimalSDP(ip netip.Addr) []byte {
	family := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		family = "IP6"
	}
	return []byte("v=0\r\n" +
		"o=- 1 1 IN " + family + " " + ip.Unmap().String() + "\r\n" +
		"s=-\r\n" +
		"c=IN " + family + " " + ip.Unmap().String() + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 9 RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=inactive\r\n")
}

const sdpType = "application/sdp"

// onInvite answers an incoming INVITE outside a dialog by the flags. It
// runs on the transport's goroutine and must not block.
func (a *uaApp) onInvite(c *dialog.Call, req *sip.Message) {
	callID := string(req.CallID())
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		// RFC 3261 §21.5.4: the UA is going away.
		c.Reject(503, "Shutting Down")
		return
	}
	a.incoming[c] = struct{}{}
	a.watchers.Add(1)
	a.mu.Unlock()
	a.received.Add(1)
	a.events.write(callEvent{Event: "call_incoming", CallID: callID, Direction: "in", From: string(req.Get(sip.HeaderFrom))})
	go a.watchIncoming(c, callID)

	if a.f.ring {
		if err := c.Ring(); err != nil {
			a.log.Warn("ua: cannot ring", "call_id", callID, "err", err)
		}
	}
	var err error
	if a.f.answerCode == 200 {
		err = c.Answer(sdpType, a.sdp)
	} else {
		err = c.Reject(a.f.answerCode, "")
	}
	if err != nil {
		a.log.Warn("ua: cannot answer INVITE", "call_id", callID, "code", a.f.answerCode, "err", err)
	}
}

// watchIncoming writes the events of an incoming call until it ends.
func (a *uaApp) watchIncoming(c *dialog.Call, callID string) {
	defer a.watchers.Done()
	established := false
	select {
	case <-c.Established():
		established = true
	case <-c.Done():
		// Both may be closed: an ACK and a BYE back to back.
		select {
		case <-c.Established():
			established = true
		default:
		}
	}
	if established {
		a.receivedEstablished.Add(1)
		a.events.write(callEvent{Event: "call_established", CallID: callID, Direction: "in"})
	}
	<-c.Done()
	a.mu.Lock()
	delete(a.incoming, c)
	a.mu.Unlock()
	if established {
		a.events.write(callEvent{Event: "call_ended", CallID: callID, Direction: "in", Reason: errString(c.Err())})
		return
	}
	a.receivedFailed.Add(1)
	a.events.write(failedEvent(callID, "in", c.Err(), false))
}

// hangUpIncoming ends the incoming calls still up at exit: BYE when
// answered, 603 when not yet, waiting for the BYEs' answers until ctx
// ends. New INVITEs get 503 from now on.
func (a *uaApp) hangUpIncoming(ctx context.Context) {
	a.mu.Lock()
	a.closing = true
	calls := make([]*dialog.Call, 0, len(a.incoming))
	for c := range a.incoming {
		calls = append(calls, c)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Hangup(ctx); err != nil {
				a.log.Info("ua: hang-up at exit", "err", err)
			}
		}()
	}
	wg.Wait()
}

// placeCalls places the calls of -call, -max-calls and -call-rate, and
// returns when each has ended. Calls still being set up when stopping
// ends are cancelled and those up are hung up; hardStop bounds the wait
// for the answers to their BYEs.
func (a *uaApp) placeCalls(stopping, hardStop context.Context) {
	interval := time.Duration(float64(time.Second) / a.f.callRate)
	tick := time.NewTicker(max(interval, time.Microsecond))
	defer tick.Stop()
	var wg sync.WaitGroup
loop:
	for i := 0; a.f.maxCalls == 0 || i < a.f.maxCalls; i++ {
		if i > 0 {
			select {
			case <-tick.C:
			case <-stopping.Done():
				break loop
			}
		}
		if stopping.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.placeCall(stopping, hardStop)
		}()
	}
	wg.Wait()
}

// placeCall places one call, keeps it -hold long and hangs up.
func (a *uaApp) placeCall(stopping, hardStop context.Context) {
	a.placed.Add(1)
	callID := newCallID()
	opts := &dialog.CallOptions{InitialOptions: dialog.InitialOptions{
		CallID:         callID,
		RequestOptions: dialog.RequestOptions{ContentType: sdpType, Body: a.sdp},
	}}
	c, err := a.ua.Invite(stopping, a.f.call, opts)
	if err != nil {
		cut := stopping.Err() != nil && errors.Is(err, dialog.ErrCancelled)
		if cut {
			a.cancelled.Add(1)
		} else {
			a.failed.Add(1)
		}
		a.events.write(failedEvent(callID, "out", err, cut))
		return
	}
	a.established.Add(1)
	a.events.write(callEvent{Event: "call_established", CallID: callID, Direction: "out"})

	if a.f.hold > 0 {
		t := time.NewTimer(a.f.hold)
		select {
		case <-t.C:
		case <-c.Done():
		case <-stopping.Done():
		}
		t.Stop()
	}
	ev := callEvent{Event: "call_ended", CallID: callID, Direction: "out"}
	select {
	case <-c.Done(): // the peer hung up first
	default:
		if err := c.Bye(hardStop); err != nil {
			a.hangupsFailed.Add(1)
			ev.ByeError = err.Error()
		}
	}
	<-c.Done() // Bye ends the call at once, whatever its outcome
	ev.Reason = errString(c.Err())
	a.events.write(ev)
}

// close closes the UA and returns the stats: dialogs and transactions
// still held once the transport has stopped reading, then the counters.
func (a *uaApp) close() statsEvent {
	// Closing the transport stops reading and waits for the handlers
	// running on its goroutines, so the counts below are final. That
	// matters for dialogs: a Call's Done closes before the Call leaves
	// its dialog, so a BYE just answered may still hold one.
	a.ua.Transport().Close()
	dialogs := a.ua.Dialogs()
	client, server := a.ua.Transactions().Transactions()
	a.ua.Close()
	a.watchers.Wait() // Close has ended every incoming call
	s := newStatsEvent(a.ua.Transport().Stats(), a.tracer.answered.Load(), client, server)
	s.Dialogs = dialogs
	s.CallsPlaced = a.placed.Load()
	s.CallsEstablished = a.established.Load()
	s.CallsFailed = a.failed.Load()
	s.CallsCancelled = a.cancelled.Load()
	s.HangupsFailed = a.hangupsFailed.Load()
	s.CallsReceived = a.received.Load()
	s.CallsReceivedEstablished = a.receivedEstablished.Load()
	s.CallsReceivedFailed = a.receivedFailed.Load()
	return s
}

// newCallID returns a Call-ID of 128 random bits in hex (RFC 3261
// §8.1.1.4), chosen here so that the events can name calls that never got
// a dialog.
func newCallID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// failedEvent describes a call that ended without being established;
// cut marks one cancelled because the UA is exiting.
func failedEvent(callID, direction string, err error, cut bool) callEvent {
	ev := callEvent{Event: "call_failed", CallID: callID, Direction: direction, Reason: errString(err), Cancelled: cut}
	var se *dialog.StatusError
	if errors.As(err, &se) {
		ev.Status = se.Code
	}
	return ev
}

// responseTracer is the transport's Tracer: it counts the final responses
// sent and, with -v, writes a request event for each. The dialog UA
// answers OPTIONS, BYE and unknown methods itself, so this is where the
// demo sees those answers.
type responseTracer struct {
	answered atomic.Uint64
	events   *eventWriter // nil without -v
}

func (t *responseTracer) TraceMessage(tr *transport.Trace) {
	if !tr.Sent {
		return
	}
	code, ok := finalStatus(tr.Msg)
	if !ok {
		return
	}
	t.answered.Add(1)
	if t.events == nil {
		return
	}
	var m sip.Message
	if err := sip.Parse(&m, append([]byte(nil), tr.Msg...)); err != nil {
		return
	}
	cseq, err := m.CSeq()
	if err != nil {
		return
	}
	t.events.write(requestEvent{Event: "request", Method: string(cseq.MethodName), CallID: string(m.CallID()), Status: code})
}

// finalStatus returns the code of a final response's status line
// (RFC 3261 §7.2), without parsing the rest.
func finalStatus(msg []byte) (int, bool) {
	const prefix = "SIP/2.0 "
	if len(msg) < len(prefix)+3 || string(msg[:len(prefix)]) != prefix {
		return 0, false
	}
	code, err := strconv.Atoi(string(msg[len(prefix) : len(prefix)+3]))
	if err != nil || code < 200 {
		return 0, false
	}
	return code, true
}

// contactHeader returns the Contact value for user at addr: a sip URI with
// transport=tcp for TCP, a sips URI for TLS (RFC 3261 §19.1). The dialog
// UA writes its own; this one is for the log.
func contactHeader(user string, addr transport.Addr) string {
	switch addr.Proto {
	case transport.TCP:
		return "<sip:" + user + "@" + addr.AddrPort.String() + ";transport=tcp>"
	case transport.TLS:
		return "<sips:" + user + "@" + addr.AddrPort.String() + ">"
	}
	return "<sip:" + user + "@" + addr.AddrPort.String() + ">"
}

// transportName returns the lower-case name the -transport flag uses.
func transportName(p transport.Protocol) string {
	switch p {
	case transport.TCP:
		return "tcp"
	case transport.TLS:
		return "tls"
	}
	return "udp"
}

// eventWriter writes JSON events, one per line, from any goroutine.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *eventWriter) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(v); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintln(os.Stderr, "demo: writing event:", err)
	}
}

type listeningEvent struct {
	Event     string `json:"event"`
	Transport string `json:"transport"`
	Addr      string `json:"addr"`
}

type requestEvent struct {
	Event  string `json:"event"`
	Method string `json:"method"`
	CallID string `json:"call_id"`
	Status int    `json:"status"`
}

// callEvent is every call_* event; the fields an event has no use for are
// left out.
type callEvent struct {
	Event     string `json:"event"`
	CallID    string `json:"call_id"`
	Direction string `json:"direction,omitempty"` // "in" or "out"
	From      string `json:"from,omitempty"`
	Status    int    `json:"status,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ByeError  string `json:"bye_error,omitempty"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

// statsEvent is transport.Stats in snake case, the final responses sent,
// the dialogs and transactions still alive at exit (non-INVITE server
// transactions over UDP wait 64*T1 in Completed, RFC 3261 §17.2.2), and
// the calls.
type statsEvent struct {
	Event              string `json:"event"`
	Received           uint64 `json:"received"`
	Sent               uint64 `json:"sent"`
	SendErrors         uint64 `json:"send_errors"`
	ParseErrors        uint64 `json:"parse_errors"`
	Invalid            uint64 `json:"invalid"`
	Rejected           uint64 `json:"rejected"`
	DroppedRequests    uint64 `json:"dropped_requests"`
	DroppedResponses   uint64 `json:"dropped_responses"`
	KeepAlives         uint64 `json:"keep_alives"`
	Pongs              uint64 `json:"pongs"`
	FramingErrors      uint64 `json:"framing_errors"`
	RefusedConns       uint64 `json:"refused_conns"`
	IdleClosed         uint64 `json:"idle_closed"`
	OpenConns          int    `json:"open_conns"`
	Answered           uint64 `json:"answered"`
	TransactionsClient int    `json:"transactions_client"`
	TransactionsServer int    `json:"transactions_server"`
	Dialogs            int    `json:"dialogs"`

	CallsPlaced              uint64 `json:"calls_placed"`
	CallsEstablished         uint64 `json:"calls_established"`
	CallsFailed              uint64 `json:"calls_failed"`
	CallsCancelled           uint64 `json:"calls_cancelled"`
	HangupsFailed            uint64 `json:"hangups_failed"`
	CallsReceived            uint64 `json:"calls_received"`
	CallsReceivedEstablished uint64 `json:"calls_received_established"`
	CallsReceivedFailed      uint64 `json:"calls_received_failed"`
}

func newStatsEvent(s transport.Stats, answered uint64, client, server int) statsEvent {
	return statsEvent{
		Event:              "stats",
		Received:           s.Received,
		Sent:               s.Sent,
		SendErrors:         s.SendErrors,
		ParseErrors:        s.ParseErrors,
		Invalid:            s.Invalid,
		Rejected:           s.Rejected,
		DroppedRequests:    s.DroppedRequests,
		DroppedResponses:   s.DroppedResponses,
		KeepAlives:         s.KeepAlives,
		Pongs:              s.Pongs,
		FramingErrors:      s.FramingErrors,
		RefusedConns:       s.RefusedConns,
		IdleClosed:         s.IdleClosed,
		OpenConns:          s.OpenConns,
		Answered:           answered,
		TransactionsClient: client,
		TransactionsServer: server,
	}
}
