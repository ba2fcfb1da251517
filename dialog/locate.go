package dialog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Locator finds where requests for a URI go (RFC 3263 §4). *locate.Locator
// satisfies it; tests may give a Locator with a fake Resolver.
type Locator interface {
	// Numeric returns the one target of a URI naming an IP address,
	// without DNS; ok is false for a host name.
	Numeric(u *sip.URI) (t locate.Target, ok bool, err error)
	// Targets returns the targets to try in order, asking DNS as needed.
	Targets(ctx context.Context, u *sip.URI) ([]locate.Target, error)
}

// errNeedsDNS: the destination is a host name and the caller may not wait
// for DNS (it runs on a transport reader goroutine).
var errNeedsDNS = errors.New("dialog: destination needs DNS")

// defaultLocator is the Locator of a UA configured with none: RFC 3263
// over a per-UA cache on the UA's clock in front of a DNS client asking the
// system's nameserver, supporting the transports the UA listens on.
func (ua *UA) defaultLocator() Locator {
	return &locate.Locator{
		Resolver:  locate.NewCache(&locate.Client{}, ua.clock, locate.CacheConfig{}),
		Supported: ua.supports,
	}
}

// supports reports whether the UA can send over p: it has a listener for
// p, or no listener at all yet (the send will tell).
func (ua *UA) supports(p transport.Protocol) bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if len(ua.listeners) == 0 {
		return true
	}
	for _, l := range ua.listeners {
		if l.Proto == p {
			return true
		}
	}
	return false
}

// parseDest parses a URI that is to become a destination; secure (a SIPS
// dialog, RFC 3261 §12.2.1.1) sends even a sip: hop over TLS.
func parseDest(uri string, secure bool, u *sip.URI) error {
	if err := u.Parse([]byte(uri)); err != nil {
		return errors.Join(ErrNoAddress, err)
	}
	if secure && u.Scheme == sip.SchemeSIP {
		u.Scheme = sip.SchemeSIPS
	}
	return nil
}

// numeric returns the target of uri without DNS: through Config.Resolve
// when set, else when the URI names an IP address. ok is false when DNS is
// needed.
func (ua *UA) numeric(uri string, secure bool) (t locate.Target, ok bool, err error) {
	var u sip.URI
	if err := parseDest(uri, secure, &u); err != nil {
		return t, false, err
	}
	if ua.cfg.Resolve != nil {
		a, err := ua.cfg.Resolve(&u)
		return locate.Target{Addr: a}, err == nil, err
	}
	t, ok, err = ua.loc.Numeric(&u)
	if err != nil {
		return t, false, errors.Join(ErrNoAddress, err)
	}
	return t, ok, nil
}

// targets returns where requests for uri go, in the order to try them
// (RFC 3263 §4): the one address of an IP URI without DNS, else what the
// Locator finds. The lookup ends when ctx does, when the UA closes, or
// after the Locator's own bound (locate.DefaultTimeout for the default).
func (ua *UA) targets(ctx context.Context, uri string, secure bool) ([]locate.Target, error) {
	if t, ok, err := ua.numeric(uri, secure); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return []locate.Target{t}, nil
	}
	var u sip.URI
	parseDest(uri, secure, &u) // numeric parsed it
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ua.ctx, cancel)
	defer stop()
	ts, err := ua.loc.Targets(ctx, &u)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoAddress, uri, err)
	}
	return ts, nil
}

// resolve maps a URI to the first place to send to, asking DNS if needed.
func (ua *UA) resolve(uri string, secure bool) (transport.Addr, error) {
	ts, err := ua.targets(context.Background(), uri, secure)
	if err != nil {
		return transport.Addr{}, err
	}
	return ts[0].Addr, nil
}

// background runs f on a goroutine of its own with a context that ends
// when the UA closes; Close waits for it. It is how work that may wait for
// DNS leaves a transport reader goroutine.
func (ua *UA) background(f func(ctx context.Context)) {
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return
	}
	ua.bg.Add(1)
	ua.mu.Unlock()
	go func() {
		defer ua.bg.Done()
		f(ua.ctx)
	}()
}

// connect opens the TLS connection to a target located from a domain,
// checking the server's certificate against that domain (RFC 5922 §7);
// other targets need nothing before the send.
func (ua *UA) connect(t locate.Target) error {
	if t.Proto != transport.TLS || t.Domain == "" {
		return nil
	}
	if err := ua.tp.ConnectTLS(t.Addr, t.Domain); err != nil {
		return &transaction.Error{Err: transaction.ErrTransport, Cause: err}
	}
	return nil
}

// request sends req as a client transaction to the first of targets and,
// when that fails, to the next (RFC 3263 §4.3): h sees the provisional
// responses of the attempt in progress and one outcome. A single target
// costs nothing more than tm.Request.
func (ua *UA) request(req []byte, targets []locate.Target, h transaction.ClientHandler, abandon func() bool) (*transaction.ClientTx, error) {
	return ua.requestFor(req, nil, targets, h, abandon, nil)
}

// requestFor is request, with build (if not nil) giving the request to
// send to each target after the first (its Contact names the transport
// the target is reached over). If dest is not nil it is set, before
// anything is sent, to a func reporting the target of the attempt in
// progress: where a response arriving then came from.
func (ua *UA) requestFor(req []byte, build func(locate.Target) []byte, targets []locate.Target, h transaction.ClientHandler, abandon func() bool, dest *func() transport.Addr) (*transaction.ClientTx, error) {
	if len(targets) == 0 {
		return nil, ErrNoAddress
	}
	if len(targets) == 1 {
		dst := targets[0].Addr
		if dest != nil {
			*dest = func() transport.Addr { return dst }
		}
		if err := ua.connect(targets[0]); err != nil {
			return nil, err
		}
		return ua.tm.Request(dst, req, h)
	}
	f := &failover{ua: ua, req: req, build: build, targets: targets, h: h, abandon: abandon}
	if dest != nil {
		*dest = f.dest
	}
	return f.start()
}

// failover is one logical request tried against the targets of RFC 3263
// in turn. Each attempt is a new client transaction, hence a new branch
// (§4.3: "a new transaction"). Another retry (digest authentication, a
// new CSeq) may wrap h or be wrapped by it: failover changes neither the
// request nor its CSeq.
type failover struct {
	ua      *UA
	req     []byte
	build   func(locate.Target) []byte // nil: req for every target
	targets []locate.Target
	h       transaction.ClientHandler
	abandon func() bool // when it says so, no further target is tried

	mu          sync.Mutex
	next        int            // index of the next target to try
	cur         transport.Addr // the target of the attempt in progress
	provisional bool           // the attempt in progress got a provisional response
}

// dest returns the target of the attempt in progress.
func (f *failover) dest() transport.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// start sends to the next target that accepts the request, skipping those
// the transport cannot reach at once (no listener, connection refused).
func (f *failover) start() (*transaction.ClientTx, error) {
	var err error
	for {
		f.mu.Lock()
		if f.next >= len(f.targets) {
			f.mu.Unlock()
			return nil, err
		}
		t := f.targets[f.next]
		req := f.req
		if f.build != nil && f.next > 0 {
			req = f.build(t)
		}
		f.next++
		f.cur = t.Addr
		f.provisional = false
		f.mu.Unlock()
		e := f.ua.connect(t)
		if e == nil {
			var tx *transaction.ClientTx
			if tx, e = f.ua.tm.Request(t.Addr, req, f); e == nil {
				return tx, nil
			}
		}
		err = e
		if errors.Is(e, transaction.ErrClosed) || errors.Is(e, transport.ErrClosed) {
			return nil, e
		}
		f.ua.log.Debug("dialog: target unreachable, trying the next", "target", t.Addr.String(), "err", e)
	}
}

// HandleResponse passes responses on, and on a failure the next target
// would repair tries it instead.
func (f *failover) HandleResponse(tx *transaction.ClientTx, r transaction.Response) {
	if r.Status < 200 {
		f.mu.Lock()
		f.provisional = true
		f.mu.Unlock()
		f.h.HandleResponse(tx, r)
		return
	}
	f.mu.Lock()
	// RFC 3263 §4.3: a transport error, a timeout or a 503 from a server
	// that has not begun to answer sends the request to the next target.
	retry := f.next < len(f.targets) && !f.provisional && retryable(r)
	f.mu.Unlock()
	if retry && (f.abandon == nil || !f.abandon()) {
		if _, err := f.start(); err == nil {
			return
		}
	}
	f.h.HandleResponse(tx, r)
}

// retryable reports whether RFC 3263 §4.3 moves on to the next target
// after r.
func retryable(r transaction.Response) bool {
	if r.Err != nil {
		return errors.Is(r.Err, transaction.ErrTimeout) || errors.Is(r.Err, transaction.ErrTransport)
	}
	return r.Status == 503
}
