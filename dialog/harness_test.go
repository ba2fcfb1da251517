package dialog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// quiet discards logs; tests assert on behaviour, not log lines.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var epoch = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// world is an in-memory network on a fake clock.
type world struct {
	t     *testing.T
	clock *transport.FakeClock
	net   *transport.Network
}

func newWorld(t *testing.T) *world {
	clock := transport.NewFakeClock(epoch)
	return &world{t: t, clock: clock, net: transport.NewNetwork(clock, 1)}
}

func memAddr(port uint16) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
}

// ua starts a UA called name on 127.0.0.1:port of the world's network.
func (w *world) ua(name string, port uint16, cfg Config) *UA {
	w.t.Helper()
	cfg.Clock = w.clock
	cfg.User = name
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	ua := NewUA(cfg)
	if _, err := ua.ListenMem(w.net, memAddr(port)); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { ua.Close() })
	return ua
}

// settle runs every timer for d of fake time, so that transactions end.
func (w *world) settle(d time.Duration) { w.clock.Advance(d) }

// got is a message a peer received.
type got struct {
	msg   *sip.Message
	reply transport.ReplyTo
}

// peer is a scripted SIP element: a bare transport layer whose test code
// reads what arrives and writes what it sends, byte for byte.
type peer struct {
	t    *testing.T
	l    *transport.Layer
	addr transport.Addr
	in   chan got
}

func (w *world) peer(port uint16) *peer {
	w.t.Helper()
	p := &peer{t: w.t, in: make(chan got, 256)}
	p.l = transport.New(transport.Config{Clock: w.clock}, transport.HandlerFunc(func(in *transport.Inbound) {
		p.in <- got{msg: in.Msg.Clone(), reply: in.Reply}
	}))
	a, err := p.l.ListenMem(w.net, memAddr(port))
	if err != nil {
		w.t.Fatal(err)
	}
	p.addr = a
	w.t.Cleanup(func() { p.l.Close() })
	return p
}

// next returns the next message the peer received; it fails the test if
// none is waiting (delivery on the in-memory network is synchronous).
func (p *peer) next() got {
	p.t.Helper()
	select {
	case g := <-p.in:
		return g
	default:
		p.t.Fatal("peer: nothing received")
		return got{}
	}
}

// wait waits (in real time, bounded) for the next message: for requests
// sent by a goroutine of the test.
func (p *peer) wait() got {
	p.t.Helper()
	select {
	case g := <-p.in:
		return g
	case <-time.After(5 * time.Second):
		p.t.Fatal("peer: nothing received within 5 s")
		return got{}
	}
}

// none asserts that nothing more arrived.
func (p *peer) none() {
	p.t.Helper()
	select {
	case g := <-p.in:
		p.t.Fatalf("peer: unexpected %s", firstLine(g.msg))
	default:
	}
}

// nextRequest skips nothing: the next message must be a request of method.
func (p *peer) expect(method string) got {
	p.t.Helper()
	g := p.next()
	if !g.msg.IsRequest() || string(g.msg.MethodName()) != method {
		p.t.Fatalf("peer: got %s, want %s", firstLine(g.msg), method)
	}
	return g
}

// expectStatus: the next message must be a response with code.
func (p *peer) expectStatus(code int) got {
	p.t.Helper()
	g := p.next()
	if g.msg.IsRequest() || g.msg.StatusCode() != code {
		p.t.Fatalf("peer: got %s, want %d", firstLine(g.msg), code)
	}
	return g
}

func firstLine(m *sip.Message) string {
	b := m.Bytes()
	if i := strings.Index(string(b), "\r\n"); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// send sends a request without Via to dst.
func (p *peer) send(dst transport.Addr, req string) {
	p.t.Helper()
	if _, _, err := p.l.SendRequest(dst, transport.NewBranch(nil), []byte(req)); err != nil {
		p.t.Fatal(err)
	}
}

// respond answers g with code, To tag tag and extra header lines.
func (p *peer) respond(g got, code int, tag string, extra ...string) {
	p.t.Helper()
	b := sip.AppendResponse(nil, g.msg, code, "", tag)
	for _, h := range extra {
		b = append(b, h+"\r\n"...)
	}
	if code < 300 && code > 100 && g.msg.Method() == sip.MethodInvite {
		b = append(b, fmt.Sprintf("Contact: <sip:peer@%s>\r\n", p.addr.AddrPort)...)
	}
	b = sip.AppendNoBody(b)
	if err := p.l.SendResponse(g.reply, b); err != nil {
		p.t.Fatal(err)
	}
}

// invite is an INVITE from the peer to ua at dst.
func (p *peer) invite(dst transport.Addr, callID, fromTag string, seq int, extra ...string) string {
	s := fmt.Sprintf("INVITE sip:bob@%s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@%s>;tag=%s\r\nTo: <sip:bob@%s>\r\nCall-ID: %s\r\nCSeq: %d INVITE\r\nContact: <sip:peer@%s>\r\n",
		dst.AddrPort, p.addr.AddrPort, fromTag, dst.AddrPort, callID, seq, p.addr.AddrPort)
	for _, h := range extra {
		s += h + "\r\n"
	}
	return s + "Content-Length: 0\r\n\r\n"
}

// inDialog is a request from the peer in the dialog (callID, fromTag,
// toTag) with the UA at dst.
func (p *peer) inDialog(dst transport.Addr, method, callID, fromTag, toTag string, seq int, extra ...string) string {
	s := fmt.Sprintf("%s sip:bob@%s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@%s>;tag=%s\r\nTo: <sip:bob@%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n",
		method, dst.AddrPort, p.addr.AddrPort, fromTag, dst.AddrPort, toTag, callID, seq, method)
	if method == "INVITE" {
		s += fmt.Sprintf("Contact: <sip:peer@%s>\r\n", p.addr.AddrPort)
	}
	for _, h := range extra {
		s += h + "\r\n"
	}
	return s + "Content-Length: 0\r\n\r\n"
}

// autoAnswer is an OnInvite that rings and answers with sdp.
func autoAnswer(c *Call, _ *sip.Message) {
	c.Ring()
	c.Answer("application/sdp", []byte(sdp))
}

func bg() context.Context { return context.Background() }

// mustEnd asserts that c has ended with an error matching want.
func mustEnd(t *testing.T, c *Call, want error) {
	t.Helper()
	select {
	case <-c.Done():
	default:
		t.Fatalf("call still %v, want ended", c.State())
	}
	if want != nil && !errors.Is(c.Err(), want) {
		t.Fatalf("call ended with %v, want %v", c.Err(), want)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func newBenchClock() *transport.FakeClock { return transport.NewFakeClock(epoch) }

func newBenchNetwork(c *transport.FakeClock) *transport.Network { return transport.NewNetwork(c, 1) }
