// "demo ua", a standalone user agent for interop tests: its run from
// start to exit status, and the application (uaApp) it builds on the dialog
// UA, the event Manager and the REFER Agent, from creation to the final
// stats. What each role does is in ua_callee.go, ua_transferee.go,
// ua_caller.go and ua_transferor.go; the JSON it writes in ua_output.go.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/transport"
)

// runUA is "demo ua": it runs until SIGINT or SIGTERM, -duration or the
// end of its calls.
func runUA(args []string) error {
	// Catch the signals first, so that one sent during start-up ends the
	// run instead of being lost (or killing the process before its stats).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if prof := cpuProfileFlag(args); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return runUAContext(ctx, args, os.Stdout, os.Stderr)
}

// writeHeapProfile writes the live heap, after a collection, to file.
func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuProfileFlag returns the -cpuprofile value of args, "" if none or if
// they do not parse (runUAContext then reports why).
func cpuProfileFlag(args []string) string {
	f, err := parseUAFlags(args, io.Discard)
	if err != nil {
		return ""
	}
	return f.cpuProfile
}

// errCallsFailed is returned by runUAContext when a call it placed failed.
var errCallsFailed = errors.New("ua: calls failed")

// errTransfersFailed is returned by runUAContext when a transfer it
// started failed (and every call it placed was established).
var errTransfersFailed = errors.New("ua: transfers failed")

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
	events := newEventWriter(stdout, eventDelay)
	defer events.close()

	cfg := dialog.Config{Logger: logger, OutboundProxy: f.proxy, Credentials: f.credentials(), SessionExpires: f.sessionExpires}
	cfg.Transport.UDPReaders = f.udpReaders
	if f.proto == transport.TLS && f.tlsCert == "" {
		if cfg.Transport.TLS, err = transport.SelfSignedTLS(); err != nil {
			return err
		}
	}
	if err := locationConfig(f, &cfg); err != nil {
		return err
	}
	app, err := newUAApp(f, events, cfg)
	if err != nil {
		return err
	}

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
	ctx, regFailed, unregister, err := app.startRegistration(ctx)
	if err != nil {
		app.close()
		return err
	}

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
	app.hangUpHeld(hardStop)

	unregister()
	if f.memProfile != "" {
		if err := writeHeapProfile(f.memProfile); err != nil {
			logger.Error("ua: heap profile", "err", err)
		}
	}
	s := app.close()
	events.write(s)
	if err := regFailed(); err != nil {
		return err
	}
	if err := app.authFailure(); err != nil {
		return err
	}
	if s.CallsFailed > 0 || s.HangupsFailed > 0 {
		return fmt.Errorf("%w: %d of %d calls placed not established, %d hang-ups failed",
			errCallsFailed, s.CallsFailed, s.CallsPlaced, s.HangupsFailed)
	}
	if s.TransfersFailed > 0 {
		return fmt.Errorf("%w: %d of %d", errTransfersFailed, s.TransfersFailed, s.TransfersStarted)
	}
	return nil
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

// shutdownGrace is how long the UA waits at exit for the answers to the
// BYEs it sends then.
const shutdownGrace = 2 * time.Second

// uaApp is the application on top of the dialog UA: the policy for
// incoming calls and REFERs, the caller and transferor, and the events and
// counters.
type uaApp struct {
	f      *uaFlags
	ua     *dialog.UA
	ev     *event.Manager
	agent  *refer.Agent
	events *eventWriter
	log    *slog.Logger
	tracer *responseTracer
	media  mediaDesc // set by listening

	mu       sync.Mutex
	closing  bool                       // no more incoming calls or REFERs
	held     map[*dialog.Call]struct{}  // incoming and referred calls not ended yet
	referIDs map[*refer.Incoming]string // Call-ID chosen for the call a REFER is about to place
	watchers sync.WaitGroup             // one per held call, until its last event

	placed, established, failed, cancelled, hangupsFailed atomic.Uint64
	received, receivedEstablished, receivedFailed         atomic.Uint64

	authErr error // the first request refused for its credentials (noteAuth)

	transfersStarted, transfersOK, transfersFailed, transfersCancelled atomic.Uint64
	refersReceived, refersAccepted, refersDeclined                     atomic.Uint64
	referred, referredEstablished, referredFailed                      atomic.Uint64
}

// newUAApp makes the dialog UA with the application's handlers, and its
// event Manager and REFER Agent; base supplies the clock, logger and TLS
// configuration.
func newUAApp(f *uaFlags, events *eventWriter, base dialog.Config) (*uaApp, error) {
	a := &uaApp{f: f, events: events, held: make(map[*dialog.Call]struct{}), referIDs: make(map[*refer.Incoming]string)}
	a.tracer = &responseTracer{events: events, verbose: f.verbose}
	cfg := base
	cfg.User = f.user
	cfg.Transport.Tracer = a.tracer
	cfg.OnInvite = a.onInvite
	cfg.OnReInvite = a.onReInvite
	a.ua = dialog.NewUA(cfg)
	a.log = a.ua.Logger()
	// RFC 3428 §7: a MESSAGE outside a dialog is answered 200 by the UAS
	// that accepts it; this UA shows nothing, so it accepts them all.
	a.ua.Handle("MESSAGE", dialog.HandlerFunc(func(r *dialog.Request) {
		if err := r.Respond(200, "", nil); err != nil {
			a.log.Warn("ua: cannot answer MESSAGE", "err", err)
		}
	}))
	// The event T1 must be the UA's (Timer N is 64*T1).
	a.ev = event.New(a.ua, event.Config{T1: a.ua.T1()})
	rc := refer.Config{
		OnRefer:              a.onRefer,
		IgnoreNoSubscription: f.referSubIgn,
		AcceptOutsideDialog:  f.acceptOut,
		CallOptions:          a.referredCallOptions,
		OnCall:               a.onReferredCall,
	}
	if f.rfc3515 {
		rc.AcceptCode = 202
	}
	agent, err := refer.New(a.ua, a.ev, rc)
	if err != nil {
		a.ev.Close()
		a.ua.Close()
		return nil, err
	}
	a.agent = agent
	return a, nil
}

// listening records the listening address, which the SDP names.
func (a *uaApp) listening(addr transport.Addr) {
	// Sess-ids from an NTP-like timestamp, as RFC 4566 §5.2 suggests.
	a.media = newMediaDesc(addr.AddrPort.Addr(), addr.AddrPort.Port(), uint64(a.ua.Clock().Now().Unix()))
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
	a.ev.Close() // before the UA, as package event asks
	a.ua.Close()
	a.watchers.Wait() // Close has ended every held call
	s := newStatsEvent(a.ua.Transport().Stats(), a.tracer.answered.Load(), client, server)
	s.Dialogs = dialogs
	s.Overloaded = a.ua.Transactions().Overloaded()
	s.DialogsRefused = a.ua.Refused()
	s.SubscriptionsRefused = a.ev.Refused()
	s.CallsPlaced = a.placed.Load()
	s.CallsEstablished = a.established.Load()
	s.CallsFailed = a.failed.Load()
	s.CallsCancelled = a.cancelled.Load()
	s.HangupsFailed = a.hangupsFailed.Load()
	s.CallsReceived = a.received.Load()
	s.CallsReceivedEstablished = a.receivedEstablished.Load()
	s.CallsReceivedFailed = a.receivedFailed.Load()
	s.TransfersStarted = a.transfersStarted.Load()
	s.TransfersOK = a.transfersOK.Load()
	s.TransfersFailed = a.transfersFailed.Load()
	s.TransfersCancelled = a.transfersCancelled.Load()
	s.RefersReceived = a.refersReceived.Load()
	s.RefersAccepted = a.refersAccepted.Load()
	s.RefersDeclined = a.refersDeclined.Load()
	s.RefersRefused = a.tracer.refused.Load()
	s.ReferredCalls = a.referred.Load()
	s.ReferredCallsEstablished = a.referredEstablished.Load()
	s.ReferredCallsFailed = a.referredFailed.Load()
	return s
}

// newCallID returns a Call-ID of 128 random bits in hex (RFC 3261
// §8.1.1.4), chosen here so that the events can name calls that never got
// a dialog.
func newCallID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

// callOptions are the options of every INVITE this UA sends outside a
// dialog: the Call-ID callID (from newCallID) and a fresh SDP offer.
func (a *uaApp) callOptions(callID string) *dialog.CallOptions {
	return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{
		CallID:         callID,
		RequestOptions: dialog.RequestOptions{ContentType: sdpType, Body: a.media.offer()},
	}}
}
