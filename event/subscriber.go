package event

import (
	"errors"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// SubscribeOptions describes a subscription this UA holds as subscriber.
// Package is required; every other field has a default.
type SubscribeOptions struct {
	// InitialOptions holds From, To and Call-ID of a SUBSCRIBE outside a
	// dialog, and header fields and a body (a filter) for every SUBSCRIBE
	// of the subscription. Event, Expires and Accept are written by the
	// Manager.
	dialog.InitialOptions
	// Package is the event package, registered with the Manager.
	Package string
	// ID is the Event id parameter (RFC 6665 §4.5.2), empty for none. A
	// refresh carries the same (§4.5.2: MUST).
	ID string
	// Expires is the duration asked for; default the package's
	// DefaultExpires.
	Expires time.Duration
	// Poll asks for the current state once: a SUBSCRIBE with Expires: 0,
	// answered by one terminated NOTIFY (RFC 6665 §4.4.3).
	Poll bool
	// Accept lists the body types accepted in NOTIFYs (RFC 6665 §3.1.3);
	// default the package's Accept.
	Accept []string
	// NoRefresh stops the automatic refresh before expiry (see Subscription).
	NoRefresh bool
	// ProbeAfter, when positive, refreshes the subscription once no NOTIFY
	// has come for this long, whatever its expiry (RFC 6665 §4.1.2.2: a
	// refresh may go at any time before expiry). It bounds how long a
	// subscriber can go on believing in a subscription that its notifier
	// ended without a word, as §4.2.2 lets it do when a NOTIFY fails (a
	// 408 from a proxy that lost the 200, Timer F): the refresh gets 481
	// (or 403 for Package.ImplicitOnly), which ends the subscription at
	// once; a notifier that still holds it answers with its current state;
	// one that holds it but whose NOTIFYs are lost lets Timer N end it. So
	// the subscriber learns within ProbeAfter + 64*T1 of the last NOTIFY,
	// instead of at expiry.
	ProbeAfter time.Duration
	// AutoResubscribe makes a new subscription, with a fresh Call-ID and
	// From tag (RFC 6665 §4.1.2.2), when a NOTIFY terminates this one with
	// a reason that allows it (Termination.Retry), after the advised wait.
	// Only for subscriptions made by Subscribe. The new one reports to the
	// same callbacks and to OnResubscribe.
	AutoResubscribe bool
	// AcceptMissingID also matches NOTIFYs whose Event has no id parameter
	// when ID is set: RFC 3515 §2.4.6 lets the notifier of the first REFER
	// in a dialog omit it. RFC 6665 §8.2.1 alone would answer them 481.
	// Such a NOTIFY goes to the oldest subscription of the package in the
	// dialog; once one that took them has ended other than by its
	// notifier's terminated NOTIFY (which may then still come, and must
	// not pass for a later REFER's), the dialog takes none for the
	// package. After a NOTIFY without id, refreshes and the
	// unsubscribe carry no id either (RFC 6665 §8.2.1: they must match the
	// notifier's subscription).
	AcceptMissingID bool

	// OnNotify is called for each NOTIFY accepted, in order, just before
	// its 200 is sent. It must not block (RFC 6665 §4.1.3: subscribers
	// MUST NOT wait for a user before answering).
	OnNotify func(s *Subscription, n *Notification)
	// OnTerminated is called once when the subscription ends.
	OnTerminated func(s *Subscription, t *Termination)
	// OnFork is called when a NOTIFY from another fork of the SUBSCRIBE
	// creates a further subscription (RFC 6665 §4.1.4; only for packages
	// with Forking), before that NOTIFY is answered. Returning false ends
	// it with a 481 to the NOTIFY, which makes that notifier drop it
	// (§4.2.2). Nil keeps every fork. The fork shares these options.
	OnFork func(fork *Subscription) bool
	// OnResubscribe is called when AutoResubscribe has replaced old.
	OnResubscribe func(old, new *Subscription)
}

// attemptKey identifies a dialog-forming request of ours: its Call-ID and
// From tag.
type attemptKey struct{ callID, localTag string }

// attempt is an out-of-dialog request (SUBSCRIBE, or a REFER through
// ExpectInitial) whose NOTIFYs may create dialogs: the first for the
// subscription it was made for, the others forks (RFC 6665 §4.1.2.4).
type attempt struct {
	in      *dialog.Initial
	key     attemptKey
	first   *Subscription
	forking bool
	timer   transport.Timer // Timer N, ending forks; guarded by Manager.mu
	closed  bool            // guarded by Manager.mu
}

// prepare checks o and returns its package.
func (m *Manager) prepare(o *SubscribeOptions) (*Package, error) {
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
	return p, nil
}

// Subscribe sends a SUBSCRIBE outside any dialog to target (a SIP URI) and
// returns the subscription at once, in StateNotifyWait; Wait tells when it
// is established. The dialog is created by the 2xx or by the first NOTIFY,
// whichever comes first (RFC 6665 §4.1.2.4: a NOTIFY may precede the 2xx).
func (m *Manager) Subscribe(target string, o *SubscribeOptions) (*Subscription, error) {
	p, err := m.prepare(o)
	if err != nil {
		return nil, err
	}
	s := m.newSubscription(p, o)
	s.target = target
	io := o.InitialOptions
	io.Headers = append(s.subscribeHeaders(s.id, s.requested), o.Headers...)
	in, err := m.ua.NewInitial("SUBSCRIBE", target, &io)
	if err != nil {
		return nil, err
	}
	if err := m.startAttempt(s, in); err != nil {
		return nil, err
	}
	if _, err := in.Send(s); err != nil {
		s.finish(&Termination{Err: err}, false)
		return nil, err
	}
	return s, nil
}

// SubscribeDialog sends a SUBSCRIBE for a new subscription inside d, an
// existing dialog such as a call's (RFC 6665 §4.5.2: dialog sharing; a
// NOTIFY in d then "merely creates a new subscription"). The subscription
// is a usage of d (RFC 5057): ending it ends d only if it is the last. A
// dialog whose remote target is a GRUU may not be reused (ErrGRUU).
func (m *Manager) SubscribeDialog(d *dialog.Dialog, o *SubscribeOptions) (*Subscription, error) {
	s, err := m.expect(d, o)
	if err != nil {
		return nil, err
	}
	if err := s.sendSubscribe(s.requested, s); err != nil {
		s.finish(&Termination{Err: err}, false)
		return nil, err
	}
	return s, nil
}

// Expect creates a subscription in d without sending a SUBSCRIBE: the
// subscriber side of an implicit subscription, such as the one a REFER
// creates (RFC 3515 §2.4.4). Call it before sending that request, then
// pass the returned Subscription as the request's transaction handler (or
// call its HandleResponse from yours): a failure response ends it. NOTIFYs
// in d whose Event matches o.Package and o.ID belong to it. Timer N runs
// from now (RFC 6665 §4.1.2.4). As for SubscribeDialog, d's remote target
// may not be a GRUU (RFC 6665 §4.5.2 names REFER explicitly).
func (m *Manager) Expect(d *dialog.Dialog, o *SubscribeOptions) (*Subscription, error) {
	return m.expect(d, o)
}

func (m *Manager) expect(d *dialog.Dialog, o *SubscribeOptions) (*Subscription, error) {
	p, err := m.prepare(o)
	if err != nil {
		return nil, err
	}
	if isGRUU(d.RemoteTarget()) {
		// RFC 6665 §4.5.2: subscribers MUST NOT attempt to reuse dialogs
		// whose remote target is a GRUU.
		return nil, ErrGRUU
	}
	s := m.newSubscription(p, o)
	s.d = d
	m.mu.Lock()
	if err := m.reserveLocked(d); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	ds := m.dialogs[d]
	if ds != nil {
		for _, x := range ds.subs {
			// RFC 6665 §4.5.2: the id tells subscriptions in a dialog apart.
			if x.pkg == p && (x.id == s.id || !p.MultiplePerDialog) {
				m.mu.Unlock()
				return nil, ErrExists
			}
		}
	}
	if err := d.AddUsage(s); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	ds = m.setLocked(d)
	ds.subs = append(ds.subs, s)
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	s.startTimerN()
	return s, nil
}

// ExpectInitial creates a subscription for NOTIFYs answering in, a
// dialog-forming request of ours that is not a SUBSCRIBE: the subscriber
// side of the implicit subscription of a REFER sent outside a dialog (RFC
// 3515 §2.4.4, RFC 7647 §4). Call it before sending in, and pass the
// Subscription as in's transaction handler (or call its HandleResponse from
// yours). A NOTIFY that comes before the 2xx creates the dialog, as for a
// SUBSCRIBE; so does the 2xx. The Manager closes in when no more dialogs
// may come from it: when the first is created, or for a package with
// Forking when Timer N fires.
func (m *Manager) ExpectInitial(in *dialog.Initial, o *SubscribeOptions) (*Subscription, error) {
	p, err := m.prepare(o)
	if err != nil {
		return nil, err
	}
	s := m.newSubscription(p, o)
	if err := m.startAttempt(s, in); err != nil {
		return nil, err
	}
	return s, nil
}

// isGRUU reports whether uri carries the "gr" parameter of a GRUU (RFC
// 5627 §3.1, as RFC 6665 §4.5.1 says to check).
func isGRUU(uri string) bool {
	var u sip.URI
	return u.Parse([]byte(uri)) == nil && u.HasParam("gr")
}

// startAttempt registers the attempt of in for its first subscription s
// and starts Timer N.
func (m *Manager) startAttempt(s *Subscription, in *dialog.Initial) error {
	a := &attempt{in: in, key: attemptKey{in.CallID(), in.LocalTag()}, first: s, forking: s.pkg.Forking}
	s.att = a
	m.mu.Lock()
	if err := m.reserveLocked(nil); err != nil {
		m.mu.Unlock()
		in.Close()
		return err
	}
	m.attempts[a.key] = a
	m.subs[s] = struct{}{}
	if a.forking {
		// RFC 6665 §4.1.2.4: forks may create subscriptions until Timer N
		// expires; after it, such NOTIFYs SHOULD get 481.
		a.timer = m.clock.AfterFunc(m.timerN(), func() { m.closeAttempt(a) })
	}
	m.mu.Unlock()
	s.startTimerN()
	return nil
}

// closeAttempt stops a's forks: later NOTIFYs with its tag get 481 from
// the UA.
func (m *Manager) closeAttempt(a *attempt) {
	m.mu.Lock()
	if a.closed {
		m.mu.Unlock()
		return
	}
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
	if m.attempts[a.key] == a {
		delete(m.attempts, a.key)
	}
	m.mu.Unlock()
	a.in.Close()
}

func (m *Manager) findAttempt(callID, localTag []byte) *attempt {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.attempts[attemptKey{string(callID), string(localTag)}]
	if a == nil || a.closed {
		return nil
	}
	return a
}

// bindLocked makes d the dialog of s, a subscription made by an attempt
// that had none yet. s.mu is held.
func (m *Manager) bindLocked(s *Subscription, d *dialog.Dialog) error {
	if err := d.AddUsage(s); err != nil {
		return err
	}
	s.d = d
	m.mu.Lock()
	ds := m.setLocked(d)
	ds.subs = append(ds.subs, s)
	m.mu.Unlock()
	return nil
}

// handleNotify serves every NOTIFY the UA receives (RFC 6665 §4.1.3).
func (m *Manager) handleNotify(r *dialog.Request) {
	if m.isClosed() {
		r.Respond(481, "", nil)
		return
	}
	ev, err := r.Msg.Event()
	if err != nil {
		// RFC 6665 §3.2.1: a NOTIFY MUST carry exactly one Event.
		r.Respond(400, "Missing or Bad Event", nil)
		return
	}
	if m.pkg(ev.Type) == nil {
		// RFC 6665 §4.1.3: an unsupported package gets 489.
		m.badEvent(r)
		return
	}
	ss, err := r.Msg.SubscriptionState()
	if err != nil {
		// RFC 6665 §4.1.3: NOTIFY requests MUST contain Subscription-State.
		r.Respond(400, "Missing or Bad Subscription-State", nil)
		return
	}
	switch {
	case r.Dialog != nil:
		// RFC 6665 §4.1.3: a NOTIFY in a dialog matches a subscription of
		// that dialog with a matching Event.
		if s := m.findSub(r.Dialog, &ev); s != nil {
			s.handleNotify(r, &ev, &ss)
			return
		}
	case r.Initial != nil:
		if m.notifyInitial(r, &ev, &ss) {
			return
		}
		// The 2xx to the SUBSCRIBE, received meanwhile on another
		// connection or reader, has made the dialog since the UA routed
		// this NOTIFY to the attempt (RFC 6665 §4.1.2.4: NOTIFY and 2xx
		// race). The NOTIFY belongs to that dialog.
		id := dialog.ID{CallID: string(r.Msg.CallID()), LocalTag: string(r.Msg.ToTag()), RemoteTag: string(r.Msg.FromTag())}
		if d := m.ua.FindDialog(id); d != nil {
			if s := m.findSub(d, &ev); s != nil {
				r.Dialog = d
				s.handleNotify(r, &ev, &ss)
				return
			}
		}
	}
	// RFC 6665 §4.1.3: a NOTIFY matching no subscription MUST get 481.
	r.Respond(481, "Subscription Does Not Exist", nil)
}

// notifyInitial serves a NOTIFY that creates a dialog from one of our
// open attempts (RFC 6665 §4.1.2.4, §4.4.1): the first subscription's if it
// has none yet, else a fork's. It reports false for a NOTIFY that gets 481.
func (m *Manager) notifyInitial(r *dialog.Request, ev *sip.Event, ss *sip.SubscriptionState) bool {
	a := m.findAttempt(r.Msg.CallID(), r.Msg.ToTag())
	// RFC 6665 §4.4.1: it matches if Call-ID, tag and Event match.
	if a == nil {
		return false
	}
	a.first.mu.Lock() // Rekey may change its id
	match := a.first.matches(ev) || a.first.matchesLoosely(ev)
	a.first.mu.Unlock()
	if !match {
		return false
	}
	s := a.first
	s.mu.Lock()
	if s.d == nil && s.state != StateTerminated {
		d, err := r.Initial.DialogFromRequest(r.Msg, r.Remote)
		if err == nil {
			err = m.bindLocked(s, d)
		}
		s.mu.Unlock()
		if err != nil {
			m.refuseDialog(r, err)
			return true
		}
		if !a.forking {
			// RFC 6665 §5.4.9: without forking the first dialog wins.
			m.closeAttempt(a)
		}
		s.handleNotify(r, ev, ss)
		return true
	}
	s.mu.Unlock()
	if !a.forking {
		return false
	}
	return m.fork(r, a, ev, ss)
}

// fork creates the subscription of a NOTIFY from another notifier reached
// by a forked SUBSCRIBE (RFC 6665 §4.1.4): its own dialog and state.
func (m *Manager) fork(r *dialog.Request, a *attempt, ev *sip.Event, ss *sip.SubscriptionState) bool {
	first := a.first
	f := m.newSubscription(first.pkg, &first.opts)
	f.target = first.target
	f.requested = first.requested
	m.mu.Lock()
	err := m.reserveLocked(nil)
	if err == nil {
		m.subs[f] = struct{}{}
	}
	m.mu.Unlock()
	if err != nil {
		r.Respond(503, "", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Retry-After", Value: "10"}}})
		return true
	}
	d, err := r.Initial.DialogFromRequest(r.Msg, r.Remote)
	if err == nil {
		f.mu.Lock()
		err = m.bindLocked(f, d)
		f.mu.Unlock()
	}
	if err != nil {
		m.mu.Lock()
		delete(m.subs, f)
		m.mu.Unlock()
		m.refuseDialog(r, err)
		return true
	}
	if keep := first.opts.OnFork; keep != nil && !keep(f) {
		// Refused: the application hears nothing more of it.
		f.opts.OnTerminated, f.opts.AutoResubscribe = nil, false
		f.finish(&Termination{Err: ErrClosed}, false)
		return false
	}
	f.handleNotify(r, ev, ss)
	return true
}

// refuseDialog answers a NOTIFY whose dialog could not be made.
func (m *Manager) refuseDialog(r *dialog.Request, err error) {
	switch {
	case errors.Is(err, dialog.ErrTooManyDialogs):
		r.Respond(503, "Too Many Dialogs", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Retry-After", Value: "10"}}})
	case errors.Is(err, dialog.ErrTerminated):
		r.Respond(481, "", nil)
	default:
		// RFC 3261 §8.1.1.8: a target refresh request needs a Contact.
		r.Respond(400, "Missing or Bad Contact", nil)
	}
}

// newSubscription makes a subscription of package p in StateNotifyWait.
func (m *Manager) newSubscription(p *Package, o *SubscribeOptions) *Subscription {
	s := &Subscription{
		m:           m,
		pkg:         p,
		id:          o.ID,
		ev:          eventOf(p.Name, o.ID),
		opts:        *o,
		state:       StateNotifyWait,
		established: make(chan struct{}),
		done:        make(chan struct{}),
	}
	s.opts.CallID = "" // a re-subscription needs a fresh one (RFC 6665 §4.1.2.2)
	if s.opts.Accept == nil {
		s.opts.Accept = p.Accept
	}
	s.requested = o.Expires
	if s.requested <= 0 {
		s.requested = p.DefaultExpires
	}
	if o.Poll {
		s.requested = 0
	}
	return s
}
