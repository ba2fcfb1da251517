package fuzz

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// FuzzDialogs puts a dialog.UA on an in-memory network opposite a scripted
// peer that sends whatever the input says: INVITEs, requests inside
// dialogs real or invented (ACK, BYE, re-INVITE, INFO, CANCEL), responses
// to the UA's requests with any code and tag, while the UA dials, rings,
// answers, rejects, hangs up and cancels, and the fake clock jumps. It
// checks that nothing panics, that the UA never answers an ACK, that each
// request of the peer gets at most one distinct final response (further 2xx
// to an INVITE aside), and that once the UA is closed and the clock has run
// on, no transaction and no timer is left. An input of odd length turns on
// session timers (RFC 4028): the UA asks for 90 s, the peer's INVITEs ask
// for 60 or 90 s, its 2xx to the UA's INVITEs grant 90 s to either side,
// and one of its codes is 422 with Min-SE: 120.
func FuzzDialogs(f *testing.F) {
	f.Add([]byte{0, 0, 4, 0x21, 1, 0x00, 6, 3})
	f.Add([]byte{3, 0, 2, 0x31, 2, 0x41, 5, 0, 6, 9})
	f.Add([]byte{0, 1, 4, 0x01, 1, 0x02, 1, 0x11, 6, 2, 1, 0x10})
	f.Add([]byte{3, 1, 2, 0x11, 5, 1, 2, 0x71, 6, 5})
	f.Add([]byte{0, 2, 4, 0x22, 6, 8, 6, 9, 1, 0x31})
	f.Add([]byte{3, 0, 2, 0xd0, 2, 0x31, 6, 7, 6, 7, 1})
	f.Add([]byte{0, 3, 4, 0x21, 1, 0x00, 6, 8, 6, 9, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 300 {
			return
		}
		s := newScene(t, len(ops)%2 == 1)
		for i := 0; i+1 < len(ops); i += 2 {
			s.step(ops[i], ops[i+1])
		}
		s.ua.Close()
		s.clock.Advance(10 * time.Minute)
		if c, srv := s.ua.Transactions().Transactions(); c+srv != 0 {
			t.Fatalf("%d client and %d server transactions left after Close", c, srv)
		}
		if n := s.clock.Pending(); n != 0 {
			t.Fatalf("%d timers left after Close", n)
		}
		if n := s.ua.Dialogs(); n != 0 {
			t.Fatalf("%d dialogs left after Close", n)
		}
		s.peer.Close()
	})
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// scene is the UA under test and the scripted peer.
type scene struct {
	t     *testing.T
	clock *transport.FakeClock
	ua    *dialog.UA
	peer  *transport.Layer
	uaAt  transport.Addr

	mu       sync.Mutex
	incoming []*dialog.Call       // calls to the UA
	outgoing []*dialog.Call       // calls from the UA
	received []*sip.Message       // requests the peer got from the UA
	tags     []string             // To tags the UA put in its responses
	sent     []string             // INVITEs the peer sent (for CANCEL): branch, then bytes
	finals   map[string]final     // the peer's requests by branch and method
	acked    map[string]time.Time // when the peer last sent an ACK, by branch

	branches   int    // branches made
	lastBranch string // the last one

	sessionTimers bool // RFC 4028 on both sides
}

func newScene(t *testing.T, sessionTimers bool) *scene {
	s := &scene{t: t, clock: transport.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), finals: make(map[string]final), acked: make(map[string]time.Time), sessionTimers: sessionTimers}
	net := transport.NewNetwork(s.clock, 1)
	var se time.Duration
	if sessionTimers {
		se = 90 * time.Second
	}
	s.ua = dialog.NewUA(dialog.Config{Clock: s.clock, User: "ua", Logger: quiet, MaxDialogs: 8, SessionExpires: se,
		OnInvite: func(c *dialog.Call, _ *sip.Message) {
			s.mu.Lock()
			s.incoming = append(s.incoming, c)
			s.mu.Unlock()
		}})
	at := func(port uint16) transport.Addr {
		return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
	}
	var err error
	if s.uaAt, err = s.ua.ListenMem(net, at(5060)); err != nil {
		t.Fatal(err)
	}
	s.peer = transport.New(transport.Config{Clock: s.clock, Logger: quiet}, transport.HandlerFunc(s.peerReceive))
	if _, err := s.peer.ListenMem(net, at(5080)); err != nil {
		t.Fatal(err)
	}
	return s
}

// peerReceive checks and records what the UA sends the peer.
func (s *scene) peerReceive(in *transport.Inbound) {
	m := in.Msg
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.IsRequest() {
		if len(s.received) < 64 {
			s.received = append(s.received, m.Clone())
		}
		return
	}
	cseq, _ := m.CSeq()
	if cseq.Method == sip.MethodAck {
		s.t.Fatalf("the UA answered an ACK:\n%s", m.Bytes())
	}
	if tag := m.ToTag(); len(tag) > 0 && len(s.tags) < 16 {
		s.tags = append(s.tags, string(tag))
	}
	code := m.StatusCode()
	if code < 200 {
		return
	}
	via, _ := m.TopVia()
	key := string(via.Branch) + " " + string(cseq.MethodName)
	now := s.clock.Now()
	// Within a transaction's life the final response does not change;
	// after it, the same branch is a new request. That life is 64*T1 at
	// most, or T4 (Timer I, 5 s) after the ACK of an INVITE's non-2xx
	// final response (RFC 3261 §17.2.1).
	ended := func(prev final) bool {
		if now.Sub(prev.at) >= 32*time.Second {
			return true
		}
		at, ok := s.acked[string(via.Branch)]
		return ok && cseq.Method == sip.MethodInvite && prev.code >= 300 && !at.Before(prev.at) && now.Sub(at) >= 5*time.Second
	}
	if prev, ok := s.finals[key]; ok && !ended(prev) && prev.code != code && !(prev.code < 300 && code < 300 && cseq.Method == sip.MethodInvite) {
		s.t.Fatalf("%s: final %d after %d", key, code, prev.code)
	}
	if prev, ok := s.finals[key]; !ok || ended(prev) {
		s.finals[key] = final{code, now}
	}
}

type final struct {
	code int
	at   time.Time
}

func (s *scene) pick(list []*dialog.Call, arg byte) *dialog.Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(list) == 0 {
		return nil
	}
	return list[int(arg)%len(list)]
}

func (s *scene) step(op, arg byte) {
	switch op % 7 {
	case 0: // the peer calls the UA
		s.peerRequest("INVITE", "c"+strconv.Itoa(int(arg%3)), "p"+strconv.Itoa(int(arg/3%2)), "", 1+int(arg/6%3), arg)
	case 1: // the peer sends a request inside a dialog, real or not
		method := [...]string{"ACK", "BYE", "INVITE", "INFO", "CANCEL", "ACK", "BYE", "OPTIONS"}[arg%8]
		s.mu.Lock()
		tag := "nope"
		if len(s.tags) > 0 {
			tag = s.tags[int(arg/8)%len(s.tags)]
		}
		s.mu.Unlock()
		if method == "CANCEL" {
			s.peerCancel(arg)
			return
		}
		s.peerRequest(method, "c"+strconv.Itoa(int(arg/8%3)), "p"+strconv.Itoa(int(arg/24%2)), tag, 1+int(arg/48%4), arg)
	case 2: // the peer answers a request from the UA
		s.mu.Lock()
		if len(s.received) == 0 {
			s.mu.Unlock()
			return
		}
		req := s.received[int(arg)%len(s.received)]
		s.mu.Unlock()
		if req.Method() == sip.MethodAck {
			return
		}
		code := [...]int{100, 180, 183, 200, 486, 487, 481, 408, 200, 491, 603, 302, 500, 422, 181, 404}[arg/16]
		tag := "r" + strconv.Itoa(int(arg%2))
		b := sip.AppendResponse(nil, req, code, "", tag)
		if code >= 180 && code < 300 {
			b = append(b, "Contact: <sip:peer@127.0.0.1:5080>\r\n"...)
		}
		if code == 422 {
			b = append(b, "Min-SE: 120\r\n"...)
		}
		if s.sessionTimers && code >= 200 && code < 300 && req.Method() == sip.MethodInvite {
			b = append(b, [...]string{"Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n", "Session-Expires: 90;refresher=uas\r\nRequire: timer\r\n"}[arg/2%2]...)
		}
		s.peer.Send(s.uaAt, sip.AppendNoBody(b))
	case 3: // the UA calls the peer
		if c, err := s.ua.Dial("sip:peer@127.0.0.1:5080", nil); err == nil {
			s.mu.Lock()
			s.outgoing = append(s.outgoing, c)
			s.mu.Unlock()
		}
	case 4: // the UA deals with an incoming call
		c := s.pick(s.incoming, arg)
		if c == nil {
			return
		}
		switch arg / 32 % 4 {
		case 0:
			c.Ring()
		case 1:
			c.Answer("application/sdp", []byte("v=0\r\n"))
		case 2:
			c.Reject(486, "")
		case 3:
			s.hangup(c)
		}
	case 5: // the UA ends an outgoing call
		if c := s.pick(s.outgoing, arg); c != nil {
			s.hangup(c)
		}
	case 6: // time passes
		s.clock.Advance([...]time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second}[arg%10])
	}
}

// hangup ends a call without waiting for the BYE's answer.
func (s *scene) hangup(c *dialog.Call) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Hangup(ctx)
}

// peerRequest sends a request from the peer to the UA.
func (s *scene) peerRequest(method, callID, fromTag, toTag string, seq int, arg byte) {
	to := "<sip:ua@127.0.0.1:5060>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	timers := ""
	if s.sessionTimers && method == "INVITE" {
		timers = [...]string{"Session-Expires: 90;refresher=uac\r\nSupported: timer\r\n", "Session-Expires: 60\r\nSupported: timer\r\n"}[seq%2]
	}
	req := fmt.Sprintf("%s sip:ua@127.0.0.1:5060 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1:5080>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:peer@127.0.0.1:5080>\r\n%sContent-Length: 0\r\n\r\n",
		method, fromTag, to, callID, seq, method, timers)
	// A fresh branch, or with the top bit the last one again: a
	// retransmission, or for an ACK the branch of an INVITE (the ACK of a
	// non-2xx, RFC 3261 §17.1.1.3).
	s.mu.Lock()
	if arg&0x80 == 0 || s.lastBranch == "" {
		s.branches++
		s.lastBranch = "z9hG4bK" + strconv.Itoa(s.branches)
	}
	branch := s.lastBranch
	if method == "ACK" && arg&1 == 0 && len(s.sent) > 0 {
		branch = s.sent[int(arg/2)%(len(s.sent)/2)*2]
	}
	if f, final := s.finals[branch+" INVITE"]; method == "ACK" && final {
		// An ACK sent before the final response came confirms nothing;
		// the first one after it starts Timer I, later ones (for a new
		// INVITE on the branch, say) do not move it.
		if at, ok := s.acked[branch]; !ok || at.Before(f.at) {
			s.acked[branch] = s.clock.Now()
		}
	}
	s.mu.Unlock()
	if wire, _, err := s.peer.SendRequest(s.uaAt, []byte(branch), []byte(req)); err == nil && method == "INVITE" {
		s.mu.Lock()
		if len(s.sent) < 32 {
			s.sent = append(s.sent, branch, string(wire))
		}
		s.mu.Unlock()
	}
}

// peerCancel cancels an INVITE the peer sent (RFC 3261 §9.1).
func (s *scene) peerCancel(arg byte) {
	s.mu.Lock()
	if len(s.sent) == 0 {
		s.mu.Unlock()
		return
	}
	i := int(arg) % (len(s.sent) / 2) * 2
	branch, wire := s.sent[i], s.sent[i+1]
	s.mu.Unlock()
	var inv sip.Message
	if sip.Parse(&inv, []byte(wire)) != nil {
		return
	}
	cseq, _ := inv.CSeq()
	req := fmt.Sprintf("CANCEL sip:ua@127.0.0.1:5060 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d CANCEL\r\nContent-Length: 0\r\n\r\n",
		inv.Get(sip.HeaderFrom), inv.Get(sip.HeaderTo), inv.CallID(), cseq.Seq)
	s.peer.SendRequest(s.uaAt, []byte(branch), []byte(req))
}
