package dialog

import (
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/sipxfer/sipxfer/sip"
)

// collected reports whether the finalizer that closes done has run after
// collections: the object it was set on became unreachable. Finalizers
// run on the runtime's goroutine, so it is waited for, within a bound.
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

// watch returns a channel closed once c has been collected.
func watch(c *Call) <-chan struct{} {
	done := make(chan struct{})
	runtime.SetFinalizer(c, func(*Call) { close(done) })
	return done
}

// A call is released when it ends, not when its transactions do: after
// the BYE has its 200, with the clock short of Timers K, L and M (the
// INVITE transactions wait 64*T1 in Accepted, RFC 6026; the BYE ones T4
// or 64*T1), neither UA keeps the Call reachable. Under load what the
// finished transactions keep is what a UA holds.
func TestCallReleasedAtHangUp(t *testing.T) {
	for _, tt := range []struct {
		name     string
		byCall   bool // the caller hangs up, else the callee
		reInvite bool // the caller re-INVITEs first (its transaction too waits out Timer M)
	}{{"caller hangs up", true, false}, {"callee hangs up", false, false}, {"caller re-INVITEs and hangs up", true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			incoming := make(chan *Call, 1)
			alice := w.ua("alice", 5060, Config{})
			bob := w.ua("bob", 5070, Config{OnInvite: func(c *Call, _ *sip.Message) {
				c.Answer("application/sdp", []byte(sdp))
				incoming <- c
			}})
			ac, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", &CallOptions{
				InitialOptions: InitialOptions{RequestOptions: RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}},
				OnProgress:     func(*Call, int, string) {},
				OnAnswer:       func(*Call, error) {},
			})
			if err != nil {
				t.Fatal(err)
			}
			bc := <-incoming
			<-bc.Established()
			if tt.reInvite {
				if _, err := ac.ReInvite(bg(), "application/sdp", []byte(sdp)); err != nil {
					t.Fatal(err)
				}
			}
			caller, callee := watch(ac), watch(bc)
			if tt.byCall {
				err = ac.Bye(bg())
			} else {
				err = bc.Bye(bg())
			}
			if err != nil {
				t.Fatal(err)
			}
			mustEnd(t, ac, nil)
			mustEnd(t, bc, nil)
			ac, bc = nil, nil
			if !collected(caller) {
				t.Error("the caller's Call is still reachable after the BYE completed")
			}
			if !collected(callee) {
				t.Error("the callee's Call is still reachable after the BYE completed")
			}
			// The transactions still wait out their timers: the release
			// did not come from them ending.
			if c, s := alice.Transactions().Transactions(); c+s == 0 {
				t.Error("alice's transactions already ended")
			}
			if n := alice.Dialogs() + bob.Dialogs(); n != 0 {
				t.Errorf("%d dialogs left after the BYE", n)
			}
			w.settle(2 * time.Minute)
			if c, s := alice.Transactions().Transactions(); c+s != 0 {
				t.Errorf("alice: %d transactions left", c+s)
			}
			if c, s := bob.Transactions().Transactions(); c+s != 0 {
				t.Errorf("bob: %d transactions left", c+s)
			}
		})
	}
}

// A UA holding many idle calls holds as many dialogs: the structure stays
// in the 256-byte size class of the Go allocator.
func TestDialogSize(t *testing.T) {
	if n := unsafe.Sizeof(Dialog{}); n > 256 {
		t.Errorf("Dialog is %d bytes, over 256", n)
	}
}

// RFC 3261 §13.2.2.4, RFC 6026 §7.2: a retransmitted 2xx to a re-INVITE,
// passed up by its Accepted transaction, is ACKed again with the same ACK.
func TestReInvite2xxRetransmissionACKed(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	bob := w.peer(5080)
	c, err := alice.Dial("sip:bob@127.0.0.1:5080", nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := bob.Expect("INVITE")
	bob.Respond(inv, 200, "b1")
	bob.Expect("ACK")
	result := make(chan error, 1)
	go func() {
		_, err := c.ReInvite(bg(), "application/sdp", []byte(sdp))
		result <- err
	}()
	re := bob.Wait() // sent from the test's goroutine
	if string(re.Msg.MethodName()) != "INVITE" {
		t.Fatalf("got %s, want the re-INVITE", re.Msg.MethodName())
	}
	bob.Respond(re, 200, "b1")
	ack := bob.Expect("ACK")
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	bob.Respond(re, 200, "b1") // the ACK was lost, say
	again := bob.Expect("ACK")
	if string(again.Msg.Bytes()) != string(ack.Msg.Bytes()) {
		t.Errorf("ACK retransmission differs:\n%s\n%s", again.Msg.Bytes(), ack.Msg.Bytes())
	}
	bob.None()
}
