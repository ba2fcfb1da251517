package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// udpListener is one UDP transport address: it receives datagrams and sends
// requests and responses from it. It holds Config.UDPReaders sockets bound
// to that address (SO_REUSEPORT when more than one), each read by its own
// goroutine.
type udpListener struct {
	l    *Layer
	pcs  []*net.UDPConn
	addr Addr
}

func (u *udpListener) local() Addr { return u.addr }

func (u *udpListener) send(dst netip.AddrPort, b []byte) error {
	if len(b) > maxDatagram {
		return ErrTooLarge
	}
	if _, err := u.socketFor(dst).WriteToUDPAddrPort(b, dst); err != nil {
		return err
	}
	u.l.traceSent(u.addr, Addr{Proto: UDP, AddrPort: dst}, b)
	return nil
}

// socketFor picks the socket that sends to dst. Every socket has the same
// local address, so any would do; a hash of dst spreads concurrent writers
// over the sockets (each serialises its writes) while every datagram to one
// peer leaves from one socket, in the order it was sent, whatever transmit
// queue the kernel gives each socket.
func (u *udpListener) socketFor(dst netip.AddrPort) *net.UDPConn {
	if len(u.pcs) == 1 {
		return u.pcs[0]
	}
	a := dst.Addr().As16()
	h := uint32(2166136261) // FNV-1a
	for _, c := range a[8:] {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ uint32(dst.Port()&0xff)) * 16777619
	h = (h ^ uint32(dst.Port()>>8)) * 16777619
	return u.pcs[h%uint32(len(u.pcs))]
}

// ListenUDP opens a UDP socket on addr (port 0: an ephemeral port) and
// returns its address. A listener on an unspecified IPv6 address also
// receives IPv4. RFC 3261 §18.2.1 asks a server to listen for TCP on every
// address and port it listens on for UDP: call ListenTCP too.
//
// With Config.UDPReaders > 1 it binds that many sockets to the address
// with SO_REUSEPORT (Linux only), each read by its own goroutine; the
// kernel picks the socket of a datagram from a hash of its source and
// destination addresses, so one peer's datagrams reach one reader, in
// order. A port already in use fails with EADDRINUSE as it does for one
// reader, even if its holder set SO_REUSEPORT too.
func (l *Layer) ListenUDP(addr netip.AddrPort) (Addr, error) {
	n := l.cfg.UDPReaders
	if n > 1 && !reusePortSupported {
		l.cfg.Logger.Warn("transport: UDPReaders needs SO_REUSEPORT (Linux); listening with one reader", "readers", n)
		n = 1
	}
	pcs, err := listenUDPSockets(addr, max(n, 1))
	if err != nil {
		return Addr{}, err
	}
	for _, pc := range pcs {
		if size := l.cfg.UDPBuffer; size >= 0 {
			if size == 0 {
				size = DefaultUDPBuffer
			}
			// Best effort: the kernel caps the size silently and never fails this.
			_ = pc.SetReadBuffer(size)
			_ = pc.SetWriteBuffer(size)
		}
	}
	u := &udpListener{l: l, pcs: pcs, addr: Addr{Proto: UDP, AddrPort: unmapPort(pcs[0].LocalAddr().(*net.UDPAddr).AddrPort())}}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		u.close()
		return Addr{}, ErrClosed
	}
	l.udps = append(l.udps, u)
	l.wg.Add(len(pcs))
	l.mu.Unlock()
	for _, pc := range pcs {
		go u.readLoop(pc)
	}
	return u.addr, nil
}

// close closes the listener's sockets; their readers then return.
func (u *udpListener) close() {
	for _, pc := range u.pcs {
		pc.Close()
	}
}

// listenUDPSockets binds n UDP sockets to addr: one plain socket for n = 1,
// else n sockets with SO_REUSEPORT on one port.
func listenUDPSockets(addr netip.AddrPort, n int) ([]*net.UDPConn, error) {
	nw := network("udp", addr.Addr())
	// A plain socket first, also for n > 1: it fails where the port is
	// taken, and for port 0 it gets a port no one holds. A socket with
	// SO_REUSEPORT would do neither against another SO_REUSEPORT group of
	// the same user: Linux lets it join that group (and so takes a share
	// of someone else's datagrams), and port 0 may pick such a port.
	pc, err := net.ListenUDP(nw, net.UDPAddrFromAddrPort(addr))
	if err != nil || n == 1 {
		return []*net.UDPConn{pc}, err
	}
	bound := netip.AddrPortFrom(addr.Addr(), pc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	pc.Close()
	lc := net.ListenConfig{Control: reusePort}
	pcs := make([]*net.UDPConn, 0, n)
	for range n {
		c, err := lc.ListenPacket(context.Background(), nw, bound.String())
		if err != nil {
			for _, pc := range pcs {
				pc.Close()
			}
			return nil, err
		}
		pcs = append(pcs, c.(*net.UDPConn))
	}
	return pcs, nil
}

// reusePort is a net.ListenConfig Control function that sets SO_REUSEPORT
// on the socket before it is bound.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
		return err
	}
	return serr
}

// readLoop reads datagrams from pc into pooled buffers until it closes.
func (u *udpListener) readLoop(pc *net.UDPConn) {
	defer u.l.wg.Done()
	for {
		bp := datagramPool.Get().(*[]byte)
		buf := *bp
		n, src, err := pc.ReadFromUDPAddrPort(buf[:maxDatagram])
		if err != nil {
			datagramPool.Put(bp)
			if errors.Is(err, net.ErrClosed) || u.l.closed.Load() {
				return
			}
			u.l.warn(warnRead, "transport: UDP read failed", u.addr, err)
			continue
		}
		u.l.receiveDatagram(buf, n, u.addr, Addr{Proto: UDP, AddrPort: unmapPort(src)})
		datagramPool.Put(bp)
	}
}

// network returns the network name for net.Listen*: "udp4" or "udp6" for a
// specific address, plain "udp" (dual stack) for the unspecified IPv6 one.
func network(base string, ip netip.Addr) string {
	switch {
	case ip.Is4() || ip.Is4In6():
		return base + "4"
	case ip.Is6() && !ip.IsUnspecified():
		return base + "6"
	}
	return base
}

// unmapPort turns an IPv4-mapped IPv6 address into IPv4, as peers see it.
func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
