package transport

import (
	"errors"
	"net"
	"net/netip"
)

// udpListener is a UDP socket: it receives datagrams and sends requests and
// responses from its address.
type udpListener struct {
	l    *Layer
	pc   *net.UDPConn
	addr Addr
}

func (u *udpListener) local() Addr { return u.addr }

func (u *udpListener) send(dst netip.AddrPort, b []byte) error {
	if len(b) > maxDatagram {
		return ErrTooLarge
	}
	if _, err := u.pc.WriteToUDPAddrPort(b, dst); err != nil {
		return err
	}
	u.l.traceSent(u.addr, Addr{Proto: UDP, AddrPort: dst}, b)
	return nil
}

// ListenUDP opens a UDP socket on addr (port 0: an ephemeral port) and
// returns its address. A listener on an unspecified IPv6 address also
// receives IPv4. RFC 3261 §18.2.1 asks a server to listen for TCP on every
// address and port it listens on for UDP: call ListenTCP too.
func (l *Layer) ListenUDP(addr netip.AddrPort) (Addr, error) {
	pc, err := net.ListenUDP(network("udp", addr.Addr()), net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return Addr{}, err
	}
	if size := l.cfg.UDPBuffer; size >= 0 {
		if size == 0 {
			size = DefaultUDPBuffer
		}
		// Best effort: the kernel caps the size silently and never fails this.
		_ = pc.SetReadBuffer(size)
		_ = pc.SetWriteBuffer(size)
	}
	u := &udpListener{l: l, pc: pc, addr: Addr{Proto: UDP, AddrPort: unmapPort(pc.LocalAddr().(*net.UDPAddr).AddrPort())}}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		pc.Close()
		return Addr{}, ErrClosed
	}
	l.udps = append(l.udps, u)
	l.wg.Add(1)
	l.mu.Unlock()
	go u.readLoop()
	return u.addr, nil
}

// readLoop reads datagrams into pooled buffers until the socket closes.
func (u *udpListener) readLoop() {
	defer u.l.wg.Done()
	for {
		bp := datagramPool.Get().(*[]byte)
		buf := *bp
		n, src, err := u.pc.ReadFromUDPAddrPort(buf[:maxDatagram])
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
