package transport

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// traced is a Trace copied out, or (handler set) a note that a Handler ran.
type traced struct {
	sent          bool
	local, remote Addr
	msg           string
	handler       bool
}

// traceLog is a Tracer recording every Trace in order; Handlers made by
// handler note in the same log when they run.
type traceLog struct {
	mu  sync.Mutex
	all []traced
}

func (tl *traceLog) TraceMessage(t *Trace) {
	tl.mu.Lock()
	tl.all = append(tl.all, traced{sent: t.Sent, local: t.Local, remote: t.Remote, msg: string(t.Msg)})
	tl.mu.Unlock()
}

// handler wraps h, noting each call in the log before passing it on.
func (tl *traceLog) handler(h Handler) Handler {
	return HandlerFunc(func(in *Inbound) {
		tl.mu.Lock()
		tl.all = append(tl.all, traced{handler: true, local: in.Local, msg: string(in.Msg.Bytes())})
		tl.mu.Unlock()
		h.HandleInbound(in)
	})
}

// take returns what was logged so far and clears the log.
func (tl *traceLog) take() []traced {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	all := tl.all
	tl.all = nil
	return all
}

// String shows a log as a ladder, for failure messages.
func ladder(all []traced) string {
	var b strings.Builder
	for _, t := range all {
		first, _, _ := strings.Cut(t.msg, "\r\n")
		switch {
		case t.handler:
			fmt.Fprintf(&b, "  %v handler: %s\n", t.local, first)
		case t.sent:
			fmt.Fprintf(&b, "  %v -> %v: %s\n", t.local, t.remote, first)
		default:
			fmt.Fprintf(&b, "  %v <- %v: %s\n", t.local, t.remote, first)
		}
	}
	return b.String()
}

// checkLadder compares a log with the expected steps.
func checkLadder(t *testing.T, got []traced, want ...traced) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.sent == w.sent && g.handler == w.handler && g.local == w.local &&
			(w.handler || g.remote == w.remote) && g.msg == w.msg
	}
	if !ok {
		t.Errorf("traced:\n%swant:\n%s", ladder(got), ladder(want))
	}
}

// A request and its response on the in-memory network, datagram and
// stream, traced in the order of the exchange: the sender's trace comes
// before the receiver's, the receiver's trace (with received and rport)
// before its Handler.
func TestTraceMem(t *testing.T) {
	for _, proto := range []Protocol{UDP, TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			clock := NewFakeClock(time.Unix(0, 0))
			n := NewNetwork(clock, 1)
			tl := &traceLog{}
			srv := newRecorder()
			srv.respond = 200
			server := newLayer(t, Config{Clock: clock, Tracer: tl}, tl.handler(srv))
			srv.layer = server
			cli := newRecorder()
			client := newLayer(t, Config{Clock: clock, Tracer: tl}, tl.handler(cli))
			dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, proto, "192.0.2.2:5060")))
			src := must[Addr](t)(client.ListenMem(n, mustAddr(t, proto, "192.0.2.1:5060")))

			wire, _, err := client.SendRequest(dst, []byte("z9hG4bKtr1"), request("OPTIONS", "sip:bob@192.0.2.2"))
			if err != nil {
				t.Fatal(err)
			}
			req := srv.next(t).raw // as the server stamped it
			if !strings.Contains(req, ";rport=5060;received=192.0.2.1\r\n") {
				t.Fatalf("not stamped: %s", req)
			}
			resp := cli.next(t).raw
			checkLadder(t, tl.take(),
				traced{sent: true, local: src, remote: dst, msg: string(wire)},
				traced{local: dst, remote: src, msg: req},
				traced{handler: true, local: dst, msg: req},
				traced{sent: true, local: dst, remote: src, msg: resp},
				traced{local: src, remote: dst, msg: resp},
				traced{handler: true, local: src, msg: resp},
			)

			// A retransmission through Send is traced; keep-alives, and the
			// pong a stream ping gets, are not.
			if err := client.Send(dst, wire); err != nil {
				t.Fatal(err)
			}
			srv.next(t)
			cli.next(t)
			if got := tl.take(); len(got) != 6 || !got[0].sent || got[0].msg != string(wire) {
				t.Errorf("retransmission:\n%s", ladder(got))
			}
			if err := client.Send(dst, []byte("\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			if got := tl.take(); len(got) != 0 {
				t.Errorf("keep-alive traced:\n%s", ladder(got))
			}
			if proto == TCP {
				if st := server.Stats(); st.Pongs != 1 {
					t.Errorf("no pong: %+v", st)
				}
			}
		})
	}
}

// The Layer's own answers are traced, and so is a request that parsed but
// failed validation; input that does not parse is not.
func TestTraceRejected(t *testing.T) {
	tl := &traceLog{}
	p := newMemPair(t, Config{Tracer: tl})
	bad := raw("OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Call-ID: other@192.0.2.1\nContent-Length: 0\n\n")
	if err := p.client.Send(p.dst, bad); err != nil {
		t.Fatal(err)
	}
	resp := p.cli.next(t).raw
	got := tl.take()
	if len(got) != 2 || got[0].sent || got[0].local != p.dst || got[0].remote != p.src ||
		!strings.Contains(got[0].msg, ";rport=5060;received=192.0.2.1\r\n") {
		t.Fatalf("traced:\n%s", ladder(got))
	}
	if !strings.HasPrefix(resp, "SIP/2.0 400 ") {
		t.Fatalf("answer %q", resp)
	}
	checkLadder(t, got[1:], traced{sent: true, local: p.dst, remote: p.src, msg: resp})

	if err := p.client.Send(p.dst, []byte("\x16\x03\x01 not SIP at all\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := tl.take(); len(got) != 0 || p.server.Stats().ParseErrors != 1 {
		t.Errorf("garbage traced:\n%s", ladder(got))
	}
}

// Over real sockets on 127.0.0.1 each Layer traces what it wrote and
// what it read, with its own and the peer's address. The server's order is
// fixed: its answer is sent after its trace of the request.
func TestTraceSockets(t *testing.T) {
	tlsConfig := testTLSConfig(t)
	for _, proto := range []Protocol{UDP, TCP, TLS} {
		t.Run(proto.String(), func(t *testing.T) {
			stl, ctl := &traceLog{}, &traceLog{}
			server, srv := serve(t, Config{TLS: tlsConfig, Tracer: stl}, 200)
			dst := listen(t, server, proto, "127.0.0.1:0")
			cli := newRecorder()
			client := newLayer(t, Config{TLS: tlsConfig, Tracer: ctl}, cli)
			listen(t, client, proto, "127.0.0.1:0")

			wire, _, err := client.SendRequest(dst, []byte("z9hG4bKtrs"), request("OPTIONS", "sip:bob@127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			g := srv.next(t) // the server traced its 200 before this
			r := cli.next(t)
			// The client's end: the socket it sent from, as the server saw it.
			local := g.remote
			got := ctl.take()
			if len(got) == 2 && !got[0].sent {
				// The request is traced after its write returned, and the
				// reader may have traced the answer by then (see Tracer).
				got[0], got[1] = got[1], got[0]
			}
			checkLadder(t, got,
				traced{sent: true, local: local, remote: dst, msg: string(wire)},
				traced{local: local, remote: dst, msg: r.raw},
			)
			checkLadder(t, stl.take(),
				traced{local: g.local, remote: g.remote, msg: g.raw},
				traced{sent: true, local: g.local, remote: g.remote, msg: r.raw},
			)
			if !strings.Contains(g.raw, ";received=127.0.0.1") {
				t.Errorf("server traced the request unstamped:\n%s", g.raw)
			}
		})
	}
}

// countTracer counts traces; it keeps nothing.
type countTracer struct{ n atomic.Int64 }

func (c *countTracer) TraceMessage(*Trace) { c.n.Add(1) }

// The receive path and SendResponse allocate nothing, with a Tracer too.
func TestTraceZeroAllocs(t *testing.T) {
	ct := &countTracer{}
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	var out []byte
	var server *Layer
	server = newLayer(t, Config{Tracer: ct}, HandlerFunc(func(in *Inbound) {
		out = sip.AppendResponse(out[:0], in.Msg, 200, "", "tag")
		out = sip.AppendNoBody(out)
		server.SendResponse(in.Reply, out)
	}))
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))
	client := newLayer(t, Config{Tracer: ct}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	wire, _, err := client.SendRequest(dst, []byte("z9hG4bKalloc"), request("OPTIONS", "sip:bob@192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	ct.n.Store(0)
	allocs := testing.AllocsPerRun(200, func() {
		if err := client.Send(dst, wire); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("%v allocs per request and response", allocs)
	}
	// AllocsPerRun runs once more to warm up: 201 exchanges of 4 traces.
	if got := ct.n.Load(); got != 4*201 {
		t.Errorf("%d traces", got)
	}
}
