package main

import (
	"bytes"
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
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

const eventsUsage = `usage: demo events [flags]

Runs a standalone SIP event agent (RFC 6665, package event) on one
transport address, as notifier (-notify, the default) or as subscriber
(-subscribe URI), for interop tests.

As notifier it serves the event package -package. It accepts every
SUBSCRIBE for it with 200 (with Expires) in state active and sends the
immediate NOTIFY with the text/plain body "state 1"; then -notifies more
NOTIFYs -interval apart ("state 2", "state 3" ...), and one -interval
after the last it ends the subscription with NOTIFY terminated;reason=
noresource, unless -terminate=false leaves that to the subscriber (an
unsubscribe, answered with terminated;reason=timeout) or to the expiry.
Refreshes are answered 200 and a NOTIFY of the current state. A SUBSCRIBE
for another package gets 489 with Allow-Events. With -max N it accepts N
subscriptions, answers later ones 503, and exits once those N have ended.

As subscriber it sends -max SUBSCRIBEs (default 1) outside a dialog to the
-subscribe URI, with Expires -expires and Accept text/plain. Each
subscription is refreshed before it expires, and every -refresh if set;
it ends by an unsubscribe (SUBSCRIBE with Expires: 0) -hold after it is
established, or when the notifier terminates it. The agent exits once
every subscription has ended, with status 1 if one failed: it was never
established (refused, no NOTIFY within Timer N), or it ended otherwise
than by a terminated NOTIFY (the notifier's, or the one answering the
unsubscribe).

Either way it exits on SIGINT, SIGTERM or after -duration: the notifier
terminates the subscriptions it serves (reason noresource), the
subscriber unsubscribes, both waiting at most 2 s for the final NOTIFYs;
subscriptions cut short so are counted as cancelled, not failed.

Standard output carries one JSON object per line:
  {"event":"listening","transport":"udp","addr":"127.0.0.1:5070"}  once listening
  {"event":"subscribe_received","call_id":...,"from":...,"expires":60,
   "refresh":false,"code":200}
        notifier: a SUBSCRIBE for the package that creates or refreshes a
        subscription, and its answer (503 over -max or while exiting); an
        unsubscribe shows as a terminated event
  {"event":"subscription_active","role":"notifier","call_id":...,"expires":60}
        notifier: a subscription accepted (just before its 200 goes)
  {"event":"notify_sent","call_id":...,"cseq":1,"state":"active;expires=60",
   "body":"state 1","code":200}
        notifier: per NOTIFY that got a final response: its
        Subscription-State and body, and the response code (the answer
        can be read before the write of its NOTIFY returns, so the
        notify_sent of a final NOTIFY may follow the terminated event)
  {"event":"subscribe_sent","call_id":...,"target":...,"expires":60}
        subscriber: a subscription started
  {"event":"subscribe_response","call_id":...,"cseq":1,"code":200,"expires":60}
        subscriber: per final response to a SUBSCRIBE (the first, a
        refresh, the unsubscribe); expires is its Expires, -1 without
  {"event":"subscription_active","role":"subscriber","call_id":...,
   "state":"active","expires":60}
        subscriber: the first NOTIFY with state active or pending
  {"event":"notify_received","call_id":...,"state":"active","expires":59,
   "reason":...,"content_type":"text/plain","body":"state 1"}
        subscriber: per NOTIFY accepted; expires for active and pending,
        reason (and retry_after) for terminated
  {"event":"refresh","call_id":...,"error":...}  subscriber: per -refresh
  {"event":"unsubscribe_sent","call_id":...}  subscriber: after -hold
  {"event":"terminated","role":"notifier"|"subscriber","call_id":...,
   "reason":"noresource","error":...,"ok":true}
        a subscription ended. Notifier: reason is the one its final
        NOTIFY carried ("noresource"), or "unsubscribed", "expired",
        "closed", "failed" (a NOTIFY failed: see error). Subscriber: reason
        is the Subscription-State reason of the NOTIFY that ended it;
        error is why it ended ("event: terminated by the notifier",
        "event: unsubscribed" ...); ok that it counts as a success,
        cancelled that the exit cut it short
  {"event":"error","call_id":...,"error":...}  something the agent could not do
  {"event":"response_sent","method":...,"call_id":...,"cseq":1,"status":489}
        per final response sent, retransmissions included, with -v
  {"event":"stats",...}  at exit: mode; transport counters; notifier:
        subscribes_received and refreshes_received (SUBSCRIBEs for the
        package), subscriptions_accepted and _refused, notifies_sent (NOTIFYs
        answered 2xx) and notifies_failed (answered otherwise); subscriber:
        subscriptions_started, _established, _ok, _failed, _cancelled and
        notifies_received; both: subscriptions_left (either role, before
        closing), dialogs and transactions left (non-INVITE server
        transactions over UDP stay 64*T1 in Completed, RFC 3261 §17.2.2)
Logs go to standard error.

Flags:
`

// eventsFlags are the settings of "demo events".
type eventsFlags struct {
	listen   netip.AddrPort
	proto    transport.Protocol
	user     string
	pkg      string
	duration time.Duration
	max      int
	verbose  bool
	logDebug bool

	// Notifier.
	notifies  int
	interval  time.Duration
	terminate bool

	// Subscriber.
	subscribe string // target; empty: notifier
	expires   time.Duration
	hold      time.Duration
	refresh   time.Duration
}

// eventsBody is the text/plain state of the i-th NOTIFY, from 1.
func eventsBody(i int) []byte { return []byte("state " + strconv.Itoa(i)) }

const eventsBodyType = "text/plain"

// parseEventsFlags reads the arguments after "events"; usage and errors go
// to out.
func parseEventsFlags(args []string, out io.Writer) (*eventsFlags, error) {
	fs := flag.NewFlagSet("demo events", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), eventsUsage)
		fs.PrintDefaults()
	}
	f := &eventsFlags{}
	listen := fs.String("listen", "127.0.0.1:5070", "`address` to listen on, IP:port or [IPv6]:port; port 0 picks a free one")
	proto := fs.String("transport", "udp", "`protocol`: udp or tcp")
	fs.StringVar(&f.user, "user", "events", "`user` part of the Contact URI and of the From of SUBSCRIBEs")
	fs.StringVar(&f.pkg, "package", "test", "`name` of the event package to serve or subscribe to (RFC 6665 §8.4 event-type)")
	fs.DurationVar(&f.duration, "duration", 0, "exit after this long; 0 runs until SIGINT or SIGTERM (or, with -max or -subscribe, until the subscriptions have ended)")
	fs.IntVar(&f.max, "max", 0, "notifier: accept this many subscriptions, then exit once they have ended (0: no limit); subscriber: start this many (0: one)")
	fs.BoolVar(&f.verbose, "v", false, "write a response_sent event for every final response sent")
	fs.BoolVar(&f.logDebug, "debug", false, "log at debug level: messages dropped or absorbed by the stack")
	notify := fs.Bool("notify", true, "act as notifier (the default); see -subscribe")
	fs.IntVar(&f.notifies, "notifies", 2, "notifier: NOTIFYs to send after the immediate one, -interval apart")
	fs.DurationVar(&f.interval, "interval", 500*time.Millisecond, "notifier: time between two NOTIFYs, and before the final one")
	fs.BoolVar(&f.terminate, "terminate", true, "notifier: end each subscription (terminated;reason=noresource) after the -notifies; false leaves it to the subscriber or the expiry")
	fs.StringVar(&f.subscribe, "subscribe", "", "act as subscriber to this `URI`, e.g. sip:bob@127.0.0.1:5070 (add ;transport=tcp for TCP); a host name is located by RFC 3263 through /etc/resolv.conf's nameserver")
	fs.DurationVar(&f.expires, "expires", time.Minute, "subscriber: the Expires asked for (whole seconds)")
	fs.DurationVar(&f.hold, "hold", 0, "subscriber: unsubscribe this long after the subscription is established; 0 waits for the notifier to end it")
	fs.DurationVar(&f.refresh, "refresh", 0, "subscriber: also refresh every this long (the automatic refresh before expiry happens anyway); 0: no more")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("events: unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	var err error
	if f.listen, err = netip.ParseAddrPort(*listen); err != nil {
		return nil, fmt.Errorf("events: -listen: %w", err)
	}
	switch *proto {
	case "udp":
		f.proto = transport.UDP
	case "tcp":
		f.proto = transport.TCP
	default:
		return nil, fmt.Errorf("events: -transport %q: want udp or tcp", *proto)
	}
	if f.max < 0 || f.notifies < 0 || f.interval < 0 || f.hold < 0 || f.refresh < 0 || f.duration < 0 {
		return nil, errors.New("events: -max, -notifies, -interval, -hold, -refresh and -duration must not be negative")
	}
	if f.subscribe == "" {
		if !*notify {
			return nil, errors.New("events: -notify=false needs -subscribe")
		}
		for _, name := range []string{"expires", "hold", "refresh"} {
			if set[name] {
				return nil, fmt.Errorf("events: -%s needs -subscribe", name)
			}
		}
		return f, nil
	}
	if set["notify"] && *notify {
		return nil, errors.New("events: -notify and -subscribe exclude each other")
	}
	for _, name := range []string{"notifies", "interval", "terminate"} {
		if set[name] {
			return nil, fmt.Errorf("events: -%s is for the notifier, not with -subscribe", name)
		}
	}
	var u sip.URI
	if err := u.Parse([]byte(f.subscribe)); err != nil {
		return nil, fmt.Errorf("events: -subscribe: %w", err)
	}
	if u.Scheme != sip.SchemeSIP {
		return nil, fmt.Errorf("events: -subscribe %q: want a sip URI", f.subscribe)
	}
	if f.expires < time.Second {
		return nil, fmt.Errorf("events: -expires %v: want 1s or more", f.expires)
	}
	if f.max == 0 {
		f.max = 1
	}
	return f, nil
}

// errSubscriptionsFailed is returned by runEventsContext when a
// subscription it started failed.
var errSubscriptionsFailed = errors.New("events: subscriptions failed")

// eventsGrace is how long the agent waits at exit for the final NOTIFYs
// of the subscriptions it ends then.
const eventsGrace = 2 * time.Second

// runEvents is "demo events": it runs until SIGINT or SIGTERM, -duration or
// the end of its subscriptions.
func runEvents(args []string) error {
	// Catch the signals first, so that one sent during start-up ends the
	// run instead of killing the process before its stats.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runEventsContext(ctx, args, os.Stdout, os.Stderr)
}

// runEventsContext runs the agent until ctx ends (or -duration, or its
// subscriptions end), writing events to stdout and logs to stderr. The
// stats event is the last line it writes.
func runEventsContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseEventsFlags(args, stderr)
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
	out := &eventWriter{enc: json.NewEncoder(stdout)}

	// stopping ends when the agent is told to exit; callbacks read it from
	// the first SUBSCRIBE on.
	stopping, stop := context.WithCancel(ctx)
	defer stop()
	a, err := newEventsApp(f, out, stopping, dialog.Config{Logger: logger})
	if err != nil {
		return err
	}
	var addr transport.Addr
	if f.proto == transport.TCP {
		addr, err = a.ua.ListenTCP(f.listen)
	} else {
		addr, err = a.ua.ListenUDP(f.listen)
	}
	if err != nil {
		a.m.Close()
		a.ua.Close()
		return fmt.Errorf("events: listen: %w", err)
	}
	logger.Info("events listening", "addr", addr.String(), "mode", a.mode())
	out.write(listeningEvent{Event: "listening", Transport: transportName(addr.Proto), Addr: addr.AddrPort.String()})

	if f.subscribe != "" {
		a.subscribeAll()
	}
	select {
	case <-stopping.Done():
	case <-a.allDone:
	}
	stop()
	a.shutdown()
	s := a.close()
	out.write(s)
	if s.SubscriptionsFailed > 0 {
		return fmt.Errorf("%w: %d of %d", errSubscriptionsFailed, s.SubscriptionsFailed, s.SubscriptionsStarted)
	}
	return nil
}

// eventsApp is the agent on top of the dialog UA and its event Manager:
// the notifier's or the subscriber's policy, the events and the counters.
type eventsApp struct {
	f      *eventsFlags
	ua     *dialog.UA
	m      *event.Manager
	out    *eventWriter
	log    *slog.Logger
	tracer *eventsTracer

	stopping context.Context // ends when the agent is told to exit
	allDone  chan struct{}   // closed when -max subscriptions have ended
	workers  sync.WaitGroup

	mu       sync.Mutex
	closing  bool // no new subscriptions
	accepted int
	ended    int
	served   map[*event.Notifier]*evServed
	held     []*evHeld
	doneOnce sync.Once

	subscribes, refreshes, refused              atomic.Uint64
	started, established, ok, failed, cancelled atomic.Uint64
	notifiesReceived                            atomic.Uint64
}

// evServed is a subscription the notifier serves.
type evServed struct {
	n      *event.Notifier
	callID string
}

// evHeld is a subscription the subscriber holds. Its callbacks may run
// before Subscribe returns, so they use this record, not the map.
type evHeld struct {
	callID string
	s      *event.Subscription // set once Subscribe has returned

	mu     sync.Mutex
	active bool // a NOTIFY active or pending came
	final  bool // a NOTIFY terminated came
	over   bool // OnTerminated has run
}

// newEventsApp makes the dialog UA and its event Manager with the
// package registered for the mode; base supplies the clock and logger.
func newEventsApp(f *eventsFlags, out *eventWriter, stopping context.Context, base dialog.Config) (*eventsApp, error) {
	a := &eventsApp{f: f, out: out, stopping: stopping, allDone: make(chan struct{}), served: make(map[*event.Notifier]*evServed)}
	a.tracer = &eventsTracer{out: out, verbose: f.verbose, notifies: make(map[eventsTxKey]*evSentNotify), subscribes: make(map[eventsTxKey]bool)}
	cfg := base
	cfg.User = f.user
	cfg.Transport.Tracer = a.tracer
	a.ua = dialog.NewUA(cfg)
	a.log = a.ua.Logger()
	// Timer N (64*T1) must use the UA's T1.
	a.m = event.New(a.ua, event.Config{T1: a.ua.T1()})
	p := event.Package{Name: f.pkg, Accept: []string{eventsBodyType}}
	if f.subscribe == "" {
		p.OnSubscribe = a.onSubscribe
		p.OnTerminated = a.onNotifierEnded
	}
	if err := a.m.Register(p); err != nil {
		a.m.Close()
		a.ua.Close()
		return nil, fmt.Errorf("events: -package %q: %w", f.pkg, err)
	}
	return a, nil
}

func (a *eventsApp) mode() string {
	if a.f.subscribe != "" {
		return "subscribe"
	}
	return "notify"
}

// onSubscribe decides a SUBSCRIBE for the package (notifier). It runs on
// the transport's goroutine and must not block.
func (a *eventsApp) onSubscribe(n *event.Notifier, r *event.SubscribeRequest) event.Answer {
	ev := evSubscribeReceived{Event: "subscribe_received", CallID: string(r.Msg.CallID()), From: string(r.Msg.Get(sip.HeaderFrom)),
		Expires: int64(r.Expires / time.Second), Refresh: r.Refresh, Code: 200}
	if r.Refresh {
		// Keep the state: the refresh gets a NOTIFY of the current one.
		a.refreshes.Add(1)
		a.out.write(ev)
		return event.Answer{}
	}
	a.subscribes.Add(1)
	a.mu.Lock()
	if a.closing || (a.f.max > 0 && a.accepted >= a.f.max) {
		a.mu.Unlock()
		a.refused.Add(1)
		ev.Code = 503
		a.out.write(ev)
		// RFC 3261 §21.5.4: unavailable for now; no point retrying soon.
		return event.Answer{Code: 503, Headers: []dialog.Header{{Name: "Retry-After", Value: "60"}}}
	}
	a.accepted++
	sub := &evServed{n: n, callID: ev.CallID}
	a.served[n] = sub
	a.workers.Add(1)
	a.mu.Unlock()
	a.out.write(ev)
	// Active from the answer on (the 200 and the NOTIFY it is about to
	// send); a dialog that cannot be made ends it, with a terminated event.
	a.out.write(evActive{Event: "subscription_active", Role: "notifier", CallID: sub.callID, Expires: ev.Expires})
	go a.serve(sub)
	return event.Answer{State: event.StateActive, ContentType: eventsBodyType, Body: eventsBody(1)}
}

// serve sends the NOTIFYs of -notifies and -interval on one subscription,
// then terminates it unless -terminate=false.
func (a *eventsApp) serve(sub *evServed) {
	defer a.workers.Done()
	n := sub.n
	// OnSubscribe runs before the Manager gives the Notifier its dialog,
	// and Notify fails (ErrState) until then; nothing signals that moment,
	// which follows OnSubscribe on the same goroutine: wait for it briefly.
	for n.Dialog() == nil {
		t := time.NewTimer(time.Millisecond)
		select {
		case <-n.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if a.stopping.Err() != nil {
		// Accepted as the agent began to exit: shutdown could not end it
		// without a dialog.
		n.Terminate(event.ReasonNoResource, 0, "", nil)
		return
	}
	for i := 2; i <= a.f.notifies+1; i++ {
		if !a.pause(n) {
			return
		}
		if err := n.Notify(event.StateActive, eventsBodyType, eventsBody(i)); err != nil {
			if !errors.Is(err, event.ErrState) {
				a.out.write(evError{Event: "error", CallID: sub.callID, Error: "NOTIFY: " + err.Error()})
			}
			return
		}
	}
	if !a.f.terminate || !a.pause(n) {
		return
	}
	if err := n.Terminate(event.ReasonNoResource, 0, "", nil); err != nil && !errors.Is(err, event.ErrState) {
		a.out.write(evError{Event: "error", CallID: sub.callID, Error: "final NOTIFY: " + err.Error()})
	}
}

// pause waits -interval; false if the subscription ended or the agent
// is exiting meanwhile.
func (a *eventsApp) pause(n *event.Notifier) bool {
	t := time.NewTimer(a.f.interval)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.Done():
	case <-a.stopping.Done():
	}
	return false
}

// onNotifierEnded reports a subscription the notifier served that has
// ended, and ends the run once -max have.
func (a *eventsApp) onNotifierEnded(n *event.Notifier, err error) {
	a.mu.Lock()
	sub := a.served[n]
	delete(a.served, n)
	a.ended++
	last := a.f.max > 0 && a.ended >= a.f.max
	a.mu.Unlock()
	ev := evTerminated{Event: "terminated", Role: "notifier", Error: errString(err), OK: true}
	if sub != nil {
		ev.CallID = sub.callID
	}
	switch {
	case errors.Is(err, event.ErrTerminated):
		ev.Reason = string(event.ReasonNoResource)
	case errors.Is(err, event.ErrUnsubscribed):
		ev.Reason = "unsubscribed"
	case errors.Is(err, event.ErrExpired):
		ev.Reason = "expired"
	case errors.Is(err, event.ErrClosed):
		ev.Reason = "closed"
	default:
		ev.Reason, ev.OK = "failed", false
	}
	a.out.write(ev)
	if last {
		a.doneOnce.Do(func() { close(a.allDone) })
	}
}

// subscribeAll starts the -max subscriptions of the subscriber.
func (a *eventsApp) subscribeAll() {
	for range a.f.max {
		a.subscribeOne()
	}
}

// subscribeOne starts one subscription and the goroutine that holds it.
func (a *eventsApp) subscribeOne() {
	h := &evHeld{callID: newEventsCallID()}
	a.started.Add(1)
	a.mu.Lock()
	a.held = append(a.held, h)
	a.mu.Unlock()
	a.out.write(evSubscribeSent{Event: "subscribe_sent", CallID: h.callID, Target: a.f.subscribe, Expires: int64(a.f.expires / time.Second)})
	s, err := a.m.Subscribe(a.f.subscribe, &event.SubscribeOptions{
		InitialOptions: dialog.InitialOptions{CallID: h.callID},
		Package:        a.f.pkg,
		Expires:        a.f.expires,
		OnNotify:       func(_ *event.Subscription, n *event.Notification) { a.onNotify(h, n) },
		OnTerminated:   func(s *event.Subscription, t *event.Termination) { a.onSubscriptionEnded(h, t) },
	})
	if err != nil {
		// Subscribe fails before sending (no callback), or because the
		// SUBSCRIBE could not be sent, after OnTerminated has run.
		h.mu.Lock()
		over := h.over
		h.mu.Unlock()
		if over {
			return
		}
		a.failed.Add(1)
		a.out.write(evTerminated{Event: "terminated", Role: "subscriber", CallID: h.callID, Error: err.Error()})
		a.subscriptionOver()
		return
	}
	h.s = s
	a.workers.Add(1)
	go a.hold(h)
}

// onNotify reports a NOTIFY the subscriber accepted. It runs before the
// NOTIFY is answered and must not block.
func (a *eventsApp) onNotify(h *evHeld, n *event.Notification) {
	a.notifiesReceived.Add(1)
	ev := evNotifyReceived{Event: "notify_received", CallID: h.callID, State: n.State.String(), Reason: string(n.Reason),
		ContentType: n.ContentType, Body: string(n.Body), Expires: -1}
	if n.HasExpires {
		ev.Expires = int64(n.Expires / time.Second)
	}
	if n.HasRetryAfter {
		ev.RetryAfter = int64(n.RetryAfter / time.Second)
	}
	h.mu.Lock()
	first := !h.active && (n.State == event.StateActive || n.State == event.StatePending)
	if first {
		h.active = true
	}
	if n.State == event.StateTerminated {
		h.final = true
	}
	h.mu.Unlock()
	if first {
		a.established.Add(1)
		a.out.write(evActive{Event: "subscription_active", Role: "subscriber", CallID: h.callID, State: n.State.String(), Expires: ev.Expires})
	}
	a.out.write(ev)
}

// onSubscriptionEnded counts a subscription of the subscriber that has
// ended as ok, failed or cancelled, and reports it.
func (a *eventsApp) onSubscriptionEnded(h *evHeld, t *event.Termination) {
	h.mu.Lock()
	active, final := h.active, h.final
	h.over = true
	h.mu.Unlock()
	ev := evTerminated{Event: "terminated", Role: "subscriber", CallID: h.callID, Reason: string(t.Reason), Error: errString(t.Err)}
	switch {
	case active && final && (errors.Is(t.Err, event.ErrTerminated) || errors.Is(t.Err, event.ErrUnsubscribed)):
		// Ended by a terminated NOTIFY: the notifier's own, or the one
		// answering our unsubscribe (RFC 6665 §4.1.2.3, §4.4.1).
		ev.OK = true
		a.ok.Add(1)
	case a.stopping.Err() != nil:
		ev.Cancelled = true
		a.cancelled.Add(1)
	default:
		a.failed.Add(1)
	}
	a.out.write(ev)
	a.subscriptionOver()
}

// subscriptionOver ends the run once every subscription started has ended.
func (a *eventsApp) subscriptionOver() {
	a.mu.Lock()
	a.ended++
	last := a.ended >= a.f.max
	a.mu.Unlock()
	if last {
		a.doneOnce.Do(func() { close(a.allDone) })
	}
}

// hold keeps one subscription: refreshes it every -refresh and
// unsubscribes -hold after it is established. At exit, shutdown
// unsubscribes instead.
func (a *eventsApp) hold(h *evHeld) {
	defer a.workers.Done()
	s := h.s
	select {
	case <-s.Established():
	case <-s.Done():
		return
	case <-a.stopping.Done():
		return
	}
	var holdC, refreshC <-chan time.Time
	if a.f.hold > 0 {
		t := time.NewTimer(a.f.hold)
		defer t.Stop()
		holdC = t.C
	}
	if a.f.refresh > 0 {
		t := time.NewTicker(a.f.refresh)
		defer t.Stop()
		refreshC = t.C
	}
	for {
		select {
		case <-s.Done():
			return
		case <-a.stopping.Done():
			return
		case <-refreshC:
			err := s.Refresh(a.stopping)
			if errors.Is(err, event.ErrState) {
				return // ended meanwhile
			}
			a.out.write(evRefresh{Event: "refresh", CallID: h.callID, Error: errString(err)})
		case <-holdC:
			a.out.write(evUnsubscribe{Event: "unsubscribe_sent", CallID: h.callID})
			// Unsubscribe returns at the final NOTIFY, or Timer N after the
			// SUBSCRIBE; at exit shutdown bounds it.
			if err := s.Unsubscribe(context.Background()); err != nil && !errors.Is(err, event.ErrState) {
				a.out.write(evError{Event: "error", CallID: h.callID, Error: "unsubscribe: " + err.Error()})
			}
			return
		}
	}
}

// shutdown ends the subscriptions still held, politely, waiting at most
// eventsGrace: the notifier terminates its own, the subscriber
// unsubscribes. New SUBSCRIBEs get 503 from now on.
func (a *eventsApp) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), eventsGrace)
	defer cancel()
	a.mu.Lock()
	a.closing = true
	served := make([]*event.Notifier, 0, len(a.served))
	for n := range a.served {
		served = append(served, n)
	}
	held := append([]*evHeld(nil), a.held...)
	a.mu.Unlock()

	var wg sync.WaitGroup
	for _, n := range served {
		if err := n.Terminate(event.ReasonNoResource, 0, "", nil); err != nil && !errors.Is(err, event.ErrState) {
			a.log.Info("events: terminating at exit", "err", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-n.Done():
			case <-ctx.Done():
			}
		}()
	}
	for _, h := range held {
		if h.s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Closes locally one without a dialog yet; ErrState once ended.
			h.s.Unsubscribe(ctx)
		}()
	}
	wg.Wait()
	a.workers.Wait()
}

// close closes the UA and returns the stats: subscriptions, dialogs and
// transactions still held once the transport has stopped reading, then
// the counters.
func (a *eventsApp) close() evStats {
	// Closing the transport first stops reading and waits for the handlers
	// running on its goroutines, so the counts below are final.
	a.ua.Transport().Close()
	sub, not := a.m.Subscriptions()
	dialogs := a.ua.Dialogs()
	client, server := a.ua.Transactions().Transactions()
	a.m.Close()
	a.ua.Close()
	ts := a.ua.Transport().Stats()
	return evStats{
		Event:                    "stats",
		Mode:                     a.mode(),
		Received:                 ts.Received,
		Sent:                     ts.Sent,
		SendErrors:               ts.SendErrors,
		ParseErrors:              ts.ParseErrors,
		Invalid:                  ts.Invalid,
		Rejected:                 ts.Rejected,
		DroppedRequests:          ts.DroppedRequests,
		DroppedResponses:         ts.DroppedResponses,
		SubscribesReceived:       a.subscribes.Load(),
		RefreshesReceived:        a.refreshes.Load(),
		SubscriptionsAccepted:    a.subscribes.Load() - a.refused.Load(),
		SubscriptionsRefused:     a.refused.Load(),
		NotifiesSent:             a.tracer.notifiesOK.Load(),
		NotifiesFailed:           a.tracer.notifiesFailed.Load(),
		SubscriptionsStarted:     a.started.Load(),
		SubscriptionsEstablished: a.established.Load(),
		SubscriptionsOK:          a.ok.Load(),
		SubscriptionsFailed:      a.failed.Load(),
		SubscriptionsCancelled:   a.cancelled.Load(),
		NotifiesReceived:         a.notifiesReceived.Load(),
		SubscriptionsLeft:        sub + not,
		Dialogs:                  dialogs,
		TransactionsClient:       client,
		TransactionsServer:       server,
	}
}

// newEventsCallID returns a Call-ID of 128 random bits in hex (RFC 3261
// §8.1.1.4), chosen here so that every event can name its subscription.
func newEventsCallID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

// eventsTxKey names a transaction by Call-ID and CSeq number: enough to
// tell apart the NOTIFYs (or SUBSCRIBEs) of one agent.
type eventsTxKey struct {
	callID string
	seq    uint32
}

// evSentNotify is a NOTIFY seen by the tracer, waiting for the other half
// of its notify_sent event.
type evSentNotify struct {
	state, body string
	sent        bool
	code        int // 0 until the final response
}

// eventsTracer is the transport's Tracer. The event package reports no
// per-NOTIFY outcome, so this is where the agent sees its NOTIFYs and
// their answers (notify_sent), the answers to its SUBSCRIBEs
// (subscribe_response), and with -v every final response it sends.
type eventsTracer struct {
	out     *eventWriter
	verbose bool

	mu sync.Mutex
	// A response can be traced before the NOTIFY it answers (see
	// transport.Tracer), so each half waits here for the other. An entry
	// goes once both are in; a stray retransmission leaves one behind.
	notifies   map[eventsTxKey]*evSentNotify
	subscribes map[eventsTxKey]bool // SUBSCRIBEs answered, against retransmitted answers

	notifiesOK, notifiesFailed atomic.Uint64
}

func (t *eventsTracer) TraceMessage(tr *transport.Trace) {
	isResponse := bytes.HasPrefix(tr.Msg, []byte("SIP/2.0 "))
	switch {
	case tr.Sent && bytes.HasPrefix(tr.Msg, []byte("NOTIFY ")):
	case !tr.Sent && isResponse:
	case tr.Sent && isResponse && t.verbose:
	default:
		return
	}
	var m sip.Message
	if err := sip.Parse(&m, bytes.Clone(tr.Msg)); err != nil {
		return
	}
	cseq, err := m.CSeq()
	if err != nil {
		return
	}
	key := eventsTxKey{string(m.CallID()), cseq.Seq}
	code := m.StatusCode()
	switch {
	case tr.Sent && !isResponse:
		t.notifySent(key, string(m.Get(sip.HeaderSubscriptionState)), string(m.Body()))
	case tr.Sent:
		if code >= 200 {
			t.out.write(evResponseSent{Event: "response_sent", Method: string(cseq.MethodName), CallID: key.callID, CSeq: key.seq, Status: code})
		}
	case code < 200:
	case string(cseq.MethodName) == "NOTIFY":
		t.notifyAnswered(key, code)
	case string(cseq.MethodName) == "SUBSCRIBE":
		t.mu.Lock()
		dup := t.subscribes[key]
		t.subscribes[key] = true
		t.mu.Unlock()
		if dup {
			return
		}
		ev := evSubscribeResponse{Event: "subscribe_response", CallID: key.callID, CSeq: key.seq, Code: code, Expires: -1}
		if secs, ok, err := m.Expires(); ok && err == nil {
			ev.Expires = int64(secs)
		}
		t.out.write(ev)
	}
}

// notifySent takes a NOTIFY written to the network (a retransmission is
// ignored).
func (t *eventsTracer) notifySent(key eventsTxKey, state, body string) {
	t.mu.Lock()
	n := t.notifies[key]
	if n == nil {
		n = &evSentNotify{}
		t.notifies[key] = n
	}
	if n.sent {
		t.mu.Unlock()
		return
	}
	n.sent, n.state, n.body = true, state, body
	done := n.code != 0
	if done {
		delete(t.notifies, key)
	}
	t.mu.Unlock()
	if done {
		t.notifyDone(key, n)
	}
}

// notifyAnswered takes a final response to a NOTIFY of ours (a
// retransmitted one is ignored).
func (t *eventsTracer) notifyAnswered(key eventsTxKey, code int) {
	t.mu.Lock()
	n := t.notifies[key]
	if n == nil {
		n = &evSentNotify{}
		t.notifies[key] = n
	}
	if n.code != 0 {
		t.mu.Unlock()
		return
	}
	n.code = code
	done := n.sent
	if done {
		delete(t.notifies, key)
	}
	t.mu.Unlock()
	if done {
		t.notifyDone(key, n)
	}
}

func (t *eventsTracer) notifyDone(key eventsTxKey, n *evSentNotify) {
	if n.code < 300 {
		t.notifiesOK.Add(1)
	} else {
		t.notifiesFailed.Add(1)
	}
	t.out.write(evNotifySent{Event: "notify_sent", CallID: key.callID, CSeq: key.seq, State: n.state, Body: n.body, Code: n.code})
}

type evSubscribeReceived struct {
	Event   string `json:"event"`
	CallID  string `json:"call_id"`
	From    string `json:"from"`
	Expires int64  `json:"expires"`
	Refresh bool   `json:"refresh"`
	Code    int    `json:"code"`
}

type evActive struct {
	Event   string `json:"event"`
	Role    string `json:"role"`
	CallID  string `json:"call_id"`
	State   string `json:"state,omitempty"`
	Expires int64  `json:"expires"`
}

type evNotifySent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	CSeq   uint32 `json:"cseq"`
	State  string `json:"state"`
	Body   string `json:"body"`
	Code   int    `json:"code"`
}

type evSubscribeSent struct {
	Event   string `json:"event"`
	CallID  string `json:"call_id"`
	Target  string `json:"target"`
	Expires int64  `json:"expires"`
}

type evSubscribeResponse struct {
	Event   string `json:"event"`
	CallID  string `json:"call_id"`
	CSeq    uint32 `json:"cseq"`
	Code    int    `json:"code"`
	Expires int64  `json:"expires"`
}

type evNotifyReceived struct {
	Event       string `json:"event"`
	CallID      string `json:"call_id"`
	State       string `json:"state"`
	Expires     int64  `json:"expires"`
	Reason      string `json:"reason,omitempty"`
	RetryAfter  int64  `json:"retry_after,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Body        string `json:"body"`
}

type evRefresh struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Error  string `json:"error,omitempty"`
}

type evUnsubscribe struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
}

type evTerminated struct {
	Event     string `json:"event"`
	Role      string `json:"role"`
	CallID    string `json:"call_id"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
	OK        bool   `json:"ok"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

type evError struct {
	Event  string `json:"event"`
	CallID string `json:"call_id,omitempty"`
	Error  string `json:"error"`
}

type evResponseSent struct {
	Event  string `json:"event"`
	Method string `json:"method"`
	CallID string `json:"call_id"`
	CSeq   uint32 `json:"cseq"`
	Status int    `json:"status"`
}

// evStats is the last event of a run.
type evStats struct {
	Event            string `json:"event"`
	Mode             string `json:"mode"` // "notify" or "subscribe"
	Received         uint64 `json:"received"`
	Sent             uint64 `json:"sent"`
	SendErrors       uint64 `json:"send_errors"`
	ParseErrors      uint64 `json:"parse_errors"`
	Invalid          uint64 `json:"invalid"`
	Rejected         uint64 `json:"rejected"`
	DroppedRequests  uint64 `json:"dropped_requests"`
	DroppedResponses uint64 `json:"dropped_responses"`

	SubscribesReceived    uint64 `json:"subscribes_received"`
	RefreshesReceived     uint64 `json:"refreshes_received"`
	SubscriptionsAccepted uint64 `json:"subscriptions_accepted"`
	SubscriptionsRefused  uint64 `json:"subscriptions_refused"`
	NotifiesSent          uint64 `json:"notifies_sent"`
	NotifiesFailed        uint64 `json:"notifies_failed"`

	SubscriptionsStarted     uint64 `json:"subscriptions_started"`
	SubscriptionsEstablished uint64 `json:"subscriptions_established"`
	SubscriptionsOK          uint64 `json:"subscriptions_ok"`
	SubscriptionsFailed      uint64 `json:"subscriptions_failed"`
	SubscriptionsCancelled   uint64 `json:"subscriptions_cancelled"`
	NotifiesReceived         uint64 `json:"notifies_received"`

	SubscriptionsLeft  int `json:"subscriptions_left"`
	Dialogs            int `json:"dialogs"`
	TransactionsClient int `json:"transactions_client"`
	TransactionsServer int `json:"transactions_server"`
}
