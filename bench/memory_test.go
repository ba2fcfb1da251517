package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// The memory a transferee UA keeps, measured as in the load test
// (docs/LOAD.md), where SIPp plays the transferor and the target and the
// UA alone is in the heap: here two scripted peers answer statelessly on
// the in-memory network and keep nothing per transfer, so the heap that
// grows is the UA's.

var transfereeProfile = flag.String("transfereeprofile", "", "BenchmarkTransfereeHeld writes a heap profile to this file at the point it measures")

var idleProfile = flag.String("idleprofile", "", "BenchmarkIdleCallMemory writes a heap profile to this file at the point it measures")

const memSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

func memAddr(port uint16) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
}

// scripted is a SIP element without state: it answers INVITE, NOTIFY and
// BYE 200 at once (an INVITE with a To tag, Contact and SDP), ignores ACK,
// and passes the responses it receives, and the NOTIFY that ends a
// transfer, to the goroutine driving it.
type scripted struct {
	l    *transport.Layer
	addr transport.Addr
	uri  string
	in   chan *sip.Message // cloned
}

func newScripted(tb testing.TB, clock transport.Clock, n *transport.Network, name string, port uint16, keep bool) *scripted {
	s := &scripted{addr: memAddr(port), in: make(chan *sip.Message, 16)}
	s.uri = "sip:" + name + "@" + s.addr.AddrPort.String()
	s.l = transport.New(transport.Config{Clock: clock, Logger: quietLog}, transport.HandlerFunc(s.handle))
	if _, err := s.l.ListenMem(n, s.addr); err != nil {
		tb.Fatal(err)
	}
	if !keep {
		tb.Cleanup(func() { s.l.Close() })
	}
	return s
}

func (s *scripted) handle(in *transport.Inbound) {
	m := in.Msg
	if !m.IsRequest() {
		s.in <- m.Clone()
		return
	}
	var resp []byte
	switch m.Method() {
	case sip.MethodAck:
		return
	case sip.MethodInvite:
		resp = sip.AppendResponse(nil, m, 200, "", transport.NewTag(nil))
		resp = sip.AppendHeader(resp, sip.HeaderContact, "<"+s.uri+">")
		resp = sip.AppendBody(resp, "application/sdp", memSDP)
	default:
		resp = sip.AppendNoBody(sip.AppendResponse(nil, m, 200, "", ""))
	}
	if err := s.l.SendResponse(in.Reply, resp); err != nil {
		panic(err)
	}
	if m.Method() == sip.MethodNotify && bytes.Contains(m.Body(), []byte("SIP/2.0 200")) {
		s.in <- m.Clone()
	}
}

// send sends a request (without Via) to dst.
func (s *scripted) send(dst transport.Addr, req string) {
	if _, _, err := s.l.SendRequest(dst, transport.NewBranch(nil), []byte(req)); err != nil {
		panic(err)
	}
}

// transferee is a UA with an event Manager and a refer Agent that accepts
// every REFER and hangs up the call it places once established, as
// BenchmarkTransferHeld's Bob does.
type transferee struct {
	clock *transport.FakeClock
	net   *transport.Network
	ua    *dialog.UA
	ev    *event.Manager
	addr  transport.Addr
	uri   string
	calls chan *dialog.Call
	alice *scripted // transferor
	carol *scripted // target
	n     int       // transfers and calls made, for unique Call-IDs
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTransferee starts Bob and the scripted Alice and Carol on a network
// of their own; unless keep is set (then close closes them) they close
// when tb ends.
func newTransferee(tb testing.TB, keep bool) *transferee {
	clock := transport.NewFakeClock(time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC))
	t := &transferee{clock: clock, net: transport.NewNetwork(clock, 1), addr: memAddr(5070), calls: make(chan *dialog.Call, 1)}
	t.uri = "sip:bob@" + t.addr.AddrPort.String()
	t.ua = dialog.NewUA(dialog.Config{Clock: clock, User: "bob", Logger: quietLog, MaxDialogs: 1 << 30,
		OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("application/sdp", []byte(memSDP)) }})
	t.ev = event.New(t.ua, event.Config{MaxSubscriptions: 1 << 30})
	_, err := refer.New(t.ua, t.ev, refer.Config{
		OnCall: func(_ *refer.Incoming, c *dialog.Call) { t.calls <- c },
		CallOptions: func(*refer.Incoming) *dialog.CallOptions {
			return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: []byte(memSDP)}}}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := t.ua.ListenMem(t.net, t.addr); err != nil {
		tb.Fatal(err)
	}
	if !keep {
		tb.Cleanup(func() { t.ev.Close(); t.ua.Close() })
	}
	t.alice = newScripted(tb, clock, t.net, "alice", 5060, keep)
	t.carol = newScripted(tb, clock, t.net, "carol", 5080, keep)
	return t
}

// close closes what newTransferee started when told to keep it.
func (t *transferee) close() {
	t.ev.Close()
	t.ua.Close()
	t.alice.l.Close()
	t.carol.l.Close()
}

// expect returns the next message a scripted peer passed on. On the
// in-memory network without delay it has come by the time the request
// that caused it has been sent; the bound only keeps a failure from
// hanging the benchmark.
func expect(b *testing.B, s *scripted, what string) *sip.Message {
	select {
	case m := <-s.in:
		return m
	case <-time.After(5 * time.Second):
		b.Fatalf("%s: nothing came, waiting for %s", s.uri, what)
		return nil
	}
}

// call sets up a call from Alice to Bob and returns what Alice's requests
// in its dialog need: the lines From, To (with tag) and Call-ID, and Bob's
// Contact URI.
func (t *transferee) call(b *testing.B) (dialogLines, contact string) {
	t.n++
	callID := "c" + strconv.Itoa(t.n) + "@alice"
	from := "From: <" + t.alice.uri + ">;tag=a" + strconv.Itoa(t.n) + "\r\n"
	inv := "INVITE " + t.uri + " SIP/2.0\r\nMax-Forwards: 70\r\n" + from + "To: <" + t.uri + ">\r\nCall-ID: " + callID +
		"\r\nCSeq: 1 INVITE\r\nContact: <" + t.alice.uri + ">\r\nContent-Type: application/sdp\r\nContent-Length: " +
		strconv.Itoa(len(memSDP)) + "\r\n\r\n" + memSDP
	t.alice.send(t.addr, inv)
	ok := expect(b, t.alice, "200 to INVITE")
	if ok.StatusCode() != 200 {
		b.Fatalf("INVITE answered %d", ok.StatusCode())
	}
	contact = t.uri
	var na sip.NameAddr
	if na.Parse(ok.Get(sip.HeaderContact)) == nil {
		contact = string(na.URI.Raw)
	}
	dialogLines = from + "To: " + string(ok.Get(sip.HeaderTo)) + "\r\nCall-ID: " + callID + "\r\n"
	t.alice.send(t.addr, "ACK "+contact+" SIP/2.0\r\nMax-Forwards: 70\r\n"+dialogLines+"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
	return dialogLines, contact
}

// transfer makes one blind transfer: Alice calls Bob and REFERs him to
// Carol; Bob calls Carol, reports the 200 and hangs up; Alice hangs up.
func (t *transferee) transfer(b *testing.B) {
	lines, contact := t.call(b)
	t.alice.send(t.addr, "REFER "+contact+" SIP/2.0\r\nMax-Forwards: 70\r\n"+lines+"CSeq: 2 REFER\r\nContact: <"+t.alice.uri+
		">\r\nRefer-To: <"+t.carol.uri+">\r\nContent-Length: 0\r\n\r\n")
	var accepted, done bool
	for !accepted || !done {
		m := expect(b, t.alice, "the REFER's 2xx and the final NOTIFY")
		if m.IsRequest() {
			done = true
		} else if c := m.StatusCode(); c >= 200 && c < 300 {
			accepted = true
		} else if c >= 300 {
			b.Fatalf("REFER answered %d", c)
		}
	}
	var bc *dialog.Call
	select {
	case bc = <-t.calls:
	case <-time.After(5 * time.Second):
		b.Fatal("no call to Carol")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bc.Wait(ctx); err != nil {
		b.Fatal(err)
	}
	if err := bc.Bye(ctx); err != nil {
		b.Fatal(err)
	}
	t.alice.send(t.addr, "BYE "+contact+" SIP/2.0\r\nMax-Forwards: 70\r\n"+lines+"CSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n")
	if m := expect(b, t.alice, "200 to BYE"); m.StatusCode() != 200 {
		b.Fatalf("BYE answered %d", m.StatusCode())
	}
}

// idle sets up n calls from Alice to Bob that stay up, lets their
// transactions end, and returns how many bytes of heap they hold.
func (t *transferee) idle(b *testing.B, n int) float64 {
	before := heap()
	for range n {
		t.call(b)
	}
	t.clock.Advance(2 * time.Minute) // 64*T1: every transaction ends
	if got := t.ua.Dialogs(); got < n {
		b.Fatalf("%d dialogs, want at least %d", got, n)
	}
	return heap() - before
}

func heap() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc)
}

// BenchmarkTransfereeHeld makes b.N blind transfers through one transferee
// UA without letting the clock run, and reports the heap the UA holds per
// finished transfer while its transactions wait out their timers
// (B-held/transfer: J, L and M of 64*T1, K of T4), how many transactions
// that is, and the heap once T4 has passed but not 64*T1
// (B-held-JLM/transfer: Timers J, L and M only). Under load over UDP a UA
// holds the second figure for 32 s per transfer and the difference for
// 5 s. Then the clock runs and nothing may stay.
func BenchmarkTransfereeHeld(b *testing.B) {
	t := newTransferee(b, false)
	t.transfer(b) // warm the tables and pools up
	t.clock.Advance(2 * time.Minute)
	before := heap()
	b.ResetTimer()
	for range b.N {
		t.transfer(b)
	}
	b.StopTimer()
	held := heap() - before
	c, s := t.ua.Transactions().Transactions()
	b.ReportMetric(held/float64(b.N), "B-held/transfer")
	b.ReportMetric(float64(c+s)/float64(b.N), "tx/transfer")

	t.clock.Advance(transaction.DefaultT4 + time.Second) // Timer K ends, J, L and M run on
	held = heap() - before
	c, s = t.ua.Transactions().Transactions()
	b.ReportMetric(held/float64(b.N), "B-held-JLM/transfer")
	b.ReportMetric(float64(c+s)/float64(b.N), "tx-JLM/transfer")
	if *transfereeProfile != "" {
		f, err := os.Create(*transfereeProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}

	t.clock.Advance(2 * time.Minute)
	if c, s := t.ua.Transactions().Transactions(); c+s != 0 {
		b.Errorf("%d client and %d server transactions left", c, s)
	}
	if d := t.ua.Dialogs(); d != 0 {
		b.Errorf("%d dialogs left", d)
	}
}

// BenchmarkIdleCallMemory reports the heap one established, idle call
// (a dialog and its INVITE usage, no transaction left) costs the UA that
// answered it.
func BenchmarkIdleCallMemory(b *testing.B) {
	t := newTransferee(b, false)
	t.idle(b, 1) // warm up
	held := t.idle(b, b.N)
	b.ReportMetric(held/float64(b.N), "B/call")
	if *idleProfile != "" {
		f, err := os.Create(*idleProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkTransferAmongIdleCalls measures a transfer (time and
// allocations) while the transferee holds 0, 10,000 or 100,000 idle
// calls: nothing in a transfer's path may grow with them (dialog and
// transaction lookups are map accesses, timers wait in queues).
func BenchmarkTransferAmongIdleCalls(b *testing.B) {
	for _, n := range []int{0, 10_000, 100_000} {
		// Set up once for every run of the sub-benchmark (100,000 calls
		// take seconds), closed after its last.
		var t *transferee
		b.Run(fmt.Sprintf("idle=%d", n), func(b *testing.B) {
			if t == nil {
				t = newTransferee(b, true)
				t.idle(b, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t.transfer(b)
			}
			b.StopTimer()
			t.clock.Advance(2 * time.Minute) // the next run starts clean
			if got := t.ua.Dialogs(); got != n {
				b.Errorf("%d dialogs after the transfers, want the %d idle calls", got, n)
			}
		})
		if t != nil {
			t.close()
		}
	}
}
