package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// Stream receive buffers start small and grow to hold the largest message
// the Parser allows (plus viaSlack for stampVia).
const (
	streamBufInit  = 4096
	streamMaxUnlim = 1 << 20 // buffer bound when Parser.MaxMessageSize < 0
)

// streamListener accepts TCP or TLS connections.
type streamListener struct {
	l    *Layer
	ln   net.Listener
	addr Addr
}

// ListenTCP listens for TCP connections on addr (port 0: an ephemeral
// port) and returns its address.
func (l *Layer) ListenTCP(addr netip.AddrPort) (Addr, error) {
	return l.listenStream(TCP, addr)
}

// ListenTLS listens for TLS connections on addr with Config.TLS, which must
// hold a certificate, and returns its address.
func (l *Layer) ListenTLS(addr netip.AddrPort) (Addr, error) {
	if l.cfg.TLS == nil || (len(l.cfg.TLS.Certificates) == 0 && l.cfg.TLS.GetCertificate == nil && l.cfg.TLS.GetConfigForClient == nil) {
		return Addr{}, ErrNoTLSConfig
	}
	return l.listenStream(TLS, addr)
}

func (l *Layer) listenStream(proto Protocol, addr netip.AddrPort) (Addr, error) {
	addr = unmapPort(addr)
	tl, err := net.ListenTCP(network("tcp", addr.Addr()), net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return Addr{}, err
	}
	s := &streamListener{l: l, ln: tl, addr: Addr{Proto: proto, AddrPort: unmapPort(tl.Addr().(*net.TCPAddr).AddrPort())}}
	if proto == TLS {
		s.ln = tls.NewListener(tl, l.cfg.TLS)
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		tl.Close()
		return Addr{}, ErrClosed
	}
	l.streams = append(l.streams, s)
	l.wg.Add(1)
	l.mu.Unlock()
	go s.acceptLoop()
	return s.addr, nil
}

// acceptLoop accepts connections until the listener closes. After an
// error it backs off (5 ms doubling to 1 s, on the Clock) as net/http does.
func (s *streamListener) acceptLoop() {
	l := s.l
	defer l.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || l.closed.Load() {
				return
			}
			l.warn(warnAccept, "transport: accept failed", s.addr, err)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			wake := make(chan struct{})
			t := l.cfg.Clock.AfterFunc(backoff, func() { close(wake) })
			select {
			case <-wake:
			case <-l.done:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		local := Addr{Proto: s.addr.Proto, AddrPort: unmapPort(nc.LocalAddr().(*net.TCPAddr).AddrPort())}
		remote := Addr{Proto: s.addr.Proto, AddrPort: unmapPort(nc.RemoteAddr().(*net.TCPAddr).AddrPort())}
		c := &streamConn{l: l, nc: nc, local: local, remote: remote, accepted: true}
		if err := l.addConn(c, false); err != nil {
			l.refused(remote, err)
			nc.Close()
		}
	}
}

// errTooManyFromIP: accepting a connection would exceed
// Config.MaxConnsPerIP.
var errTooManyFromIP = errors.New("transport: too many connections from the address")

// refused counts and logs a connection refused by addConn.
func (l *Layer) refused(remote Addr, err error) {
	switch err {
	case ErrTooManyConns:
		l.stats.refusedConns.Add(1)
		l.warn(warnRefused, "transport: connection refused: MaxConns reached", remote, nil)
	case errTooManyFromIP:
		l.stats.refusedPerIP.Add(1)
		l.warn(warnRefusedPerIP, "transport: connection refused: MaxConnsPerIP reached", remote, nil)
	}
}

// streamConn is a TCP or TLS connection, accepted or dialled, or an
// in-memory one (nc nil, mem set). Connections are indexed by the remote
// address and shared by requests and responses in both directions
// (RFC 3261 §18).
type streamConn struct {
	l             *Layer
	id            uint64
	nc            net.Conn     // nil for an in-memory connection
	mem           *memEndpoint // the local endpoint of an in-memory connection
	local, remote Addr
	accepted      bool // opened by the peer: MaxConnsPerIP and FirstMessageTimeout apply

	wmu        sync.Mutex   // serialises writes on nc
	lastActive atomic.Int64 // Clock time of the last read or write, UnixNano

	mu     sync.Mutex
	closed bool
	timer  Timer // runs checkTimers
	// Deadlines, Clock time in UnixNano, 0 when none runs: firstBy for the
	// first whole message of an accepted connection, msgSince+MessageTimeout
	// for the message partly read.
	firstBy, msgSince int64
}

// addConn registers c, arms its timer and, for a socket, starts its
// reader. It fails over MaxConns (reserved: c already holds one of the
// slots counted for connections being dialled), over MaxConnsPerIP for an
// accepted connection, or after Close.
func (l *Layer) addConn(c *streamConn, reserved bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addConnLocked(c, reserved)
}

// addConnLocked is addConn with l.mu held.
func (l *Layer) addConnLocked(c *streamConn, reserved bool) error {
	if l.closed.Load() {
		return ErrClosed
	}
	used := len(l.byID) + len(l.dialing)
	if reserved {
		used--
	}
	if used >= l.cfg.MaxConns {
		return ErrTooManyConns
	}
	if c.accepted {
		ip := c.remote.Addr()
		if l.cfg.MaxConnsPerIP > 0 && l.perIP[ip] >= l.cfg.MaxConnsPerIP {
			return errTooManyFromIP
		}
		l.perIP[ip]++
	}
	l.nextID++
	c.id = l.nextID
	l.byID[c.id] = c
	l.conns[c.remote] = c
	now := l.cfg.Clock.Now().UnixNano()
	c.lastActive.Store(now)
	// c.mu: with a short timeout the timer may fire, and checkTimers
	// re-arm or close c, before AfterFunc returns.
	c.mu.Lock()
	if c.accepted {
		c.firstBy = now + int64(l.cfg.FirstMessageTimeout)
	}
	c.timer = l.cfg.Clock.AfterFunc(time.Duration(c.nextDeadline(now)-now), c.checkTimers)
	c.mu.Unlock()
	if c.nc != nil {
		l.wg.Add(1)
		go c.readLoop()
	}
	return nil
}

// removeConn unregisters c.
func (l *Layer) removeConn(c *streamConn) {
	l.mu.Lock()
	delete(l.byID, c.id)
	if l.conns[c.remote] == c {
		delete(l.conns, c.remote)
	}
	if c.accepted {
		ip := c.remote.Addr()
		if l.perIP[ip]--; l.perIP[ip] <= 0 {
			delete(l.perIP, ip)
		}
	}
	l.mu.Unlock()
}

// dialWait lets concurrent senders to one address share one dial.
type dialWait struct {
	done chan struct{}
	err  error
}

// getConn returns the open connection to dst, or opens one; reused says
// which.
func (l *Layer) getConn(dst Addr) (c *streamConn, reused bool, err error) {
	dst = Addr{Proto: dst.Proto, AddrPort: unmapPort(dst.AddrPort)}
	l.mu.Lock()
	for {
		if l.closed.Load() {
			l.mu.Unlock()
			return nil, false, ErrClosed
		}
		if c := l.conns[dst]; c != nil {
			l.mu.Unlock()
			return c, true, nil
		}
		w := l.dialing[dst]
		if w == nil {
			break
		}
		l.mu.Unlock()
		<-w.done
		if w.err != nil {
			return nil, false, w.err
		}
		l.mu.Lock()
	}
	if len(l.byID)+len(l.dialing) >= l.cfg.MaxConns {
		l.mu.Unlock()
		return nil, false, ErrTooManyConns
	}
	if len(l.mems) > 0 {
		// In-memory: no handshake; the connection exists once registered.
		defer l.mu.Unlock()
		ep := l.memStreamEndpoint(dst)
		if ep == nil {
			return nil, false, ErrNoListener
		}
		c = &streamConn{l: l, mem: ep, local: ep.addr, remote: dst}
		if err := l.addConnLocked(c, false); err != nil {
			return nil, false, err
		}
		return c, false, nil
	}
	w := &dialWait{done: make(chan struct{})}
	l.dialing[dst] = w
	localIP := l.dialSource(dst)
	name := l.tlsNames[dst]
	l.mu.Unlock()

	c, err = l.dial(dst, localIP, name)
	if err == nil {
		if err = l.addConn(c, true); err != nil {
			c.nc.Close()
		}
	}
	l.mu.Lock()
	delete(l.dialing, dst)
	w.err = err
	close(w.done)
	l.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	return c, false, nil
}

// dialSource returns the IP address of our listener of dst's protocol and
// family, so that a dialled connection leaves from the address its Via
// names; the zero Addr lets the system choose. l.mu is held.
func (l *Layer) dialSource(dst Addr) netip.Addr {
	for _, s := range l.streams {
		if s.addr.Proto == dst.Proto && sameFamily(s.addr.Addr(), dst.Addr()) && !s.addr.Addr().IsUnspecified() {
			return s.addr.Addr()
		}
	}
	return netip.Addr{}
}

// dial opens a TCP or TLS connection to dst within DialTimeout; a TLS
// server's certificate must be valid for name when it is not empty.
func (l *Layer) dial(dst Addr, localIP netip.Addr, name string) (*streamConn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.DialTimeout)
	defer cancel()
	d := &net.Dialer{}
	if localIP.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: localIP.AsSlice()}
	}
	var nc net.Conn
	var err error
	if dst.Proto == TLS {
		cfg := &tls.Config{}
		if l.cfg.TLS != nil {
			cfg = l.cfg.TLS.Clone()
		}
		if name != "" {
			cfg.ServerName = name
		}
		td := &tls.Dialer{NetDialer: d, Config: cfg}
		nc, err = td.DialContext(ctx, "tcp", dst.AddrPort.String())
	} else {
		nc, err = d.DialContext(ctx, "tcp", dst.AddrPort.String())
	}
	if err != nil {
		return nil, err
	}
	local := Addr{Proto: dst.Proto, AddrPort: unmapPort(nc.LocalAddr().(*net.TCPAddr).AddrPort())}
	return &streamConn{l: l, nc: nc, local: local, remote: dst}, nil
}

// touch records activity, postponing the idle timeout.
func (c *streamConn) touch() { c.lastActive.Store(c.l.cfg.Clock.Now().UnixNano()) }

// framed records that a whole message has arrived, before it is handled:
// the first-message deadline and that of the message end.
func (c *streamConn) framed() {
	c.mu.Lock()
	c.firstBy, c.msgSince = 0, 0
	c.mu.Unlock()
}

// partial records that the buffer holds the start of a message; its
// MessageTimeout runs from the first read that brought part of it.
func (c *streamConn) partial() {
	c.mu.Lock()
	if c.msgSince == 0 {
		c.msgSince = c.l.cfg.Clock.Now().UnixNano()
	}
	c.mu.Unlock()
}

// nextDeadline returns when checkTimers should next run; c.mu is held.
// The idle deadline moves with every read and write, so it is checked
// lazily, as are the others. For a socket the wait is at most
// MessageTimeout, so that a message beginning meanwhile is caught on time
// without arming a timer per message.
func (c *streamConn) nextDeadline(now int64) int64 {
	cfg := &c.l.cfg
	next := c.lastActive.Load() + int64(cfg.IdleTimeout)
	if c.firstBy != 0 {
		next = min(next, c.firstBy)
	}
	if c.msgSince != 0 {
		next = min(next, c.msgSince+int64(cfg.MessageTimeout))
	}
	if c.nc != nil {
		next = min(next, now+int64(cfg.MessageTimeout))
	}
	if c.pings() {
		next = min(next, c.lastActive.Load()+int64(cfg.KeepAlive))
	}
	return max(next, now)
}

// checkTimers closes c if a deadline has passed, else re-arms for the
// next: no whole message within FirstMessageTimeout of accepting it, a
// message unfinished after MessageTimeout, or nothing carried for
// IdleTimeout (RFC 3261 §18: connections stay open a while after the last
// message).
func (c *streamConn) checkTimers() {
	l := c.l
	now := l.cfg.Clock.Now().UnixNano()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	switch {
	case c.firstBy != 0 && now >= c.firstBy:
		c.mu.Unlock()
		l.stats.firstMessageTimeouts.Add(1)
		l.warn(warnFirstMessage, "transport: closing a connection without a message within FirstMessageTimeout", c.remote, nil)
	case c.msgSince != 0 && now >= c.msgSince+int64(l.cfg.MessageTimeout):
		c.mu.Unlock()
		l.stats.messageTimeouts.Add(1)
		l.warn(warnSlowMessage, "transport: closing a connection with a message unfinished after MessageTimeout", c.remote, nil)
	case now >= c.lastActive.Load()+int64(l.cfg.IdleTimeout):
		c.mu.Unlock()
		l.stats.idleClosed.Add(1)
	default:
		ping := c.pings() && now >= c.lastActive.Load()+int64(l.cfg.KeepAlive)
		if ping {
			c.touch() // the ping is activity: the next one is KeepAlive away
			now = l.cfg.Clock.Now().UnixNano()
		}
		c.timer = l.cfg.Clock.AfterFunc(time.Duration(c.nextDeadline(now)-now), c.checkTimers)
		c.mu.Unlock()
		// RFC 5626 §3.5.1: a CRLF CRLF ping; the peer answers with a CRLF
		// pong. A write that fails closes the connection.
		if ping && c.write(doubleCRLF) == nil {
			l.stats.pings.Add(1)
		}
		return
	}
	c.close()
}

var doubleCRLF = []byte("\r\n\r\n")

// pings reports whether c sends keep-alive pings: a connection this Layer
// opened (the flow's client, RFC 5626 §3.5.1), with Config.KeepAlive set.
func (c *streamConn) pings() bool { return c.l.cfg.KeepAlive > 0 && !c.accepted }

// close closes c once: stops its timer, unregisters it and closes the
// socket, which ends the reader.
func (c *streamConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	t := c.timer
	c.timer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	c.l.removeConn(c) // first, so that a peer seeing the close sees it counted
	if c.nc != nil {
		c.nc.Close()
	}
}

// isClosed reports whether close has been called.
func (c *streamConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// write writes one whole message (or keep-alive) to c. On failure c is
// closed.
func (c *streamConn) write(b []byte) error {
	if c.isClosed() {
		return net.ErrClosed
	}
	var err error
	if c.mem != nil {
		// Whole messages are delivered at once; no lock is held, so that a
		// synchronous delivery may answer on this connection.
		// The Network traces it, before the receiver sees it.
		err = c.mem.n.sendStream(c, b)
	} else {
		c.wmu.Lock()
		c.nc.SetWriteDeadline(time.Now().Add(c.l.cfg.WriteTimeout))
		_, err = c.nc.Write(b)
		c.wmu.Unlock()
		if err == nil {
			c.l.traceSent(c.local, c.remote, b)
		}
	}
	if err != nil {
		c.close()
		return err
	}
	c.touch()
	return nil
}

// maxStreamMessage is the most bytes a stream buffer holds for one
// message.
func (l *Layer) maxStreamMessage() int {
	switch n := l.parser.MaxMessageSize; {
	case n == 0:
		return sip.DefaultMaxMessageSize
	case n < 0:
		return streamMaxUnlim
	default:
		return n
	}
}

// readLoop reads c until it closes or breaks the framing, handing each
// message to the Layer. The buffer is c's own and grows as needed; each
// message is parsed in place and valid until the Handler returns.
func (c *streamConn) readLoop() {
	l := c.l
	defer l.wg.Done()
	defer c.close()
	buf := make([]byte, streamBufInit+viaSlack)
	start, n := 0, 0
	var ka keepAlive
	maxMsg := l.maxStreamMessage()
	for {
		var need int
		var err error
		start, n, need, err = c.consume(buf, start, n, &ka)
		if err != nil {
			l.stats.framingErrors.Add(1)
			l.warn(warnFraming, "transport: closing stream on a framing error", c.remote, err)
			return
		}
		if start > 0 {
			copy(buf, buf[start:n])
			n -= start
			start = 0
		}
		if want := max(need, n+1); want > len(buf)-viaSlack {
			if want > maxMsg+1 {
				l.stats.framingErrors.Add(1)
				l.warn(warnFraming, "transport: closing stream on a message over the size limit", c.remote, sip.ErrTooLarge)
				return
			}
			size := min(max(2*(len(buf)-viaSlack), want), maxMsg+1)
			nb := make([]byte, size+viaSlack)
			copy(nb, buf[:n])
			buf = nb
		}
		rn, rerr := c.nc.Read(buf[n : len(buf)-viaSlack])
		if rn > 0 {
			n += rn
			c.touch()
		}
		if rerr != nil {
			if rn > 0 {
				c.consume(buf, start, n, &ka)
			}
			return
		}
	}
}

// consume handles every complete message and keep-alive in buf[start:n].
// It returns the new start and n (stampVia may have grown a message),
// and need: the buffered size the next message needs, when known. buf
// must have viaSlack bytes of room after n.
func (c *streamConn) consume(buf []byte, start, n int, ka *keepAlive) (int, int, int, error) {
	l := c.l
	framed := false
	for start < n {
		size, err := l.parser.Frame(buf[start:n])
		if err != nil {
			if errors.Is(err, sip.ErrIncomplete) {
				c.partial()
				return start, n, 0, nil
			}
			return start, n, 0, err // ErrContentLength, ErrTooLarge: cannot resynchronise
		}
		if b := buf[start]; b == '\r' || b == '\n' {
			l.stats.keepAlives.Add(1)
			pongs := ka.scan(buf[start : start+size])
			start += size
			for ; pongs > 0; pongs-- {
				// RFC 5626 §3.5.1: answer a double-CRLF ping with a CRLF pong.
				if c.write(crlf) == nil {
					l.stats.pongs.Add(1)
				}
			}
			continue
		}
		ka.reset()
		if start+size > n {
			c.partial()
			return start, n, size, nil
		}
		if !framed {
			framed = true // once per call: nothing sets a deadline again before it returns
			c.framed()
		}
		if n+viaSlack > len(buf) {
			// Earlier messages grew when stamped; reclaim their room.
			copy(buf, buf[start:n])
			n -= start
			start = 0
		}
		f := rxFrame{buf: buf, start: start, end: start + size, tail: n, mode: frameStream}
		l.receive(&f, ReplyTo{Remote: c.remote, Local: c.local, ConnID: c.id})
		start, n = f.end, f.tail
	}
	return start, n, 0, nil
}

var crlf = []byte("\r\n")

// keepAlive recognises "\r\n\r\n" pings in runs of CR and LF that may be
// split across reads (RFC 5626 §3.5.1).
type keepAlive struct{ matched int }

// scan advances over a run of CR and LF and returns the pings it
// completed.
func (k *keepAlive) scan(run []byte) (pings int) {
	const ping = "\r\n\r\n"
	for _, b := range run {
		switch {
		case b == ping[k.matched]:
			k.matched++
		case b == '\r':
			k.matched = 1
		default:
			k.matched = 0
		}
		if k.matched == len(ping) {
			pings++
			k.matched = 0
		}
	}
	return pings
}

func (k *keepAlive) reset() { k.matched = 0 }

// maxTLSNames bounds the destinations whose TLS server name a Layer
// remembers; past it an arbitrary one is forgotten (a new connection to it is
// then verified against its IP address until ConnectTLS names it again).
const maxTLSNames = 4096

// ConnectTLS makes sure that requests to dst, a TLS address, travel on a
// connection whose server certificate is valid for serverName: the SIP
// domain of the URI the destination was located from (RFC 5922 §7; RFC
// 3261 §26.3.1), not the IP address or an SRV target. It reuses the open
// connection to dst if its certificate fits, and otherwise opens one,
// verified against that name, waiting for the TCP and TLS handshakes
// (DialTimeout). Connections opened later to dst, such as after the peer
// closed this one, are verified against serverName too. An empty name, or
// a dst not over TLS, costs nothing. An in-memory connection has no
// certificate to check.
func (l *Layer) ConnectTLS(dst Addr, serverName string) error {
	if dst.Proto != TLS || serverName == "" {
		return nil
	}
	dst = Addr{Proto: dst.Proto, AddrPort: unmapPort(dst.AddrPort)}
	l.mu.Lock()
	if _, ok := l.tlsNames[dst]; !ok && len(l.tlsNames) >= maxTLSNames {
		for k := range l.tlsNames {
			delete(l.tlsNames, k) // map order: an arbitrary one
			break
		}
	}
	l.tlsNames[dst] = serverName
	c := l.conns[dst]
	if c != nil && !c.validFor(serverName) {
		// Not for this domain: leave it to whoever uses it by its ID (an
		// accepted connection answering its requests), dial anew.
		if l.conns[dst] == c {
			delete(l.conns, dst)
		}
	}
	l.mu.Unlock()
	_, _, err := l.getConn(dst)
	return err
}

// validFor reports whether c may carry requests for the TLS server name
// name: c was dialled by this Layer, its certificate chain was verified at
// the handshake, and its leaf certificate names name.
func (c *streamConn) validFor(name string) bool {
	if c.mem != nil {
		return true
	}
	tc, ok := c.nc.(*tls.Conn)
	if !ok || c.accepted {
		return false
	}
	if cfg := c.l.cfg.TLS; cfg != nil && cfg.InsecureSkipVerify {
		return true // the configuration checks no certificate
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return false
	}
	return st.PeerCertificates[0].VerifyHostname(name) == nil
}
