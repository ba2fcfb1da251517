package event

import (
	"sync"
	"testing"
	"time"
)

// Many goroutines subscribe, notify and unsubscribe at once over one pair
// of UAs (delivery is synchronous, on each sender's goroutine): under -race
// this checks the locking; whatever the interleaving, nothing is left.
func TestConcurrent(t *testing.T) {
	w, alice, bob, log := pair(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				var n *Notifier
				pkg := &SubscribeOptions{Package: "test"}
				s, err := alice.m.Subscribe(bob.uri(), pkg)
				if err != nil {
					errs <- err
					return
				}
				if err := s.Wait(bg()); err != nil {
					errs <- err
					return
				}
				// Find this subscription's notifier through the dialog.
				id := s.Dialog().ID()
				log.mu.Lock()
				for _, x := range log.ns {
					if d := x.Dialog(); d != nil && d.ID().CallID == id.CallID {
						n = x
					}
				}
				log.mu.Unlock()
				for j := 0; j < 3 && n != nil; j++ {
					n.Notify(StateActive, "text/plain", []byte("x"))
				}
				if i%2 == 0 {
					if err := s.Unsubscribe(bg()); err != nil {
						errs <- err
						return
					}
				} else if n != nil {
					n.Terminate(ReasonNoResource, 0, "", nil)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	w.clock.Advance(time.Minute)
	if a, b := alice.m.Subscriptions(); a != 0 {
		t.Errorf("alice: %d %d subscriptions left", a, b)
	}
	if a, b := bob.m.Subscriptions(); b != 0 {
		t.Errorf("bob: %d %d subscriptions left", a, b)
	}
	if alice.ua.Dialogs()+bob.ua.Dialogs() != 0 {
		t.Errorf("dialogs left: %d %d", alice.ua.Dialogs(), bob.ua.Dialogs())
	}
}
