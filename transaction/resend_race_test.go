package transaction

import (
	"errors"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// TestRetransmitFailureAfterFinal: a retransmission (Timer A or E) that is
// in flight when the final response arrives, and then fails, must not end
// the transaction nor report a 503 after the final response: the TU hears
// one final outcome.
func TestRetransmitFailureAfterFinal(t *testing.T) {
	boom := errors.New("network unreachable")
	for _, tc := range []struct {
		req   string
		code  int
		state State
	}{
		{optionsReq, 200, StateCompleted},
		{inviteReq, 200, StateAccepted},
	} {
		e := newEnv(t)
		tx, _ := e.m.Request(addr(transport.UDP, serverAddr), []byte(tc.req), e.rec)
		final := response(t, string(tx.Request()), tc.code, "x")
		e.tp.fail = func(s sent) error {
			if s.Kind == "send" {
				// The final response is read while the retransmission is
				// being written, which then fails.
				e.deliver(final, transport.UDP)
				return boom
			}
			return nil
		}
		e.at(sec(0.5))
		got := eventStrings(e.rec.take())
		if len(got) != 1 {
			t.Errorf("%s: events %q, want the final response only", tx.Method(), got)
		}
		if s := tx.State(); s != tc.state {
			t.Errorf("%s: state %v, want %v", tx.Method(), s, tc.state)
		}
		e.clock.Advance(sec(100))
		e.checkEmpty()
	}
}

// TestResendFailureAfterACK: Timer G re-sending a final response whose ACK
// arrives while the re-send is being written, which then fails, must not
// end the confirmed transaction nor report an error to the TU (RFC 3261
// §17.2.1: the exchange completed).
func TestResendFailureAfterACK(t *testing.T) {
	e := newEnv(t)
	var tx *ServerTx
	var req *sip.Message
	e.rec.onRequest = func(s *ServerTx, r *sip.Message) { tx, req = s, r.Clone() }
	e.deliver(serverInvite("z9hG4bKg1"), transport.UDP)
	if err := tx.Respond(buildResponse(req, 486)); err != nil {
		t.Fatal(err)
	}
	e.tp.take()
	e.rec.take()
	e.tp.fail = func(s sent) error {
		if s.Kind == "response" {
			e.deliver(serverACK("z9hG4bKg1", string(tx.ToTag())), transport.UDP)
			return errors.New("network unreachable")
		}
		return nil
	}
	e.at(sec(0.5)) // Timer G
	if got := eventStrings(e.rec.take()); len(got) != 0 {
		t.Errorf("TU heard %q, want nothing", got)
	}
	if s := tx.State(); s != StateConfirmed {
		t.Errorf("state %v, want Confirmed", s)
	}
	e.tp.fail = nil
	e.clock.Advance(sec(100))
	e.checkEmpty()
}
