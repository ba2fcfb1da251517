package event

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Notifier is a subscription this UA serves as notifier (RFC 6665 §4.2):
// the state it reports to one subscriber, and a usage of their dialog (RFC
// 5057). It is created by a SUBSCRIBE that Package.OnSubscribe accepts, or
// by NewNotifier for an implicit subscription (REFER).
//
// NOTIFYs of one subscription go one at a time, in order: each waits for
// the transaction of the one before to complete. Those that wait are
// queued, up to Config.MaxPendingNotifies, unless the package coalesces
// (Package.Coalesce). A Notifier is safe for concurrent use.
type Notifier struct {
	m            *Manager
	pkg          *Package
	id           string
	ev           sip.Event // package and id, for matching SUBSCRIBEs
	accept       []string
	onTerminated func(*Notifier, error)

	mu          sync.Mutex
	d           *dialog.Dialog
	state       State // StatePending, StateActive or StateTerminated
	terminating bool  // the final NOTIFY is queued or in flight
	finalErr    error // why the subscription ends after it
	expiresAt   time.Time
	expiry      transport.Timer
	ctype       string // the current resource state
	body        []byte
	queue       []*notifyItem
	inFlight    bool
	lastSent    time.Time
	minInterval time.Duration
	rate        transport.Timer
	err         error
	done        chan struct{}
}

var _ dialog.Usage = (*Notifier)(nil)

// notifyItem is a NOTIFY waiting to be sent.
type notifyItem struct {
	state      State
	reason     Reason
	retryAfter time.Duration
	hasRetry   bool
	ctype      string
	body       []byte
	urgent     bool  // answers a SUBSCRIBE, or final: not throttled
	final      bool  // terminated: the subscription ends after it
	err        error // for a final NOTIFY: why the subscription ends
}

// NotifierOptions describes an implicit subscription made by NewNotifier.
type NotifierOptions struct {
	// Package is the event package, registered with the Manager.
	Package string
	// ID is the Event id parameter of every NOTIFY (RFC 6665 §4.5.2), such
	// as the CSeq number of a REFER (RFC 3515 §2.4.6).
	ID string
	// Expires is the duration the notifier chooses (RFC 3515 §2.4.4);
	// default the package's DefaultExpires, capped by MaxExpires.
	Expires time.Duration
	// Accept lists the body types the subscriber accepts; default the
	// package's first Accept type (RFC 6665 §3.2.1).
	Accept []string
	// OnTerminated overrides Package.OnTerminated for this subscription.
	OnTerminated func(n *Notifier, err error)
}

// NewNotifier creates a notifier-side subscription in d without a
// SUBSCRIBE: the implicit subscription of a REFER this UA accepts (RFC
// 3515 §2.4.4; RFC 6665 §4.2.1 still permits it). d is the REFER's dialog,
// or the one Request.CreateDialog made for a REFER outside a dialog. It
// sends nothing: answer the REFER, then send the first NOTIFY at once with
// Notify (RFC 6665 §4.2.1.2). SUBSCRIBEs in d with a matching Event refresh
// or end it.
func (m *Manager) NewNotifier(d *dialog.Dialog, o *NotifierOptions) (*Notifier, error) {
	if o == nil {
		return nil, ErrBadPackage
	}
	p := m.pkg([]byte(o.Package))
	if p == nil {
		return nil, ErrUnknownPackage
	}
	if o.ID != "" && !validToken(o.ID) {
		return nil, ErrBadPackage
	}
	exp := o.Expires
	if exp <= 0 {
		exp = p.DefaultExpires
	}
	if p.MaxExpires > 0 && exp > p.MaxExpires {
		exp = p.MaxExpires
	}
	n := m.newNotifier(p, o.ID, o.Accept)
	if o.OnTerminated != nil {
		n.onTerminated = o.OnTerminated
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := m.attachLocked(d, n); err != nil {
		return nil, err
	}
	n.setExpiryLocked(exp)
	return n, nil
}

func (m *Manager) newNotifier(p *Package, id string, accept []string) *Notifier {
	if len(accept) == 0 && len(p.Accept) > 0 {
		// RFC 6665 §3.2.1: without Accept, the package's default type.
		accept = p.Accept[:1]
	}
	return &Notifier{
		m:            m,
		pkg:          p,
		id:           id,
		ev:           eventOf(p.Name, id),
		accept:       accept,
		onTerminated: p.OnTerminated,
		state:        StatePending,
		minInterval:  p.MinNotifyInterval,
		done:         make(chan struct{}),
	}
}

// attachLocked makes n a usage of d, within the limits. n.mu is held.
func (m *Manager) attachLocked(d *dialog.Dialog, n *Notifier) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reserveLocked(d); err != nil {
		return err
	}
	if ds := m.dialogs[d]; ds != nil {
		for _, x := range ds.notifiers {
			if x.pkg == n.pkg && (x.id == n.id || !n.pkg.MultiplePerDialog) {
				return ErrExists // RFC 6665 §4.5.2
			}
		}
	}
	if err := d.AddUsage(n); err != nil {
		return err
	}
	n.d = d
	ds := m.setLocked(d)
	ds.notifiers = append(ds.notifiers, n)
	m.notifiers[n] = struct{}{}
	return nil
}

// Package returns the event package name.
func (n *Notifier) Package() string { return n.pkg.Name }

// ID returns the Event id parameter, empty for none.
func (n *Notifier) ID() string { return n.id }

// Accept returns the body types the subscriber accepts (RFC 6665 §3.2.1).
func (n *Notifier) Accept() []string { return n.accept }

// Dialog returns the subscription's dialog. It is nil during
// Package.OnSubscribe for a SUBSCRIBE outside a dialog: the dialog is made
// once the subscription is accepted.
func (n *Notifier) Dialog() *dialog.Dialog {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.d
}

// State returns the subscription's state: the last one notified (or
// answered), StatePending for a NewNotifier that has not notified yet, or
// StateTerminated.
func (n *Notifier) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// Expires returns when the subscription expires unless refreshed.
func (n *Notifier) Expires() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.expiresAt
}

// Pending returns how many NOTIFYs wait behind the one in flight.
func (n *Notifier) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queue)
}

// Done is closed when the subscription has ended; Err then says why.
func (n *Notifier) Done() <-chan struct{} { return n.done }

// Err returns why the subscription ended (see Package.OnTerminated), nil
// while it lasts.
func (n *Notifier) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// SetMinInterval sets the least time between two NOTIFYs sent by Notify
// (RFC 6665 §4.2.2 throttling), overriding Package.MinNotifyInterval.
func (n *Notifier) SetMinInterval(d time.Duration) {
	n.mu.Lock()
	n.minInterval = d
	n.mu.Unlock()
	n.pump()
}

// matches reports whether a SUBSCRIBE's Event names n (RFC 6665 §8.2.1).
func (n *Notifier) matches(ev *sip.Event) bool { return n.ev.Match(ev) }

// Notify reports a new resource state: a NOTIFY with Subscription-State
// state (StateActive or StatePending) and the time left (RFC 6665 §4.2.2:
// MUST), and the body, whose type must be one the subscriber accepts
// (§3.2.1: MUST; ErrNotAcceptable). It is queued behind the NOTIFY in
// flight, and sent no sooner than the minimum interval after the last;
// the result of its transaction ends the subscription if §4.2.2 says so.
func (n *Notifier) Notify(state State, contentType string, body []byte) error {
	if state != StateActive && state != StatePending {
		return ErrState
	}
	if len(body) > 0 && !acceptable(contentType, n.accept) {
		return ErrNotAcceptable
	}
	n.mu.Lock()
	if n.state == StateTerminated || n.terminating || n.d == nil {
		n.mu.Unlock()
		return ErrState
	}
	it := &notifyItem{state: state, ctype: contentType, body: append([]byte(nil), body...)}
	if err := n.enqueueLocked(it); err != nil {
		n.mu.Unlock()
		return err
	}
	n.state, n.ctype, n.body = state, contentType, it.body
	n.mu.Unlock()
	n.pump()
	return nil
}

// Terminate ends the subscription with a final NOTIFY: terminated with
// reason (RFC 6665 §4.2.2: SHOULD be present) and, when retryAfter is
// positive, retry-after; the body is the last state if any. The
// subscription ends when that NOTIFY's transaction completes (§4.4.1).
func (n *Notifier) Terminate(reason Reason, retryAfter time.Duration, contentType string, body []byte) error {
	if len(body) > 0 && !acceptable(contentType, n.accept) {
		return ErrNotAcceptable
	}
	n.mu.Lock()
	if n.state == StateTerminated || n.terminating || n.d == nil {
		n.mu.Unlock()
		return ErrState
	}
	n.finalLocked(&notifyItem{reason: reason, retryAfter: retryAfter, hasRetry: retryAfter > 0, ctype: contentType, body: append([]byte(nil), body...)}, ErrTerminated)
	n.mu.Unlock()
	n.pump()
	return nil
}

// finalLocked queues the terminated NOTIFY it, after which the subscription
// ends with err.
func (n *Notifier) finalLocked(it *notifyItem, err error) {
	n.terminating = true
	n.finalErr = err
	if !errors.Is(err, ErrTerminated) {
		if n.expiry != nil {
			n.expiry.Stop()
			n.expiry = nil
		}
		// Expired or unsubscribed: the subscription is gone (RFC 6665
		// §4.2.1.4), so NOTIFYs still waiting would report it active
		// after its end. The final one carries the latest state. (One the
		// application ends with Terminate keeps its queue, since a REFER's
		// transferor wants every status, §2.4.5 of RFC 3515, and its
		// expiry, at which pump drops what is still waiting.)
		clear(n.queue)
		n.queue = n.queue[:0]
	} else if n.pkg.Coalesce {
		// Package.Coalesce: each NOTIFY is the complete state, so the final
		// one replaces what still waits (at most one, held by the rate
		// limit or behind the one in flight), and the outcome is not
		// delayed behind a state it supersedes. Without a body of its own
		// it carries the newest one dropped.
		for _, q := range n.queue {
			if !q.final && len(it.body) == 0 && len(q.body) > 0 {
				it.ctype, it.body = q.ctype, q.body
			}
		}
		clear(n.queue)
		n.queue = n.queue[:0]
	}
	it.state, it.final, it.urgent, it.err = StateTerminated, true, true, err
	// The final NOTIFY is never refused for a full queue.
	n.queue = append(n.queue, it)
}

// enqueueLocked queues a NOTIFY that is not final.
func (n *Notifier) enqueueLocked(it *notifyItem) error {
	if n.pkg.Coalesce {
		// Package.Coalesce: the newest complete state replaces the one
		// still waiting (RFC 6665 §5.3.1), keeping an urgent one's place.
		for i := len(n.queue) - 1; i >= 0; i-- {
			if q := n.queue[i]; !q.final {
				it.urgent = it.urgent || q.urgent
				n.queue[i] = it
				return nil
			}
		}
	}
	if len(n.queue) >= n.m.cfg.MaxPendingNotifies {
		return ErrQueueFull
	}
	n.queue = append(n.queue, it)
	return nil
}

// setExpiryLocked (re)arms the expiry of the subscription, dur from now.
func (n *Notifier) setExpiryLocked(dur time.Duration) {
	n.expiresAt = n.m.clock.Now().Add(dur)
	if n.expiry != nil {
		n.expiry.Stop()
	}
	exp := n.expiresAt
	n.expiry = n.m.clock.AfterFunc(dur, func() { n.expire(exp) })
}

// expire ends a subscription that was not refreshed in time (RFC 6665
// §4.2.1.4): a final NOTIFY with reason=timeout, or, if the application
// has queued its own with Terminate, that one, now, without the NOTIFYs
// still waiting before it (pump drops them).
func (n *Notifier) expire(at time.Time) {
	n.mu.Lock()
	if n.state == StateTerminated || !n.expiresAt.Equal(at) {
		n.mu.Unlock()
		return
	}
	n.expiry = nil
	if !n.terminating {
		// RFC 6665 §4.2.1.4: the notifier SHOULD send NOTIFY terminated
		// with reason=timeout.
		n.finalLocked(&notifyItem{reason: ReasonTimeout, ctype: n.ctype, body: n.body}, ErrExpired)
	}
	n.mu.Unlock()
	n.pump()
}

// subscriptionState writes the Subscription-State of it.
func (n *Notifier) subscriptionStateLocked(it *notifyItem) string {
	if it.final {
		// RFC 6665 §4.2.2: terminated SHOULD carry a reason, and SHOULD NOT
		// carry expires.
		v := "terminated"
		if it.reason != "" {
			v += ";reason=" + string(it.reason)
		}
		if it.hasRetry {
			v += ";retry-after=" + seconds(it.retryAfter)
		}
		return v
	}
	// RFC 6665 §4.2.2: active and pending MUST carry expires, the time
	// remaining (rounded down: never lengthened).
	return it.state.String() + ";expires=" + seconds(n.expiresAt.Sub(n.m.clock.Now()))
}

// pump sends the next queued NOTIFY unless one is in flight or the rate
// limit holds it back (RFC 6665 §4.2.2 throttling).
func (n *Notifier) pump() {
	n.mu.Lock()
	if n.inFlight || len(n.queue) == 0 || n.state == StateTerminated || n.d == nil {
		n.mu.Unlock()
		return
	}
	now := n.m.clock.Now()
	if !n.expiresAt.IsZero() && !now.Before(n.expiresAt) {
		// RFC 6665 §4.2.1.4: past its expiry the subscription is over, so
		// a NOTIFY still waiting (say for the rate limit, behind a final
		// one the application queued with Terminate) would report it
		// active after its end: only the final one goes out.
		n.queue = slices.DeleteFunc(n.queue, func(q *notifyItem) bool { return !q.final })
		if len(n.queue) == 0 {
			n.queue = nil
			n.mu.Unlock()
			return
		}
	}
	it := n.queue[0]
	if !it.urgent && n.minInterval > 0 && !n.lastSent.IsZero() {
		if wait := n.lastSent.Add(n.minInterval).Sub(now); wait > 0 {
			if n.rate == nil {
				n.rate = n.m.clock.AfterFunc(wait, func() {
					n.mu.Lock()
					n.rate = nil
					n.mu.Unlock()
					n.pump()
				})
			}
			n.mu.Unlock()
			return
		}
	}
	n.queue[0] = nil
	n.queue = n.queue[1:]
	if len(n.queue) == 0 {
		n.queue = nil // let the backing array go
	}
	n.inFlight = true
	n.lastSent = now
	d := n.d
	// RFC 6665 §3.2.1, §4.5.2: the Event of the subscription, with its id.
	hs := []dialog.Header{
		{Name: "Event", Value: eventValue(n.pkg.Name, n.id)},
		{Name: "Subscription-State", Value: n.subscriptionStateLocked(it)},
	}
	n.mu.Unlock()

	req, dst, err := d.NewRequest("NOTIFY", &dialog.RequestOptions{Headers: hs, ContentType: it.ctype, Body: it.body})
	if err == nil {
		_, err = d.Request(req, dst, transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, r transaction.Response) {
			n.notifyDone(it, r)
		}))
	}
	if err != nil {
		// RFC 6665 §4.2.2: a NOTIFY that cannot be sent ends the
		// subscription, as a transport failure would.
		n.finish(err, false)
	}
}

// notifyDone takes the outcome of a NOTIFY transaction (RFC 6665 §4.2.2).
func (n *Notifier) notifyDone(it *notifyItem, r transaction.Response) {
	if r.Err == nil && r.Status < 200 {
		return
	}
	var err error
	switch {
	case r.Err != nil:
		// RFC 6665 §4.2.2: a NOTIFY that fails on Timer F SHOULD remove the
		// subscription; a transport failure likewise.
		err = r.Err
	case r.Status >= 300:
		if notifyEnds(r.Status) {
			err = statusError(r.Msg)
		}
	}
	n.mu.Lock()
	n.inFlight = false
	n.mu.Unlock()
	switch {
	case err != nil:
		n.finish(err, false)
	case it.final:
		// RFC 6665 §4.4.1: the subscription is destroyed once the
		// terminated NOTIFY transaction completes.
		n.finish(it.err, false)
	default:
		n.pump()
	}
}

// notifyEnds reports the responses to a NOTIFY after which RFC 6665 §4.2.2
// says the notifier MUST remove the subscription (404, 405, 410, 416,
// 480-485, 489, 501, 604), and 408, which like Timer F means the
// subscriber is gone.
func notifyEnds(code int) bool {
	return code == 408 || refreshEnds(code)
}

// DialogTerminated implements dialog.Usage: the dialog ended under the
// subscription (a 481, the UA closing).
func (n *Notifier) DialogTerminated(_ *dialog.Dialog, err error) { n.finish(err, true) }

// finish ends n once: it leaves the tables and its dialog, stops its
// timers, drops what is queued and tells the application.
func (n *Notifier) finish(err error, dialogGone bool) {
	n.mu.Lock()
	if n.state == StateTerminated {
		n.mu.Unlock()
		return
	}
	n.state = StateTerminated
	n.err = err
	for _, t := range [...]transport.Timer{n.expiry, n.rate} {
		if t != nil {
			t.Stop()
		}
	}
	n.expiry, n.rate = nil, nil
	n.queue = nil
	d := n.d
	n.mu.Unlock()
	n.m.removeNotifier(n, d)
	if d != nil && !dialogGone {
		d.RemoveUsage(n) // RFC 5057 §2: the dialog ends with its last usage
	}
	close(n.done)
	if cb := n.onTerminated; cb != nil {
		cb(n, err)
	}
}

// abandon ends a Notifier that never became a subscription (its SUBSCRIBE
// was refused): Done closes, without a callback.
func (n *Notifier) abandon(err error) {
	n.mu.Lock()
	n.state, n.err = StateTerminated, err
	n.mu.Unlock()
	close(n.done)
}

// handleSubscribe serves every SUBSCRIBE the UA receives (RFC 6665 §4.2.1).
func (m *Manager) handleSubscribe(r *dialog.Request) {
	if m.isClosed() {
		r.Respond(503, "", nil)
		return
	}
	ev, err := r.Msg.Event()
	if err != nil {
		if r.Msg.Has(sip.HeaderEvent) {
			r.Respond(400, "Bad Event", nil)
			return
		}
		// RFC 6665 §4.2.3: without Event (and without PINT) SHOULD be 489.
		m.badEvent(r)
		return
	}
	p := m.pkg(ev.Type)
	if p == nil {
		// RFC 6665 §4.2.1.1: an event package not understood gets 489.
		m.badEvent(r)
		return
	}
	exp := p.DefaultExpires
	if secs, ok, err := r.Msg.Expires(); err != nil {
		r.Respond(400, "Bad Expires", nil)
		return
	} else if ok {
		// RFC 6665 §3.1.1: without Expires the package's default applies.
		exp = time.Duration(secs) * time.Second
	}
	// RFC 6665 §4.2.1.1: 423 if and only if the interval is greater than
	// zero, smaller than one hour and less than the configured minimum.
	if p.MinExpires > 0 && exp > 0 && exp < time.Hour && exp < p.MinExpires {
		r.Respond(423, "Interval Too Brief", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Min-Expires", Value: secondsUp(p.MinExpires)}}})
		return
	}
	if p.MaxExpires > 0 && exp > p.MaxExpires {
		// RFC 6665 §4.2.1.1: the notifier MAY shorten, MUST NOT lengthen.
		exp = p.MaxExpires
	}
	accept := acceptList(r.Msg)
	if len(accept) > 0 && !overlaps(accept, p.Accept) {
		// RFC 6665 §4.1.2.1: no body type the notifier can send: 406.
		r.Respond(406, "", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Accept", Value: strings.Join(p.Accept, ", ")}}})
		return
	}
	var n *Notifier
	if r.Dialog != nil {
		n = m.findNotifier(r.Dialog, &ev)
	}
	switch {
	case n != nil:
		n.refresh(r, exp)
	case len(r.Msg.ToTag()) > 0 && r.Dialog == nil:
		r.Respond(481, "Subscription Does Not Exist", nil)
	default:
		m.newSubscriber(r, p, &ev, exp, accept)
	}
}

// newSubscriber serves a SUBSCRIBE that creates a subscription (RFC 6665
// §4.2.1.1, §4.2.1.2).
func (m *Manager) newSubscriber(r *dialog.Request, p *Package, ev *sip.Event, exp time.Duration, accept []string) {
	if p.OnSubscribe == nil {
		// This UA is no notifier for the package (RFC 3515 §2.4.4 wants 403
		// for refer: its OnSubscribe says so).
		m.badEvent(r)
		return
	}
	m.mu.Lock()
	err := m.reserveLocked(r.Dialog)
	m.mu.Unlock()
	if err != nil {
		if r.Dialog != nil && errors.Is(err, ErrTooMany) && m.fullDialog(r.Dialog) {
			r.Respond(403, "Too Many Subscriptions in Dialog", nil)
			return
		}
		r.Respond(503, "", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Retry-After", Value: "10"}}})
		return
	}
	n := m.newNotifier(p, string(ev.ID), accept)
	n.expiresAt = m.clock.Now().Add(exp)
	ans := p.OnSubscribe(n, &SubscribeRequest{Msg: r.Msg, Expires: exp})
	if ans.Code >= 300 {
		r.Respond(ans.Code, ans.Reason, &dialog.ResponseOptions{Headers: ans.Headers})
		n.abandon(&StatusError{Method: "SUBSCRIBE", Code: ans.Code, Reason: ans.Reason})
		return
	}
	if ans.Expires > 0 && ans.Expires < exp {
		exp = ans.Expires
	}
	state := ans.State
	if state != StatePending {
		state = StateActive
	}
	if len(ans.Body) > 0 && !acceptable(ans.ContentType, n.accept) {
		m.log.Warn("event: first NOTIFY body not acceptable to the subscriber", "event", p.Name, "type", ans.ContentType)
		r.Respond(500, "Notifier Body Type Not Acceptable", nil)
		n.finish(ErrNotAcceptable, true)
		return
	}
	created := r.Dialog == nil
	d, err := r.CreateDialog()
	if err != nil {
		m.refuseDialog(r, err)
		n.finish(err, true)
		return
	}
	n.mu.Lock()
	if err := m.attachLocked(d, n); err != nil {
		n.mu.Unlock()
		if created {
			d.Terminate(err) // a dialog that got no usage
		}
		if errors.Is(err, ErrExists) || errors.Is(err, ErrTooMany) {
			// RFC 6665 §4.5.2: a notifier may refuse a further subscription
			// in a dialog with 403.
			r.Respond(403, "Subscription Exists in Dialog", nil)
		} else {
			r.Respond(481, "", nil)
		}
		n.finish(err, true)
		return
	}
	// Still under n.mu: the answer's NOTIFY is queued before any the
	// application may send once the Notifier has its dialog.
	n.state, n.ctype, n.body = state, ans.ContentType, append([]byte(nil), ans.Body...)
	if exp > 0 {
		n.setExpiryLocked(exp)
		n.queue = append(n.queue, &notifyItem{state: state, ctype: n.ctype, body: n.body, urgent: true})
	} else {
		// RFC 6665 §4.4.3: a fetch (Expires: 0) gets one NOTIFY, terminated
		// with reason=timeout, carrying the state.
		n.expiresAt = m.clock.Now()
		n.finalLocked(&notifyItem{reason: ReasonTimeout, ctype: n.ctype, body: n.body}, ErrExpired)
	}
	n.mu.Unlock()
	// RFC 6665 §3.1.1: a 2xx MUST carry Expires; §8.3.1: 200, never 202.
	r.Respond(200, "", &dialog.ResponseOptions{Contact: true, Headers: append([]dialog.Header{{Name: "Expires", Value: seconds(exp)}}, ans.Headers...)})
	// RFC 6665 §4.2.1.2: a NOTIFY MUST follow the 2xx immediately.
	n.pump()
}

// fullDialog reports whether d holds Config.MaxPerDialog subscriptions.
func (m *Manager) fullDialog(d *dialog.Dialog) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ds := m.dialogs[d]
	return ds != nil && ds.count() >= m.cfg.MaxPerDialog
}

// refresh serves a SUBSCRIBE for an existing subscription (RFC 6665
// §4.2.1.4): a refresh, or with Expires: 0 an unsubscription.
func (n *Notifier) refresh(r *dialog.Request, exp time.Duration) {
	n.mu.Lock()
	if n.state == StateTerminated || (n.terminating && exp > 0) {
		n.refreshEndingLocked(r)
		return
	}
	if exp == 0 {
		if !n.terminating {
			// RFC 6665 §4.2.1.4: an unsubscription is answered like an
			// expiry: NOTIFY terminated with reason=timeout.
			n.finalLocked(&notifyItem{reason: ReasonTimeout, ctype: n.ctype, body: n.body}, ErrUnsubscribed)
		}
		n.mu.Unlock()
		r.Respond(200, "", &dialog.ResponseOptions{Contact: true, Headers: []dialog.Header{{Name: "Expires", Value: "0"}}})
		n.pump()
		return
	}
	n.mu.Unlock()
	var ans Answer
	if cb := n.pkg.OnSubscribe; cb != nil {
		ans = cb(n, &SubscribeRequest{Msg: r.Msg, Refresh: true, Expires: exp})
		if ans.Code >= 300 {
			// RFC 6665 §4.1.2.2: other than the listed codes, a failed
			// refresh leaves the subscription until its expiry.
			r.Respond(ans.Code, ans.Reason, &dialog.ResponseOptions{Headers: ans.Headers})
			return
		}
		if ans.Expires > 0 && ans.Expires < exp {
			exp = ans.Expires
		}
	}
	n.mu.Lock()
	if n.state == StateTerminated || n.terminating {
		n.refreshEndingLocked(r)
		return
	}
	if ans.State == StateActive || ans.State == StatePending {
		n.state = ans.State
	}
	if ans.ContentType != "" && acceptable(ans.ContentType, n.accept) {
		n.ctype, n.body = ans.ContentType, append([]byte(nil), ans.Body...)
	}
	// RFC 6665 §4.2.1.4: the notifier updates the expiration time.
	n.setExpiryLocked(exp)
	it := &notifyItem{state: n.state, ctype: n.ctype, body: n.body, urgent: true}
	if err := n.enqueueLocked(it); err != nil {
		n.queue = append(n.queue, it) // the answer to a SUBSCRIBE is owed
	}
	n.mu.Unlock()
	r.Respond(200, "", &dialog.ResponseOptions{Contact: true, Headers: append([]dialog.Header{{Name: "Expires", Value: seconds(exp)}}, ans.Headers...)})
	// RFC 6665 §4.2.1.2: a NOTIFY MUST follow the refresh immediately.
	n.pump()
}

// refreshEndingLocked answers a refresh of a subscription that is over or
// ending, and unlocks n.mu. One that ended, expired or was unsubscribed
// does not exist (481, RFC 6665 §4.2.1.4). One whose final NOTIFY the
// application has queued with Terminate still exists until that NOTIFY's
// transaction completes (§4.4.1), and a 481 would make the subscriber
// drop it (§4.1.2.2) and answer the final NOTIFY 481 in turn: a REFER's
// transferor would lose the outcome. So it gets 200 with the time left,
// not extended, and that final NOTIFY, queued or in flight, is the one
// §4.2.1.2 asks for after the 200.
func (n *Notifier) refreshEndingLocked(r *dialog.Request) {
	if n.state == StateTerminated || !errors.Is(n.finalErr, ErrTerminated) {
		n.mu.Unlock()
		r.Respond(481, "Subscription Does Not Exist", nil)
		return
	}
	left := n.expiresAt.Sub(n.m.clock.Now())
	n.mu.Unlock()
	r.Respond(200, "", &dialog.ResponseOptions{Contact: true, Headers: []dialog.Header{{Name: "Expires", Value: seconds(left)}}})
	n.pump()
}

// secondsUp writes d as delta-seconds rounded up, for Min-Expires.
func secondsUp(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
