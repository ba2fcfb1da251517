package refer

import (
	"runtime"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
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

// watchCall returns a channel closed once c has been collected.
func watchCall(c *dialog.Call) <-chan struct{} {
	done := make(chan struct{})
	runtime.SetFinalizer(c, func(*dialog.Call) { close(done) })
	return done
}

// After a blind transfer and both hang-ups, no Call of any party stays
// reachable while the transactions wait out their timers (64*T1 for J, L
// and M has not passed): the refer Agent, the subscriptions and the
// finished transactions keep none of them.
func TestTransferReleasesCalls(t *testing.T) {
	s := newStage(t)
	placed := make(chan *dialog.Call, 1)
	alice := s.add("Alice", 5060, Config{})
	bob := s.add("Bob", 5070, Config{OnCall: func(_ *Incoming, c *dialog.Call) { placed <- c }})
	carol := s.add("Carol", 5080, Config{})
	ac, bc := s.call(alice, bob)
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := tr.Wait(bg()); err != nil || res.Code != 200 {
		t.Fatalf("transfer: %+v, %v", res, err)
	}
	tr = nil
	b2c, cc := <-placed, <-carol.calls
	<-bob.refers // the Incoming the test's OnRefer saw
	if err := b2c.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	if err := ac.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	if err := b2c.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	names := []string{"Alice's call to Bob", "Bob's call from Alice", "Bob's call to Carol", "Carol's call from Bob"}
	var done []<-chan struct{}
	for _, c := range []*dialog.Call{ac, bc, b2c, cc} {
		if c.State() != dialog.CallEnded {
			t.Fatalf("call %v, want ended", c.State())
		}
		done = append(done, watchCall(c))
	}
	ac, bc, b2c, cc = nil, nil, nil, nil
	s.clock.Advance(time.Second) // the refer package's NOTIFY pacing; short of T4 and 64*T1
	for i, d := range done {
		if !collected(d) {
			t.Errorf("%s is still reachable after the hang-ups", names[i])
		}
	}
	if c, sv := bob.ua.Transactions().Transactions(); c+sv == 0 {
		t.Error("Bob's transactions already ended: the test proves nothing")
	}
	s.clock.Advance(2 * time.Minute)
	for _, p := range []*party{alice, bob, carol} {
		if c, sv := p.ua.Transactions().Transactions(); c+sv != 0 {
			t.Errorf("%s: %d transactions left", p.name, c+sv)
		}
		if n := p.ua.Dialogs(); n != 0 {
			t.Errorf("%s: %d dialogs left", p.name, n)
		}
	}
}
