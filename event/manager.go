package event

import (
	"bytes"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/internal/ratelog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Defaults of the Config fields, and DefaultExpires of Package.
const (
	DefaultT1                 = 500 * time.Millisecond
	DefaultMaxSubscriptions   = 100_000
	DefaultMaxPerDialog       = 16
	DefaultMaxPendingNotifies = 32
	DefaultProbationDelay     = time.Minute
	DefaultExpires            = time.Hour
)

// Config configures a Manager. The zero value is usable: every field has a
// documented default.
type Config struct {
	// T1 is the RFC 3261 round-trip estimate; Timer N is 64*T1 (RFC 6665
	// §4.1.2.4). Default: the UA's (dialog.UA.T1).
	T1 time.Duration
	// MaxSubscriptions bounds the subscriptions held at once, both roles
	// together. A SUBSCRIBE over it gets 503 with Retry-After; creating one
	// locally fails with ErrTooMany. Default DefaultMaxSubscriptions.
	MaxSubscriptions int
	// MaxPerDialog bounds the subscriptions sharing one dialog (RFC 6665
	// §4.5.2). A SUBSCRIBE over it gets 403; creating one locally fails
	// with ErrTooMany. Default DefaultMaxPerDialog.
	MaxPerDialog int
	// MaxPendingNotifies bounds the NOTIFYs a Notifier queues behind the
	// one in flight; Notifier.Notify fails with ErrQueueFull beyond it.
	// The final NOTIFY is always queued. Default DefaultMaxPendingNotifies.
	MaxPendingNotifies int
	// ProbationDelay is the wait Termination.Retry advises after
	// "probation" without retry-after (RFC 6665 §4.1.3: "at some later
	// time", no figure given). Default DefaultProbationDelay (1 minute).
	ProbationDelay time.Duration
}

// Manager is the SIP events framework of one UA: it registers event
// packages, holds the subscriptions of both roles, and answers every
// SUBSCRIBE and NOTIFY the UA receives (it is the UA's Handler for them).
// Create one per UA with New. A Manager is safe for concurrent use.
type Manager struct {
	ua    *dialog.UA
	cfg   Config
	clock transport.Clock
	log   *slog.Logger

	// Lock order: a Subscription's or Notifier's mutex may be held while
	// taking mu, never the reverse; no lock is held while sending or
	// calling the application.
	mu        sync.Mutex
	closed    bool
	pkgs      map[string]*Package
	notifying []string // packages with OnSubscribe, for Allow-Events
	attempts  map[attemptKey]*attempt
	dialogs   map[*dialog.Dialog]*dialogSet
	subs      map[*Subscription]struct{}
	notifiers map[*Notifier]struct{}
	retries   map[*Subscription]transport.Timer // automatic re-subscriptions
	sweepAt   int                               // len(dialogs) that triggers sweepLocked

	refused    atomic.Uint64 // subscriptions refused for a limit
	refuseWarn ratelog.Limiter
}

// dialogSet is what one dialog carries of this package's usages.
type dialogSet struct {
	subs      []*Subscription
	notifiers []*Notifier
	// strict lists the packages whose NOTIFYs without id this dialog no
	// longer credits to any subscription (see findSub). It outlives the
	// usages: an entry with no usage left is kept for it until its dialog
	// has ended (sweepLocked).
	strict []*Package
}

// isStrict reports whether NOTIFYs of package typ without id are refused.
func (ds *dialogSet) isStrict(typ []byte) bool {
	for _, p := range ds.strict {
		if p.Name == string(typ) {
			return true
		}
	}
	return false
}

// keep reports whether the entry must stay in Manager.dialogs.
func (ds *dialogSet) keep() bool { return ds.count() > 0 || len(ds.strict) > 0 }

func (ds *dialogSet) count() int { return len(ds.subs) + len(ds.notifiers) }

// New returns the Manager of ua and routes the UA's SUBSCRIBE and NOTIFY
// requests to it. Close it before the UA.
func New(ua *dialog.UA, cfg Config) *Manager {
	if cfg.T1 <= 0 {
		cfg.T1 = ua.T1()
	}
	if cfg.T1 <= 0 {
		cfg.T1 = DefaultT1
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if cfg.MaxPerDialog <= 0 {
		cfg.MaxPerDialog = DefaultMaxPerDialog
	}
	if cfg.MaxPendingNotifies <= 0 {
		cfg.MaxPendingNotifies = DefaultMaxPendingNotifies
	}
	if cfg.ProbationDelay <= 0 {
		cfg.ProbationDelay = DefaultProbationDelay
	}
	m := &Manager{
		ua:        ua,
		cfg:       cfg,
		clock:     ua.Clock(),
		log:       ua.Logger(),
		pkgs:      make(map[string]*Package),
		attempts:  make(map[attemptKey]*attempt),
		dialogs:   make(map[*dialog.Dialog]*dialogSet),
		subs:      make(map[*Subscription]struct{}),
		notifiers: make(map[*Notifier]struct{}),
		retries:   make(map[*Subscription]transport.Timer),
	}
	ua.Handle("SUBSCRIBE", dialog.HandlerFunc(m.handleSubscribe))
	ua.Handle("NOTIFY", dialog.HandlerFunc(m.handleNotify))
	return m
}

// UA returns the user agent the Manager serves.
func (m *Manager) UA() *dialog.UA { return m.ua }

// timerN is Timer N of RFC 6665 §4.1.2.4: 64*T1.
func (m *Manager) timerN() time.Duration { return 64 * m.cfg.T1 }

// Register adds an event package. A package with OnSubscribe joins the
// UA's Allow-Events (RFC 6665 §4.4.4). Defaults: DefaultExpires one hour.
func (m *Manager) Register(p Package) error {
	if !validEventType(p.Name) {
		return ErrBadPackage
	}
	if p.DefaultExpires <= 0 {
		p.DefaultExpires = DefaultExpires
	}
	if p.MaxExpires > 0 && p.DefaultExpires > p.MaxExpires {
		p.DefaultExpires = p.MaxExpires
	}
	p.Accept = append([]string(nil), p.Accept...)
	m.mu.Lock()
	if m.pkgs[p.Name] != nil {
		m.mu.Unlock()
		return ErrPackageExists
	}
	m.pkgs[p.Name] = &p
	if p.OnSubscribe != nil {
		m.notifying = append(m.notifying, p.Name)
	}
	m.mu.Unlock()
	if p.OnSubscribe != nil {
		m.ua.AllowEvents(p.Name)
	}
	return nil
}

// pkg returns the registered package named name (byte-exact, RFC 6665
// §8.2.1), or nil.
func (m *Manager) pkg(name []byte) *Package {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pkgs[string(name)]
}

// allowEvents is the Allow-Events value: the packages this UA serves as
// notifier (RFC 6665 §4.4.4).
func (m *Manager) allowEvents() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.notifying, ", ")
}

// badEvent answers 489 (Bad Event) with Allow-Events (RFC 6665 §8.3.2,
// §4.4.4).
func (m *Manager) badEvent(r *dialog.Request) {
	var o *dialog.ResponseOptions
	if ae := m.allowEvents(); ae != "" {
		o = &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Allow-Events", Value: ae}}}
	}
	r.Respond(489, "", o)
}

// Subscriptions returns how many subscriptions the Manager holds, as
// subscriber and as notifier.
func (m *Manager) Subscriptions() (subscriber, notifier int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs), len(m.notifiers)
}

// Close ends every subscription locally, without sending anything (their
// callbacks hear ErrClosed), stops every timer the Manager armed and
// answers later SUBSCRIBEs 503 and NOTIFYs 481. Use Notifier.Terminate and
// Subscription.Unsubscribe first to end subscriptions politely.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	atts := make([]*attempt, 0, len(m.attempts))
	for _, a := range m.attempts {
		atts = append(atts, a)
	}
	subs := make([]*Subscription, 0, len(m.subs))
	for s := range m.subs {
		subs = append(subs, s)
	}
	ns := make([]*Notifier, 0, len(m.notifiers))
	for n := range m.notifiers {
		ns = append(ns, n)
	}
	for _, t := range m.retries {
		t.Stop()
	}
	clear(m.retries)
	m.mu.Unlock()
	for _, a := range atts {
		m.closeAttempt(a)
	}
	for _, s := range subs {
		s.finish(&Termination{Err: ErrClosed}, false)
	}
	for _, n := range ns {
		n.finish(ErrClosed, false)
	}
}

// reserve checks the limits for a new subscription in d (nil: none yet).
func (m *Manager) reserveLocked(d *dialog.Dialog) error {
	if m.closed {
		return ErrClosed
	}
	if len(m.subs)+len(m.notifiers) >= m.cfg.MaxSubscriptions {
		m.refuse("event: subscription refused: MaxSubscriptions reached")
		return ErrTooMany
	}
	if d != nil {
		if ds := m.dialogs[d]; ds != nil && ds.count() >= m.cfg.MaxPerDialog {
			m.refuse("event: subscription refused: MaxPerDialog reached")
			return ErrTooMany
		}
	}
	return nil
}

// refuse counts a subscription not made for a limit and logs it, at most
// once every 10 s of the clock (then with the number not logged since), so
// that a flood of SUBSCRIBEs or REFERs cannot flood the log. The one line
// in 10 s may be written with m.mu held.
func (m *Manager) refuse(msg string) {
	m.refused.Add(1)
	if ok, skipped := m.refuseWarn.Allow(m.clock.Now()); ok {
		m.log.Warn(msg, "suppressed", skipped)
	}
}

// Refused returns how many subscriptions were not made because
// Config.MaxSubscriptions or Config.MaxPerDialog was reached: SUBSCRIBEs
// and REFERs refused (503 or 403), NOTIFYs of a fork refused (503), and
// local calls that failed with ErrTooMany.
func (m *Manager) Refused() uint64 { return m.refused.Load() }

func (m *Manager) setLocked(d *dialog.Dialog) *dialogSet {
	ds := m.dialogs[d]
	if ds == nil {
		if len(m.dialogs) >= m.sweepAt {
			m.sweepLocked()
		}
		ds = &dialogSet{}
		m.dialogs[d] = ds
	}
	return ds
}

// sweepLocked drops the entries kept only for their strict list whose
// dialog has ended; run when the table has doubled since the last sweep,
// it costs O(1) per entry added and bounds what ended dialogs leave.
func (m *Manager) sweepLocked() {
	for d, ds := range m.dialogs {
		if ds.count() == 0 && d.State() == dialog.StateTerminated {
			delete(m.dialogs, d)
		}
	}
	m.sweepAt = max(2*len(m.dialogs), 64)
}

// findSub returns the subscriber-side subscription of d that a NOTIFY with
// Event ev belongs to (RFC 6665 §4.1.3, §8.2.1): an exact match first;
// else, for a NOTIFY without id, the oldest subscription of the package in
// d if it accepts a missing id (SubscribeOptions.AcceptMissingID).
//
// RFC 3515 §2.4.6 lets only the first REFER's NOTIFYs in a dialog omit the
// id, so while that subscription lives they are its own. Once it has ended,
// a NOTIFY without id is credited to the next one only if the first ended
// by its notifier's terminated NOTIFY: that notifier then sends no more, so
// the NOTIFY comes from a later REFER's notifier that omits the id against
// §2.4.6 (PJSIP, linphone). A first subscription that ended otherwise (Timer
// N, Close, a failed refresh) may still be notified by its notifier, and
// such a NOTIFY must not pass for a later REFER's outcome: from then on the
// dialog refuses NOTIFYs without id (481) for the package (ds.strict).
func (m *Manager) findSub(d *dialog.Dialog, ev *sip.Event) *Subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	ds := m.dialogs[d]
	if ds == nil {
		return nil
	}
	for _, s := range ds.subs {
		if s.matches(ev) {
			return s
		}
	}
	if ev.ID != nil || ds.isStrict(ev.Type) {
		return nil
	}
	for _, s := range ds.subs {
		if bytes.Equal(s.ev.Type, ev.Type) {
			if s.matchesLoosely(ev) {
				return s
			}
			return nil
		}
	}
	return nil
}

// findNotifier returns the notifier-side subscription of d that a
// SUBSCRIBE with Event ev refreshes (RFC 6665 §4.5.2: same package and id).
func (m *Manager) findNotifier(d *dialog.Dialog, ev *sip.Event) *Notifier {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ds := m.dialogs[d]; ds != nil {
		for _, n := range ds.notifiers {
			if n.matches(ev) {
				return n
			}
		}
	}
	return nil
}

// removeSubLocked drops s from the tables. strict makes d refuse NOTIFYs
// without id for s's package from now on (see findSub).
func (m *Manager) removeSubLocked(s *Subscription, d *dialog.Dialog, strict bool) {
	delete(m.subs, s)
	if d == nil {
		return
	}
	if ds := m.dialogs[d]; ds != nil {
		for i, x := range ds.subs {
			if x == s {
				ds.subs = slices.Delete(ds.subs, i, i+1)
				break
			}
		}
		if strict && !ds.isStrict(s.ev.Type) {
			ds.strict = append(ds.strict, s.pkg)
		}
		if !ds.keep() {
			delete(m.dialogs, d)
		}
	}
}

// removeNotifier drops n from the tables.
func (m *Manager) removeNotifier(n *Notifier, d *dialog.Dialog) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.notifiers, n)
	if d == nil {
		return
	}
	if ds := m.dialogs[d]; ds != nil {
		for i, x := range ds.notifiers {
			if x == n {
				ds.notifiers = slices.Delete(ds.notifiers, i, i+1)
				break
			}
		}
		if !ds.keep() {
			delete(m.dialogs, d)
		}
	}
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// seconds writes a duration as delta-seconds, rounded down so that a
// remaining time is never lengthened (RFC 6665 §4.2.2).
func seconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}
