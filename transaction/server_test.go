package transaction

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// sstep is one step of a server transaction script: advance the clock to
// At seconds, do something (receive the request again, receive an ACK, or
// Respond with Code), then check the responses sent since the previous
// step, what the TU heard, the state, and Respond's error.
type sstep struct {
	At     float64
	Do     string // "request", "ack", "respond" or "" (just wait)
	Code   int
	Sends  []string
	Events []string
	State  State
	Err    error
}

const (
	doRequest = "request"
	doACK     = "ack"
	doRespond = "respond"
)

func runServer(t *testing.T, proto transport.Protocol, request, ackMsg string, steps []sstep) *env {
	t.Helper()
	e := newEnv(t)
	var tx *ServerTx
	var req *sip.Message
	e.rec.onRequest = func(s *ServerTx, r *sip.Message) { tx, req = s, r.Clone() }
	for i, st := range steps {
		e.at(sec(st.At))
		var err error
		switch st.Do {
		case doRequest:
			e.deliver(request, proto)
		case doACK:
			e.deliver(ackMsg, proto)
		case doRespond:
			err = tx.Respond(buildResponse(req, st.Code))
		}
		if !errors.Is(err, st.Err) {
			t.Errorf("step %d (%gs): Respond(%d) = %v, want %v", i, st.At, st.Code, err, st.Err)
		}
		sends := e.tp.take()
		for _, s := range sends {
			if s.Kind != "response" || s.RT.Remote.AddrPort != clientAddr || s.RT.Remote.Proto != proto {
				t.Errorf("step %d: sent %s to %+v", i, s.Kind, s.RT)
			}
		}
		if got := whats(sends); !equalStrings(got, st.Sends) {
			t.Errorf("step %d (%gs): sent %q, want %q", i, st.At, got, st.Sends)
		}
		if got := eventStrings(e.rec.take()); !equalStrings(got, st.Events) {
			t.Errorf("step %d (%gs): TU heard %q, want %q", i, st.At, got, st.Events)
		}
		if tx == nil {
			t.Fatalf("step %d: no server transaction", i)
		}
		if got := tx.State(); got != st.State {
			t.Errorf("step %d (%gs): state %v, want %v", i, st.At, got, st.State)
		}
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()
	return e
}

var tenTimes = strings.Fields(strings.Repeat("486 ", 10))

// TestServerInviteTransitions walks every transition and timer of Figure 7
// with RFC 6026, over UDP and TCP.
func TestServerInviteTransitions(t *testing.T) {
	const b = "z9hG4bK74bf9"
	invite, ackMsg := serverInvite(b), serverACK(b, "srv")
	reqEv := []string{"request INVITE"}
	tests := []struct {
		name  string
		proto transport.Protocol
		steps []sstep
	}{
		{"udp/100-180-486-ACK-I", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0.19, State: StateProceeding},
			{At: 0.2, Sends: []string{"100"}, State: StateProceeding}, // TU silent for 200 ms
			{At: 0.5, Do: doRequest, Sends: []string{"100"}, State: StateProceeding},
			{At: 1, Do: doRespond, Code: 180, Sends: []string{"180"}, State: StateProceeding},
			{At: 1.5, Do: doRequest, Sends: []string{"180"}, State: StateProceeding},
			{At: 2, Do: doRespond, Code: 486, Sends: []string{"486"}, State: StateCompleted},
			{At: 2.5, Sends: []string{"486"}, State: StateCompleted},              // Timer G = T1
			{At: 3.5, Sends: []string{"486"}, State: StateCompleted},              // 2*T1
			{At: 4, Do: doRequest, Sends: []string{"486"}, State: StateCompleted}, // retransmission: resent, not to TU
			{At: 4, Do: doRespond, Code: 200, Err: ErrFinal, State: StateCompleted},
			{At: 4.5, Do: doACK, State: StateConfirmed},
			{At: 9, Do: doRequest, State: StateConfirmed}, // absorbed
			{At: 9, Do: doACK, State: StateConfirmed},     // absorbed
			{At: 9.4, State: StateConfirmed},
			{At: 9.5, State: StateTerminated}, // Timer I = T4
			{At: 9.5, Do: doRespond, Code: 486, Err: ErrTerminated, State: StateTerminated},
		}},
		{"udp/TU-answers-within-200ms", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0.1, Do: doRespond, Code: 180, Sends: []string{"180"}, State: StateProceeding},
			{At: 1, State: StateProceeding}, // no 100 Trying
			{At: 1, Do: doRespond, Code: 603, Sends: []string{"603"}, State: StateCompleted},
			{At: 1, Do: doACK, State: StateConfirmed},
		}},
		{"udp/retransmission-before-100", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0.1, Do: doRequest, Sends: []string{"100"}, State: StateProceeding},
			{At: 0.3, State: StateProceeding}, // not a second time
			{At: 0.4, Do: doRespond, Code: 404, Sends: []string{"404"}, State: StateCompleted},
			{At: 0.5, Do: doACK, State: StateConfirmed},
		}},
		{"udp/lost-ACK-timer-H", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0, Do: doRespond, Code: 486, Sends: []string{"486"}, State: StateCompleted},
			{At: 31.9, Sends: tenTimes, State: StateCompleted}, // G: 0.5 1.5 3.5 7.5 11.5 ... 31.5
			{At: 32, Events: []string{"error INVITE (transaction: timeout (Timer H))"}, State: StateTerminated},
			{At: 33, Do: doACK, Events: []string{"ack ACK"}, State: StateTerminated}, // no transaction any more
		}},
		{"udp/2xx-accepted-L", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 1, Do: doRespond, Code: 200, Sends: []string{"100", "200"}, State: StateAccepted},
			{At: 2, Do: doRequest, State: StateAccepted}, // RFC 6026: absorbed, not to TU
			{At: 2, Do: doACK, Events: []string{"ack ACK"}, State: StateAccepted},
			{At: 2.5, Do: doRespond, Code: 200, Sends: []string{"200"}, State: StateAccepted}, // TU's retransmission
			{At: 3, Do: doRespond, Code: 486, Err: ErrFinal, State: StateAccepted},
			{At: 32.9, State: StateAccepted}, // no retransmission by the transaction
			{At: 33, State: StateTerminated}, // Timer L = 64*T1
			{At: 34, Do: doACK, Events: []string{"ack ACK"}, State: StateTerminated},
		}},
		{"tcp/486-ACK-I-zero", transport.TCP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0.2, Sends: []string{"100"}, State: StateProceeding},
			{At: 1, Do: doRespond, Code: 486, Sends: []string{"486"}, State: StateCompleted},
			{At: 20, State: StateCompleted}, // no Timer G over TCP
			{At: 20, Do: doACK, State: StateTerminated},
		}},
		{"tcp/lost-ACK-timer-H", transport.TCP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0, Do: doRespond, Code: 500, Sends: []string{"500"}, State: StateCompleted},
			{At: 32, Events: []string{"error INVITE (transaction: timeout (Timer H))"}, State: StateTerminated},
		}},
		{"tcp/2xx-accepted-L", transport.TCP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateProceeding},
			{At: 0, Do: doRespond, Code: 200, Sends: []string{"200"}, State: StateAccepted},
			{At: 31.9, State: StateAccepted},
			{At: 32, State: StateTerminated},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runServer(t, tt.proto, invite, ackMsg, tt.steps) })
	}
}

// TestServerNonInviteTransitions walks every transition and timer of
// Figure 8, over UDP and TCP.
func TestServerNonInviteTransitions(t *testing.T) {
	options := serverOptions("z9hG4bKopt1")
	reqEv := []string{"request OPTIONS"}
	tests := []struct {
		name  string
		proto transport.Protocol
		steps []sstep
	}{
		{"udp/trying-proceeding-completed-J", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateTrying},
			{At: 0.5, Do: doRequest, State: StateTrying}, // discarded in Trying
			{At: 1, Do: doRespond, Code: 100, Sends: []string{"100"}, State: StateProceeding},
			{At: 1.5, Do: doRequest, Sends: []string{"100"}, State: StateProceeding},
			{At: 1.6, Do: doRespond, Code: 183, Sends: []string{"183"}, State: StateProceeding},
			{At: 1.7, Do: doRequest, Sends: []string{"183"}, State: StateProceeding},
			{At: 2, Do: doRespond, Code: 200, Sends: []string{"200"}, State: StateCompleted},
			{At: 2.5, Do: doRequest, Sends: []string{"200"}, State: StateCompleted},
			{At: 3, Do: doRespond, Code: 500, Err: ErrFinal, State: StateCompleted},
			{At: 3, Do: doRespond, Code: 100, Err: ErrFinal, State: StateCompleted},
			{At: 33.9, State: StateCompleted},
			{At: 34, State: StateTerminated}, // Timer J = 64*T1
			{At: 34, Do: doRespond, Code: 200, Err: ErrTerminated, State: StateTerminated},
		}},
		{"udp/trying-completed", transport.UDP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateTrying},
			{At: 0, Do: doRespond, Code: 404, Sends: []string{"404"}, State: StateCompleted},
			{At: 31, Do: doRequest, Sends: []string{"404"}, State: StateCompleted},
			{At: 32, State: StateTerminated},
		}},
		{"tcp/J-zero", transport.TCP, []sstep{
			{At: 0, Do: doRequest, Events: reqEv, State: StateTrying},
			{At: 1, Do: doRespond, Code: 100, Sends: []string{"100"}, State: StateProceeding},
			{At: 2, Do: doRespond, Code: 200, Sends: []string{"200"}, State: StateTerminated},
			{At: 2, Do: doRespond, Code: 200, Err: ErrTerminated, State: StateTerminated},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runServer(t, tt.proto, options, "", tt.steps) })
	}
}

// TestServerNewAfterTermination: once Timer J ends the transaction, the
// same request is new again and reaches the TU.
func TestServerNewAfterTermination(t *testing.T) {
	e := newEnv(t)
	e.rec.onRequest = func(tx *ServerTx, req *sip.Message) { tx.Respond(buildResponse(req, 200)) }
	req := serverOptions("z9hG4bKagain")
	e.deliver(req, transport.UDP)
	e.at(sec(31))
	e.deliver(req, transport.UDP)
	e.at(sec(32))
	e.deliver(req, transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request OPTIONS", "request OPTIONS"}) {
		t.Errorf("TU heard %q", got)
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()
}

// TestServerTransportError: a failed Respond is returned and ends the
// transaction; a failed retransmission goes to HandleServerError (RFC 3261
// §17.2.4).
func TestServerTransportError(t *testing.T) {
	boom := errors.New("connection reset")
	t.Run("Respond", func(t *testing.T) {
		e := newEnv(t)
		var tx *ServerTx
		var req *sip.Message
		e.rec.onRequest = func(s *ServerTx, r *sip.Message) { tx, req = s, r.Clone() }
		e.deliver(serverInvite("z9hG4bKerr1"), transport.TCP)
		e.tp.fail = func(sent) error { return boom }
		err := tx.Respond(buildResponse(req, 486))
		if !errors.Is(err, ErrTransport) || !errors.Is(err, boom) || tx.State() != StateTerminated {
			t.Errorf("Respond = %v, state %v", err, tx.State())
		}
		e.checkEmpty()
	})
	t.Run("Timer G", func(t *testing.T) {
		e := newEnv(t)
		e.rec.onRequest = func(s *ServerTx, r *sip.Message) { s.Respond(buildResponse(r, 486)) }
		e.deliver(serverInvite("z9hG4bKerr2"), transport.UDP)
		e.tp.fail = func(sent) error { return boom }
		e.at(sec(0.5))
		got := e.rec.take()
		if len(got) != 2 || got[1].Kind != "error" || !errors.Is(got[1].Err, ErrTransport) || !errors.Is(got[1].Err, boom) {
			t.Errorf("TU heard %v", got)
		}
		e.checkEmpty()
	})
	t.Run("retransmission", func(t *testing.T) {
		e := newEnv(t)
		e.rec.onRequest = func(s *ServerTx, r *sip.Message) { s.Respond(buildResponse(r, 200)) }
		e.deliver(serverOptions("z9hG4bKerr3"), transport.UDP)
		e.tp.fail = func(sent) error { return boom }
		e.deliver(serverOptions("z9hG4bKerr3"), transport.UDP)
		got := e.rec.take()
		if len(got) != 2 || got[1].Kind != "error" || !errors.Is(got[1].Err, ErrTransport) {
			t.Errorf("TU heard %v", got)
		}
		if _, s := e.m.Transactions(); s != 0 {
			t.Errorf("%d server transactions left", s)
		}
		// Its stopped Timer J stays in the Manager's lifeQueue until its
		// deadline, a no-op then (lifequeue.go).
		e.at(32 * time.Second)
		if got := e.rec.take(); len(got) != 0 {
			t.Errorf("at Timer J's deadline the TU heard %v", got)
		}
		e.checkEmpty()
	})
	t.Run("bad response", func(t *testing.T) {
		e := newEnv(t)
		var tx *ServerTx
		e.rec.onRequest = func(s *ServerTx, _ *sip.Message) { tx = s }
		e.deliver(serverOptions("z9hG4bKerr4"), transport.UDP)
		if err := tx.Respond([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n")); !errors.Is(err, ErrBadMessage) {
			t.Errorf("Respond(request) = %v", err)
		}
		e.m.Close()
		e.checkEmpty()
	})
}

// TestCancel: a CANCEL matching a pending INVITE server transaction is
// answered 200 by the Manager with the INVITE's To tag, and the TU hears
// HandleCancel; the TU's 487 completes the INVITE. A retransmitted CANCEL
// gets the 200 again; a CANCEL matching nothing gets 481; one arriving
// after the final response gets 200 but changes nothing (RFC 3261 §9.2).
func TestCancel(t *testing.T) {
	const b = "z9hG4bKcancel1"
	e := newEnv(t)
	var inviteReq *sip.Message
	e.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		inviteReq = req.Clone()
		tx.Respond(buildResponse(req, 180)) // To tag "srv"
	}
	e.rec.onCancel = func(tx *ServerTx, cancel *sip.Message) {
		if err := tx.Respond(sip.AppendNoBody(sip.AppendResponse(nil, inviteReq, 487, "", tx.ToTag()))); err != nil {
			t.Error(err)
		}
	}
	e.deliver(serverInvite(b), transport.UDP)
	e.tp.take()
	e.at(sec(1))
	e.deliver(serverCancel(b), transport.UDP)
	sends := e.tp.take()
	if got := whats(sends); !equalStrings(got, []string{"200", "487"}) {
		t.Fatalf("sent %q, want 200 (CANCEL), 487 (INVITE)", got)
	}
	ok200 := parse(t, sends[0].Wire)
	if cseq, _ := ok200.CSeq(); cseq.Method != sip.MethodCancel || string(toTag(ok200)) != "srv" {
		t.Errorf("200 to CANCEL: %q", sends[0].Wire)
	}
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request INVITE", "cancel CANCEL"}) {
		t.Errorf("TU heard %q", got)
	}
	// The CANCEL retransmitted: the 200 again, the TU not told again.
	e.deliver(serverCancel(b), transport.UDP)
	if got := whats(e.tp.take()); !equalStrings(got, []string{"200"}) {
		t.Errorf("retransmitted CANCEL: sent %q", got)
	}
	if got := e.rec.take(); len(got) != 0 {
		t.Errorf("TU heard %v", got)
	}
	// The ACK for the 487 confirms the INVITE transaction.
	e.deliver(serverACK(b, "srv"), transport.UDP)
	if c, s := e.m.Transactions(); c != 0 || s != 2 {
		t.Errorf("transactions %d %d", c, s)
	}
	// A CANCEL for another branch matches nothing: 481.
	e.deliver(serverCancel("z9hG4bKunknown"), transport.UDP)
	if got := whats(e.tp.take()); !equalStrings(got, []string{"481"}) {
		t.Errorf("unmatched CANCEL: sent %q", got)
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()

	// After the final response, the CANCEL is answered 200 and has no effect.
	e.rec.onCancel = nil
	e.rec.onRequest = func(tx *ServerTx, req *sip.Message) { tx.Respond(buildResponse(req, 486)) }
	e.deliver(serverInvite("z9hG4bKcancel2"), transport.UDP)
	e.deliver(serverCancel("z9hG4bKcancel2"), transport.UDP)
	if got := whats(e.tp.take()); !equalStrings(got, []string{"486", "200"}) {
		t.Errorf("late CANCEL: sent %q", got)
	}
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request INVITE"}) {
		t.Errorf("late CANCEL: TU heard %q", got)
	}
	// A CANCEL for a non-INVITE transaction is answered 200, nothing more.
	e.rec.onRequest = nil
	e.deliver(serverOptions("z9hG4bKcancel3"), transport.UDP)
	e.deliver(strings.Replace(strings.Replace(serverOptions("z9hG4bKcancel3"), "OPTIONS sip", "CANCEL sip", 1), "63104 OPTIONS", "63104 CANCEL", 1), transport.UDP)
	if got := whats(e.tp.take()); !equalStrings(got, []string{"200"}) {
		t.Errorf("CANCEL of OPTIONS: sent %q", got)
	}
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request OPTIONS"}) {
		t.Errorf("CANCEL of OPTIONS: TU heard %q", got)
	}
	e.m.Close()
	e.checkEmpty()
}

// TestRFC2543Matching: requests whose branch lacks the magic cookie match
// by Request-URI, tags, Call-ID, CSeq and top Via (RFC 3261 §17.2.3); the
// ACK by the To tag of the response sent.
func TestRFC2543Matching(t *testing.T) {
	e := newEnv(t)
	var txs []*ServerTx
	e.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		txs = append(txs, tx)
		if req.Method() == sip.MethodInvite {
			tx.Respond(buildResponse(req, 486))
		} else {
			tx.Respond(buildResponse(req, 200))
		}
	}
	old := func(s string) string { return strings.Replace(s, ";branch=z9hG4bKold", ";branch=1234old", 1) }
	invite := old(serverInvite("z9hG4bKold"))
	noBranch := strings.Replace(serverInvite("x"), ";branch=x", "", 1)

	e.deliver(invite, transport.UDP)
	e.deliver(invite, transport.UDP) // retransmission: 486 again
	e.deliver(noBranch, transport.UDP)
	e.deliver(noBranch, transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request INVITE", "request INVITE"}) {
		t.Fatalf("TU heard %q, want two INVITEs (one per Via)", got)
	}
	if got := whats(e.tp.take()); !equalStrings(got, []string{"486", "486", "486", "486"}) {
		t.Errorf("sent %q", got)
	}
	// Another From tag is another transaction.
	e.deliver(strings.Replace(invite, "tag=9fxced76sl", "tag=other", 1), transport.UDP)
	// An ACK with the wrong To tag matches nothing and goes to the TU.
	e.deliver(old(serverACK("z9hG4bKold", "wrong")), transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request INVITE", "ack ACK"}) {
		t.Errorf("TU heard %q", got)
	}
	// The ACK with the tag of the 486 confirms the first transaction.
	e.deliver(old(serverACK("z9hG4bKold", "srv")), transport.UDP)
	if got := e.rec.take(); len(got) != 0 {
		t.Errorf("matching ACK went to the TU: %v", got)
	}
	if s := txs[0].State(); s != StateConfirmed {
		t.Errorf("state %v after ACK, want Confirmed", s)
	}
	// A non-INVITE with the same Call-ID and CSeq number but another method
	// is another transaction; its retransmission matches it.
	opts := old(strings.Replace(strings.Replace(serverInvite("z9hG4bKold"), "INVITE sip", "OPTIONS sip", 1), "1 INVITE", "1 OPTIONS", 1))
	e.deliver(opts, transport.UDP)
	e.deliver(opts, transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request OPTIONS"}) {
		t.Errorf("TU heard %q", got)
	}
	e.tp.take()
	// A CANCEL matches the INVITE it cancels under the same rules.
	e.rec.onRequest = func(tx *ServerTx, req *sip.Message) { txs = append(txs, tx) }
	inv2 := strings.Replace(invite, "CSeq: 1 INVITE", "CSeq: 2 INVITE", 1)
	e.deliver(inv2, transport.UDP)
	cancel := old(strings.Replace(serverCancel("z9hG4bKold"), "CSeq: 1 CANCEL", "CSeq: 2 CANCEL", 1))
	e.deliver(cancel, transport.UDP)
	e.deliver(cancel, transport.UDP)
	if got := whats(e.tp.take()); !equalStrings(got, []string{"200", "200"}) {
		t.Errorf("CANCEL: sent %q", got)
	}
	if got := e.rec.take(); len(got) != 2 || got[1].Kind != "cancel" || got[1].Server != txs[len(txs)-1] {
		t.Errorf("CANCEL: TU heard %v", got)
	}
	e.m.Close()
	e.checkEmpty()
}

// TestSentByMatters: the same branch from another sent-by is another
// transaction (RFC 3261 §17.2.3 rule 2); the method counts too (rule 3).
func TestSentByMatters(t *testing.T) {
	e := newEnv(t)
	e.rec.onRequest = func(tx *ServerTx, req *sip.Message) { tx.Respond(buildResponse(req, 200)) }
	req := serverOptions("z9hG4bKsame")
	// Other CSeq numbers: with the same one, each would be a merged copy
	// of the first (RFC 3261 §8.2.2.2, TestMergedRequest).
	seq := func(s string, n string) string { return strings.Replace(s, "CSeq: 63104", "CSeq: "+n, 1) }
	e.deliver(req, transport.UDP)
	e.deliver(seq(strings.Replace(req, "192.0.2.1:5060;", "192.0.2.99:5060;", 1), "63105"), transport.UDP)
	e.deliver(seq(strings.Replace(req, "192.0.2.1:5060;", "192.0.2.1:5062;", 1), "63106"), transport.UDP)
	// Host and branch compare without regard to case.
	e.deliver(strings.Replace(req, "z9hG4bKsame", "z9hG4bKSAME", 1), transport.UDP)
	e.deliver(strings.Replace(strings.Replace(req, "OPTIONS sip", "INFO sip", 1), "63104 OPTIONS", "63104 INFO", 1), transport.UDP)
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request OPTIONS", "request OPTIONS", "request OPTIONS", "request INFO"}) {
		t.Errorf("TU heard %q", got)
	}
	e.clock.Advance(time.Hour)
	e.checkEmpty()
}

// TestExtensionMethod: a method the stack does not know gets a non-INVITE
// transaction matched by its name.
func TestExtensionMethod(t *testing.T) {
	p := newPair(t, transport.UDP)
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) { tx.Respond(buildResponse(req, 200)) }
	req := strings.Replace(strings.Replace(optionsReq, "OPTIONS sip", "FOO sip", 1), "63104 OPTIONS", "63104 FOO", 1)
	tx, err := p.client.m.Request(addr(transport.UDP, serverAddr), []byte(req), p.client.rec)
	if err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(sec(1))
	if got := eventStrings(p.client.rec.take()); !equalStrings(got, []string{"response FOO 200"}) || tx.Method() != "FOO" {
		t.Errorf("client heard %q", got)
	}
	p.clock.Advance(time.Hour)
	p.client.checkEmpty()
	p.server.checkEmpty()
}

// TestMalformedCancel: a CANCEL without From cannot be answered 200 or 481
// (they copy it): 400, and nothing is cancelled.
func TestMalformedCancel(t *testing.T) {
	e := newEnv(t)
	e.deliver(serverInvite("z9hG4bKbadcancel"), transport.UDP)
	c := strings.Replace(serverCancel("z9hG4bKbadcancel"), "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n", "", 1)
	e.deliver(c, transport.UDP)
	sends := e.tp.take()
	if got := whats(sends); !equalStrings(got, []string{"400"}) || !strings.Contains(sends[0].line(), "missing From") {
		t.Errorf("sent %q: %q", got, sends)
	}
	if got := eventStrings(e.rec.take()); !equalStrings(got, []string{"request INVITE"}) {
		t.Errorf("TU heard %q", got)
	}
	e.m.Close()
}

// TestNilTU: a Manager without a TU answers requests 501 and drops the
// rest.
func TestNilTU(t *testing.T) {
	clock := transport.NewFakeClock(epoch)
	tp := newFakeTransport(clock)
	m := NewManager(Config{Clock: clock}, tp, nil)
	m.HandleInbound(inbound(parse(t, serverOptions("z9hG4bKniltu")), transport.TCP, clientAddr, serverAddr))
	m.HandleInbound(inbound(parse(t, serverACK("z9hG4bKx", "y")), transport.TCP, clientAddr, serverAddr))
	m.HandleInbound(inbound(parse(t, response(t, serverOptions("z9hG4bKx"), 200, "y")), transport.TCP, serverAddr, clientAddr))
	if got := whats(tp.take()); !equalStrings(got, []string{"501"}) {
		t.Errorf("sent %q", got)
	}
	if c, s := m.Transactions(); c+s != 0 || clock.Pending() != 0 {
		t.Errorf("left %d %d", c, s)
	}
}

// RFC 3261 §8.2.2.2: a request without To tag with the From tag, Call-ID
// and CSeq of an ongoing transaction it does not match (another branch: a
// fork that reached us twice) is answered 482 through a transaction of its
// own, and the TU does not see it; once the first transaction has ended,
// the same key is a new request again.
func TestMergedRequest(t *testing.T) {
	for _, tc := range []struct {
		name, first, copy string
	}{
		{"INVITE", serverInvite("z9hG4bKmerge1"), serverInvite("z9hG4bKmerge2")},
		{"OPTIONS", serverOptions("z9hG4bKmerge3"), serverOptions("z9hG4bKmerge4")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.rec.onRequest = func(s *ServerTx, r *sip.Message) { s.Respond(buildResponse(r, 486)) }
			e.deliver(tc.first, transport.UDP)
			if got := e.rec.take(); len(got) != 1 {
				t.Fatalf("first request: TU heard %d events", len(got))
			}
			e.tp.take() // its 486
			e.deliver(tc.copy, transport.UDP)
			if got := e.rec.take(); len(got) != 0 {
				t.Errorf("the merged copy reached the TU: %v", eventStrings(got))
			}
			sends := e.tp.take()
			if len(sends) != 1 || sends[0].line() != "SIP/2.0 482 Loop Detected" || !strings.Contains(sends[0].Wire, "branch=z9hG4bKmerge") {
				t.Fatalf("sent %q, want one 482", whats(sends))
			}
			var resp sip.Message
			if err := sip.Parse(&resp, []byte(sends[0].Wire)); err != nil {
				t.Fatal(err)
			}
			if via, _ := resp.TopVia(); string(via.Branch) != branchOf(t, tc.copy) {
				t.Errorf("482 answers branch %s, want the copy's", via.Branch)
			}
			if len(resp.ToTag()) == 0 {
				t.Error("482 without To tag")
			}
			// The copy's retransmission gets the 482 again, from its own
			// transaction (RFC 3261 §17.2).
			e.deliver(tc.copy, transport.UDP)
			if sends := e.tp.take(); len(sends) != 1 || sends[0].line() != "SIP/2.0 482 Loop Detected" {
				t.Errorf("copy again: sent %q", whats(sends))
			}
			if _, s := e.m.Transactions(); s != 2 {
				t.Errorf("%d server transactions, want 2", s)
			}
			e.clock.Advance(time.Hour) // INVITE: Timer H for both, no ACK came
			e.rec.take()
			e.checkEmpty()
			e.deliver(tc.copy, transport.UDP)
			if got := e.rec.take(); len(got) != 1 {
				t.Errorf("after the first transaction ended: TU heard %d events, want the request", len(got))
			}
		})
	}
}

func branchOf(t *testing.T, req string) string {
	t.Helper()
	via, err := parse(t, req).TopVia()
	if err != nil {
		t.Fatal(err)
	}
	return string(via.Branch)
}
