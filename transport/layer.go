package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// MTUThreshold is the size above which a request bound for UDP goes over
// TCP instead, when the path MTU is unknown (RFC 3261 §18.1.1).
const MTUThreshold = 1300

// Defaults of the zero Config.
const (
	DefaultIdleTimeout         = 2 * time.Minute
	DefaultMaxConns            = 1024
	DefaultMaxConnsPerIP       = 64
	DefaultFirstMessageTimeout = 10 * time.Second
	DefaultMessageTimeout      = 32 * time.Second
	DefaultDialTimeout         = 5 * time.Second
	DefaultWriteTimeout        = 10 * time.Second
	DefaultUDPBuffer           = 4 << 20
)

// Config configures a Layer. The zero value is usable: every field has a
// documented default.
type Config struct {
	// Clock runs every timer of the Layer: connection idle, first-message
	// and message timeouts, and back-off after accept errors. Default
	// SystemClock().
	Clock Clock
	// Logger receives warnings about bad input and failing sockets; each
	// kind of warning is logged at most once per 10 s (of Clock), with a
	// count of those suppressed. Default slog.Default().
	Logger *slog.Logger
	// Tracer, if not nil, sees every SIP message the Layer sends or
	// receives (see Tracer). Default nil: no tracing, at no cost.
	Tracer Tracer
	// Parser holds the limits for inbound messages. Stream connections
	// buffer at most Parser.MaxMessageSize bytes (1 MiB if negative).
	Parser sip.Parser
	// IdleTimeout closes a stream connection that has carried nothing for
	// this long. It should exceed the longest transaction, 64*T1 = 32 s
	// (RFC 3261 §18). Default 2 minutes.
	IdleTimeout time.Duration
	// TLS is the server configuration of ListenTLS (Certificates; ClientAuth
	// and ClientCAs to ask for and verify client certificates). Dialling
	// TLS uses a clone of it: RootCAs verify the server, and Certificates
	// are offered when the server asks for a client certificate (mutual
	// TLS). The server's certificate must be valid for the name given to
	// ConnectTLS for that destination (the SIP domain, RFC 5922 §7), else
	// for ServerName, else for the destination IP address. Nil: ListenTLS
	// fails and dialling verifies against the system roots.
	TLS *tls.Config
	// MaxConns bounds the stream connections open at once, accepted and
	// dialled together (in-memory ones included). Over it, accepted
	// connections are closed at once and dialling fails with
	// ErrTooManyConns. Default 1024.
	MaxConns int
	// MaxConnsPerIP bounds the stream connections accepted from one source
	// IP address at once, so that one host cannot take all of MaxConns.
	// Over it, the new connection is closed at once. Default 64: room for
	// a site of phones behind one NAT address, each with its own
	// connection, while one address holds at most a sixteenth of the
	// default MaxConns. Negative: no limit per address.
	MaxConnsPerIP int
	// FirstMessageTimeout closes an accepted stream connection that has not
	// delivered one whole SIP message this long after it was accepted: a
	// client that connects and stays silent, or trickles its first
	// message. Peers connect in order to send a message at once (RFC 3261
	// §18.1.1, §18.2.2), so 10 s leaves ample time for a TLS handshake on
	// a slow link. Keep-alive CRLFs do not count. Default 10 s.
	FirstMessageTimeout time.Duration
	// MessageTimeout closes a stream connection on which a message has
	// begun to arrive but not ended within this long, such as a slowloris
	// client sending a byte a second, which would otherwise postpone
	// IdleTimeout forever. Default 32 s = 64*T1: by then the sender's
	// transaction has timed out (Timers B and F, RFC 3261 §17.1.1.2,
	// §17.1.2.2), so the rest of the message would be of no use.
	MessageTimeout time.Duration
	// UDPBuffer is the receive and send buffer asked of the kernel for each
	// UDP socket. The usual default (about 200 KiB) overflows and drops
	// datagrams at a few thousand transactions per second, which SIP then
	// repairs with retransmissions; the kernel may cap the value
	// (net.core.rmem_max). Default 4 MiB; negative keeps the system's.
	UDPBuffer int
	// UDPReaders is how many sockets ListenUDP binds to its address, each
	// with its own reader goroutine, so that receiving (and the Handler,
	// which runs on the reader) can use more than one core. The sockets
	// share the address with SO_REUSEPORT, and the kernel hashes each
	// datagram's source and destination to one of them: one peer's
	// datagrams keep their order, reaching one reader. Over 1 needs Linux;
	// elsewhere ListenUDP logs a warning and binds one socket. Any other
	// process of the same user may join the group by binding the port with
	// SO_REUSEPORT too, and take a share of the datagrams. Default 1.
	UDPReaders int
	// DialTimeout bounds opening a TCP connection and its TLS handshake.
	// Default 5 s.
	DialTimeout time.Duration
	// WriteTimeout bounds one write on a stream connection; the connection
	// is closed when it expires. It is a socket deadline, so it runs on the
	// wall clock, not on Clock. Default 10 s.
	WriteTimeout time.Duration
	// Host, when set, is the sent-by host written in the Via of requests
	// (an FQDN is RECOMMENDED, RFC 3261 §18.1.1), and the host that
	// LocalHostPort gives the layers above for Contact and From: the
	// advertised address of a UA behind a NAT that forwards to it, or of a
	// multi-homed host. Default: the IP address of the listener used, or
	// for a listener on an unspecified address (0.0.0.0, ::) the local
	// address the system routes the destination from; never the
	// unspecified address itself.
	Host string
	// Port, when set, is the port written with Host in sent-by and given
	// by LocalHostPort, where a NAT forwards a port other than the
	// listener's. Default: the port of the listener used.
	Port uint16
	// KeepAlive, when positive, sends a CRLF CRLF ping (RFC 5626 §3.5.1)
	// on every TCP or TLS connection this Layer opened that has carried
	// nothing for that long, so that a NAT or firewall on the path keeps
	// its binding and a dead connection is found. A failed write closes
	// the connection. RFC 5626 §4.4.1 suggests 95 to 120 s. Default 0: no
	// keep-alives (answering the peer's pings is always on).
	KeepAlive time.Duration
}

// Stats are a Layer's counters since New.
type Stats struct {
	Received         uint64 // messages passed to the Handler
	Sent             uint64 // messages written (requests, responses, retransmissions)
	SendErrors       uint64 // sends that failed
	ParseErrors      uint64 // inbound messages that did not parse
	Invalid          uint64 // inbound messages that parsed but failed sip.Message.Validate
	Rejected         uint64 // bad requests the transport answered with 400, 505 or 513
	DroppedRequests  uint64 // bad requests dropped without an answer
	DroppedResponses uint64 // responses not passed to the Handler: unparsable, invalid (see OnBadResponse) or not ours (RFC 3261 §18.1.2)
	KeepAlives       uint64 // CRLF keep-alives received (RFC 5626 §3.5.1)
	Pongs            uint64 // CRLF pongs sent in answer to a double-CRLF ping
	Pings            uint64 // double-CRLF keep-alive pings sent (Config.KeepAlive)
	FramingErrors    uint64 // stream connections closed for bad framing
	RefusedConns     uint64 // connections refused over MaxConns
	RefusedPerIP     uint64 // accepted connections closed over MaxConnsPerIP
	IdleClosed       uint64 // stream connections closed after IdleTimeout

	FirstMessageTimeouts uint64 // accepted connections closed without a whole message within FirstMessageTimeout
	MessageTimeouts      uint64 // stream connections closed with a message unfinished after MessageTimeout

	OpenConns int // stream connections open now
}

type counters struct {
	received, sent, sendErrors, parseErrors, invalid, rejected atomic.Uint64
	droppedRequests, droppedResponses, keepAlives, pongs       atomic.Uint64
	pings                                                      atomic.Uint64
	framingErrors, refusedConns, refusedPerIP, idleClosed      atomic.Uint64
	firstMessageTimeouts, messageTimeouts                      atomic.Uint64
}

// Layer is the transport layer of RFC 3261 §18: it owns the listeners and
// the stream connections, sends requests and responses, and passes every
// valid inbound message to its Handler. It is safe for concurrent use.
//
// Receiving: before a request reaches the Handler its top Via gets
// "received" and a filled-in "rport" (RFC 3261 §18.2.1, RFC 3581 §4),
// written into the receive buffer itself, and the request passes
// sip.Message.Validate; one that fails is answered by the Layer (400 with
// the reason, 505, 513) when its header fields allow, and dropped
// otherwise. A response reaches the Handler only if it is valid and its
// top Via names this Layer (RFC 3261 §18.1.2); a final one addressed to
// this Layer that cannot be used goes to the OnBadResponse function (a
// transaction.Manager's, which fails its transaction). Everything dropped is
// counted in Stats. The Handler runs on the goroutine that read the
// message: one per UDP socket (Config.UDPReaders per UDP listener, the
// datagrams of one peer all reaching the same one) and one per stream
// connection, so messages from one peer's socket arrive in order; for an
// in-memory Network, the sender's goroutine or the Clock's.
//
// Buffers: every inbound message is parsed in place in a pooled receive
// buffer (65,535 bytes for datagrams, a growing per-connection buffer for
// streams); the Inbound given to the Handler, its Msg, and every slice read
// from them are valid only until HandleInbound returns, when the buffer
// goes back to its pool or to the next message. Byte slices given to the
// Send methods are not retained after they return.
type Layer struct {
	cfg    Config
	h      Handler
	parser sip.Parser // cfg.Parser
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
	warns  warnLimiters
	stats  counters
	onBad  atomic.Pointer[func(in *Inbound, status int, err error)] // see OnBadResponse

	mu      sync.Mutex
	udps    []*udpListener
	streams []*streamListener
	mems    []*memEndpoint
	conns   map[Addr]*streamConn // by remote address (RFC 3261 §18)
	byID    map[uint64]*streamConn
	perIP   map[netip.Addr]int // accepted connections by source address
	dialing map[Addr]*dialWait
	nextID  uint64
	// TLS server names by destination, from ConnectTLS: what a connection
	// dialled to that address must be verified against.
	tlsNames map[Addr]string
}

// New returns a Layer that passes inbound messages to h. It listens on
// nothing until ListenUDP, ListenTCP, ListenTLS or ListenMem is called.
func New(cfg Config, h Handler) *Layer {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.FirstMessageTimeout <= 0 {
		cfg.FirstMessageTimeout = DefaultFirstMessageTimeout
	}
	if cfg.MessageTimeout <= 0 {
		cfg.MessageTimeout = DefaultMessageTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if h == nil {
		h = HandlerFunc(func(*Inbound) {})
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Layer{
		cfg:     cfg,
		h:       h,
		parser:  cfg.Parser,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		conns:   make(map[Addr]*streamConn),
		byID:    make(map[uint64]*streamConn),
		perIP:   make(map[netip.Addr]int),
		dialing: make(map[Addr]*dialWait),

		tlsNames: make(map[Addr]string),
	}
}

// Close closes the listeners and connections, stops the Layer's timers and
// waits for its goroutines to end. Sends after Close fail with ErrClosed.
// Close must not be called from a Handler.
func (l *Layer) Close() error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return nil
	}
	l.closed.Store(true)
	l.cancel()
	close(l.done)
	udps, streams, mems := l.udps, l.streams, l.mems
	l.udps, l.streams, l.mems = nil, nil, nil
	conns := make([]*streamConn, 0, len(l.byID))
	for _, c := range l.byID {
		conns = append(conns, c)
	}
	l.mu.Unlock()

	for _, u := range udps {
		u.close()
	}
	for _, s := range streams {
		s.ln.Close()
	}
	for _, m := range mems {
		m.n.detach(m)
	}
	for _, c := range conns {
		c.close()
	}
	l.wg.Wait()
	return nil
}

// Stats returns a snapshot of the Layer's counters.
func (l *Layer) Stats() Stats {
	l.mu.Lock()
	open := len(l.byID)
	l.mu.Unlock()
	s := &l.stats
	return Stats{
		Received:         s.received.Load(),
		Sent:             s.sent.Load(),
		SendErrors:       s.sendErrors.Load(),
		ParseErrors:      s.parseErrors.Load(),
		Invalid:          s.invalid.Load(),
		Rejected:         s.rejected.Load(),
		DroppedRequests:  s.droppedRequests.Load(),
		DroppedResponses: s.droppedResponses.Load(),
		KeepAlives:       s.keepAlives.Load(),
		Pongs:            s.pongs.Load(),
		Pings:            s.pings.Load(),
		FramingErrors:    s.framingErrors.Load(),
		RefusedConns:     s.refusedConns.Load(),
		RefusedPerIP:     s.refusedPerIP.Load(),
		IdleClosed:       s.idleClosed.Load(),

		FirstMessageTimeouts: s.firstMessageTimeouts.Load(),
		MessageTimeouts:      s.messageTimeouts.Load(),

		OpenConns: open,
	}
}

// SendRequest sends req to dst with a new top Via inserted right after the
// request line (RFC 3261 §18.1.1, RFC 3581 §3):
//
//	Via: SIP/2.0/<PROTO> <sent-by>;branch=<branch>;rport
//
// where sent-by is the host (Config.Host or the local IP address) and port
// of the listener used. req is a complete request without its top Via:
// request line, header fields, empty line and body. SendRequest returns the
// exact bytes sent, which the transaction layer retransmits with Send, and
// the transport address actually used.
//
// RFC 3261 §18.1.1: a request for UDP whose bytes would exceed
// MTUThreshold goes over TCP to the same IP address and port, with TCP in
// its Via, and used says TCP. If the peer refuses or resets that
// connection (it listens on UDP only, as RFC 2543 elements may), the
// request is sent over UDP after all, with UDP in its Via, as §18.1.1
// says it SHOULD be; any other TCP failure is returned.
func (l *Layer) SendRequest(dst Addr, branch []byte, req []byte) (wire []byte, used Addr, err error) {
	eol := bytes.IndexByte(req, '\n')
	if eol <= 0 || !validBranch(branch) {
		return nil, dst, ErrBadMessage
	}
	if l.closed.Load() {
		return nil, dst, ErrClosed
	}
	switch dst.Proto {
	case UDP:
		ep, err := l.datagramEndpoint(dst.AddrPort, Addr{})
		if err != nil {
			l.stats.sendErrors.Add(1)
			return nil, dst, err
		}
		var hostBuf [64]byte
		host := l.sentByHost(hostBuf[:0], ep.local(), dst.AddrPort)
		size := len(req) + viaLineLen(host, l.sentByPort(ep.local()), branch)
		if size > MTUThreshold {
			// RFC 3261 §18.1.1: larger than 1300 bytes and the path MTU
			// unknown: MUST use a congestion controlled transport, and
			// change the top Via to say so.
			wire, used, err := l.sendRequestStream(Addr{Proto: TCP, AddrPort: dst.AddrPort}, eol, branch, req)
			if err == nil || !connRefused(err) {
				return wire, used, err
			}
			// RFC 3261 §18.1.1: the connection was refused or reset: the
			// element SHOULD retry the request over UDP.
		}
		wire = make([]byte, 0, size)
		wire = appendWithVia(wire, req, eol, UDP, host, l.sentByPort(ep.local()), branch)
		if err := ep.send(dst.AddrPort, wire); err != nil {
			l.stats.sendErrors.Add(1)
			return wire, dst, err
		}
		l.stats.sent.Add(1)
		return wire, dst, nil
	case TCP, TLS:
		return l.sendRequestStream(dst, eol, branch, req)
	}
	return nil, dst, ErrBadMessage
}

// connRefused reports whether err is a peer refusing or resetting a TCP
// connection, after which RFC 3261 §18.1.1 retries a large request over
// UDP.
func connRefused(err error) bool {
	return errors.Is(err, ErrConnRefused) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}

// sendRequestStream sends a request over a reused or new stream connection
// to dst, with a Via naming the local listener of that protocol.
func (l *Layer) sendRequestStream(dst Addr, eol int, branch, req []byte) ([]byte, Addr, error) {
	var wire []byte
	err := l.withConn(dst, func(c *streamConn) error {
		var hostBuf [64]byte
		sentBy := l.streamSentBy(c)
		host := l.sentByHost(hostBuf[:0], sentBy, dst.AddrPort)
		wire = make([]byte, 0, len(req)+viaLineLen(host, l.sentByPort(sentBy), branch))
		wire = appendWithVia(wire, req, eol, dst.Proto, host, l.sentByPort(sentBy), branch)
		return c.write(wire)
	})
	if err != nil {
		l.stats.sendErrors.Add(1)
		return wire, dst, err
	}
	l.stats.sent.Add(1)
	return wire, dst, nil
}

// Send sends wire as it is to dst: a retransmission, an ACK, a request the
// caller built whole. For TCP and TLS it reuses the open connection to dst
// or opens one (RFC 3261 §18.1.1: an existing connection is RECOMMENDED).
func (l *Layer) Send(dst Addr, wire []byte) error {
	if l.closed.Load() {
		return ErrClosed
	}
	var err error
	switch dst.Proto {
	case UDP:
		var ep datagramEndpoint
		if ep, err = l.datagramEndpoint(dst.AddrPort, Addr{}); err == nil {
			err = ep.send(dst.AddrPort, wire)
		}
	case TCP, TLS:
		err = l.withConn(dst, func(c *streamConn) error { return c.write(wire) })
	default:
		err = ErrBadMessage
	}
	if err != nil {
		l.stats.sendErrors.Add(1)
		return err
	}
	l.stats.sent.Add(1)
	return nil
}

// withConn calls f with the open connection to dst, or a new one. If f
// fails on a reused connection, which the peer may have closed since, the
// connection is closed and f is tried once more on a new one.
func (l *Layer) withConn(dst Addr, f func(*streamConn) error) error {
	c, reused, err := l.getConn(dst)
	if err != nil {
		return err
	}
	if err = f(c); err == nil || !reused {
		return err
	}
	if c, _, err = l.getConn(dst); err != nil {
		return err
	}
	return f(c)
}

// SendResponse sends a response to a request that arrived as rt says,
// following RFC 3261 §18.2.2 and RFC 3581 §4 on the top Via of wire:
//
//   - on the stream connection the request came on (rt.ConnID), if it is
//     still open;
//   - otherwise, for TCP or TLS in the Via, on a connection to the
//     "received" address (else the sent-by host) and the sent-by port or
//     the protocol's default port;
//   - for UDP: to maddr if present, at the sent-by port or 5060; else to
//     "received" at the rport value if it has one (RFC 3581 §4), else at
//     the sent-by port or 5060; else to the sent-by host and port.
//
// UDP responses leave from the socket the request arrived on (rt.Local),
// as RFC 3581 §4 requires for symmetric NATs. Where the Via needs DNS (a
// host name in sent-by or maddr) the response goes to the request's source
// IP address (rt.Remote) at the sent-by port, or the source port when the
// Via has none: RFC 3263 §5 is not implemented. A top Via
// that does not parse also sends to rt.Remote.
func (l *Layer) SendResponse(rt ReplyTo, wire []byte) error {
	if l.closed.Load() {
		return ErrClosed
	}
	err := l.sendResponse(rt, wire)
	if err != nil {
		l.stats.sendErrors.Add(1)
		return err
	}
	l.stats.sent.Add(1)
	return nil
}

func (l *Layer) sendResponse(rt ReplyTo, wire []byte) error {
	// RFC 3261 §18.2.2: reliable: the existing connection to the source of
	// the request, if that connection is still open.
	if rt.ConnID != 0 {
		if c := l.connByID(rt.ConnID); c != nil {
			if err := c.write(wire); err == nil {
				return nil
			}
		}
	}
	var via sip.Via
	hasVia := wireTopVia(wire, &via)
	dst, err := responseDest(rt, &via, hasVia)
	if err != nil {
		return err
	}
	switch dst.Proto {
	case UDP:
		ep, err := l.datagramEndpoint(dst.AddrPort, rt.Local)
		if err != nil {
			return err
		}
		return ep.send(dst.AddrPort, wire)
	case TCP, TLS:
		return l.withConn(dst, func(c *streamConn) error { return c.write(wire) })
	}
	return ErrBadMessage
}

// local endpoints

// datagramEndpoint is a local socket that sends datagrams: a UDP listener
// or an in-memory endpoint.
type datagramEndpoint interface {
	local() Addr
	send(dst netip.AddrPort, b []byte) error
}

// datagramEndpoint picks the endpoint to send to dst from: from if it is
// one of ours (RFC 3581 §4: a response leaves from where its request
// arrived), else one of the address family of dst. A Layer attached to an
// in-memory Network sends only there.
func (l *Layer) datagramEndpoint(dst netip.AddrPort, from Addr) (datagramEndpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if len(l.mems) > 0 {
		var best *memEndpoint
		for _, m := range l.mems {
			if m.addr.Proto != UDP {
				continue
			}
			if m.addr == from {
				return m, nil
			}
			if best == nil || (sameFamily(m.addr.Addr(), dst.Addr()) && !sameFamily(best.addr.Addr(), dst.Addr())) {
				best = m
			}
		}
		if best == nil {
			return nil, ErrNoListener
		}
		return best, nil
	}
	var best *udpListener
	for _, u := range l.udps {
		if u.addr == from {
			return u, nil
		}
		if familyFits(u.addr.Addr(), dst.Addr()) && (best == nil || sameFamily(u.addr.Addr(), dst.Addr()) && !sameFamily(best.addr.Addr(), dst.Addr())) {
			best = u
		}
	}
	if best == nil {
		return nil, ErrNoListener
	}
	return best, nil
}

// sameFamily reports whether a and b are both IPv4 or both IPv6.
func sameFamily(a, b netip.Addr) bool { return a.Unmap().Is4() == b.Unmap().Is4() }

// familyFits reports whether a socket bound to local can reach dst: same
// family, or a dual-stack socket on the unspecified IPv6 address.
func familyFits(local, dst netip.Addr) bool {
	return sameFamily(local, dst) || (local.Is6() && local.IsUnspecified())
}

// streamSentBy returns the address to write as sent-by for a request on
// c: the listener of c's protocol and family, where a new connection for
// the response would be accepted (RFC 3261 §18.1.1), else c's own local
// address.
func (l *Layer) streamSentBy(c *streamConn) Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.mem != nil {
		return c.local
	}
	for _, s := range l.streams {
		if s.addr.Proto == c.local.Proto && familyFits(s.addr.Addr(), c.remote.Addr()) {
			return s.addr
		}
	}
	return c.local
}

// sentByHost appends the sent-by host for a request from local to dst:
// Config.Host, else local's IP address in Via form ("[::1]" for IPv6),
// else, for an unspecified address, the one the system routes dst from.
func (l *Layer) sentByHost(dst []byte, local Addr, to netip.AddrPort) []byte {
	if l.cfg.Host != "" {
		return append(dst, l.cfg.Host...)
	}
	ip := local.Addr()
	if ip.IsUnspecified() {
		ip = routedSource(to.Addr(), ip)
	}
	return appendHost(dst, ip)
}

// sentByPort returns the sent-by port for a request from local:
// Config.Port, else local's.
func (l *Layer) sentByPort(local Addr) uint16 {
	if l.cfg.Port != 0 {
		return l.cfg.Port
	}
	return local.Port()
}

// LocalHostPort returns the host and port that name this Layer to a peer
// at dst, over dst.Proto, as the Via of a request to dst would: Config.Host
// and Config.Port when set, else the address of the listener a request to
// dst leaves from (for a stream, the listener where a connection back
// would be accepted), with an unspecified listener address replaced by the
// local address the system routes dst from (RFC 3261 §18.1.1; a Contact
// or From naming 0.0.0.0 would reach no one). An IPv6 host is bracketed.
// It fails with ErrNoListener when no listener serves dst.Proto.
func (l *Layer) LocalHostPort(dst Addr) (host string, port uint16, err error) {
	local, err := l.localFor(dst)
	if err != nil {
		return "", 0, err
	}
	var b [64]byte
	to := dst.AddrPort
	if !to.Addr().IsValid() {
		// No destination known: the address the system would use to reach
		// the world, else loopback.
		to = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), 9)
		if local.Addr().Is6() && !local.Addr().Unmap().Is4() {
			to = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 9)
		}
	}
	h := l.sentByHost(b[:0], local, to)
	if bytes.HasPrefix(h, []byte("0.0.0.0")) || bytes.HasPrefix(h, []byte("[::]")) {
		h = appendHost(b[:0], netip.IPv6Loopback())
		if local.Addr().Unmap().Is4() {
			h = appendHost(b[:0], netip.AddrFrom4([4]byte{127, 0, 0, 1}))
		}
	}
	return string(h), l.sentByPort(local), nil
}

// localFor returns the local address a request to dst leaves from, or
// for a stream the listener that a connection back would reach.
func (l *Layer) localFor(dst Addr) (Addr, error) {
	if dst.Proto == UDP {
		to := dst.AddrPort
		if !to.Addr().IsValid() {
			to = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), 9)
			if _, err := l.datagramEndpoint(to, Addr{}); err != nil {
				to = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 9)
			}
		}
		ep, err := l.datagramEndpoint(to, Addr{})
		if err != nil {
			return Addr{}, err
		}
		return ep.local(), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.mems) > 0 {
		if ep := l.memStreamEndpoint(dst); ep != nil {
			return ep.addr, nil
		}
		return Addr{}, ErrNoListener
	}
	var best *streamListener
	for _, s := range l.streams {
		if s.addr.Proto != dst.Proto {
			continue
		}
		if best == nil || (dst.Addr().IsValid() && familyFits(s.addr.Addr(), dst.Addr()) && !familyFits(best.addr.Addr(), dst.Addr())) {
			best = s
		}
	}
	if best == nil {
		return Addr{}, ErrNoListener
	}
	return best.addr, nil
}

// connByID returns the open stream connection with that id, or nil.
func (l *Layer) connByID(id uint64) *streamConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byID[id]
}
