package transport

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf collects a Layer's log lines; safe for concurrent use.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (lb *logBuf) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

// count returns how many lines contain s.
func (lb *logBuf) count(s string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return strings.Count(lb.b.String(), s)
}

func (lb *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(lb, nil)) }

// serverConn returns the server's record of the TCP connection c, once
// the server has accepted it.
func serverConn(t *testing.T, l *Layer, c net.Conn) *streamConn {
	t.Helper()
	key := Addr{Proto: TCP, AddrPort: unmapPort(c.LocalAddr().(*net.TCPAddr).AddrPort())}
	var sc *streamConn
	waitFor(t, "the connection to be accepted", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		sc = l.conns[key]
		return sc != nil
	})
	return sc
}

// trickle advances clock by a second and writes one byte of msg to c,
// then waits until the server's reader has it (its last activity reads
// the clock's new time).
func trickle(t *testing.T, clock *FakeClock, c net.Conn, sc *streamConn, b byte) {
	t.Helper()
	clock.Advance(time.Second)
	if _, err := c.Write([]byte{b}); err != nil {
		t.Fatal(err)
	}
	now := clock.Now().UnixNano()
	waitFor(t, "the byte to be read", func() bool { return sc.lastActive.Load() == now })
}

// exchange sends request i on c and checks that it reaches the Handler
// and that its 200 comes back on c.
func exchange(t *testing.T, srv *recorder, c net.Conn, r *bufio.Reader, i int) {
	t.Helper()
	if _, err := c.Write(streamRequest(i)); err != nil {
		t.Fatal(err)
	}
	cseq := fmt.Sprintf("CSeq: %d OPTIONS\r\n", i)
	if g := srv.next(t); !strings.Contains(g.raw, cseq) {
		t.Fatalf("handler got %q", g.raw)
	}
	if resp := readMessage(t, c, r); !strings.HasPrefix(resp, "SIP/2.0 200 OK\r\n") || !strings.Contains(resp, cseq) {
		t.Fatalf("response %q", resp)
	}
}

// A client that connects and sends nothing is closed FirstMessageTimeout
// after it was accepted; a well-behaved connection accepted at the same
// time carries on.
func TestFirstMessageTimeout(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	var log logBuf
	server, srv, a := tcpServer(t, Config{Clock: clock, Logger: log.logger()})
	silent := dialRaw(t, a)
	serverConn(t, server, silent)
	good := dialRaw(t, a)
	r := bufio.NewReader(good)
	exchange(t, srv, good, r, 1)

	clock.Advance(DefaultFirstMessageTimeout - time.Nanosecond)
	if st := server.Stats(); st.OpenConns != 2 || st.FirstMessageTimeouts != 0 {
		t.Fatalf("closed early: %+v", st)
	}
	clock.Advance(time.Nanosecond)
	if st := server.Stats(); st.OpenConns != 1 || st.FirstMessageTimeouts != 1 || st.IdleClosed != 0 {
		t.Fatalf("silent connection not closed: %+v", st)
	}
	if got := readUntilClosed(t, silent); got != "" {
		t.Errorf("silent connection read %q", got)
	}
	if n := log.count("without a message within FirstMessageTimeout"); n != 1 {
		t.Errorf("%d log lines", n)
	}
	exchange(t, srv, good, r, 2)
}

// A slowloris client writing a byte a second keeps postponing
// IdleTimeout, but not the deadlines: before its first message it is
// closed FirstMessageTimeout after it was accepted, afterwards
// MessageTimeout after the first byte of the unfinished message, also
// when IdleTimeout is the longer. Another client's requests are answered
// throughout.
func TestSlowloris(t *testing.T) {
	for _, tc := range []struct {
		name     string
		idle     time.Duration
		first    bool          // send a whole message before trickling
		pause    time.Duration // then wait this long, so that the Layer's timer re-arms for IdleTimeout
		deadline time.Duration
		counter  func(Stats) uint64
	}{
		{"first message", 5 * time.Second, false, 0, DefaultFirstMessageTimeout, func(s Stats) uint64 { return s.FirstMessageTimeouts }},
		{"later message", 5 * time.Second, true, 0, DefaultMessageTimeout, func(s Stats) uint64 { return s.MessageTimeouts }},
		{"later message, default idle", 0, true, time.Minute, DefaultMessageTimeout, func(s Stats) uint64 { return s.MessageTimeouts }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewFakeClock(time.Unix(0, 0))
			server, srv, a := tcpServer(t, Config{Clock: clock, IdleTimeout: tc.idle})
			good := dialRaw(t, a)
			gr := bufio.NewReader(good)
			exchange(t, srv, good, gr, 1)

			slow := dialRaw(t, a)
			sc := serverConn(t, server, slow)
			start := clock.Now()
			if tc.first {
				exchange(t, srv, slow, bufio.NewReader(slow), 2)
				clock.Advance(tc.pause)
				trickle(t, clock, slow, sc, 'O')
				// The deadline runs from the read of the first byte.
				waitFor(t, "the message to start", func() bool {
					sc.mu.Lock()
					defer sc.mu.Unlock()
					return sc.msgSince != 0
				})
				start = clock.Now()
			}
			msg := streamRequest(3)[1:]
			for i := 0; clock.Now().Sub(start) < tc.deadline-time.Second; i++ {
				trickle(t, clock, slow, sc, msg[i])
				if i%3 == 2 { // within the good client's IdleTimeout
					exchange(t, srv, good, gr, 10+i)
				}
			}
			if st := server.Stats(); st.OpenConns != 2 || tc.counter(st) != 0 {
				t.Fatalf("closed early, at %v: %+v", clock.Now().Sub(start), st)
			}
			clock.Advance(time.Second)
			st := server.Stats()
			if st.OpenConns != 1 || tc.counter(st) != 1 || st.IdleClosed != 0 ||
				st.FirstMessageTimeouts+st.MessageTimeouts != 1 {
				t.Fatalf("slowloris not closed at %v: %+v", clock.Now().Sub(start), st)
			}
			readUntilClosed(t, slow)
			exchange(t, srv, good, gr, 100)
			srv.none(t)
		})
	}
}

// Over MaxConnsPerIP a new connection from the address is closed at once
// and counted; the earlier ones keep working, other addresses are not
// limited, and a closed connection frees its slot.
func TestMaxConnsPerIP(t *testing.T) {
	var log logBuf
	server, srv, a := tcpServer(t, Config{Clock: NewFakeClock(time.Unix(0, 0)), MaxConnsPerIP: 2, Logger: log.logger()})
	var conns []net.Conn
	var readers []*bufio.Reader
	for i := range 2 {
		c := dialRaw(t, a)
		conns, readers = append(conns, c), append(readers, bufio.NewReader(c))
		exchange(t, srv, c, readers[i], i+1)
	}
	for range 2 {
		if got := readUntilClosed(t, dialRaw(t, a)); got != "" {
			t.Errorf("refused connection read %q", got)
		}
	}
	if st := server.Stats(); st.RefusedPerIP != 2 || st.RefusedConns != 0 || st.OpenConns != 2 {
		t.Errorf("stats %+v", st)
	}
	// Rate-limited: one line per 10 s of the Clock, which stands still.
	if n := log.count("MaxConnsPerIP reached"); n != 1 {
		t.Errorf("%d log lines", n)
	}
	for i, c := range conns {
		exchange(t, srv, c, readers[i], 10+i)
	}

	t.Run("other address", func(t *testing.T) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.2:0")), Timeout: failAfter}
		c, err := d.Dial("tcp", a.AddrPort.String())
		if err != nil {
			// Linux routes all of 127.0.0.0/8 to lo; the demo relies on it too.
			t.Fatalf("dialling from 127.0.0.2: %v", err)
		}
		defer c.Close()
		exchange(t, srv, c, bufio.NewReader(c), 20)
		c.Close()
		waitFor(t, "the server to see the close", func() bool { return server.Stats().OpenConns == 2 })
	})

	conns[0].Close()
	waitFor(t, "the server to see the close", func() bool { return server.Stats().OpenConns == 1 })
	c := dialRaw(t, a)
	exchange(t, srv, c, bufio.NewReader(c), 30)
	if st := server.Stats(); st.RefusedPerIP != 2 || st.OpenConns != 2 {
		t.Errorf("stats %+v", st)
	}
}

// The in-memory network models the limits too: an endpoint that only
// sends keep-alives is closed after FirstMessageTimeout, and a second
// endpoint on the same IP address is refused over MaxConnsPerIP.
func TestMemLimits(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	n := NewNetwork(clock, 1)
	server, srv := serve(t, Config{Clock: clock, MaxConnsPerIP: 1}, 200)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, TCP, "192.0.2.2:5060")))
	c1 := newLayer(t, Config{Clock: clock}, nil)
	must[Addr](t)(c1.ListenMem(n, mustAddr(t, TCP, "192.0.2.1:5060")))
	c2 := newLayer(t, Config{Clock: clock}, nil)
	must[Addr](t)(c2.ListenMem(n, mustAddr(t, TCP, "192.0.2.1:5061")))

	if err := c1.Send(dst, []byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c2.Send(dst, []byte("\r\n\r\n")); err != ErrConnRefused {
		t.Errorf("second connection from 192.0.2.1: %v", err)
	}
	if st := server.Stats(); st.RefusedPerIP != 1 || st.OpenConns != 1 {
		t.Errorf("stats %+v", st)
	}
	clock.Advance(DefaultFirstMessageTimeout)
	if st := server.Stats(); st.FirstMessageTimeouts != 1 || st.OpenConns != 0 {
		t.Errorf("keep-alives only: %+v", st)
	}
	// The slot is free again, and a message ends the first deadline.
	if _, _, err := c2.SendRequest(dst, []byte("z9hG4bKlim"), request("OPTIONS", "sip:bob@192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	srv.next(t)
	clock.Advance(DefaultFirstMessageTimeout)
	if st := server.Stats(); st.FirstMessageTimeouts != 1 || st.OpenConns != 1 {
		t.Errorf("after a message: %+v", st)
	}
}
