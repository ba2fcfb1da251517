// The agent of "demo events" (eventsApp): the notifier's policy for
// SUBSCRIBEs and the NOTIFYs it serves, the subscriber's subscriptions,
// and the shutdown and stats of both.

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
)

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
