package event

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Subscription is a subscription this UA holds as subscriber (RFC 6665
// §4.1), and a usage of its dialog (RFC 5057): it follows the state
// diagram of §4.1.2 from StateNotifyWait to StateTerminated.
//
// Refresh. Unless SubscribeOptions.NoRefresh is set, a subscription is
// refreshed by a SUBSCRIBE in its dialog before it expires. RFC 6665
// §4.1.2.2 only says "at any time before a subscription expires" and gives
// no margin; the refresh goes out min(interval/2, 64*T1) early, so that a
// whole non-INVITE transaction (Timer F, 64*T1) fits before expiry.
// Without a successful refresh the subscription ends with ErrExpired 64*T1
// after its expiry, leaving the notifier's final NOTIFY time to arrive.
//
// A Subscription is safe for concurrent use.
type Subscription struct {
	m      *Manager
	pkg    *Package
	id     string
	ev     sip.Event // package and id, for matching NOTIFYs
	opts   SubscribeOptions
	target string   // Request-URI of a Subscribe, for re-subscription
	att    *attempt // the out-of-dialog request that created it, if any

	mu            sync.Mutex
	state         State
	d             *dialog.Dialog
	requested     time.Duration // Expires asked for
	expiresAt     time.Time     // zero until known
	refreshAt     time.Time     // zero: no refresh scheduled
	timerNAt      time.Time     // zero: Timer N not running
	endAt         time.Time     // local expiry: expiresAt + 64*T1
	timer         transport.Timer
	timerAt       time.Time
	gen           uint32 // tells a stale timer callback from the armed one
	notified      bool   // a NOTIFY came since the last SUBSCRIBE was sent
	unsubscribing bool
	retried423    bool
	retriedFail   bool // a failed refresh was tried once more
	isEstablished bool // established is closed
	// noID: the notifier's last NOTIFY had no id although s has one
	// (AcceptMissingID), so its SUBSCRIBEs carry none either.
	noID bool
	// clean: the notifier has nothing more to send for s (it ended it
	// with a terminated NOTIFY, or refused the creating request).
	clean       bool
	term        *Termination
	established chan struct{} // closed by the first active or pending NOTIFY
	done        chan struct{}
}

var _ dialog.Usage = (*Subscription)(nil)
var _ transaction.ClientHandler = (*Subscription)(nil)

// Package returns the event package name.
func (s *Subscription) Package() string { return s.pkg.Name }

// ID returns the Event id parameter, empty for none.
func (s *Subscription) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Rekey changes the Event id the subscription answers to, before any
// NOTIFY has come: the id of an implicit subscription is the CSeq of the
// request that created it (RFC 3515 §2.4.6), and a request answered 401
// or 407 goes again with a new CSeq (RFC 3261 §22.2). A dialog.RetryHandler
// calls it from RetryRequest.
func (s *Subscription) Rekey(id string) {
	s.mu.Lock()
	s.m.mu.Lock()
	s.id = id
	s.ev.ID = nil
	if id != "" {
		s.ev.ID = []byte(id)
	}
	s.m.mu.Unlock()
	s.mu.Unlock()
}

// State returns the subscription's state.
func (s *Subscription) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Dialog returns the subscription's dialog, nil until the 2xx or the first
// NOTIFY has created it.
func (s *Subscription) Dialog() *dialog.Dialog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d
}

// Expires returns when the subscription expires unless refreshed, zero
// while unknown.
func (s *Subscription) Expires() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiresAt
}

// Established is closed when the first NOTIFY with state active or pending
// has arrived.
func (s *Subscription) Established() <-chan struct{} { return s.established }

// Done is closed when the subscription has ended; Termination says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Termination returns why the subscription ended, nil while it lasts.
func (s *Subscription) Termination() *Termination {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term
}

// Err returns why the subscription ended (Termination().Err), nil while it
// lasts.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term == nil {
		return nil
	}
	return s.term.Err
}

// Wait blocks until the subscription is established (nil) or ends first
// (its error), or ctx ends (ctx.Err(); the subscription goes on).
func (s *Subscription) Wait(ctx context.Context) error {
	select {
	case <-s.established:
		return nil
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// matches reports whether a NOTIFY's Event names s (RFC 6665 §8.2.1:
// type and id byte for byte, an id never matching its absence).
func (s *Subscription) matches(ev *sip.Event) bool { return s.ev.Match(ev) }

// matchesLoosely allows a missing id (SubscribeOptions.AcceptMissingID).
func (s *Subscription) matchesLoosely(ev *sip.Event) bool {
	return s.opts.AcceptMissingID && ev.ID == nil && bytes.Equal(ev.Type, s.ev.Type)
}

// subscribeHeaders are the Event, Expires and Accept of a SUBSCRIBE, whose
// Event carries id ("" for none).
func (s *Subscription) subscribeHeaders(id string, expires time.Duration) []dialog.Header {
	// RFC 6665 §3.1.2: exactly one Event; §4.5.2: a refresh carries the
	// same id; §3.1.1: Expires SHOULD be present.
	hs := []dialog.Header{{Name: "Event", Value: eventValue(s.pkg.Name, id)}, {Name: "Expires", Value: seconds(expires)}}
	if len(s.opts.Accept) > 0 {
		hs = append(hs, dialog.Header{Name: "Accept", Value: strings.Join(s.opts.Accept, ", ")})
	}
	return hs
}

// sendSubscribe sends a SUBSCRIBE in the subscription's dialog asking for
// expires, reporting to h, and starts Timer N (RFC 6665 §4.1.2.2).
func (s *Subscription) sendSubscribe(expires time.Duration, h transaction.ClientHandler) error {
	s.mu.Lock()
	d := s.d
	s.notified = false
	s.timerNAt = s.m.clock.Now().Add(s.m.timerN())
	s.armLocked()
	id := s.id
	if s.noID {
		// RFC 6665 §8.2.1: a SUBSCRIBE matches the notifier's subscription
		// only with the same id, or none when it has none: a notifier that
		// left the id out of its NOTIFYs (RFC 3515 §2.4.6 lets the first
		// REFER's do so) would not find one with ours.
		id = ""
	}
	s.mu.Unlock()
	ro := s.opts.RequestOptions
	ro.Headers = append(s.subscribeHeaders(id, expires), ro.Headers...)
	req, dst, err := d.NewRequest("SUBSCRIBE", &ro)
	if err != nil {
		return err
	}
	_, err = d.Request(req, dst, h)
	return err
}

// startTimerN starts Timer N for the request that creates s (RFC 6665
// §4.1.2.4).
func (s *Subscription) startTimerN() {
	s.mu.Lock()
	s.timerNAt = s.m.clock.Now().Add(s.m.timerN())
	s.armLocked()
	s.mu.Unlock()
}

// armLocked arms the one timer of s for the earliest of its deadlines.
func (s *Subscription) armLocked() {
	var next time.Time
	for _, t := range [...]time.Time{s.refreshAt, s.timerNAt, s.endAt} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if s.timer != nil && next.Equal(s.timerAt) {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.timerAt = next
	if next.IsZero() || s.state == StateTerminated {
		return
	}
	s.gen++
	gen := s.gen
	s.timer = s.m.clock.AfterFunc(next.Sub(s.m.clock.Now()), func() { s.fire(gen) })
}

// fire runs the deadlines that have come: Timer N, local expiry, refresh.
func (s *Subscription) fire(gen uint32) {
	s.mu.Lock()
	if gen != s.gen || s.state == StateTerminated {
		s.mu.Unlock()
		return
	}
	s.timer = nil
	now := s.m.clock.Now()
	var term *Termination
	refresh := false
	switch {
	case !s.timerNAt.IsZero() && !now.Before(s.timerNAt):
		// RFC 6665 §4.1.2.2, §4.1.2.4: no NOTIFY within Timer N: the
		// subscription is terminated (or failed, if it never was).
		s.timerNAt = time.Time{}
		term = &Termination{Err: ErrNoNotify}
		if s.unsubscribing {
			term.Err = ErrUnsubscribed
		}
	case !s.endAt.IsZero() && !now.Before(s.endAt):
		term = &Termination{Err: ErrExpired}
		if s.unsubscribing {
			term.Err = ErrUnsubscribed
		}
	case !s.refreshAt.IsZero() && !now.Before(s.refreshAt):
		s.refreshAt = time.Time{}
		refresh = s.d != nil && !s.unsubscribing
	}
	requested := s.requested
	s.armLocked()
	s.mu.Unlock()
	if term != nil {
		s.finish(term, false)
		return
	}
	if refresh {
		if err := s.sendSubscribe(requested, transaction.ClientHandlerFunc(s.refreshResponse)); err != nil {
			s.m.log.Debug("event: refresh not sent", "event", s.pkg.Name, "err", err)
			s.refreshFailed()
		}
	}
}

// applyExpiresLocked takes dur as the time left on the subscription (a
// 2xx's Expires, a NOTIFY's expires parameter) and schedules the refresh.
func (s *Subscription) applyExpiresLocked(dur time.Duration) {
	now := s.m.clock.Now()
	s.expiresAt = now.Add(dur)
	s.endAt = s.expiresAt.Add(s.m.timerN())
	s.refreshAt = time.Time{}
	if !s.opts.NoRefresh && !s.unsubscribing && dur > 0 && s.requested > 0 {
		// RFC 6665 §4.1.2.2 sets no margin; see the Subscription doc.
		s.refreshAt = s.expiresAt.Add(-min(dur/2, s.m.timerN()))
	}
	s.armLocked()
}

// HandleResponse takes the responses to the request that creates the
// subscription: the SUBSCRIBE, or for Expect and ExpectInitial the REFER
// (or other request) the caller sends. A 2xx (202 included, treated as 200
// per RFC 6665 §8.3.1) creates the dialog if no NOTIFY has yet; a failure
// before any NOTIFY ends the subscription with a *StatusError or the
// transaction's error. It implements transaction.ClientHandler.
func (s *Subscription) HandleResponse(_ *transaction.ClientTx, r transaction.Response) {
	switch {
	case r.Err == nil && r.Status < 200:
		return
	case r.Err == nil && r.Status < 300:
		s.success(r.Msg)
		return
	}
	err := r.Err
	if err == nil {
		err = statusError(r.Msg)
	}
	s.mu.Lock()
	notified := s.state == StatePending || s.state == StateActive
	if r.Err == nil && !notified {
		s.clean = true // refused: its notifier made no subscription
	}
	s.mu.Unlock()
	if a := s.att; a != nil {
		// A final failure means no fork accepted (RFC 3261 §16.7: a 2xx is
		// always forwarded): no dialog can come from the request.
		s.m.closeAttempt(a)
	}
	if !notified {
		// RFC 6665 §4.1.2: a failure response in notify_wait ends it.
		s.finish(&Termination{Err: err}, false)
	}
}

// success handles a 2xx to the creating request.
func (s *Subscription) success(resp *sip.Message) {
	s.mu.Lock()
	if s.state == StateTerminated {
		s.mu.Unlock()
		return
	}
	if a := s.att; a != nil && s.d == nil && len(resp.ToTag()) > 0 {
		// The 2xx comes before any NOTIFY: it creates the dialog.
		d, err := a.in.DialogFromResponse(resp)
		if err == nil {
			err = s.m.bindLocked(s, d)
		}
		if err != nil {
			s.mu.Unlock()
			s.m.log.Debug("event: 2xx creates no dialog", "err", err)
			s.finish(&Termination{Err: err}, false)
			return
		}
		if !a.forking {
			defer s.m.closeAttempt(a) // RFC 6665 §5.4.9: the first dialog wins
		}
	}
	s.expiresFromResponseLocked(resp)
	s.mu.Unlock()
}

// expiresFromResponseLocked applies the Expires of a 2xx to SUBSCRIBE,
// unless a NOTIFY came first: its expires is authoritative (RFC 6665
// §4.1.3).
func (s *Subscription) expiresFromResponseLocked(resp *sip.Message) {
	secs, ok, err := resp.Expires()
	if !ok || err != nil || s.notified || s.state == StateTerminated {
		return
	}
	dur := time.Duration(secs) * time.Second
	if dur > s.requested {
		dur = s.requested // RFC 6665 §3.1.1: MUST NOT be longer
	}
	s.applyExpiresLocked(dur)
}

// refreshResponse handles the responses to a refresh or unsubscribe.
func (s *Subscription) refreshResponse(_ *transaction.ClientTx, r transaction.Response) {
	if r.Err == nil && r.Status < 200 {
		return
	}
	if r.Err == nil && r.Status < 300 {
		s.mu.Lock()
		if r.Status == 204 {
			// RFC 6665 §4.1.2.2: a success that says no NOTIFY will come
			// (RFC 5839) MUST cancel Timer N.
			s.timerNAt = time.Time{}
			s.armLocked()
		}
		if !s.unsubscribing {
			s.retriedFail = false
			s.expiresFromResponseLocked(r.Msg)
		}
		if r.Status == 204 && s.expiresAt.IsZero() {
			// No NOTIFY yet, none to come, and no Expires: the duration
			// asked for is the only deadline left.
			s.applyExpiresLocked(s.requested)
			s.armLocked()
		}
		s.mu.Unlock()
		return
	}
	err := r.Err
	code := r.Status
	if err == nil {
		err = statusError(r.Msg)
	}
	s.mu.Lock()
	if s.state == StateTerminated {
		s.mu.Unlock()
		return
	}
	unsubscribing := s.unsubscribing
	retry := false
	if code == 423 && !unsubscribing && !s.retried423 {
		// RFC 3261 §10.2.8 by analogy: ask again with the Min-Expires.
		if secs, ok, _ := r.Msg.MinExpires(); ok && time.Duration(secs)*time.Second > s.requested {
			s.requested = time.Duration(secs) * time.Second
			s.retried423, retry = true, true
		}
	}
	requested := s.requested
	s.mu.Unlock()
	switch {
	case unsubscribing:
		s.finish(&Termination{Err: errors.Join(ErrUnsubscribed, err)}, false)
	case refreshEnds(code) || code == 403 && s.pkg.ImplicitOnly:
		// RFC 6665 §4.1.2.2: these responses to a refresh MUST end it; and
		// RFC 3515 §2.4.4's 403 for a refer subscription that does not
		// exist (Package.ImplicitOnly).
		s.finish(&Termination{Err: err}, false)
	case retry:
		if e := s.sendSubscribe(requested, transaction.ClientHandlerFunc(s.refreshResponse)); e != nil {
			s.refreshFailed()
		}
	default:
		// RFC 6665 §4.1.2.2: other failures leave the subscription valid
		// until its last known expiry.
		s.refreshFailed()
	}
}

// refreshFailed stops Timer N after a refresh that brings no NOTIFY, and
// tries once more halfway to expiry.
func (s *Subscription) refreshFailed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Before any NOTIFY, Timer N goes on: a subscription with no NOTIFY
	// within it has failed (RFC 6665 §4.1.2.4), and it may be the only
	// deadline (no Expires known yet).
	if s.isEstablished {
		s.timerNAt = time.Time{}
	}
	if left := s.expiresAt.Sub(s.m.clock.Now()); !s.opts.NoRefresh && !s.retriedFail && left > 4*s.m.cfg.T1 {
		s.retriedFail = true
		s.refreshAt = s.m.clock.Now().Add(left / 2)
	}
	s.armLocked()
}

// refreshEnds reports the responses to a refresh after which RFC 6665
// §4.1.2.2 says the subscriber MUST consider the subscription terminated:
// 404, 405, 410, 416, 480-485, 489, 501 and 604.
func refreshEnds(code int) bool {
	switch code {
	case 404, 405, 410, 416, 489, 501, 604:
		return true
	}
	return code >= 480 && code <= 485
}

func statusError(m *sip.Message) *StatusError {
	cseq, _ := m.CSeq()
	e := &StatusError{Method: string(cseq.MethodName), Code: m.StatusCode(), Reason: string(m.Reason())}
	if secs, ok, err := m.RetryAfter(); ok && err == nil {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	if secs, ok, err := m.MinExpires(); ok && err == nil {
		e.MinExpires = time.Duration(secs) * time.Second
	}
	return e
}

// handleNotify processes a NOTIFY that matched s (RFC 6665 §4.1.3).
func (s *Subscription) handleNotify(r *dialog.Request, ev *sip.Event, ss *sip.SubscriptionState) {
	n := &Notification{Msg: r.Msg}
	if body := r.Msg.Body(); len(body) > 0 {
		n.Body = bytes.Clone(body)
		n.ContentType = string(r.Msg.Get(sip.HeaderContentType))
	}
	var term *Termination
	first := false
	s.mu.Lock()
	if s.state == StateTerminated {
		s.mu.Unlock()
		r.Respond(481, "Subscription Does Not Exist", nil)
		return
	}
	s.notified = true
	s.noID = s.id != "" && ev.ID == nil
	if !s.unsubscribing || ss.Is("terminated") {
		// An unsubscription waits for the terminated NOTIFY (§4.4.1).
		s.timerNAt = time.Time{}
	}
	switch {
	case ss.Is("terminated"):
		// RFC 6665 §4.1.3: the subscriber MUST consider the subscription
		// terminated, and MUST ignore an expires parameter.
		n.State = StateTerminated
		s.clean = true
		n.Reason = parseReason(ss.Reason)
		n.RetryAfter, n.HasRetryAfter = time.Duration(ss.RetryAfter)*time.Second, ss.HasRetryAfter
		term = &Termination{Err: ErrTerminated, Reason: n.Reason, RetryAfter: n.RetryAfter, HasRetryAfter: n.HasRetryAfter}
		if s.unsubscribing {
			term.Err = ErrUnsubscribed
		} else {
			term.Retry = decideRetry(n.Reason, n.RetryAfter, n.HasRetryAfter, s.m.cfg.ProbationDelay)
		}
	case ss.Is("active") || ss.Is("pending"):
		n.State = StateActive
		if ss.Is("pending") {
			n.State = StatePending
		}
		first = !s.isEstablished
		s.isEstablished = true
		if !s.unsubscribing {
			s.state = n.State
		}
		if ss.HasExpires {
			// RFC 6665 §4.1.3: expires is the authoritative duration.
			n.Expires, n.HasExpires = time.Duration(ss.Expires)*time.Second, true
			s.applyExpiresLocked(n.Expires)
		} else if s.expiresAt.IsZero() {
			// RFC 6665 §4.2.2 warns that RFC 3265 notifiers may omit it.
			s.applyExpiresLocked(s.requested)
		}
	default:
		// An extension state: the subscription stays as it was; it has a
		// NOTIFY, so Timer N no longer bounds it, and it must not be left
		// without an expiry.
		n.State = s.state
		if s.expiresAt.IsZero() {
			s.applyExpiresLocked(s.requested)
		}
	}
	if p := s.opts.ProbeAfter; p > 0 && term == nil && !s.unsubscribing && s.d != nil {
		// SubscribeOptions.ProbeAfter: refresh if no NOTIFY comes for p.
		if at := s.m.clock.Now().Add(p); s.refreshAt.IsZero() || at.Before(s.refreshAt) {
			s.refreshAt = at
		}
	}
	s.armLocked()
	s.mu.Unlock()

	// The application hears of the NOTIFY before the 200 goes: the 200 may
	// release the next NOTIFY, which a synchronous transport delivers
	// within Respond, and callbacks must keep the order of the NOTIFYs.
	if first {
		close(s.established)
	}
	if cb := s.opts.OnNotify; cb != nil {
		cb(s, n)
	}
	// RFC 6665 §4.1.3: an acceptable NOTIFY gets 200; §4.4.1: the
	// subscription ends once the terminating NOTIFY transaction completes.
	r.Respond(200, "", nil)
	if term != nil {
		s.finish(term, false)
	}
}

// Unsubscribe ends the subscription with a SUBSCRIBE carrying Expires: 0
// (RFC 6665 §4.1.2.3) and waits for the final NOTIFY: the subscription is
// terminated once that NOTIFY transaction completes (§4.4.1), or Timer N
// after the SUBSCRIBE if none comes. A subscription that has no dialog yet
// is closed locally (its notifier's NOTIFY will get 481). If ctx ends
// first the subscription is closed locally and ctx.Err() returned.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.state == StateTerminated:
		s.mu.Unlock()
		return ErrState
	case s.d == nil:
		s.mu.Unlock()
		s.finish(&Termination{Err: ErrUnsubscribed}, false)
		return nil
	}
	send := !s.unsubscribing
	s.unsubscribing = true
	s.refreshAt = time.Time{}
	s.mu.Unlock()
	if a := s.att; a != nil {
		s.m.closeAttempt(a) // no more forks wanted
	}
	if send {
		if err := s.sendSubscribe(0, transaction.ClientHandlerFunc(s.refreshResponse)); err != nil {
			s.finish(&Termination{Err: errors.Join(ErrUnsubscribed, err)}, false)
			return err
		}
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.finish(&Termination{Err: ctx.Err()}, false)
		return ctx.Err()
	}
}

// Refresh sends a refresh SUBSCRIBE now (RFC 6665 §4.1.2.2), for
// subscriptions with NoRefresh or to ask for the current state; it returns
// once the SUBSCRIBE has its final response (or ctx ends), with a
// *StatusError or transaction error for a failure. The refreshing NOTIFY
// arrives through OnNotify.
func (s *Subscription) Refresh(ctx context.Context) error {
	s.mu.Lock()
	if s.state == StateTerminated || s.d == nil || s.unsubscribing {
		s.mu.Unlock()
		return ErrState
	}
	s.refreshAt = time.Time{}
	requested := s.requested
	s.mu.Unlock()
	done := make(chan error, 1)
	err := s.sendSubscribe(requested, transaction.ClientHandlerFunc(func(tx *transaction.ClientTx, r transaction.Response) {
		s.refreshResponse(tx, r)
		switch {
		case r.Err != nil:
			done <- r.Err
		case r.Status >= 300:
			done <- statusError(r.Msg)
		case r.Status >= 200:
			done <- nil
		}
	}))
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the subscription at once without telling the notifier: a
// later NOTIFY for it gets 481, which makes the notifier remove it (RFC
// 6665 §4.1.3, §4.2.2). Use it when the request that was to create an
// implicit subscription failed or was abandoned.
func (s *Subscription) Close() { s.finish(&Termination{Err: ErrClosed}, false) }

// DialogTerminated implements dialog.Usage: the dialog ended under the
// subscription (a 481, the UA closing).
func (s *Subscription) DialogTerminated(_ *dialog.Dialog, err error) {
	s.finish(&Termination{Err: err}, true)
}

// Resubscribe starts a new subscription like s, to the same target with a
// fresh Call-ID and From tag (RFC 6665 §4.1.2.2, §4.4.2: a new dialog).
// Only for subscriptions made by Subscribe.
func (s *Subscription) Resubscribe() (*Subscription, error) {
	if s.target == "" {
		return nil, ErrState
	}
	o := s.opts
	return s.m.Subscribe(s.target, &o)
}

// finish ends s once: it leaves the tables and its dialog (unless the
// dialog is already gone), stops its timer and tells the application.
func (s *Subscription) finish(t *Termination, dialogGone bool) {
	s.mu.Lock()
	if s.state == StateTerminated {
		s.mu.Unlock()
		return
	}
	s.state = StateTerminated
	s.term = t
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.gen++
	d := s.d
	// A subscription that could take NOTIFYs without id, and ended while
	// its notifier may still send some, leaves its dialog strict (see
	// Manager.findSub).
	strict := s.opts.AcceptMissingID && !s.clean && !dialogGone
	s.m.mu.Lock()
	s.m.removeSubLocked(s, d, strict)
	s.m.mu.Unlock()
	s.mu.Unlock()

	if a := s.att; a != nil && (!a.forking || !errors.Is(t.Err, ErrTerminated)) {
		// Forks may still come for a subscription its notifier ended, but
		// not for one that failed or that we ended (RFC 6665 §4.1.2.4).
		s.m.closeAttempt(a)
	}
	if d != nil && !dialogGone {
		// RFC 5057 §2, RFC 6665 §4.4.1: the dialog ends with its last usage.
		d.RemoveUsage(s)
	}
	close(s.done)
	if cb := s.opts.OnTerminated; cb != nil {
		cb(s, t)
	}
	if s.opts.AutoResubscribe && s.target != "" && !s.opts.Poll && t.Retry.Allowed {
		s.m.scheduleResubscribe(s, t.Retry.After)
	}
}

// scheduleResubscribe makes a new subscription like old after wait.
func (m *Manager) scheduleResubscribe(old *Subscription, wait time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.retries[old] = m.clock.AfterFunc(wait, func() {
		m.mu.Lock()
		_, ok := m.retries[old]
		delete(m.retries, old)
		m.mu.Unlock()
		if !ok {
			return
		}
		s, err := old.Resubscribe()
		if err != nil {
			m.log.Debug("event: re-subscription failed", "event", old.pkg.Name, "err", err)
			return
		}
		if cb := old.opts.OnResubscribe; cb != nil {
			cb(old, s)
		}
	})
}
