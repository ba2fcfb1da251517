package transport

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// streamRequest is a request as a TCP client at 127.0.0.1:5999 writes it.
func streamRequest(i int) []byte {
	return raw(fmt.Sprintf("OPTIONS sip:bob@127.0.0.1 SIP/2.0\n"+
		"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKs%d;rport\n"+
		"Max-Forwards: 70\nFrom: <sip:alice@127.0.0.1>;tag=a\nTo: <sip:bob@127.0.0.1>\n"+
		"Call-ID: s@127.0.0.1\nCSeq: %d OPTIONS\nContent-Length: 4\n\nbody", i, i))
}

// readMessage reads one message framed by Content-Length from r.
func readMessage(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(failAfter))
	var b strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a message: %v after %q", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return b.String() + string(body)
}

// tcpServer is a Layer answering 200 on TCP at 127.0.0.1.
func tcpServer(t *testing.T, cfg Config) (*Layer, *recorder, Addr) {
	l, r := serve(t, cfg, 200)
	a := must[Addr](t)(l.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0")))
	return l, r, a
}

func TestStreamFraming(t *testing.T) {
	_, srv, a := tcpServer(t, Config{})
	c := dialRaw(t, a)
	r := bufio.NewReader(c)

	// Two messages in one write.
	two := append(streamRequest(1), streamRequest(2)...)
	if _, err := c.Write(two); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		g := srv.next(t)
		if !strings.Contains(g.raw, fmt.Sprintf("CSeq: %d OPTIONS", i)) || !strings.HasSuffix(g.raw, "\r\n\r\nbody") {
			t.Errorf("message %d: %q", i, g.raw)
		}
		// RFC 3581 §4: received and rport, on streams too.
		if !strings.Contains(g.topVia, fmt.Sprintf(";rport=%d;received=127.0.0.1", c.LocalAddr().(*net.TCPAddr).Port)) {
			t.Errorf("Via %q", g.topVia)
		}
		// RFC 3261 §18.2.2: the response comes back on this connection.
		if resp := readMessage(t, c, r); !strings.HasPrefix(resp, "SIP/2.0 200 OK\r\n") || !strings.Contains(resp, fmt.Sprintf("CSeq: %d OPTIONS", i)) {
			t.Errorf("response %d: %q", i, resp)
		}
	}

	// One message split into single bytes, with CRLFs before it (§7.5).
	msg := append([]byte("\r\n"), streamRequest(3)...)
	for i := range msg {
		if _, err := c.Write(msg[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if g := srv.next(t); !strings.Contains(g.raw, "CSeq: 3 OPTIONS") || !strings.HasSuffix(g.raw, "body") {
		t.Errorf("byte by byte: %q", g.raw)
	}
	readMessage(t, c, r)

	// RFC 5626 §3.5.1: a double-CRLF ping gets a single CRLF pong.
	if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(failAfter))
	pong := make([]byte, 2)
	if _, err := io.ReadFull(r, pong); err != nil || string(pong) != "\r\n" {
		t.Fatalf("pong %q %v", pong, err)
	}
	// The connection still carries messages after it.
	c.Write(streamRequest(4))
	if g := srv.next(t); !strings.Contains(g.raw, "CSeq: 4 OPTIONS") {
		t.Errorf("after ping: %q", g.raw)
	}
	if resp := readMessage(t, c, r); !strings.HasPrefix(resp, "SIP/2.0 200 OK") {
		t.Errorf("after ping: %q", resp)
	}
}

// RFC 3261 §18.3: without Content-Length a stream cannot be framed; the
// connection is closed. So it is for a message over the size limit.
func TestStreamFramingErrorsClose(t *testing.T) {
	for _, tc := range []struct{ name, msg string }{
		{"missing Content-Length", "OPTIONS sip:bob@127.0.0.1 SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\nCSeq: 1 OPTIONS\n\n"},
		{"two Content-Lengths", "OPTIONS sip:bob@127.0.0.1 SIP/2.0\nContent-Length: 1\nl: 2\n\n"},
		{"too large", "OPTIONS sip:bob@127.0.0.1 SIP/2.0\nContent-Length: 70000\n\n"},
		{"no end of headers", "OPTIONS sip:bob@127.0.0.1 SIP/2.0\nSubject: " + strings.Repeat("x", 70000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, srv, a := tcpServer(t, Config{})
			c := dialRaw(t, a)
			go c.Write(raw(tc.msg)) // the server may close before taking it all
			if got := readUntilClosed(t, c); got != "" {
				t.Errorf("read %q before close", got)
			}
			srv.none(t)
			if st := server.Stats(); st.FramingErrors != 1 || st.OpenConns != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A request that frames but does not parse is answered on its connection,
// which stays open.
func TestStreamBadRequestAnswered(t *testing.T) {
	_, srv, a := tcpServer(t, Config{})
	c := dialRaw(t, a)
	r := bufio.NewReader(c)
	bad := strings.Replace(string(streamRequest(1)), "SIP/2.0\r\n", "SIP/3.0\r\n", 1)
	c.Write([]byte(bad + string(streamRequest(2))))
	if resp := readMessage(t, c, r); !strings.HasPrefix(resp, "SIP/2.0 505 Version Not Supported\r\n") || !strings.HasSuffix(resp, "Content-Length: 0\r\n\r\n") {
		t.Errorf("got %q", resp)
	}
	if g := srv.next(t); !strings.Contains(g.raw, "CSeq: 2 OPTIONS") {
		t.Errorf("next message %q", g.raw)
	}
	if resp := readMessage(t, c, r); !strings.HasPrefix(resp, "SIP/2.0 200 OK\r\n") {
		t.Errorf("got %q", resp)
	}
}

// Connections close after IdleTimeout without traffic, on the Clock.
func TestStreamIdleTimeout(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	server, srv, a := tcpServer(t, Config{Clock: clock, IdleTimeout: 30 * time.Second})
	c := dialRaw(t, a)
	r := bufio.NewReader(c)
	c.Write(streamRequest(1))
	srv.next(t)
	readMessage(t, c, r)

	clock.Advance(29 * time.Second)
	if st := server.Stats(); st.OpenConns != 1 {
		t.Fatalf("closed early: %+v", st)
	}
	c.Write(streamRequest(2)) // activity at 29 s postpones the timeout
	srv.next(t)
	readMessage(t, c, r)
	clock.Advance(29 * time.Second)
	if st := server.Stats(); st.OpenConns != 1 {
		t.Fatalf("closed early after activity: %+v", st)
	}
	clock.Advance(2 * time.Second)
	if st := server.Stats(); st.OpenConns != 0 || st.IdleClosed != 1 {
		t.Fatalf("not closed: %+v", st)
	}
	readUntilClosed(t, c)
	if n := clock.Pending(); n != 0 {
		t.Errorf("%d timers pending", n)
	}
}

// Over MaxConns, new connections are refused.
func TestStreamMaxConns(t *testing.T) {
	server, srv, a := tcpServer(t, Config{MaxConns: 1})
	c1 := dialRaw(t, a)
	c1.Write(streamRequest(1))
	srv.next(t)
	c2 := dialRaw(t, a)
	readUntilClosed(t, c2)
	if st := server.Stats(); st.RefusedConns != 1 || st.OpenConns != 1 {
		t.Errorf("stats %+v", st)
	}
	// Dialling out is refused too.
	if err := server.Send(mustAddr(t, TCP, "127.0.0.1:9"), []byte("x")); err != ErrTooManyConns {
		t.Errorf("dial over MaxConns: %v", err)
	}
}

// RFC 3261 §18.2.2: once the request's connection is gone, the response
// goes on a new connection to "received" and the sent-by port.
func TestStreamResponseReconnects(t *testing.T) {
	for _, proto := range []Protocol{TCP, TLS} {
		t.Run(proto.String(), func(t *testing.T) {
			cfg := Config{TLS: testTLSConfig(t)}
			srv := newRecorder()
			server := newLayer(t, cfg, srv)
			cli := newRecorder()
			client := newLayer(t, cfg, cli)
			listen := client.ListenTCP
			if proto == TLS {
				listen = client.ListenTLS
			}
			lc := must[Addr](t)(listen(netip.MustParseAddrPort("127.0.0.1:0")))
			listen = server.ListenTCP
			if proto == TLS {
				listen = server.ListenTLS
			}
			dst := must[Addr](t)(listen(netip.MustParseAddrPort("127.0.0.1:0")))

			if _, _, err := client.SendRequest(dst, []byte("z9hG4bKre"), request("OPTIONS", "sip:bob@127.0.0.1")); err != nil {
				t.Fatal(err)
			}
			g := srv.next(t)
			if g.reply.ConnID == 0 || g.reply.Local.Port() != dst.Port() {
				t.Fatalf("ReplyTo %+v", g.reply)
			}
			server.connByID(g.reply.ConnID).close()
			resp := fmt.Sprintf("SIP/2.0 200 OK\r\nVia: %s\r\nFrom: <sip:alice@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.2>;tag=b\r\nCall-ID: call-1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", g.topVia)
			if err := server.SendResponse(g.reply, []byte(resp)); err != nil {
				t.Fatal(err)
			}
			r := cli.next(t)
			if r.status != 200 || r.local != lc || r.reply.ConnID == 0 {
				t.Errorf("response arrived as %+v", r)
			}
		})
	}
}

// In-memory streams: reliable messages, responses on the same connection,
// idle timeout on the FakeClock.
func TestMemStream(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	n := NewNetwork(clock, 1)
	server, srv := serve(t, Config{Clock: clock, IdleTimeout: time.Minute}, 200)
	cli := newRecorder()
	client := newLayer(t, Config{Clock: clock, IdleTimeout: time.Minute}, cli)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, TCP, "192.0.2.2:5060")))
	src := must[Addr](t)(client.ListenMem(n, mustAddr(t, TCP, "192.0.2.1:5060")))
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))

	wire, used, err := client.SendRequest(dst, []byte("z9hG4bKm1"), request("OPTIONS", "sip:bob@192.0.2.2"))
	if err != nil || used != dst || !strings.Contains(string(wire), "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKm1;rport\r\n") {
		t.Fatalf("%v %v\n%s", used, err, wire)
	}
	g := srv.next(t)
	if g.remote != src || g.reply.ConnID == 0 {
		t.Errorf("server got %+v", g)
	}
	if r := cli.next(t); r.status != 200 || r.remote != dst || r.reply.ConnID == 0 {
		t.Errorf("client got %+v", r)
	}
	// A large request for UDP goes over the in-memory TCP.
	large := request("MESSAGE", "sip:bob@192.0.2.2", "Subject: "+strings.Repeat("y", 1400))
	if _, used, err := client.SendRequest(Addr{Proto: UDP, AddrPort: dst.AddrPort}, []byte("z9hG4bKm2"), large); err != nil || used != dst {
		t.Errorf("large: %v %v", used, err)
	}
	srv.next(t)
	cli.next(t)
	if st := client.Stats(); st.OpenConns != 1 {
		t.Errorf("client conns %+v", st)
	}
	clock.Advance(time.Minute)
	if client.Stats().OpenConns != 0 || server.Stats().OpenConns != 0 || clock.Pending() != 0 {
		t.Errorf("after idle: client %+v server %+v pending %d", client.Stats(), server.Stats(), clock.Pending())
	}
	if err := client.Send(mustAddr(t, TCP, "192.0.2.9:5060"), wire); err != ErrConnRefused {
		t.Errorf("send to nobody: %v", err)
	}
}

// Many messages in one write, each grown in place by stampVia: every one
// arrives stamped and whole.
func TestStreamManyInOneWrite(t *testing.T) {
	_, srv, a := tcpServer(t, Config{})
	srv.respond = 0
	c := dialRaw(t, a)
	var all []byte
	for i := 1; i <= 100; i++ {
		all = append(all, streamRequest(i)...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		g := srv.next(t)
		if !strings.Contains(g.raw, fmt.Sprintf("\r\nCSeq: %d OPTIONS\r\n", i)) || !strings.HasSuffix(g.raw, "\r\n\r\nbody") ||
			!strings.Contains(g.topVia, ";rport=") || !strings.Contains(g.topVia, ";received=127.0.0.1") {
			t.Fatalf("message %d: %q", i, g.raw)
		}
	}
}

// Concurrent senders share one dialled connection; every request is
// answered.
func TestStreamConcurrentSenders(t *testing.T) {
	for _, proto := range []Protocol{TCP, TLS} {
		t.Run(proto.String(), func(t *testing.T) {
			cfg := Config{TLS: testTLSConfig(t)}
			server, _ := serve(t, cfg, 200)
			dst := listen(t, server, proto, "127.0.0.1:0")
			answers := make(chan struct{}, 200)
			client := newLayer(t, cfg, HandlerFunc(func(in *Inbound) { answers <- struct{}{} }))
			listen(t, client, proto, "127.0.0.1:0")
			errs := make(chan error, 8)
			for g := range 8 {
				go func() {
					for i := range 20 {
						_, _, err := client.SendRequest(dst, fmt.Appendf(nil, "z9hG4bK%d.%d", g, i), request("OPTIONS", "sip:bob@127.0.0.1"))
						if err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			for range 160 {
				select {
				case <-answers:
				case <-time.After(failAfter):
					t.Fatal("missing answers")
				}
			}
			if st := client.Stats(); st.OpenConns != 1 {
				t.Errorf("client opened %d connections", st.OpenConns)
			}
		})
	}
}

// With a tiny IdleTimeout the idle timer can fire before addConn has
// stored it; run with -race, this caught c.idle written without c.mu.
func TestStreamIdleTimerFiresAtOnce(t *testing.T) {
	server, _ := serve(t, Config{IdleTimeout: time.Nanosecond}, 0)
	a := must[Addr](t)(server.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0")))
	for range 20 {
		dialRaw(t, a).Write(streamRequest(1))
	}
	waitFor(t, "connections closed", func() bool { return server.Stats().OpenConns == 0 })
}
