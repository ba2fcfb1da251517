package transaction

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// cstep is one step of a client transaction script: advance the clock to
// At seconds, deliver a response if Resp is set, then check what was sent
// since the previous step, what the handler heard, and the state.
type cstep struct {
	At     float64
	Resp   int
	Tag    string
	Sends  []string
	Events []string
	State  State
}

func runClient(t *testing.T, proto transport.Protocol, req string, steps []cstep) *env {
	t.Helper()
	e := newEnv(t)
	tx, err := e.m.Request(addr(proto, serverAddr), []byte(req), e.rec)
	if err != nil {
		t.Fatal(err)
	}
	wire := string(tx.Request())
	for i, st := range steps {
		e.at(sec(st.At))
		if st.Resp != 0 {
			e.deliver(response(t, wire, st.Resp, st.Tag), proto)
		}
		if got := whats(e.tp.take()); !equalStrings(got, st.Sends) {
			t.Errorf("step %d (%gs): sent %q, want %q", i, st.At, got, st.Sends)
		}
		if got := eventStrings(e.rec.take()); !equalStrings(got, st.Events) {
			t.Errorf("step %d (%gs): events %q, want %q", i, st.At, got, st.Events)
		}
		if got := tx.State(); got != st.State {
			t.Errorf("step %d (%gs): state %v, want %v", i, st.At, got, st.State)
		}
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()
	return e
}

const (
	evB   = "response INVITE 408 (transaction: timeout (Timer B))"
	evF   = "response OPTIONS 408 (transaction: timeout (Timer F))"
	udpA  = "INVITE"
	ack   = "ACK"
	inv   = "INVITE"
	opt   = "OPTIONS"
	stray = "stray"
)

// TestClientInviteTransitions walks every transition and timer of Figure 5
// with RFC 6026, over UDP and TCP.
func TestClientInviteTransitions(t *testing.T) {
	tests := []struct {
		name  string
		proto transport.Protocol
		steps []cstep
	}{
		{"udp/1xx-proceeding-486-completed-D", transport.UDP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 0.2, Resp: 100, Events: []string{"response INVITE 100"}, State: StateProceeding},
			{At: 40, Sends: nil, State: StateProceeding}, // Timer A and B stopped
			{At: 40, Resp: 180, Tag: "b1", Events: []string{"response INVITE 180"}, State: StateProceeding},
			{At: 41, Resp: 486, Tag: "b1", Sends: []string{ack}, Events: []string{"response INVITE 486"}, State: StateCompleted},
			{At: 42, Resp: 486, Tag: "b1", Sends: []string{ack}, State: StateCompleted}, // absorbed, ACK again
			{At: 72.9, State: StateCompleted},
			{At: 73, State: StateTerminated}, // Timer D = 32 s
			{At: 74, Resp: 486, Tag: "b1", Events: []string{"stray 486"}, State: StateTerminated},
		}},
		{"udp/calling-486-completed", transport.UDP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 0.6, Resp: 486, Tag: "b1", Sends: []string{inv, ack}, Events: []string{"response INVITE 486"}, State: StateCompleted},
			{At: 0.7, Resp: 180, State: StateCompleted}, // absorbed, no ACK
			{At: 32.6, State: StateTerminated},
		}},
		{"udp/calling-2xx-accepted-M", transport.UDP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 1, Resp: 200, Tag: "b1", Sends: []string{inv}, Events: []string{"response INVITE 200"}, State: StateAccepted},
			{At: 2, Resp: 200, Tag: "b1", Events: []string{"response INVITE 200"}, State: StateAccepted},   // RFC 6026: to TU
			{At: 2.5, Resp: 200, Tag: "b2", Events: []string{"response INVITE 200"}, State: StateAccepted}, // forked
			{At: 3, Resp: 180, Tag: "b1", State: StateAccepted},                                            // absorbed
			{At: 3, Resp: 486, Tag: "b1", State: StateAccepted},                                            // absorbed, no ACK
			{At: 32.9, State: StateAccepted},
			{At: 33, State: StateTerminated}, // Timer M = 64*T1
			{At: 34, Resp: 200, Tag: "b1", Events: []string{"stray 200"}, State: StateTerminated},
		}},
		{"udp/proceeding-2xx-accepted", transport.UDP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 0.1, Resp: 183, Tag: "b1", Events: []string{"response INVITE 183"}, State: StateProceeding},
			{At: 5, Resp: 200, Tag: "b1", Events: []string{"response INVITE 200"}, State: StateAccepted},
			{At: 37, State: StateTerminated},
		}},
		{"udp/timer-B", transport.UDP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 31.9, Sends: []string{inv, inv, inv, inv, inv, inv}, State: StateCalling},
			{At: 32, Events: []string{evB}, State: StateTerminated},
			{At: 33, Resp: 180, Events: []string{"stray 180"}, State: StateTerminated},
		}},
		{"tcp/no-timer-A-timer-B", transport.TCP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 31.9, State: StateCalling}, // no retransmission over TCP
			{At: 32, Events: []string{evB}, State: StateTerminated},
		}},
		{"tcp/486-D-zero", transport.TCP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 0.1, Resp: 180, Events: []string{"response INVITE 180"}, State: StateProceeding},
			{At: 1, Resp: 486, Tag: "b1", Sends: []string{ack}, Events: []string{"response INVITE 486"}, State: StateTerminated},
			{At: 2, Resp: 486, Tag: "b1", Events: []string{"stray 486"}, State: StateTerminated},
		}},
		{"tcp/2xx-accepted-M", transport.TCP, []cstep{
			{At: 0, Sends: []string{inv}, State: StateCalling},
			{At: 1, Resp: 200, Tag: "b1", Events: []string{"response INVITE 200"}, State: StateAccepted},
			{At: 20, Resp: 200, Tag: "b1", Events: []string{"response INVITE 200"}, State: StateAccepted},
			{At: 33, State: StateTerminated}, // Timer M does not depend on the transport
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runClient(t, tt.proto, inviteReq, tt.steps) })
	}
}

// TestClientNonInviteTransitions walks every transition and timer of
// Figure 6, over UDP and TCP.
func TestClientNonInviteTransitions(t *testing.T) {
	tests := []struct {
		name  string
		proto transport.Protocol
		steps []cstep
	}{
		{"udp/trying-200-completed-K", transport.UDP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 0.7, Resp: 200, Tag: "b1", Sends: []string{opt}, Events: []string{"response OPTIONS 200"}, State: StateCompleted},
			{At: 1, Resp: 200, Tag: "b1", State: StateCompleted}, // absorbed
			{At: 5.6, State: StateCompleted},                     // no retransmission in Completed
			{At: 5.7, State: StateTerminated},                    // Timer K = T4
		}},
		{"udp/K-expiry", transport.UDP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 0.2, Resp: 404, Tag: "b1", Events: []string{"response OPTIONS 404"}, State: StateCompleted},
			{At: 5.1, State: StateCompleted},
			{At: 5.2, State: StateTerminated}, // Timer K = T4
			{At: 6, Resp: 404, Tag: "b1", Events: []string{"stray 404"}, State: StateTerminated},
		}},
		{"udp/trying-1xx-proceeding-final", transport.UDP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 0.1, Resp: 100, Events: []string{"response OPTIONS 100"}, State: StateProceeding},
			{At: 0.2, Resp: 180, Events: []string{"response OPTIONS 180"}, State: StateProceeding},
			{At: 5.5, Sends: []string{opt, opt}, State: StateProceeding}, // E at 0.5 in Proceeding, then every T2: 4.5
			{At: 6, Resp: 500, Tag: "b1", Events: []string{"response OPTIONS 500"}, State: StateCompleted},
			{At: 11, State: StateTerminated},
		}},
		{"udp/timer-F", transport.UDP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 32, Sends: strings.Fields(strings.Repeat("OPTIONS ", 10)), Events: []string{evF}, State: StateTerminated},
		}},
		{"udp/timer-F-in-proceeding", transport.UDP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 0.1, Resp: 100, Events: []string{"response OPTIONS 100"}, State: StateProceeding},
			{At: 32, Sends: strings.Fields(strings.Repeat("OPTIONS ", 8)), Events: []string{evF}, State: StateTerminated},
		}},
		{"tcp/no-E-K-zero", transport.TCP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 10, Resp: 100, Events: []string{"response OPTIONS 100"}, State: StateProceeding},
			{At: 20, Resp: 200, Tag: "b1", Events: []string{"response OPTIONS 200"}, State: StateTerminated},
		}},
		{"tcp/timer-F", transport.TCP, []cstep{
			{At: 0, Sends: []string{opt}, State: StateTrying},
			{At: 32, Events: []string{evF}, State: StateTerminated},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runClient(t, tt.proto, optionsReq, tt.steps) })
	}
}

// TestInviteRetransmitSchedule: an INVITE over UDP whose every response is
// lost is sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s, and Timer B
// reports ErrTimeout (a 408) at 32 s (RFC 3261 §17.1.1.2).
func TestInviteRetransmitSchedule(t *testing.T) {
	e := newEnv(t)
	dst := addr(transport.UDP, serverAddr)
	tx, err := e.m.Request(dst, []byte(inviteReq), e.rec)
	if err != nil {
		t.Fatal(err)
	}
	for e.clock.Pending() > 0 {
		e.clock.Step()
	}
	sends := e.tp.take()
	want := []time.Duration{0, sec(0.5), sec(1.5), sec(3.5), sec(7.5), sec(15.5), sec(31.5)}
	if got := times(sends); !equalDurations(got, want) {
		t.Errorf("sent at %v, want %v", got, want)
	}
	for i, s := range sends {
		if s.Wire != sends[0].Wire || s.Dst != dst {
			t.Errorf("send %d differs from the first: %q to %v", i, s.Wire, s.Dst)
		}
		if i > 0 && s.Kind != "send" {
			t.Errorf("retransmission %d went through %s", i, s.Kind)
		}
	}
	evs := e.rec.take()
	if len(evs) != 1 {
		t.Fatalf("events %v, want one timeout", evs)
	}
	ev := evs[0]
	var te *Error
	if ev.At != 32*time.Second || ev.Status != 408 || !errors.Is(ev.Err, ErrTimeout) || !errors.As(ev.Err, &te) || te.Timer != "B" || ev.Client != tx {
		t.Errorf("event %v at %v, want 408 ErrTimeout (Timer B) at 32s", ev, ev.At)
	}
	e.checkEmpty()
}

// TestNonInviteRetransmitSchedule: Timer E doubles from T1 up to T2 (0,
// 0.5, 1.5, 3.5, 7.5, then every 4 s) until Timer F at 32 s (RFC 3261
// §17.1.2.2); after a provisional response, every T2.
func TestNonInviteRetransmitSchedule(t *testing.T) {
	t.Run("trying", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(optionsReq), e.rec); err != nil {
			t.Fatal(err)
		}
		for e.clock.Pending() > 0 {
			e.clock.Step()
		}
		want := []time.Duration{0, sec(0.5), sec(1.5), sec(3.5), sec(7.5), sec(11.5), sec(15.5), sec(19.5), sec(23.5), sec(27.5), sec(31.5)}
		if got := times(e.tp.take()); !equalDurations(got, want) {
			t.Errorf("sent at %v, want %v", got, want)
		}
		evs := e.rec.take()
		if len(evs) != 1 || evs[0].At != 32*time.Second || evs[0].Status != 408 || !errors.Is(evs[0].Err, ErrTimeout) {
			t.Errorf("events %v, want 408 timeout at 32s", evs)
		}
		e.checkEmpty()
	})
	t.Run("proceeding", func(t *testing.T) {
		e := newEnv(t)
		tx, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(optionsReq), e.rec)
		if err != nil {
			t.Fatal(err)
		}
		e.at(sec(2)) // sends at 0, 0.5, 1.5; next E due at 3.5
		e.deliver(response(t, string(tx.Request()), 100, ""), transport.UDP)
		for e.clock.Pending() > 0 {
			e.clock.Step()
		}
		// The E already running fires at 3.5; from then on every T2.
		want := []time.Duration{0, sec(0.5), sec(1.5), sec(3.5), sec(7.5), sec(11.5), sec(15.5), sec(19.5), sec(23.5), sec(27.5), sec(31.5)}
		if got := times(e.tp.take()); !equalDurations(got, want) {
			t.Errorf("sent at %v, want %v", got, want)
		}
		if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"response OPTIONS 100", evF}) {
			t.Errorf("events %q", got)
		}
	})
	t.Run("proceeding-early", func(t *testing.T) {
		e := newEnv(t)
		tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(optionsReq), e.rec)
		e.at(sec(0.1))
		e.deliver(response(t, string(tx.Request()), 100, ""), transport.UDP)
		for e.clock.Pending() > 0 {
			e.clock.Step()
		}
		// E armed at T1 fires at 0.5, then T2 apart.
		want := []time.Duration{0, sec(0.5), sec(4.5), sec(8.5), sec(12.5), sec(16.5), sec(20.5), sec(24.5), sec(28.5)}
		if got := times(e.tp.take()); !equalDurations(got, want) {
			t.Errorf("sent at %v, want %v", got, want)
		}
	})
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProvisionalStopsTimerA: a 100 Trying moves Calling to Proceeding,
// which stops the INVITE retransmissions and Timer B (RFC 3261 §17.1.1.2).
func TestProvisionalStopsTimerA(t *testing.T) {
	e := newEnv(t)
	tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), e.rec)
	e.at(sec(1)) // sends at 0 and 0.5
	e.deliver(response(t, string(tx.Request()), 100, ""), transport.UDP)
	if n := e.clock.Pending(); n != 0 {
		t.Errorf("%d timers pending in Proceeding, want 0", n)
	}
	e.at(sec(120))
	if got := times(e.tp.take()); !equalDurations(got, []time.Duration{0, sec(0.5)}) {
		t.Errorf("sent at %v, want [0 0.5s]", got)
	}
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"response INVITE 100"}) {
		t.Errorf("events %q", got)
	}
	if tx.State() != StateProceeding {
		t.Errorf("state %v", tx.State())
	}
	e.deliver(response(t, string(tx.Request()), 603, "x"), transport.UDP)
	e.clock.Advance(time.Minute)
	e.checkEmpty()
}

// TestACKForNon2xx checks the bytes of the ACK the client transaction
// builds (RFC 3261 §17.1.1.3): the INVITE's Request-URI, top Via (same
// branch), Route set, From, Call-ID; the response's To; CSeq number with
// method ACK; sent where the INVITE went.
func TestACKForNon2xx(t *testing.T) {
	for _, proto := range []transport.Protocol{transport.UDP, transport.TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			e := newEnv(t)
			dst := addr(proto, serverAddr)
			tx, _ := e.m.Request(dst, []byte(inviteReq), e.rec)
			e.tp.take()
			resp := response(t, string(tx.Request()), 486, "8321234356")
			e.deliver(resp, proto)
			sends := e.tp.take()
			if len(sends) != 1 {
				t.Fatalf("sent %v, want the ACK", whats(sends))
			}
			want := crlf(`
ACK sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/` + proto.String() + ` 192.0.2.1:5060;branch=` + tx.Branch() + `;rport
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag=8321234356
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 314159 ACK
Content-Length: 0

`)
			if s := sends[0]; s.Kind != "send" || s.Dst != dst || s.Wire != want {
				t.Errorf("sent %s to %v:\n%s\nwant:\n%s", s.Kind, s.Dst, s.Wire, want)
			}
			// A retransmitted 486 gets the very same ACK (UDP; over TCP the
			// transaction has ended and the response is stray).
			e.deliver(resp, proto)
			sends = e.tp.take()
			if proto == transport.UDP && (len(sends) != 1 || sends[0].Wire != want) {
				t.Errorf("retransmitted 486: sent %v", whats(sends))
			}
			if proto == transport.TCP && len(sends) != 0 {
				t.Errorf("stray 486 over TCP: sent %v", whats(sends))
			}
		})
	}
}

// TestClientLostFinal: the final response is lost; the client
// retransmits the request and the server transaction answers it with the
// final response again (RFC 3261 §17.2.2), through two wired Managers.
func TestClientLostFinal(t *testing.T) {
	p := newPair(t, transport.UDP)
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		if err := tx.Respond(buildResponse(req, 200)); err != nil {
			t.Error(err)
		}
	}
	dropped := 0
	p.drop = func(s sent) bool {
		if s.Kind == "response" && dropped == 0 {
			dropped++
			return true
		}
		return false
	}
	tx, err := p.client.m.Request(addr(transport.UDP, serverAddr), []byte(optionsReq), p.client.rec)
	if err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(sec(0.5))
	evs := p.client.rec.take()
	if len(evs) != 1 || evs[0].Status != 200 || evs[0].At != sec(0.5) {
		t.Fatalf("client events %v, want 200 at 0.5s", evs)
	}
	if got := eventStrings(p.server.rec.take()); !equalStrings(got, []string{"request OPTIONS"}) {
		t.Errorf("server TU heard %q, want the request once", got)
	}
	if got := whats(p.server.tp.take()); !equalStrings(got, []string{"200", "200"}) {
		t.Errorf("server sent %q, want 200 twice", got)
	}
	if tx.State() != StateCompleted {
		t.Errorf("client state %v", tx.State())
	}
	p.clock.Advance(time.Minute)
	p.client.checkEmpty()
	p.server.checkEmpty()
}

// TestClientTransportError: a failed first send is returned by Request; a
// failed retransmission ends the transaction with ErrTransport, a 503
// (RFC 3261 §17.1.4, §8.1.3.1).
func TestClientTransportError(t *testing.T) {
	boom := errors.New("network unreachable")
	t.Run("first send", func(t *testing.T) {
		e := newEnv(t)
		e.tp.fail = func(sent) error { return boom }
		tx, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), e.rec)
		if tx != nil || !errors.Is(err, ErrTransport) || !errors.Is(err, boom) {
			t.Errorf("Request = %v, %v; want ErrTransport wrapping the cause", tx, err)
		}
		if evs := e.rec.take(); len(evs) != 0 {
			t.Errorf("events %v", evs)
		}
		e.checkEmpty()
	})
	for _, method := range []string{"INVITE", "OPTIONS"} {
		t.Run("retransmission "+method, func(t *testing.T) {
			e := newEnv(t)
			req := inviteReq
			if method == "OPTIONS" {
				req = optionsReq
			}
			tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(req), e.rec)
			e.tp.fail = func(s sent) error {
				if s.Kind == "send" {
					return boom
				}
				return nil
			}
			e.at(sec(0.5))
			evs := e.rec.take()
			var te *Error
			if len(evs) != 1 || evs[0].Status != 503 || !errors.As(evs[0].Err, &te) || te.Cause != boom || evs[0].Client != tx {
				t.Errorf("events %v, want one 503 transport failure", evs)
			}
			if tx.State() != StateTerminated {
				t.Errorf("state %v", tx.State())
			}
			e.checkEmpty()
		})
	}
	t.Run("ACK", func(t *testing.T) {
		e := newEnv(t)
		tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), e.rec)
		e.tp.fail = func(s sent) error {
			if s.what() == "ACK" {
				return boom
			}
			return nil
		}
		e.deliver(response(t, string(tx.Request()), 486, "x"), transport.UDP)
		// Figure 5: Completed, transport error: inform TU, Terminated.
		got := eventStrings(e.rec.take())
		if len(got) != 2 || got[0] != "response INVITE 486" || !strings.HasPrefix(got[1], "response INVITE 503") {
			t.Errorf("events %q", got)
		}
		e.checkEmpty()
	})
}

// TestUDPBecomesTCP: when the transport sends a large request over TCP
// instead, the timers follow the transport used: no Timer A.
func TestUDPBecomesTCP(t *testing.T) {
	e := newEnv(t)
	e.tp.proto = transport.TCP
	tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), e.rec)
	if d := tx.Dest(); d.Proto != transport.TCP {
		t.Errorf("Dest %v", d)
	}
	e.at(sec(31))
	if got := whats(e.tp.take()); len(got) != 1 {
		t.Errorf("sent %q, want one INVITE", got)
	}
	e.deliver(response(t, string(tx.Request()), 480, "x"), transport.TCP)
	if got := e.tp.take(); len(got) != 1 || got[0].Dst.Proto != transport.TCP {
		t.Errorf("ACK %v", got)
	}
	e.checkEmpty() // Timer D = 0 over TCP
}

// TestTimerC: with Config.TimerC set, an INVITE left in Proceeding ends
// with a 408 when Timer C fires; 101-199 restart it (RFC 3261 §16.6, §16.7).
func TestTimerC(t *testing.T) {
	clock := transport.NewFakeClock(epoch)
	e := &env{t: t, clock: clock, tp: newFakeTransport(clock), rec: newRecorder(clock)}
	e.m = NewManager(Config{Clock: clock, TimerC: 180 * time.Second}, e.tp, e.rec)
	tx, _ := e.m.Request(addr(transport.TCP, serverAddr), []byte(inviteReq), e.rec)
	e.at(sec(1))
	e.deliver(response(t, string(tx.Request()), 180, "b"), transport.TCP)
	e.at(sec(100))
	e.deliver(response(t, string(tx.Request()), 183, "b"), transport.TCP) // restarts C
	e.at(sec(279))
	if tx.State() != StateProceeding {
		t.Fatalf("state %v at 279s", tx.State())
	}
	e.at(sec(280))
	evs := e.rec.take()
	var te *Error
	if len(evs) != 3 || evs[2].Status != 408 || !errors.As(evs[2].Err, &te) || te.Timer != "C" {
		t.Errorf("events %v, want 180, 183, 408 (Timer C)", evs)
	}
	// The TU may still CANCEL: a provisional came and no final.
	if _, err := e.m.Cancel(tx, e.rec); err != nil {
		t.Errorf("Cancel after Timer C: %v", err)
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()
}

// TestClientCancel: Cancel waits for a provisional response (RFC 3261
// §9.1), then sends a CANCEL with the INVITE's branch to the same place;
// its 200 goes to the CANCEL transaction and the 487 to the INVITE one.
func TestClientCancel(t *testing.T) {
	e := newEnv(t)
	dst := addr(transport.UDP, serverAddr)
	invite, _ := e.m.Request(dst, []byte(inviteReq), e.rec)
	if _, err := e.m.Cancel(invite, e.rec); !errors.Is(err, ErrNoProvisional) {
		t.Errorf("Cancel in Calling: %v, want ErrNoProvisional", err)
	}
	e.deliver(response(t, string(invite.Request()), 180, "b"), transport.UDP)
	e.tp.take()
	e.rec.take()
	cancel, err := e.m.Cancel(invite, e.rec)
	if err != nil {
		t.Fatal(err)
	}
	if cancel.Branch() != invite.Branch() || cancel.Method() != "CANCEL" {
		t.Errorf("CANCEL branch %s method %s", cancel.Branch(), cancel.Method())
	}
	sends := e.tp.take()
	want := crlf(`
CANCEL sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=` + invite.Branch() + `;rport
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 314159 CANCEL
Content-Length: 0

`)
	if len(sends) != 1 || sends[0].Wire != want || sends[0].Dst != dst {
		t.Fatalf("sent %v", sends)
	}
	e.deliver(response(t, sends[0].Wire, 200, "b"), transport.UDP)
	e.deliver(response(t, string(invite.Request()), 487, "b"), transport.UDP)
	got := e.rec.take()
	if len(got) != 2 || got[0].Client != cancel || got[0].Status != 200 || got[1].Client != invite || got[1].Status != 487 {
		t.Errorf("events %v", got)
	}
	if _, err := e.m.Cancel(invite, e.rec); !errors.Is(err, ErrFinal) {
		t.Errorf("Cancel after final: %v, want ErrFinal", err)
	}
	opts, _ := e.m.Request(dst, []byte(optionsReq), e.rec)
	if _, err := e.m.Cancel(opts, e.rec); !errors.Is(err, ErrNotInvite) {
		t.Errorf("Cancel of OPTIONS: %v", err)
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()
}

// TestRequestRefused: ACK has no client transaction; bytes without a
// request line are refused; a closed Manager refuses everything.
func TestRequestRefused(t *testing.T) {
	e := newEnv(t)
	dst := addr(transport.UDP, serverAddr)
	if _, err := e.m.Request(dst, []byte("ACK sip:bob@x SIP/2.0\r\n\r\n"), e.rec); !errors.Is(err, ErrACK) {
		t.Errorf("ACK: %v", err)
	}
	if _, err := e.m.Request(dst, []byte("garbage"), e.rec); !errors.Is(err, ErrBadMessage) {
		t.Errorf("garbage: %v", err)
	}
	e.m.Request(dst, []byte(inviteReq), e.rec)
	e.m.Close()
	if _, err := e.m.Request(dst, []byte(optionsReq), e.rec); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	e.checkEmpty()
	if len(e.rec.take()) != 0 {
		t.Error("Close told the TU")
	}
}

// TestResponseDuringSend: a transport that delivers the response before
// SendRequest returns (an in-memory network) still gets the ACK and the
// timers of the state reached.
func TestResponseDuringSend(t *testing.T) {
	for _, code := range []int{100, 200, 486} {
		t.Run(sip.StatusText(code), func(t *testing.T) {
			e := newEnv(t)
			e.tp.after = func(s sent) {
				if s.Kind == "request" && s.what() == "INVITE" {
					e.tp.after = nil
					e.deliver(response(t, s.Wire, code, "b"), transport.UDP)
					if code == 486 {
						// Retransmitted before the send returns: the ACK
						// is not built yet, and nothing else goes.
						e.deliver(response(t, s.Wire, code, "b"), transport.UDP)
					}
				}
			}
			tx, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), e.rec)
			if err != nil {
				t.Fatal(err)
			}
			wantSends := []string{"INVITE"}
			wantState := map[int]State{100: StateProceeding, 200: StateAccepted, 486: StateCompleted}[code]
			if code == 486 {
				wantSends = append(wantSends, "ACK")
			}
			if got := whats(e.tp.take()); !equalStrings(got, wantSends) {
				t.Errorf("sent %q, want %q", got, wantSends)
			}
			if tx.State() != wantState {
				t.Errorf("state %v, want %v", tx.State(), wantState)
			}
			if code == 100 {
				if n := e.clock.Pending(); n != 0 {
					t.Errorf("%d timers in Proceeding", n)
				}
				e.deliver(response(t, string(tx.Request()), 486, "b"), transport.UDP)
			}
			e.at(sec(32))
			if got := whats(e.tp.take()); len(got) > 1 {
				t.Errorf("later sends %q", got)
			}
			e.at(sec(40))
			e.checkEmpty()
		})
	}
}

// TestStray: a response for no transaction goes to the TU as stray
// (RFC 3261 §18.1.2), even one whose branch shares nothing.
func TestStray(t *testing.T) {
	e := newEnv(t)
	e.deliver(response(t, serverOptions("z9hG4bKnothing"), 200, "x"), transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"stray 200"}) {
		t.Errorf("events %q", got)
	}
	// A response with the CSeq method of another transaction sharing the
	// branch is no match either (RFC 3261 §17.1.3 rule 2).
	tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), e.rec)
	w := strings.Replace(string(tx.Request()), "314159 INVITE", "314159 CANCEL", 1)
	e.deliver(response(t, w, 200, "x"), transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"stray 200"}) {
		t.Errorf("events %q", got)
	}
	// A response without a parsable top Via is dropped.
	e.deliver("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", transport.UDP)
	if got := e.rec.take(); len(got) != 0 {
		t.Errorf("events %v", got)
	}
	e.m.Close()
}

// TestDo: the context-aware helper returns the final response, a timeout,
// or the context's error.
func TestDo(t *testing.T) {
	p := newPair(t, transport.TCP)
	p.sync = true
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		tx.Respond(buildResponse(req, 100))
		tx.Respond(buildResponse(req, 202))
	}
	resp, err := p.client.m.Do(context.Background(), addr(transport.TCP, serverAddr), []byte(optionsReq))
	if err != nil || resp.StatusCode() != 202 {
		t.Fatalf("Do = %v, %v", resp, err)
	}
	p.server.rec.onRequest = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.client.m.Do(ctx, addr(transport.TCP, serverAddr), []byte(optionsReq)); err == nil {
		t.Error("Do with a done context returned no error")
	}
	p.clock.Advance(time.Minute) // the abandoned transaction times out unobserved
	p.client.checkEmpty()
	p.server.m.Close()
}

// TestFinalDuringSendACKedFirst: a non-2xx final response that arrives
// while the INVITE is still being sent is passed to the TU only after its
// ACK has gone, as one arriving later is: a TU that sends a new INVITE at
// once (a retry with credentials, or after 422) must not put it on the
// wire before the ACK (SIPp, for one, aborts the call).
func TestFinalDuringSendACKedFirst(t *testing.T) {
	for _, proto := range []transport.Protocol{transport.UDP, transport.TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			e := newEnv(t)
			e.tp.after = func(s sent) {
				if s.Kind == "request" && s.what() == "INVITE" {
					e.tp.after = nil
					e.deliver(response(t, s.Wire, 422, "b"), proto)
				}
			}
			var seen [][]string
			var status []int
			h := ClientHandlerFunc(func(_ *ClientTx, r Response) {
				status = append(status, r.Status)
				seen = append(seen, whats(e.tp.take()))
			})
			if _, err := e.m.Request(addr(proto, serverAddr), []byte(inviteReq), h); err != nil {
				t.Fatal(err)
			}
			if len(status) != 1 || status[0] != 422 || !equalStrings(seen[0], []string{"INVITE", "ACK"}) {
				t.Errorf("TU got %v having seen %q sent, want one 422 after INVITE and ACK", status, seen)
			}
			e.at(sec(40))
			e.checkEmpty()
		})
	}
}
