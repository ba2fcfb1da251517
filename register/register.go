// Package register is a REGISTER client (RFC 3261 §10.2): it binds the
// Contact of a dialog.UA to an address-of-record at a registrar, keeps the
// binding refreshed, and removes it on Close.
//
// One Registration is one binding: every REGISTER it sends has the same
// Call-ID and a CSeq one higher than the last (RFC 3261 §10.2: a registrar
// orders them by it). Challenges (401/407) are answered by the UA, through
// dialog.Config.Credentials, like those of any other request.
//
// Timing. The registrar may grant less than asked; the expiry granted is
// the expires parameter of our Contact in the 2xx, else its Expires header
// (RFC 3261 §10.2.4). The refresh goes out at granted - max(5 s, granted/10)
// (at 54 s of 60 s, at 3240 s of 3600 s), but never before half of it: late
// enough not to load the registrar, early enough for a whole transaction
// (64*T1 = 32 s at most) and a round of challenge to fit. A 423 (Interval
// Too Brief) is answered at once with its Min-Expires (§10.2.8).
//
// Failures (a timeout, a 5xx, a 2xx that does not make sense) are retried
// after the back-off of RFC 5626 §4.5: W = min(1800 s, base * 2^n) for the
// n-th consecutive failure, base 90 s while the last binding is still
// valid and 30 s otherwise, and the wait a random 50-100 % of W. Refused
// credentials (digest.ErrRejected, digest.ErrNoCredentials) are not
// retried: the registration stops in StateFailed.
//
// The 2xx's Service-Route (RFC 3608) becomes the UA's preloaded route for
// requests outside dialogs (dialog.UA.SetServiceRoute); its Path (RFC 3327)
// is kept for the application to read.
//
// The package starts no goroutine: it runs on the UA's clock timers and
// transaction callbacks.
package register

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Defaults of Config.
const (
	DefaultExpires = 3600 * time.Second
	// RFC 5626 §4.5 back-off.
	BaseTimeAllFailed = 30 * time.Second
	BaseTimeValid     = 90 * time.Second
	MaxBackoff        = 1800 * time.Second
)

// Errors, for errors.Is.
var (
	// ErrNoBinding: a 2xx that does not list our Contact (RFC 3261
	// §10.2.4: it lists every binding of the AOR).
	ErrNoBinding = errors.New("register: 2xx does not list our contact")
	// ErrNoExpires: a 2xx that says nowhere how long the binding lasts.
	ErrNoExpires = errors.New("register: 2xx without expires")
	// ErrBadResponse: a 2xx or 423 that does not parse (Contact, Expires,
	// Min-Expires).
	ErrBadResponse = errors.New("register: malformed response")
	// ErrClosed: the registration was closed.
	ErrClosed = errors.New("register: closed")
)

// State is where a registration stands.
type State uint8

// Registration states.
const (
	StateRegistering  State = iota + 1 // a REGISTER is on its way, nothing bound yet
	StateRegistered                    // bound; refreshes run
	StateRetrying                      // the last attempt failed; another follows after a back-off
	StateFailed                        // stopped: credentials refused
	StateUnregistered                  // Close removed the binding (or tried to)
)

func (s State) String() string {
	return [...]string{"?", "registering", "registered", "retrying", "failed", "unregistered"}[min(int(s), 5)]
}

// Event is what OnEvent reports: a state reached and why.
type Event struct {
	State State
	// Expires is the binding's lifetime as granted (StateRegistered).
	Expires time.Duration
	// Code is the status of the final response that led here, 0 if none
	// (a timeout).
	Code int
	// Err is why an attempt failed (StateRetrying, StateFailed).
	Err error
	// RetryIn is the back-off before the next attempt (StateRetrying).
	RetryIn time.Duration
}

// Config describes a registration.
type Config struct {
	// Registrar is the Request-URI of the REGISTERs (RFC 3261 §10.2:
	// the domain, "sip:example.com"); required.
	Registrar string
	// AOR is the address-of-record, the To and From URI. Default: the
	// UA's user at the registrar's host (sip:user@example.com).
	AOR string
	// Expires is the lifetime asked for; default DefaultExpires.
	Expires time.Duration
	// OnEvent is called on every state change, with no lock held; it must
	// not block.
	OnEvent func(r *Registration, e Event)
	// Rand returns a number in [0, 1) for the back-off; nil: math/rand.
	Rand func() float64
}

// Registration is one binding kept at a registrar. It is safe for
// concurrent use.
type Registration struct {
	ua     *dialog.UA
	cfg    Config
	aor    string
	callID string
	clock  transport.Clock

	mu        sync.Mutex
	state     State
	seq       uint32 // CSeq of the last REGISTER sent
	asked     time.Duration
	granted   time.Duration
	validTill time.Time // the binding's expiry at the registrar
	failures  int       // consecutive
	timer     transport.Timer
	gen       uint32 // tells a stale timer from the armed one
	inFlight  bool
	closing   bool
	path      []string
	closeErr  error         // how the unregistration failed
	closed    chan struct{} // closed once the unregistration is over
}

// Register starts registering ua's Contact as cfg says and returns at
// once; OnEvent tells how it goes.
func Register(ua *dialog.UA, cfg Config) (*Registration, error) {
	var ru sip.URI
	if err := ru.Parse([]byte(cfg.Registrar)); err != nil {
		return nil, fmt.Errorf("register: registrar %q: %w", cfg.Registrar, err)
	}
	if cfg.Expires <= 0 {
		cfg.Expires = DefaultExpires
	}
	aor := cfg.AOR
	if aor == "" {
		self, err := ua.URI(transport.UDP)
		if err != nil {
			if addrs := ua.Addrs(); len(addrs) > 0 {
				self, err = ua.URI(addrs[0].Proto)
			}
			if err != nil {
				return nil, err
			}
		}
		var su sip.URI
		if err := su.Parse([]byte(self)); err != nil {
			return nil, err
		}
		aor = "sip:" + string(su.User) + "@" + string(ru.Host)
	}
	r := &Registration{
		ua: ua, cfg: cfg, aor: aor, clock: ua.Clock(),
		// RFC 3261 §10.2: the same Call-ID for every REGISTER of a binding,
		// a CSeq increasing from an initial one below 2**31.
		callID: strconv.FormatUint(rand.Uint64(), 16) + strconv.FormatUint(rand.Uint64(), 16),
		seq:    rand.Uint32N(1 << 16),
		asked:  cfg.Expires,
		state:  StateRegistering,
		closed: make(chan struct{}),
	}
	if err := r.send(false); err != nil {
		return nil, err
	}
	return r, nil
}

// AOR returns the address-of-record registered.
func (r *Registration) AOR() string { return r.aor }

// State returns the registration's state.
func (r *Registration) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Expires returns the lifetime the registrar granted last, 0 before.
func (r *Registration) Expires() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.granted
}

// Path returns the Path of the last 2xx (RFC 3327): the proxies between
// the registrar and us, for the application to know.
func (r *Registration) Path() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.path...)
}

// send sends a REGISTER: asking r.asked, or removing the binding.
func (r *Registration) send(unregister bool) error {
	r.mu.Lock()
	r.seq++
	seq := r.seq
	expires := r.asked
	if unregister {
		expires = 0
	}
	r.inFlight = true
	r.mu.Unlock()
	in, err := r.ua.NewInitial("REGISTER", r.cfg.Registrar, &dialog.InitialOptions{
		From: "<" + r.aor + ">", To: "<" + r.aor + ">", CallID: r.callID, Seq: seq,
		RequestOptions: dialog.RequestOptions{Headers: []dialog.Header{{Name: "Expires", Value: strconv.Itoa(int(expires / time.Second))}}},
	})
	if err != nil {
		r.mu.Lock()
		r.inFlight = false
		r.mu.Unlock()
		return err
	}
	// The request creates no dialog: nothing need reach it by its tag.
	in.Close()
	var contact sip.URI
	if req := in.Bytes(); req != nil {
		var m sip.Message
		if sip.Parse(&m, append([]byte(nil), req...)) == nil {
			var na sip.NameAddr
			if na.Parse(m.Get(sip.HeaderContact)) == nil {
				contact = na.URI
			}
		}
	}
	h := transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, resp transaction.Response) {
		if !resp.Final() {
			return
		}
		r.response(unregister, &contact, resp)
	})
	if _, err := in.Send(h); err != nil {
		r.mu.Lock()
		r.inFlight = false
		r.mu.Unlock()
		return err
	}
	return nil
}

// response takes the final response (or failure) of a REGISTER.
func (r *Registration) response(unregister bool, contact *sip.URI, resp transaction.Response) {
	if resp.Msg != nil {
		// A retry with credentials took a higher CSeq: go on from it.
		if cs, err := resp.Msg.CSeq(); err == nil {
			r.mu.Lock()
			r.seq = max(r.seq, cs.Seq)
			r.mu.Unlock()
		}
	}
	if unregister {
		err := resp.Err
		if err == nil && resp.Status >= 300 {
			err = &dialog.StatusError{Method: "REGISTER", Code: resp.Status, Reason: string(resp.Msg.Reason())}
		}
		r.mu.Lock()
		r.inFlight = false
		r.state = StateUnregistered
		r.closeErr = err
		r.mu.Unlock()
		r.emit(Event{State: StateUnregistered, Code: resp.Status, Err: err})
		close(r.closed)
		return
	}
	switch {
	case resp.Err != nil:
		r.fail(resp.Status, resp.Err)
	case resp.Status < 300:
		r.success(contact, resp.Msg)
	case resp.Status == 423:
		// RFC 3261 §10.2.8: ask again with at least Min-Expires.
		secs, ok, err := resp.Msg.MinExpires()
		min := time.Duration(secs) * time.Second
		r.mu.Lock()
		retry := err == nil && ok && min > r.asked && !r.closing
		if retry {
			r.asked = min
		}
		r.inFlight = false
		r.mu.Unlock()
		if !retry {
			r.fail(423, fmt.Errorf("%w: 423 with Min-Expires %q", ErrBadResponse, resp.Msg.Get(sip.HeaderMinExpires)))
			return
		}
		if err := r.send(false); err != nil {
			r.fail(0, err)
		}
	default:
		r.fail(resp.Status, &dialog.StatusError{Method: "REGISTER", Code: resp.Status, Reason: string(resp.Msg.Reason())})
	}
}

// success applies a 2xx (RFC 3261 §10.2.4).
func (r *Registration) success(contact *sip.URI, resp *sip.Message) {
	granted, err := grantedExpires(resp, contact)
	if err != nil {
		r.fail(resp.StatusCode(), err)
		return
	}
	if granted == 0 {
		r.fail(resp.StatusCode(), fmt.Errorf("%w: binding granted for 0 s", ErrNoBinding))
		return
	}
	var sr []string
	for _, f := range resp.Fields() {
		switch {
		case strings.EqualFold(string(f.RawName), "Service-Route"):
			sr = append(sr, splitList(string(f.Value))...)
		}
	}
	path := []string(nil)
	for _, f := range resp.Fields() {
		if strings.EqualFold(string(f.RawName), "Path") {
			path = append(path, splitList(string(f.Value))...)
		}
	}
	// RFC 3608 §6: the route of the last 2xx replaces the one before.
	r.ua.SetServiceRoute(sr)
	now := r.clock.Now()
	r.mu.Lock()
	r.inFlight = false
	r.failures = 0
	r.granted = granted
	r.validTill = now.Add(granted)
	r.path = path
	if r.closing {
		r.mu.Unlock()
		return
	}
	r.state = StateRegistered
	r.armLocked(refreshIn(granted))
	r.mu.Unlock()
	r.emit(Event{State: StateRegistered, Expires: granted, Code: resp.StatusCode()})
}

// refreshIn is when to refresh a binding granted for d: d - max(5 s,
// d/10), not before d/2.
func refreshIn(d time.Duration) time.Duration {
	return max(d-max(5*time.Second, d/10), d/2)
}

// grantedExpires reads the lifetime of our binding from a 2xx: the
// expires parameter of the Contact naming ours, else Expires.
func grantedExpires(resp *sip.Message, ours *sip.URI) (time.Duration, error) {
	found := false
	var secs uint64
	hasParam := false
	for it := resp.Values(sip.HeaderContact); ; {
		v, ok := it.Next()
		if !ok {
			break
		}
		var na sip.NameAddr
		if err := na.Parse(v); err != nil {
			return 0, fmt.Errorf("%w: Contact %q: %v", ErrBadResponse, v, err)
		}
		if na.Wildcard || !sameBinding(&na.URI, ours) {
			continue
		}
		found = true
		if e, ok := na.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(string(e), 10, 32)
			if err != nil {
				return 0, fmt.Errorf("%w: Contact expires %q", ErrBadResponse, e)
			}
			secs, hasParam = n, true
		}
		break
	}
	if !found {
		return 0, ErrNoBinding
	}
	if !hasParam {
		n, ok, err := resp.Expires()
		if err != nil {
			return 0, fmt.Errorf("%w: Expires: %v", ErrBadResponse, err)
		}
		if !ok {
			return 0, ErrNoExpires
		}
		secs = uint64(n)
	}
	return time.Duration(secs) * time.Second, nil
}

// sameBinding compares the Contact the registrar lists with ours: user,
// host (case-insensitively) and port (RFC 3261 §10.3 step 7 compares
// URIs; registrars keep ours as sent, parameters aside).
func sameBinding(a, b *sip.URI) bool {
	return string(a.User) == string(b.User) && strings.EqualFold(string(a.Host), string(b.Host)) && a.Port == b.Port
}

// splitList splits a header value at the commas between name-addrs.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// fail records a failed attempt and schedules the next, or stops for
// refused credentials.
func (r *Registration) fail(code int, err error) {
	now := r.clock.Now()
	r.mu.Lock()
	r.inFlight = false
	if r.closing {
		r.mu.Unlock()
		return
	}
	if errors.Is(err, digest.ErrRejected) || errors.Is(err, digest.ErrNoCredentials) {
		// Sending the same credentials again cannot help (RFC 3261 §22.1).
		r.state = StateFailed
		r.mu.Unlock()
		r.emit(Event{State: StateFailed, Code: code, Err: err})
		return
	}
	r.failures++
	// RFC 5626 §4.5: base-time 90 s while a binding still holds, 30 s when
	// all failed; W = min(max-time, base * 2^failures), wait 50-100 % of W.
	base := BaseTimeAllFailed
	if now.Before(r.validTill) {
		base = BaseTimeValid
	}
	w := MaxBackoff
	if r.failures < 16 {
		w = min(MaxBackoff, base<<r.failures)
	}
	rnd := rand.Float64
	if r.cfg.Rand != nil {
		rnd = r.cfg.Rand
	}
	wait := time.Duration(float64(w) * (0.5 + rnd()/2))
	r.state = StateRetrying
	r.armLocked(wait)
	r.mu.Unlock()
	r.emit(Event{State: StateRetrying, Code: code, Err: err, RetryIn: wait})
}

// armLocked arms the one timer: the next REGISTER in d.
func (r *Registration) armLocked(d time.Duration) {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.gen++
	gen := r.gen
	r.timer = r.clock.AfterFunc(d, func() { r.fire(gen) })
}

func (r *Registration) fire(gen uint32) {
	r.mu.Lock()
	if gen != r.gen || r.closing || r.inFlight {
		r.mu.Unlock()
		return
	}
	r.timer = nil
	r.mu.Unlock()
	if err := r.send(false); err != nil {
		r.fail(0, err)
	}
}

func (r *Registration) emit(e Event) {
	if r.cfg.OnEvent != nil {
		r.cfg.OnEvent(r, e)
	}
}

// Close stops refreshing and, if a binding may exist, removes it with a
// REGISTER with Expires: 0 (RFC 3261 §10.2.2), waiting for its final
// response until ctx ends (the transaction itself ends within 64*T1).
// It reports ctx.Err(), or the failure of the removal.
func (r *Registration) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return nil
	}
	r.closing = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.gen++
	bound := r.state == StateRegistered || r.inFlight || r.clock.Now().Before(r.validTill)
	r.mu.Unlock()
	r.ua.SetServiceRoute(nil)
	if !bound {
		r.mu.Lock()
		r.state = StateUnregistered
		r.mu.Unlock()
		return nil
	}
	if err := r.send(true); err != nil {
		return err
	}
	select {
	case <-r.closed:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closeErr
}
