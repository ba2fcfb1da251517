package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

const uaUsage = `usage: demo ua [flags]

Runs a standalone SIP user agent on one transport address until SIGINT or
SIGTERM (or -duration). It answers OPTIONS (200 with Allow, Accept,
Supported, Contact) and MESSAGE (200); it has no dialogs yet, so INVITE,
BYE, REFER, SUBSCRIBE, NOTIFY and other known methods get 405 and unknown
methods 501, both with Allow.

Standard output carries one JSON object per line:
  {"event":"listening","transport":"udp","addr":"127.0.0.1:5070"}  once listening
  {"event":"request","method":...,"call_id":...,"status":...}     per answered request, with -v
  {"event":"stats",...}          at exit: transport counters and transactions left
Logs go to standard error.

With -transport tls the UA makes a self-signed ECDSA P-256 certificate in
memory at start-up (transport.SelfSignedTLS), valid for 24 hours for
127.0.0.1, ::1 and localhost; peers must be told not to verify it (or to
trust it).

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
}

// parseUAFlags reads the arguments after "ua".
func parseUAFlags(args []string) (*uaFlags, error) {
	fs := flag.NewFlagSet("demo ua", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), uaUsage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:5070", "`address` to listen on, IP:port or [IPv6]:port; port 0 picks a free one")
	proto := fs.String("transport", "udp", "`protocol`: udp, tcp or tls (self-signed certificate, see above)")
	f := &uaFlags{}
	fs.StringVar(&f.user, "user", "bob", "`user` part of the Contact URI")
	fs.DurationVar(&f.duration, "duration", 0, "exit after this long; 0 runs until SIGINT or SIGTERM")
	fs.BoolVar(&f.verbose, "v", false, "write a request event for every answered request (slows a load test)")
	fs.BoolVar(&f.logDebug, "debug", false, "log at debug level: messages dropped or absorbed by the stack")
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
	return f, nil
}

// runUA is "demo ua": it listens, answers requests until the context of
// the signals (or -duration) ends, then writes the stats event.
func runUA(args []string) error {
	f, err := parseUAFlags(args)
	if err != nil {
		return err
	}
	// Catch the signals first, so that one sent during start-up ends the
	// run instead of being lost (or killing the process before its stats).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	level := slog.LevelInfo
	if f.logDebug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	events := &eventWriter{enc: json.NewEncoder(os.Stdout)}

	cfg := transport.Config{Logger: logger}
	if f.proto == transport.TLS {
		if cfg.TLS, err = transport.SelfSignedTLS(); err != nil {
			return err
		}
	}

	core := &uaCore{events: events, verbose: f.verbose, log: logger}
	layer, mgr := newStack(cfg, core)

	var addr transport.Addr
	switch f.proto {
	case transport.UDP:
		addr, err = layer.ListenUDP(f.listen)
	case transport.TCP:
		addr, err = layer.ListenTCP(f.listen)
	case transport.TLS:
		addr, err = layer.ListenTLS(f.listen)
	}
	if err != nil {
		layer.Close()
		return fmt.Errorf("ua: listen: %w", err)
	}
	contact := contactHeader(f.user, addr)
	core.contact.Store(&contact)

	logger.Info("ua listening", "addr", addr.String(), "contact", contact)
	events.write(listeningEvent{Event: "listening", Transport: transportName(addr.Proto), Addr: addr.AddrPort.String()})

	<-ctx.Done()
	layer.Close() // stops reading, so the counters below are final
	client, server := mgr.Transactions()
	mgr.Close()
	events.write(newStatsEvent(layer.Stats(), core.answered.Load(), client, server))
	return nil
}

// newStack wires a transport Layer and a transaction Manager whose TU is
// tu. The Layer's Handler is the Manager, which needs the Layer: the
// closure reads mgr, which is set before anything listens.
func newStack(cfg transport.Config, tu transaction.TU) (*transport.Layer, *transaction.Manager) {
	var mgr *transaction.Manager
	layer := transport.New(cfg, transport.HandlerFunc(func(in *transport.Inbound) { mgr.HandleInbound(in) }))
	mgr = transaction.NewManager(transaction.Config{Clock: cfg.Clock, Logger: cfg.Logger}, layer, tu)
	return layer, mgr
}

// uaCore is the transaction user: a UA core without dialogs.
//
// Policy until the dialog and refer layers replace it (RFC 3261 §8.2.1):
// OPTIONS and MESSAGE get 200. A method the stack recognises but this UA
// does not serve yet (INVITE, BYE, REFER, SUBSCRIBE, NOTIFY, and REGISTER,
// INFO, UPDATE, PRACK, PUBLISH) gets 405 Method Not Allowed, which MUST
// carry Allow; an unknown method gets 501 Not Implemented (§21.5.2), with
// Allow as well. ACK and CANCEL never get here: the transaction layer
// handles them.
type uaCore struct {
	contact  atomic.Pointer[string] // Contact value, set once the listening address is known
	events   *eventWriter
	verbose  bool
	log      *slog.Logger
	answered atomic.Uint64
}

// The OPTIONS 200 advertises what the finished UA is to support (RFC 3261
// §11.2), which the interop scenarios check for; a 405 or 501 must list
// what is allowed now (§21.4.6), so it says only what this core answers.
const (
	allowAdvertised = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, SUBSCRIBE, MESSAGE"
	allowNow        = "ACK, CANCEL, OPTIONS, MESSAGE"
	acceptTypes     = "application/sdp, message/sipfrag"
	supportedExts   = "replaces, norefersub" // RFC 3891, RFC 4488
)

// HandleRequest answers every request at once, as the policy above says.
func (c *uaCore) HandleRequest(tx *transaction.ServerTx, req *sip.Message) {
	// The transport answers a request that fails Validate with 400 itself
	// and never hands it up (transport FuzzReceive holds it to that), so
	// req is valid, as AppendResponse needs.
	var tagBuf [16]byte
	tag := transport.NewTag(tagBuf[:0])
	b := make([]byte, 0, 512+len(req.Bytes()))
	status := 0
	switch req.Method() {
	case sip.MethodOptions:
		status = 200
		b = sip.AppendResponse(b, req, status, "", tag)
		if contact := c.contact.Load(); contact != nil {
			b = sip.AppendHeader(b, sip.HeaderContact, *contact)
		}
		b = sip.AppendHeader(b, sip.HeaderAllow, allowAdvertised)
		b = sip.AppendHeader(b, sip.HeaderAccept, acceptTypes)
		b = sip.AppendHeader(b, sip.HeaderSupported, supportedExts)
	case sip.MethodMessage:
		status = 200
		b = sip.AppendResponse(b, req, status, "", tag)
	case sip.MethodOther:
		status = 501
		b = sip.AppendResponse(b, req, status, "", tag)
		b = sip.AppendHeader(b, sip.HeaderAllow, allowNow)
	default:
		status = 405
		b = sip.AppendResponse(b, req, status, "", tag)
		b = sip.AppendHeader(b, sip.HeaderAllow, allowNow)
	}
	b = sip.AppendNoBody(b)
	if err := tx.Respond(b); err != nil {
		c.log.Warn("ua: cannot respond", "method", tx.Method(), "status", status, "err", err)
		return
	}
	c.answered.Add(1)
	if c.verbose {
		c.events.write(requestEvent{Event: "request", Method: string(req.MethodName()), CallID: string(req.CallID()), Status: status})
	}
}

// HandleACK receives ACKs for 2xx, which this UA never sends.
func (c *uaCore) HandleACK(in *transport.Inbound) {
	c.log.Debug("ua: ACK matching no transaction", "remote", in.Remote.String())
}

// HandleCancel cannot happen while every INVITE is answered at once; were
// one pending, RFC 3261 §9.2 asks for 487.
func (c *uaCore) HandleCancel(tx *transaction.ServerTx, cancel *sip.Message) {
	c.log.Debug("ua: CANCEL of a pending INVITE", "call_id", string(cancel.CallID()))
}

// HandleStrayResponse receives responses: this UA sends no requests.
func (c *uaCore) HandleStrayResponse(in *transport.Inbound) {
	c.log.Debug("ua: stray response", "remote", in.Remote.String(), "status", in.Msg.StatusCode())
}

// HandleServerError logs a transaction that failed on its own.
func (c *uaCore) HandleServerError(tx *transaction.ServerTx, err error) {
	c.log.Warn("ua: server transaction failed", "method", tx.Method(), "err", err)
}

// contactHeader returns the Contact value for user at addr: a sip URI with
// transport=tcp for TCP, a sips URI for TLS (RFC 3261 §19.1).
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

// eventWriter writes JSON events to standard output, one per line, from
// any goroutine.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *eventWriter) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(v); err != nil && !errors.Is(err, os.ErrClosed) {
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

// statsEvent is transport.Stats in snake case, the requests the core
// answered, and the transactions still alive at exit (non-INVITE server
// transactions over UDP wait 64*T1 in Completed, RFC 3261 §17.2.2).
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
