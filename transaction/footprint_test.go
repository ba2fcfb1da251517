package transaction

import (
	"runtime"
	"testing"
	"time"
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
		resp, trying := tx.resp, tx.more.trying
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

// The transaction structures fit size classes of the Go allocator (240
// bytes for a server transaction, whose INVITE-only fields are apart;
// 256 for a client one): under load most transactions alive are finished
// ones (at 2,500 transfers/s over UDP, about 300,000 server transactions).
func TestTransactionSizes(t *testing.T) {
	if n := unsafe.Sizeof(ServerTx{}); n > 240 {
		t.Errorf("ServerTx is %d bytes, over 240", n)
	}
	if n := unsafe.Sizeof(ClientTx{}); n > 256 {
		t.Errorf("ClientTx is %d bytes, over 256", n)
	}
	// One queue entry per transaction waiting out J, K, L or M.
	if n := unsafe.Sizeof(lifeEntry{}); n > 32 {
		t.Errorf("lifeEntry is %d bytes, over 32", n)
	}
}

// heavyHandler stands for what a TU's handler references (a call, the
// request a retry wrapper keeps): a finished transaction must not keep it.
type heavyHandler struct {
	rec  *recorder
	load [1024]byte
}

func (h *heavyHandler) HandleResponse(tx *ClientTx, r Response) { h.rec.HandleResponse(tx, r) }

// collected reports whether the finalizer that closes done has run after
// collections: the object it was set on became unreachable. The finalizer
// runs on the runtime's goroutine, so it is waited for, within a bound.
func collected(done <-chan struct{}) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-done:
			return true
		default:
			runtime.Gosched()
		}
	}
	return false
}

// newHeavy returns a heavyHandler reporting to rec and a channel closed
// once it has been collected.
func newHeavy(rec *recorder) (*heavyHandler, <-chan struct{}) {
	h := &heavyHandler{rec: rec}
	done := make(chan struct{})
	runtime.SetFinalizer(h, func(*heavyHandler) { close(done) })
	return h, done
}

// A client transaction waiting out Timer K (non-INVITE, Completed) can
// pass nothing more to its TU: it lets go of the handler at the final
// response, while still absorbing retransmissions of it.
func TestCompletedClientReleasesHandler(t *testing.T) {
	e := newEnv(t)
	h, done := newHeavy(e.rec)
	tx, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(optionsReq), h)
	if err != nil {
		t.Fatal(err)
	}
	wire := string(tx.Request())
	h = nil
	final := response(t, wire, 200, "b")
	e.deliver(final, transport.UDP)
	if got := eventStrings(e.rec.take()); len(got) != 1 || got[0] != "response OPTIONS 200" {
		t.Fatalf("TU heard %q", got)
	}
	if got := tx.State(); got != StateCompleted {
		t.Fatalf("state %v, want Completed", got)
	}
	if !collected(done) {
		t.Error("the handler is still reachable from the Completed transaction")
	}
	// RFC 3261 §17.1.2.2: Completed absorbs a retransmitted final response.
	e.deliver(final, transport.UDP)
	if got := e.rec.take(); len(got) != 0 {
		t.Errorf("after the final response again the TU heard %q", eventStrings(got))
	}
	e.at(DefaultT4 + time.Second) // Timer K
	if got := tx.State(); got != StateTerminated {
		t.Errorf("state %v after Timer K, want Terminated", got)
	}
	runtime.KeepAlive(tx)
}

// An INVITE client transaction in Accepted passes every further 2xx to
// the TU (RFC 6026 §7.2) for 64*T1: SetHandler hands that job to a
// smaller handler, and the first one is no longer kept.
func TestAcceptedClientSetHandler(t *testing.T) {
	e := newEnv(t)
	h, done := newHeavy(e.rec)
	tx, err := e.m.Request(addr(transport.UDP, serverAddr), []byte(inviteReq), h)
	if err != nil {
		t.Fatal(err)
	}
	h = nil
	wire := string(tx.Request())
	ok := response(t, wire, 200, "b1")
	e.deliver(ok, transport.UDP)
	if got := eventStrings(e.rec.take()); len(got) != 1 || got[0] != "response INVITE 200" {
		t.Fatalf("TU heard %q", got)
	}
	later := newRecorder(e.clock)
	tx.SetHandler(later)
	if !collected(done) {
		t.Error("the first handler is still reachable from the Accepted transaction")
	}
	// RFC 6026 §7.2: a retransmitted 2xx, and a 2xx of another fork,
	// still reach the TU, now through the handler it gave.
	e.deliver(ok, transport.UDP)
	e.deliver(response(t, wire, 200, "b2"), transport.UDP)
	if got := eventStrings(later.take()); len(got) != 2 || got[0] != "response INVITE 200" || got[1] != "response INVITE 200" {
		t.Errorf("the new handler heard %q, want both 2xx", got)
	}
	if got := e.rec.take(); len(got) != 0 {
		t.Errorf("the first handler heard %q", eventStrings(got))
	}
	e.at(64*DefaultT1 + time.Second) // Timer M
	if got := tx.State(); got != StateTerminated {
		t.Errorf("state %v after Timer M, want Terminated", got)
	}
}
