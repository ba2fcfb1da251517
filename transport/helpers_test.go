package transport

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// failAfter bounds every wait on a channel; tests never sleep to sync.
const failAfter = 10 * time.Second

// quietLogger discards the Layer's warnings.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// got is what a recorder saw of one inbound message, copied out of the
// pooled buffer.
type got struct {
	raw    string
	topVia string
	local  Addr
	remote Addr
	reply  ReplyTo
	status int
}

// recorder is a Handler that records inbound messages on a channel and,
// if respond is set, answers requests with that status code.
type recorder struct {
	ch      chan got
	layer   *Layer // for answering
	respond int
}

func newRecorder() *recorder { return &recorder{ch: make(chan got, 256)} }

func (r *recorder) HandleInbound(in *Inbound) {
	m := in.Msg
	g := got{raw: string(m.Bytes()), local: in.Local, remote: in.Remote, reply: in.Reply, status: m.StatusCode()}
	it := m.Values(sip.HeaderVia)
	if v, ok := it.Next(); ok {
		g.topVia = string(v)
	}
	if r.respond != 0 && m.IsRequest() && m.Method() != sip.MethodAck {
		b := sip.AppendResponse(nil, m, r.respond, "", "srv1")
		b = sip.AppendNoBody(b)
		if err := r.layer.SendResponse(in.Reply, b); err != nil {
			g.raw = "SendResponse: " + err.Error()
		}
	}
	select {
	case r.ch <- g:
	default:
		panic("recorder: channel full")
	}
}

// next waits for the next message.
func (r *recorder) next(t *testing.T) got {
	t.Helper()
	select {
	case g := <-r.ch:
		return g
	case <-time.After(failAfter):
		t.Fatal("timed out waiting for a message")
		return got{}
	}
}

// none checks that nothing arrived (for synchronous in-memory delivery).
func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case g := <-r.ch:
		t.Fatalf("unexpected message from %v:\n%s", g.remote, g.raw)
	default:
	}
}

// newLayer returns a Layer closed at the end of the test.
func newLayer(t testing.TB, cfg Config, h Handler) *Layer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	l := New(cfg, h)
	t.Cleanup(func() { l.Close() })
	return l
}

// serve returns a Layer whose recorder answers requests with status.
func serve(t testing.TB, cfg Config, status int) (*Layer, *recorder) {
	r := newRecorder()
	r.respond = status
	l := newLayer(t, cfg, r)
	r.layer = l
	return l, r
}

func mustAddr(t testing.TB, proto Protocol, s string) Addr {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return Addr{Proto: proto, AddrPort: ap}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// request builds a request without a top Via, as SendRequest takes it.
func request(method, ruri string, extra ...string) []byte {
	b := sip.AppendRequestLine(nil, method, ruri)
	b = sip.AppendHeader(b, sip.HeaderMaxForwards, "70")
	b = sip.AppendHeader(b, sip.HeaderFrom, "<sip:alice@192.0.2.1>;tag=a1")
	b = sip.AppendHeader(b, sip.HeaderTo, "<sip:bob@192.0.2.2>")
	b = sip.AppendHeader(b, sip.HeaderCallID, "call-1@192.0.2.1")
	b = sip.AppendCSeq(b, 1, method)
	for _, h := range extra {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	return sip.AppendNoBody(b)
}

// raw turns a message written with "\n" line ends into CRLF.
func raw(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// testTLSConfig returns a configuration with a self-signed certificate for
// 127.0.0.1 and ::1, trusting itself.
func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	return must[*tls.Config](t)(SelfSignedTLS())
}

// waitFor polls cond on the real clock, for conditions a goroutine
// reaches without signalling (a reader noticing a closed socket).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failAfter)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// dialRaw opens a plain TCP connection for writing raw bytes at a Layer.
func dialRaw(t *testing.T, a Addr) net.Conn {
	t.Helper()
	c := must[net.Conn](t)(net.DialTimeout("tcp", a.AddrPort.String(), failAfter))
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads from c until EOF or the deadline, for checking a closed
// connection.
func readUntilClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(failAfter))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection not closed; read %q", b)
	}
	return string(b)
}
