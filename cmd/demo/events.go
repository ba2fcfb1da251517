// "demo events", a standalone event notifier or subscriber (RFC 6665) for
// interop tests: its usage text, flags and run. The agent is in
// events_agent.go, the JSON it writes in events_trace.go.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
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
	out := newEventWriter(stdout, eventDelay)
	defer out.close()

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
