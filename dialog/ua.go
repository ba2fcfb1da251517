package dialog

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/internal/ratelog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// DefaultMaxDialogs is the default of Config.MaxDialogs.
const DefaultMaxDialogs = 100_000

// Config configures a UA. The zero value is usable: every field has a
// documented default.
type Config struct {
	// Clock runs every timer of the UA, its transactions and its transport
	// unless those configurations name their own. Default SystemClock().
	Clock transport.Clock
	// Logger receives warnings; default slog.Default().
	Logger *slog.Logger
	// Transport and Transaction configure the layers the UA creates.
	Transport   transport.Config
	Transaction transaction.Config
	// User is the user part of the UA's URI and Contact. Default "sipxfer".
	User string
	// DisplayName, when set, goes in the From of requests the UA starts.
	DisplayName string
	// UserAgent is the User-Agent and Server header value. Default
	// "sipxfer"; "-" omits the header.
	UserAgent string
	// MaxDialogs bounds the dialogs held at once. A dialog-forming request
	// over it gets 503 (Service Unavailable) with Retry-After, and creating
	// a dialog locally fails with ErrTooManyDialogs. Default
	// DefaultMaxDialogs (100,000: about 100 MB, see the README).
	MaxDialogs int
	// Extensions are the option tags the application supports, written in
	// Supported and accepted in a request's Require (RFC 3261 §8.2.2.3:
	// others get 420). Packages built on the UA add theirs with Support.
	Extensions []string
	// SessionExpires, when not zero, turns session timers on (RFC 4028):
	// the UA advertises "timer", asks for this session interval in its
	// INVITEs and grants at most this much to others'; the refresher
	// re-INVITEs at half the interval, and a call nobody refreshes ends
	// with a BYE (ErrSessionExpired), so that calls towards a peer that
	// died do not stay up. At least MinSE; RFC 4028 §4 recommends 1800 s.
	SessionExpires time.Duration
	// MinSE is the least session interval accepted: an INVITE asking for
	// less gets 422 (RFC 4028 §8.1). Default and floor DefaultMinSE (90 s).
	MinSE time.Duration
	// Resolve, when set, maps every URI to the one transport address to
	// send to, in place of Locator (no DNS, no failover).
	Resolve func(uri *sip.URI) (transport.Addr, error)
	// Locator finds where requests for a URI go (RFC 3263 §4): a URI
	// naming an IP address is resolved without DNS (its port, else 5060,
	// or 5061 for TLS; its transport parameter, else TLS for sips, else
	// UDP, or the first transport the UA listens on); a host name through
	// NAPTR, SRV and A/AAAA records, and a request that fails at one
	// target (transport error, timeout, 503) goes to the next (§4.3).
	// Default: a *locate.Locator asking the nameserver of
	// /etc/resolv.conf through a cache on Clock, for the transports the UA
	// listens on. Lookups never run on a transport reader goroutine and
	// are bounded by the Locator's Timeout.
	Locator Locator
	// OutboundProxy, when set, is the SIP URI of a loose-routing proxy
	// (with the lr parameter, RFC 3261 §16.12) that every request outside
	// a dialog goes through: it carries the preloaded route set
	// "Route: <OutboundProxy>" and is sent to the proxy's address (RFC
	// 3261 §8.1.2). Requests inside a dialog follow the dialog's route
	// set, which holds the proxy if it record-routed (§12.2.1.1).
	OutboundProxy string
	// OnInvite is called for each incoming INVITE outside a dialog, with
	// the new Call and the request (valid only during the call). It must
	// not block: it answers with c.Ring, c.Answer or c.Reject, now or
	// later. Nil rejects every call with 480 (Temporarily Unavailable).
	OnInvite func(c *Call, req *sip.Message)
	// OnReInvite is called for an incoming re-INVITE (RFC 3261 §14.2) with
	// the request, valid only during the call; it returns the response code
	// and, for a 2xx, the session description to send. Nil answers 200 with
	// the last local session description. It must not block.
	OnReInvite func(c *Call, req *sip.Message) (code int, body []byte)
	// Credentials, when set, answers digest challenges (RFC 3261 §22): a
	// request answered 401 or 407 is sent again with credentials for the
	// realms it names (see RetryHandler, AuthError). Nil leaves 401 and
	// 407 to the request's handler.
	Credentials digest.CredentialsFunc
	// Authenticate, when set, challenges requests received (RFC 3261
	// §22.1): see Authenticator.
	Authenticate *Authenticator
}

// Handler serves requests the UA routes to it by method (see UA.Handle).
type Handler interface {
	// HandleRequest must see that r is answered (r.Respond), now or later.
	HandleRequest(r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// HandleRequest calls f(r).
func (f HandlerFunc) HandleRequest(r *Request) { f(r) }

// UA is a SIP user agent core: the transaction user that owns dialogs and
// calls, over a transaction.Manager and a transport.Layer it creates.
type UA struct {
	cfg   Config
	log   *slog.Logger
	clock transport.Clock
	tp    *transport.Layer
	tm    *transaction.Manager

	closing chan struct{} // closed by Close: waits on transactions give up
	loc     Locator
	ctx     context.Context // ends at Close: DNS lookups in progress give up
	cancel  context.CancelFunc
	bg      sync.WaitGroup // goroutines of UA.background

	mu        sync.Mutex
	closed    bool
	dialogs   map[string]*Dialog
	initials  map[string]*Initial // by Call-ID and local tag, see initialKey
	incoming  map[*transaction.ServerTx]*Call
	dialing   map[*Call]struct{} // outgoing calls awaiting their final response
	handlers  map[string]Handler
	listeners []transport.Addr
	exts      []string
	events    []string // Allow-Events (RFC 6665 §8.2.2)

	// Dialogs with an INVITE usage that ended lately, for RFC 3891 §3
	// (603 to a Replaces naming one): keys by end time, oldest first.
	ended      map[string]time.Time
	endedOrder []string

	digest       digest.Client // nonce counts of the credentials sent (Config.Credentials)
	serviceRoute []string      // SetServiceRoute

	refused    atomic.Uint64 // requests refused for a limit
	refuseWarn ratelog.Limiter
}

// recentlyEndedCap bounds the memory of ended INVITE dialogs.
const recentlyEndedCap = 4096

// NewUA returns a UA with its transport and transaction layers; it
// receives nothing until a Listen method opens a listener.
func NewUA(cfg Config) *UA {
	if cfg.Clock == nil {
		cfg.Clock = transport.SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport.Clock == nil {
		cfg.Transport.Clock = cfg.Clock
	}
	if cfg.Transport.Logger == nil {
		cfg.Transport.Logger = cfg.Logger
	}
	if cfg.Transaction.Clock == nil {
		cfg.Transaction.Clock = cfg.Clock
	}
	if cfg.Transaction.Logger == nil {
		cfg.Transaction.Logger = cfg.Logger
	}
	if cfg.User == "" {
		cfg.User = "sipxfer"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "sipxfer"
	}
	// The UA core times its own 2xx retransmissions with T1 and T2 (RFC
	// 3261 §13.3.1.4), so it fixes the defaults the Manager would pick.
	if cfg.Transaction.T1 <= 0 {
		cfg.Transaction.T1 = 500 * time.Millisecond
	}
	if cfg.Transaction.T2 <= 0 {
		cfg.Transaction.T2 = 4 * time.Second
	}
	if cfg.MaxDialogs <= 0 {
		cfg.MaxDialogs = DefaultMaxDialogs
	}
	cfg.MinSE = max(cfg.MinSE, DefaultMinSE) // RFC 4028 §4: never under 90 s
	if cfg.SessionExpires > 0 {
		cfg.SessionExpires = max(cfg.SessionExpires, cfg.MinSE)
		if !slices.Contains(cfg.Extensions, "timer") {
			cfg.Extensions = append(slices.Clone(cfg.Extensions), "timer")
		}
	}
	ua := &UA{
		cfg:      cfg,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		dialogs:  make(map[string]*Dialog),
		initials: make(map[string]*Initial),
		incoming: make(map[*transaction.ServerTx]*Call),
		dialing:  make(map[*Call]struct{}),
		handlers: make(map[string]Handler),
		ended:    make(map[string]time.Time),
		closing:  make(chan struct{}),
		exts:     slices.Clone(cfg.Extensions),
	}
	ua.ctx, ua.cancel = context.WithCancel(context.Background())
	ua.loc = cfg.Locator
	if ua.loc == nil {
		ua.loc = ua.defaultLocator()
	}
	ua.tp = transport.New(cfg.Transport, transport.HandlerFunc(func(in *transport.Inbound) { ua.tm.HandleInbound(in) }))
	ua.tm = transaction.NewManager(cfg.Transaction, ua.tp, ua)
	return ua
}

// Handle routes requests of method to h: outside dialogs, and inside them
// for every method but INVITE, ACK, BYE and CANCEL, which belong to the
// Call. Registering a method adds it to Allow. Packages event and refer
// call it for SUBSCRIBE, NOTIFY and REFER.
func (ua *UA) Handle(method string, h Handler) {
	ua.mu.Lock()
	ua.handlers[method] = h
	ua.mu.Unlock()
}

// Support adds option tags to the UA's Supported set (RFC 3261 §20.37).
func (ua *UA) Support(tags ...string) {
	ua.mu.Lock()
	for _, t := range tags {
		if !slices.Contains(ua.exts, t) {
			ua.exts = append(ua.exts, t)
		}
	}
	ua.mu.Unlock()
}

// AllowEvents adds event packages to the Allow-Events header field the UA
// writes in OPTIONS responses and with its Allow (RFC 6665 §8.2.2).
func (ua *UA) AllowEvents(pkgs ...string) {
	ua.mu.Lock()
	for _, p := range pkgs {
		if !slices.Contains(ua.events, p) {
			ua.events = append(ua.events, p)
		}
	}
	ua.mu.Unlock()
}

func (ua *UA) allowEvents() string {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return strings.Join(ua.events, ", ")
}

// Transport returns the UA's transport layer.
func (ua *UA) Transport() *transport.Layer { return ua.tp }

// Transactions returns the UA's transaction manager.
func (ua *UA) Transactions() *transaction.Manager { return ua.tm }

// Clock returns the UA's clock.
func (ua *UA) Clock() transport.Clock { return ua.clock }

// Logger returns the UA's logger.
func (ua *UA) Logger() *slog.Logger { return ua.log }

// ListenUDP opens a UDP listener; see transport.Layer.ListenUDP.
func (ua *UA) ListenUDP(ap netip.AddrPort) (transport.Addr, error) {
	return ua.listened(ua.tp.ListenUDP(ap))
}

// ListenTCP opens a TCP listener; see transport.Layer.ListenTCP.
func (ua *UA) ListenTCP(ap netip.AddrPort) (transport.Addr, error) {
	return ua.listened(ua.tp.ListenTCP(ap))
}

// ListenTLS opens a TLS listener; see transport.Layer.ListenTLS.
func (ua *UA) ListenTLS(ap netip.AddrPort) (transport.Addr, error) {
	return ua.listened(ua.tp.ListenTLS(ap))
}

// ListenMem attaches the UA to an in-memory network; see
// transport.Layer.ListenMem.
func (ua *UA) ListenMem(n *transport.Network, a transport.Addr) (transport.Addr, error) {
	return ua.listened(ua.tp.ListenMem(n, a))
}

func (ua *UA) listened(a transport.Addr, err error) (transport.Addr, error) {
	if err == nil {
		ua.mu.Lock()
		ua.listeners = append(ua.listeners, a)
		ua.mu.Unlock()
	}
	return a, err
}

// Addrs returns the addresses the UA listens on.
func (ua *UA) Addrs() []transport.Addr {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return slices.Clone(ua.listeners)
}

// Close ends every call and dialog (their usages hear ErrTerminated), then
// closes the transaction and transport layers, sending nothing. Nothing it
// started runs on.
func (ua *UA) Close() error {
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return nil
	}
	ua.closed = true
	close(ua.closing)
	ua.cancel()
	var ds []*Dialog
	for _, d := range ua.dialogs {
		ds = append(ds, d)
	}
	var calls []*Call
	for _, c := range ua.incoming {
		calls = append(calls, c)
	}
	for c := range ua.dialing {
		calls = append(calls, c)
	}
	ua.mu.Unlock()
	for _, c := range calls {
		c.end(ErrTerminated)
	}
	for _, d := range ds {
		d.Terminate(ErrTerminated)
	}
	ua.tm.Close()
	err := ua.tp.Close()
	ua.bg.Wait()
	return err
}

// Dialogs returns how many dialogs the UA holds.
func (ua *UA) Dialogs() int {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return len(ua.dialogs)
}

// FindDialog returns the dialog with the given identity, or nil. RFC 3891
// (Replaces) and RFC 4538 (Target-Dialog) look dialogs up this way.
func (ua *UA) FindDialog(id ID) *Dialog {
	var kb [256]byte
	key := dialogKey(kb[:0], []byte(id.CallID), []byte(id.LocalTag), []byte(id.RemoteTag))
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.dialogs[string(key)]
}

func (ua *UA) findDialog(callID, localTag, remoteTag []byte) *Dialog {
	var kb [256]byte
	key := dialogKey(kb[:0], callID, localTag, remoteTag)
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.dialogs[string(key)]
}

// addDialog enters d in the table, or returns the dialog already there
// with its ID (a retransmitted or forked response racing another).
func (ua *UA) addDialog(d *Dialog) (*Dialog, error) {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.closed {
		return nil, ErrTerminated
	}
	if old := ua.dialogs[d.key]; old != nil {
		return old, nil
	}
	if len(ua.dialogs) >= ua.cfg.MaxDialogs {
		return nil, ErrTooManyDialogs
	}
	ua.dialogs[d.key] = d
	return d, nil
}

func (ua *UA) removeDialog(d *Dialog) {
	d.mu.Lock()
	invite := d.invite
	d.mu.Unlock()
	now := ua.clock.Now()
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.dialogs[d.key] != d {
		return
	}
	delete(ua.dialogs, d.key)
	if !invite {
		return
	}
	// Remember it for 64*T1, the longest a transfer's INVITE can lag.
	for len(ua.endedOrder) > 0 {
		k := ua.endedOrder[0]
		if len(ua.endedOrder) < recentlyEndedCap && now.Sub(ua.ended[k]) < 64*ua.t1() {
			break
		}
		delete(ua.ended, k)
		ua.endedOrder = ua.endedOrder[1:]
	}
	ua.ended[d.key] = now
	ua.endedOrder = append(ua.endedOrder, d.key)
}

// RecentlyEnded reports whether a dialog with the given identity carried
// a call that ended within the last 64*T1 (at most 4096 are remembered).
// RFC 3891 §3 declines a Replaces naming one with 603.
func (ua *UA) RecentlyEnded(id ID) bool {
	key := string(dialogKey(nil, []byte(id.CallID), []byte(id.LocalTag), []byte(id.RemoteTag)))
	ua.mu.Lock()
	defer ua.mu.Unlock()
	t, ok := ua.ended[key]
	return ok && ua.clock.Now().Sub(t) < 64*ua.t1()
}

// full reports whether a new dialog would exceed MaxDialogs.
func (ua *UA) full() bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return len(ua.dialogs) >= ua.cfg.MaxDialogs
}

// newDialog makes a dialog value (not yet in the table).
func (ua *UA) newDialog(id ID, uac bool) *Dialog {
	key := string(dialogKey(nil, []byte(id.CallID), []byte(id.LocalTag), []byte(id.RemoteTag)))
	// The ID's strings share the key's bytes: one allocation per dialog.
	a, b := len(id.CallID), len(id.CallID)+1+len(id.LocalTag)
	return &Dialog{
		ua:  ua,
		id:  ID{CallID: key[:a], LocalTag: key[a+1 : b], RemoteTag: key[b+1:]},
		key: key,
		uac: uac,
	}
}

func (ua *UA) hasListener(p transport.Protocol) bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	for _, l := range ua.listeners {
		if l.Proto == p {
			return true
		}
	}
	return false
}

// listener returns the address of a listener for p.
func (ua *UA) listener(p transport.Protocol) (transport.Addr, bool) {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	for _, l := range ua.listeners {
		if l.Proto == p {
			return l, true
		}
	}
	return transport.Addr{}, false
}

// contact returns the Contact value for requests and responses exchanged
// with to (its protocol and, when known, its address): the UA's user at the
// address that names the UA to that peer (transport.Layer.LocalHostPort:
// the configured advertised address, else the local address used towards
// the peer; never an unspecified one).
func (ua *UA) contact(to transport.Addr, secure bool) (string, error) {
	host, port, err := ua.tp.LocalHostPort(to)
	if err != nil {
		return "", ErrNoListener
	}
	scheme := "sip:"
	if secure {
		scheme = "sips:" // RFC 3261 §12.1.1: a SIPS URI when the request-URI was one
	}
	// LocalHostPort drops an IPv6 zone: it is local to this host, and RFC
	// 3261 §25 has no syntax for it.
	s := "<" + scheme + ua.cfg.User + "@" + host + ":" + strconv.Itoa(int(port))
	if to.Proto != transport.UDP && !secure {
		s += ";transport=" + strings.ToLower(to.Proto.String())
	}
	return s + ">", nil
}

// URI returns the UA's own URI on protocol p, for From and for Refer-To
// targets: sip:user@host:port, with a transport parameter for streams. The
// host is the advertised one (transport.Config.Host) or the listener's
// address, for a listener on 0.0.0.0 or :: the address the system would
// use to reach the world.
func (ua *UA) URI(p transport.Protocol) (string, error) {
	return ua.uri(transport.Addr{Proto: p})
}

// uri is URI for requests to dst.
func (ua *UA) uri(dst transport.Addr) (string, error) {
	c, err := ua.contact(dst, false)
	if err != nil {
		return "", err
	}
	return c[1 : len(c)-1], nil
}

// allow returns the Allow value: the methods the UA answers.
func (ua *UA) allow() string {
	ua.mu.Lock()
	base := []string{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"}
	if ua.sessionTimersOn() {
		base = append(base, "UPDATE") // RFC 3311, for session refreshes
	}
	ms := make([]string, 0, len(ua.handlers))
	for m := range ua.handlers {
		if !slices.Contains(base, m) {
			ms = append(ms, m)
		}
	}
	ua.mu.Unlock()
	slices.Sort(ms)
	return strings.Join(append(base, ms...), ", ")
}

func (ua *UA) supported() string {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return strings.Join(ua.exts, ", ")
}

// appendCapabilities writes Allow and Supported (RFC 3261 §13.2.1, §13.3.1.4
// SHOULD for INVITE and its 2xx).
func (ua *UA) appendCapabilities(b []byte) []byte {
	b = sip.AppendHeader(b, sip.HeaderAllow, ua.allow())
	if s := ua.supported(); s != "" {
		b = sip.AppendHeader(b, sip.HeaderSupported, s)
	}
	if e := ua.allowEvents(); e != "" {
		b = sip.AppendHeader(b, sip.HeaderAllowEvents, e)
	}
	return b
}

func (ua *UA) appendUserAgent(b []byte) []byte {
	if ua.cfg.UserAgent == "-" {
		return b
	}
	return sip.AppendHeader(b, sip.HeaderUserAgent, ua.cfg.UserAgent)
}

// newCallID returns a fresh Call-ID (RFC 3261 §8.1.1.4: globally unique;
// 128 random bits).
func newCallID() string {
	const hex = "0123456789abcdef"
	var b [32]byte
	for i := 0; i < 32; i += 16 {
		v := rand.Uint64()
		for j := 0; j < 16; j++ {
			b[i+j] = hex[v&15]
			v >>= 4
		}
	}
	return string(b[:])
}

func newTag() string { return string(transport.NewTag(make([]byte, 0, 16))) }

// unsupported returns the option tags in req's Require the UA does not
// support (RFC 3261 §8.2.2.3).
func (ua *UA) unsupported(req *sip.Message) string {
	if !req.Has(sip.HeaderRequire) {
		return ""
	}
	ua.mu.Lock()
	defer ua.mu.Unlock()
	var out []string
	vs := req.Values(sip.HeaderRequire)
	for v, ok := vs.Next(); ok; v, ok = vs.Next() {
		tag := strings.TrimSpace(string(v))
		if tag != "" && !slices.ContainsFunc(ua.exts, func(e string) bool { return strings.EqualFold(e, tag) }) {
			out = append(out, tag)
		}
	}
	return strings.Join(out, ", ")
}

// retryAfter returns a Retry-After value in seconds for 500 and 503.
func retryAfter() string { return strconv.Itoa(1 + rand.IntN(10)) }

func (ua *UA) t1() time.Duration { return ua.cfg.Transaction.T1 }

// T1 returns the UA's round-trip estimate (RFC 3261 §17.1.1.1), from which
// every 64*T1 bound of the layers above derives.
func (ua *UA) T1() time.Duration { return ua.cfg.Transaction.T1 }
func (ua *UA) t2() time.Duration { return ua.cfg.Transaction.T2 }

// Refused returns how many requests the UA refused because a limit
// (MaxDialogs) was reached.
func (ua *UA) Refused() uint64 { return ua.refused.Load() }

// refuse counts a refusal and logs it, at most once every 10 s of the
// clock with the number not logged since: a flood must not flood the log.
func (ua *UA) refuse(msg string, from transport.Addr) {
	ua.refused.Add(1)
	if ok, skipped := ua.refuseWarn.Allow(ua.clock.Now()); ok {
		ua.log.Warn(msg, "from", from.String(), "suppressed", skipped)
	}
}

func (ua *UA) isClosed() bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.closed
}
