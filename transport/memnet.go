package transport

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// Network is an in-memory network for tests: Layers attach to it with
// ListenMem and exchange datagrams (UDP) and, if they attach TCP or TLS
// addresses, reliable stream messages, without touching a socket.
//
// Delivery is deterministic given the seed, the Clock and the order of
// sends. A datagram with no delay is delivered synchronously: the
// destination Layer parses it and runs its Handler on the sender's
// goroutine before the send returns, so a sender must not hold, across a
// send, a lock its own Handler takes (an answer may come back at once).
// A datagram with a delay is delivered by a Clock timer, with a FakeClock
// during Advance. A datagram to an address nobody listens on is dropped,
// as UDP would.
//
// Stream (TCP, TLS) messages are lossless, in order and synchronous; no
// Faults apply and TLS is only a name. Each side keeps its own record of
// the connection, indexed by the peer's listening address (no ephemeral
// ports), which counts towards MaxConns (and, on the side that did not
// open it, MaxConnsPerIP) and closes after IdleTimeout, or after
// FirstMessageTimeout if it has carried only keep-alives. A stream send to
// an address nobody listens on, or refused over a limit, fails with
// ErrConnRefused.
type Network struct {
	clock Clock

	mu                             sync.Mutex
	rng                            *rand.Rand
	faults                         Faults
	eps                            map[Addr]*memEndpoint
	nextPort                       uint16
	delivered, dropped, duplicated int

	// trace, when set (by tests, before any send), sees every delivery.
	trace func(from, to Addr, b []byte)
}

// Faults are the impairments a Network applies to datagrams. Each
// probability is drawn per datagram from the Network's seeded source.
type Faults struct {
	Loss      float64       // probability a datagram is dropped
	Duplicate float64       // probability a datagram is delivered twice
	Reorder   float64       // probability a datagram is held back ReorderHold longer, so that later ones overtake it
	Delay     time.Duration // added to every datagram
	Jitter    time.Duration // a uniformly random extra delay in [0, Jitter]
}

// ReorderHold is how much longer than Delay+Jitter a reordered datagram
// is held back.
const ReorderHold = 10 * time.Millisecond

// NewNetwork returns an empty Network whose delays run on clock and whose
// faults are drawn from a source seeded with seed.
func NewNetwork(clock Clock, seed int64) *Network {
	if clock == nil {
		clock = SystemClock()
	}
	return &Network{
		clock:    clock,
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		eps:      make(map[Addr]*memEndpoint),
		nextPort: 49152,
	}
}

// SetFaults sets the impairments applied to datagrams sent from now on.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	n.faults = f
	n.mu.Unlock()
}

// Stats returns how many messages (datagrams and stream writes) were
// delivered to a listener, dropped (lost, or nobody listening) and
// duplicated.
func (n *Network) Stats() (delivered, dropped, duplicated int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.delivered, n.dropped, n.duplicated
}

// memEndpoint is a Layer's address on a Network.
type memEndpoint struct {
	n    *Network
	l    *Layer
	addr Addr
}

func (m *memEndpoint) local() Addr { return m.addr }

func (m *memEndpoint) send(dst netip.AddrPort, b []byte) error {
	if len(b) > maxDatagram {
		return ErrTooLarge
	}
	// Written, as far as the sender can tell, whatever the Faults do next.
	to := Addr{Proto: UDP, AddrPort: dst}
	m.l.traceSent(m.addr, to, b)
	m.n.sendDatagram(m.addr, to, b)
	return nil
}

// ListenMem attaches the Layer to n at addr, which needs an IP address (a
// loopback or documentation one such as 192.0.2.1, or an IPv6 one) and a
// protocol: UDP for datagrams, TCP or TLS for reliable messages. Port 0
// picks a free port from 49152 up. It returns the attached address.
//
// Once attached to a Network, the Layer sends everything over it, never
// over sockets; sending TCP or TLS needs a ListenMem address of that
// protocol (the sent-by of its requests).
func (l *Layer) ListenMem(n *Network, addr Addr) (Addr, error) {
	addr.AddrPort = unmapPort(addr.AddrPort)
	if addr.Proto < UDP || addr.Proto > TLS || !addr.Addr().IsValid() || addr.Addr().IsUnspecified() {
		return Addr{}, ErrBadMessage
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return Addr{}, ErrClosed
	}
	ep := &memEndpoint{n: n, l: l, addr: addr}
	if err := n.attach(ep); err != nil {
		return Addr{}, err
	}
	l.mems = append(l.mems, ep)
	return ep.addr, nil
}

// memStreamEndpoint returns our in-memory endpoint for a stream to dst,
// preferring dst's address family; l.mu is held.
func (l *Layer) memStreamEndpoint(dst Addr) *memEndpoint {
	var best *memEndpoint
	for _, m := range l.mems {
		if m.addr.Proto == dst.Proto && (best == nil || sameFamily(m.addr.Addr(), dst.Addr()) && !sameFamily(best.addr.Addr(), dst.Addr())) {
			best = m
		}
	}
	return best
}

// attach registers ep, giving it a port if it has none.
func (n *Network) attach(ep *memEndpoint) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ep.addr.Port() == 0 {
		for range 1 << 16 {
			p := n.nextPort
			n.nextPort++
			if n.nextPort == 0 {
				n.nextPort = 49152
			}
			a := Addr{Proto: ep.addr.Proto, AddrPort: netip.AddrPortFrom(ep.addr.Addr(), p)}
			if n.eps[a] == nil {
				ep.addr = a
				break
			}
		}
		if ep.addr.Port() == 0 {
			return ErrAddrInUse
		}
	}
	if n.eps[ep.addr] != nil {
		return ErrAddrInUse
	}
	n.eps[ep.addr] = ep
	return nil
}

// detach unregisters ep.
func (n *Network) detach(ep *memEndpoint) {
	n.mu.Lock()
	if n.eps[ep.addr] == ep {
		delete(n.eps, ep.addr)
	}
	n.mu.Unlock()
}

// sendDatagram applies the Faults to a datagram and delivers or schedules
// each copy.
func (n *Network) sendDatagram(from, to Addr, b []byte) {
	var delays [2]time.Duration
	n.mu.Lock()
	f := n.faults
	if f.Loss > 0 && n.rng.Float64() < f.Loss {
		n.dropped++
		n.mu.Unlock()
		return
	}
	copies := 1
	if f.Duplicate > 0 && n.rng.Float64() < f.Duplicate {
		copies = 2
		n.duplicated++
	}
	for i := range copies {
		d := f.Delay
		if f.Jitter > 0 {
			d += time.Duration(n.rng.Int64N(int64(f.Jitter) + 1))
		}
		if f.Reorder > 0 && n.rng.Float64() < f.Reorder {
			d += f.Jitter + ReorderHold
		}
		delays[i] = d
	}
	n.mu.Unlock()
	for _, d := range delays[:copies] {
		if d <= 0 {
			n.deliverDatagram(from, to, b)
			continue
		}
		cp := append([]byte(nil), b...)
		n.clock.AfterFunc(d, func() { n.deliverDatagram(from, to, cp) })
	}
}

// deliverDatagram hands b to the Layer listening at to, if any.
func (n *Network) deliverDatagram(from, to Addr, b []byte) {
	n.mu.Lock()
	ep := n.eps[to]
	if ep == nil {
		n.dropped++
		n.mu.Unlock()
		return
	}
	n.delivered++
	n.mu.Unlock()
	if n.trace != nil {
		n.trace(from, to, b)
	}
	ep.l.receiveMemDatagram(ep, from, b)
}

// sendStream delivers one stream write on the sender's connection c,
// synchronously and losslessly. It traces the write once the receiver has
// the connection and before it handles the bytes, so that tracing keeps
// the order of a synchronous exchange.
func (n *Network) sendStream(c *streamConn, b []byte) error {
	from, to := c.local, c.remote
	n.mu.Lock()
	ep := n.eps[to]
	if ep == nil {
		n.dropped++
		n.mu.Unlock()
		return ErrConnRefused
	}
	n.delivered++
	n.mu.Unlock()
	rc, err := ep.l.memStreamConn(ep, from)
	if err != nil {
		return err
	}
	c.l.traceSent(from, to, b)
	if n.trace != nil {
		n.trace(from, to, b)
	}
	rc.receiveMem(b)
	return nil
}

// receiveMemDatagram copies a datagram into a pooled buffer, as a socket
// read would, and handles it.
func (l *Layer) receiveMemDatagram(ep *memEndpoint, from Addr, b []byte) {
	if l.closed.Load() || len(b) > maxDatagram {
		return
	}
	bp := datagramPool.Get().(*[]byte)
	buf := *bp
	n := copy(buf, b)
	l.receiveDatagram(buf, n, ep.addr, from)
	datagramPool.Put(bp)
}

// memStreamConn returns our record of the in-memory connection from the
// endpoint at from to ep, accepting it if it is new.
func (l *Layer) memStreamConn(ep *memEndpoint, from Addr) (*streamConn, error) {
	key := Addr{Proto: ep.addr.Proto, AddrPort: from.AddrPort}
	l.mu.Lock()
	c := l.conns[key]
	var err error
	if c == nil {
		c = &streamConn{l: l, mem: ep, local: ep.addr, remote: key, accepted: true}
		err = l.addConnLocked(c, false)
	}
	l.mu.Unlock()
	if err != nil {
		l.refused(key, err)
		return nil, ErrConnRefused
	}
	return c, nil
}

// receiveMem handles one in-memory stream write on c: it frames the
// bytes, which must hold whole messages.
func (c *streamConn) receiveMem(b []byte) {
	l := c.l
	c.touch()
	var buf []byte
	if len(b) <= maxDatagram {
		bp := datagramPool.Get().(*[]byte)
		defer datagramPool.Put(bp)
		buf = *bp
	} else {
		buf = make([]byte, len(b)+viaSlack)
	}
	n := copy(buf, b)
	var ka keepAlive
	start, end, _, err := c.consume(buf, 0, n, &ka)
	if err != nil || start < end {
		// A framing error, or a partial message, which our writers never
		// send: the stream cannot go on.
		if err == nil {
			err = sip.ErrIncomplete
		}
		l.stats.framingErrors.Add(1)
		l.warn(warnFraming, "transport: closing stream on a framing error", c.remote, err)
		c.close()
	}
}
