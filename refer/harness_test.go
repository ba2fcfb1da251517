package refer

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// stage is three parties (or more) on an in-memory network and a fake
// clock, with a record of every message sent, in order.
type stage struct {
	t      *testing.T
	clock  *transport.FakeClock
	net    *transport.Network
	wire   *wireLog
	names  map[netip.AddrPort]string
	byName map[string]*party
	// ev configures the event Manager of the parties added from now on.
	ev event.Config
	// locator, if set, is the dialog.Config.Locator of the parties added
	// from now on.
	locator dialog.Locator
	// ua, when set, adjusts the UA configuration of the parties added
	// from now on (credentials, authentication).
	ua func(name string, cfg *dialog.Config)
}

// party is one UA with its event Manager and REFER Agent. Calls to it are
// answered with sdp (or as answer says) and collected in calls.
type party struct {
	name   string
	addr   transport.Addr
	ua     *dialog.UA
	ev     *event.Manager
	agent  *Agent
	calls  chan *dialog.Call
	answer func(c *dialog.Call, req *sip.Message) // nil: ring and answer
	refers chan *Incoming
}

func newStage(t *testing.T) *stage {
	clock := transport.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	s := &stage{t: t, clock: clock, net: transport.NewNetwork(clock, 7), names: map[netip.AddrPort]string{}, byName: map[string]*party{}}
	s.wire = &wireLog{names: s.names}
	return s
}

// add starts a party on 127.0.0.1:port.
func (s *stage) add(name string, port uint16, cfg Config) *party {
	s.t.Helper()
	p := &party{name: name, calls: make(chan *dialog.Call, 16), refers: make(chan *Incoming, 16)}
	uacfg := dialog.Config{
		Clock: s.clock, User: strings.ToLower(name), Logger: quiet,
		Transport: transport.Config{Tracer: s.wire},
		Locator:   s.locator,
		OnInvite: func(c *dialog.Call, req *sip.Message) {
			p.calls <- c
			if p.answer != nil {
				p.answer(c, req)
				return
			}
			if p.agent.AcceptReplaces(c, req, "application/sdp", []byte(sdp)) {
				return
			}
			c.Ring()
			c.Answer("application/sdp", []byte(sdp))
		},
	}
	if s.ua != nil {
		s.ua(name, &uacfg)
	}
	p.ua = dialog.NewUA(uacfg)
	p.ev = event.New(p.ua, s.ev)
	if cfg.CallOptions == nil {
		cfg.CallOptions = func(*Incoming) *dialog.CallOptions {
			return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}}
		}
	}
	if cfg.OnRefer == nil {
		cfg.OnRefer = func(in *Incoming) { p.refers <- in; in.Accept() }
	}
	var err error
	if p.agent, err = New(p.ua, p.ev, cfg); err != nil {
		s.t.Fatal(err)
	}
	a := transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
	if p.addr, err = p.ua.ListenMem(s.net, a); err != nil {
		s.t.Fatal(err)
	}
	s.names[p.addr.AddrPort] = name
	s.byName[name] = p
	s.t.Cleanup(func() { p.ev.Close(); p.ua.Close() })
	return p
}

// uri is the party's SIP URI.
func (p *party) uri() string {
	return "sip:" + strings.ToLower(p.name) + "@" + p.addr.AddrPort.String()
}

// call has from call to and returns both ends, established.
func (s *stage) call(from, to *party) (*dialog.Call, *dialog.Call) {
	s.t.Helper()
	c, err := from.ua.Invite(bg(), to.uri(), &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}})
	if err != nil {
		s.t.Fatalf("%s calls %s: %v", from.name, to.name, err)
	}
	return c, <-to.calls
}

// wireLog records every message sent, as "Alice>Bob REFER" lines.
type wireLog struct {
	mu    sync.Mutex
	names map[netip.AddrPort]string
	lines []string
	msgs  []*sip.Message
}

func (w *wireLog) TraceMessage(t *transport.Trace) {
	if !t.Sent {
		return
	}
	var m sip.Message
	if sip.Parse(&m, t.Msg) != nil {
		return
	}
	what := string(m.MethodName())
	if !m.IsRequest() {
		cseq, _ := m.CSeq()
		what = fmt.Sprintf("%d/%s", m.StatusCode(), cseq.MethodName)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, w.names[t.Local.AddrPort]+">"+w.names[t.Remote.AddrPort]+" "+what)
	w.msgs = append(w.msgs, m.Clone())
}

// since returns the lines recorded from mark on, and a new mark.
func (w *wireLog) since(mark int) ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines[mark:]...), len(w.lines)
}

func (w *wireLog) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// find returns the first message sent from mark on whose line has prefix.
func (w *wireLog) find(mark int, prefix string) *sip.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := mark; i < len(w.lines); i++ {
		if strings.HasPrefix(w.lines[i], prefix) {
			return w.msgs[i]
		}
	}
	return nil
}

// progressLog collects a transfer's progress as short strings.
type progressLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *progressLog) add(_ *Transfer, p Progress) {
	s := p.Kind.String()
	if p.Code != 0 {
		s += fmt.Sprintf(" %d", p.Code)
	}
	if p.Kind == Notified {
		s += " " + p.State.String()
	}
	if p.Err != nil {
		s += " err"
	}
	l.mu.Lock()
	l.steps = append(l.steps, s)
	l.mu.Unlock()
}

func (l *progressLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.steps, ", ")
}

func (w *wireLog) indexOf(m *sip.Message) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.msgs {
		if x == m {
			return i
		}
	}
	return -1
}
