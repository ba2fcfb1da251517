package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/internal/leakcheck"
)

// numbered is an OPTIONS request with CSeq seq, as a UDP client at from
// would send it.
func numbered(from netip.AddrPort, seq int) []byte {
	return raw(fmt.Sprintf("OPTIONS sip:bob@127.0.0.1 SIP/2.0\n"+
		"Via: SIP/2.0/UDP %v;branch=z9hG4bK-%d-%d\n"+
		"Max-Forwards: 70\nFrom: <sip:alice@127.0.0.1>;tag=a\nTo: <sip:bob@127.0.0.1>\n"+
		"Call-ID: order-%d\nCSeq: %d OPTIONS\nContent-Length: 0\n\n", from, from.Port(), seq, from.Port(), seq))
}

// udpClients opens n plain UDP sockets on loopback: n source ports.
func udpClients(t *testing.T, n int) []*net.UDPConn {
	t.Helper()
	cs := make([]*net.UDPConn, n)
	for i := range cs {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs
}

func clientAddr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// readerGoroutines counts the goroutines reading u's sockets (their stacks
// show the receiver's address).
func readerGoroutines(u *udpListener) int {
	n := 0
	for _, g := range leakcheck.Goroutines() {
		if strings.Contains(g, fmt.Sprintf("(*udpListener).readLoop(%p,", u)) {
			n++
		}
	}
	return n
}

// UDPReaders 2 on port 0: two sockets with SO_REUSEPORT on one address,
// each with its reader; Close closes both (the port binds again without
// SO_REUSEPORT) and ends both readers.
func TestUDPReadersBindOneAddress(t *testing.T) {
	l := New(Config{UDPReaders: 2, Logger: quietLogger}, nil)
	a := listen(t, l, UDP, "127.0.0.1:0")
	if a.Port() == 0 {
		t.Fatalf("listening on %v", a)
	}
	u := l.udps[0]
	pcs := u.pcs
	if len(pcs) != 2 {
		t.Fatalf("%d sockets, want 2", len(pcs))
	}
	for i, pc := range pcs {
		if got := clientAddr(pc); got != a.AddrPort {
			t.Errorf("socket %d bound to %v, want %v", i, got, a)
		}
		rc := must[syscall.RawConn](t)(pc.SyscallConn())
		var on int
		var serr error
		if err := rc.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort) }); err != nil || serr != nil || on != 1 {
			t.Errorf("socket %d: SO_REUSEPORT %d %v %v", i, on, err, serr)
		}
	}
	// A goroutine not yet started shows no arguments in its stack.
	waitFor(t, "two readers", func() bool { return readerGoroutines(u) >= 2 })
	if n := readerGoroutines(u); n != 2 {
		t.Errorf("%d readers, want 2", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(a.AddrPort))
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	pc.Close()
	waitFor(t, "readers to end", func() bool { return readerGoroutines(u) == 0 })
}

// A port already bound, even by another group of SO_REUSEPORT sockets of
// this process, is refused as it is with one reader: a second Layer must
// not silently take half of the first one's datagrams.
func TestUDPReadersPortInUse(t *testing.T) {
	first := newLayer(t, Config{UDPReaders: 2}, nil)
	a := listen(t, first, UDP, "127.0.0.1:0")
	for _, readers := range []int{1, 2, 3} {
		second := newLayer(t, Config{UDPReaders: readers}, nil)
		if got, err := second.ListenUDP(a.AddrPort); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("UDPReaders %d on %v, taken: %v %v, want EADDRINUSE", readers, a, got, err)
		}
	}
}

// Datagrams from many source ports all arrive, and each source's arrive in
// the order it sent them, though two readers run the Handler at once.
func TestUDPReadersPerSourceOrder(t *testing.T) {
	const clients, perClient, burst = 12, 96, 16
	type seen struct {
		mu    sync.Mutex
		last  map[netip.AddrPort]int
		count map[netip.AddrPort]int
		bad   []string
		done  map[netip.AddrPort]chan struct{} // a burst has arrived
	}
	s := &seen{last: map[netip.AddrPort]int{}, count: map[netip.AddrPort]int{}, done: map[netip.AddrPort]chan struct{}{}}
	cs := udpClients(t, clients)
	for _, c := range cs {
		s.done[clientAddr(c)] = make(chan struct{}, perClient/burst)
	}
	h := HandlerFunc(func(in *Inbound) {
		cseq, err := in.Msg.CSeq()
		s.mu.Lock()
		defer s.mu.Unlock()
		src, seq := in.Remote.AddrPort, int(cseq.Seq)
		if err != nil || seq <= s.last[src] {
			s.bad = append(s.bad, fmt.Sprintf("%v: %d after %d (%v)", src, seq, s.last[src], err))
		}
		s.last[src] = seq
		s.count[src]++
		if s.count[src]%burst == 0 {
			s.done[src] <- struct{}{}
		}
	})
	l := newLayer(t, Config{UDPReaders: 2}, h)
	dst := net.UDPAddrFromAddrPort(listen(t, l, UDP, "127.0.0.1:0").AddrPort)

	// Every client sends bursts back to back, all at once; a client waits
	// for its burst to arrive before the next, so that no socket buffer
	// overflows (a lost datagram is not what this test is about).
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := clientAddr(c)
			for seq := 1; seq <= perClient; seq++ {
				if _, err := c.WriteToUDP(numbered(from, seq), dst); err != nil {
					errs <- err
					return
				}
				if seq%burst == 0 {
					select {
					case <-s.done[from]:
					case <-time.After(failAfter):
						errs <- fmt.Errorf("%v: burst ending %d did not arrive", from, seq)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bad {
		t.Error(b)
	}
	for _, c := range cs {
		if n := s.count[clientAddr(c)]; n != perClient {
			t.Errorf("%v: %d datagrams arrived, want %d", clientAddr(c), n, perClient)
		}
	}
	if st := l.Stats(); st.Received != clients*perClient {
		t.Errorf("Stats.Received %d, want %d", st.Received, clients*perClient)
	}
}

// Two readers run the Handler at once: while it is busy with one peer's
// request, other peers' requests still get through (with one reader they
// would wait). Among 32 source ports, some hash to the other socket.
func TestUDPReadersRunConcurrently(t *testing.T) {
	cs := udpClients(t, 33)
	blocked, release := clientAddr(cs[0]), make(chan struct{})
	entered, others := make(chan struct{}), make(chan netip.AddrPort, len(cs))
	h := HandlerFunc(func(in *Inbound) {
		if in.Remote.AddrPort == blocked {
			close(entered)
			<-release
			return
		}
		others <- in.Remote.AddrPort
	})
	l := newLayer(t, Config{UDPReaders: 2}, h)
	dst := net.UDPAddrFromAddrPort(listen(t, l, UDP, "127.0.0.1:0").AddrPort)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	must[int](t)(cs[0].WriteToUDP(numbered(blocked, 1), dst))
	select {
	case <-entered:
	case <-time.After(failAfter):
		t.Fatal("first request not handled")
	}
	for _, c := range cs[1:] {
		must[int](t)(c.WriteToUDP(numbered(clientAddr(c), 1), dst))
	}
	select {
	case <-others:
	case <-time.After(failAfter):
		t.Fatal("no request handled while the Handler was busy with another")
	}
	close(release)
	for range len(cs) - 2 {
		select {
		case <-others:
		case <-time.After(failAfter):
			t.Fatal("requests lost")
		}
	}
}

// Responses leave from the listener's address whichever socket sends them.
func TestUDPReadersRespond(t *testing.T) {
	server, _ := serve(t, Config{UDPReaders: 2}, 200)
	a := listen(t, server, UDP, "127.0.0.1:0")
	cs := udpClients(t, 16)
	for _, c := range cs {
		must[int](t)(c.WriteToUDP(numbered(clientAddr(c), 7), net.UDPAddrFromAddrPort(a.AddrPort)))
	}
	buf := make([]byte, 2048)
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(failAfter))
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from != a.AddrPort || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 ") || !strings.Contains(string(buf[:n]), "CSeq: 7 OPTIONS") {
			t.Errorf("%v got from %v:\n%s", clientAddr(c), from, buf[:n])
		}
	}
}
