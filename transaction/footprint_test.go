package transaction

import (
	"testing"
	"unsafe"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// A finished transaction waits out Timer J, K, L or M (up to 64*T1 over
// UDP) keeping only what it may still send: under load, those are most
// of the transactions alive. These tests pin what each keeps.

func TestFinishedClientForgetsRequest(t *testing.T) {
	for _, tt := range []struct {
		name  string
		req   string
		code  int
		state State
	}{
		{"non-INVITE final", optionsReq, 200, StateCompleted},
		{"INVITE 2xx", inviteReq, 200, StateAccepted},
		{"INVITE non-2xx", inviteReq, 486, StateCompleted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tx, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(tt.req), e.rec)
			if err != nil {
				t.Fatal(err)
			}
			wire := string(tx.Request())
			e.deliver(response(t, wire, 180, "b"), transport.UDP)
			if tx.Request() == nil {
				t.Fatal("request forgotten before the final response")
			}
			final := response(t, wire, tt.code, "b")
			e.deliver(final, transport.UDP)
			if got := tx.State(); got != tt.state {
				t.Fatalf("state %v, want %v", got, tt.state)
			}
			if tx.Request() != nil {
				t.Error("request kept after the final response")
			}
			e.tp.take()
			// RFC 3261 §17.1.1.2: the ACK for a non-2xx final response is
			// sent again for each retransmission of it, request or not.
			e.deliver(final, transport.UDP)
			sends := whats(e.tp.take())
			if want := tt.code >= 300; want != (len(sends) == 1 && sends[0] == ack) {
				t.Errorf("after the final response again: sent %q", sends)
			}
		})
	}
}

func TestFinishedServerKeepsOnlyWhatItResends(t *testing.T) {
	t.Run("INVITE 2xx", func(t *testing.T) {
		e := newEnv(t)
		var tx *ServerTx
		var req *sip.Message
		e.rec.onRequest = func(s *ServerTx, r *sip.Message) { tx, req = s, r.Clone() }
		e.deliver(serverInvite("z9hG4bKfoot1"), transport.UDP)
		if err := tx.Respond(buildResponse(req, 200)); err != nil {
			t.Fatal(err)
		}
		tx.mu.Lock()
		resp, trying := tx.resp, tx.trying
		tx.mu.Unlock()
		// RFC 6026 §7.1: in Accepted the TU retransmits the 2xx; the
		// transaction never sends it again.
		if resp != nil || trying != nil {
			t.Errorf("Accepted keeps %d bytes of response and %d of 100 Trying", len(resp), len(trying))
		}
	})
	t.Run("non-INVITE final", func(t *testing.T) {
		e := newEnv(t)
		var tx *ServerTx
		var req *sip.Message
		e.rec.onRequest = func(s *ServerTx, r *sip.Message) { tx, req = s, r.Clone() }
		e.deliver(serverOptions("z9hG4bKfoot2"), transport.UDP)
		b := buildResponse(req, 200)
		want := string(b)
		if err := tx.Respond(b); err != nil {
			t.Fatal(err)
		}
		clear(b) // the caller's buffer is its own again
		e.tp.take()
		// RFC 3261 §17.2.2: a retransmitted request gets the final
		// response again, as it was.
		e.deliver(serverOptions("z9hG4bKfoot2"), transport.UDP)
		sends := e.tp.take()
		if len(sends) != 1 || sends[0].Wire != want {
			t.Errorf("resent %q, want the 200 as first sent", whats(sends))
		}
	})
	t.Run("non-INVITE final over TCP", func(t *testing.T) {
		e := newEnv(t)
		var tx *ServerTx
		var req *sip.Message
		e.rec.onRequest = func(s *ServerTx, r *sip.Message) { tx, req = s, r.Clone() }
		e.deliver(serverOptions("z9hG4bKfoot3"), transport.TCP)
		if err := tx.Respond(buildResponse(req, 200)); err != nil {
			t.Fatal(err)
		}
		// RFC 3261 §17.2.2: Timer J is zero over a reliable transport.
		if got := tx.State(); got != StateTerminated {
			t.Errorf("state %v, want Terminated", got)
		}
		tx.mu.Lock()
		defer tx.mu.Unlock()
		if tx.resp != nil {
			t.Errorf("Terminated keeps %d bytes of response", len(tx.resp))
		}
	})
}

// Both transaction structures fit the 320-byte size class of the Go
// allocator: under load most transactions alive are finished ones (at
// 2,500 transfers/s over UDP, about 300,000 server transactions).
func TestTransactionSizes(t *testing.T) {
	if n := unsafe.Sizeof(ServerTx{}); n > 320 {
		t.Errorf("ServerTx is %d bytes, over 320", n)
	}
	if n := unsafe.Sizeof(ClientTx{}); n > 320 {
		t.Errorf("ClientTx is %d bytes, over 320", n)
	}
}
