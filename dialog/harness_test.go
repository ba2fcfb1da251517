package dialog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/internal/siptest"
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

// peer is a scripted SIP element (siptest.Peer) with the requests of
// these tests.
type peer struct{ *siptest.Peer }

// peer starts a peer on 127.0.0.1:port of the world's network.
func (w *world) peer(port uint16) *peer {
	w.t.Helper()
	return &peer{siptest.NewPeer(w.t, w.clock, w.net, memAddr(port))}
}

// invite is an INVITE from the peer to ua at dst.
func (p *peer) invite(dst transport.Addr, callID, fromTag string, seq int, extra ...string) string {
	s := fmt.Sprintf("INVITE sip:bob@%s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@%s>;tag=%s\r\nTo: <sip:bob@%s>\r\nCall-ID: %s\r\nCSeq: %d INVITE\r\nContact: <sip:peer@%s>\r\n",
		dst.AddrPort, p.Addr.AddrPort, fromTag, dst.AddrPort, callID, seq, p.Addr.AddrPort)
	for _, h := range extra {
		s += h + "\r\n"
	}
	return s + "Content-Length: 0\r\n\r\n"
}

// inDialog is a request from the peer in the dialog (callID, fromTag,
// toTag) with the UA at dst.
func (p *peer) inDialog(dst transport.Addr, method, callID, fromTag, toTag string, seq int, extra ...string) string {
	s := fmt.Sprintf("%s sip:bob@%s SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@%s>;tag=%s\r\nTo: <sip:bob@%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n",
		method, dst.AddrPort, p.Addr.AddrPort, fromTag, dst.AddrPort, toTag, callID, seq, method)
	if method == "INVITE" {
		s += fmt.Sprintf("Contact: <sip:peer@%s>\r\n", p.Addr.AddrPort)
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
