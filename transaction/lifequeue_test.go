package transaction

import (
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

// firings records the onTimer calls a lifeQueue makes, with the clock.
type firings struct {
	clock *transport.FakeClock
	mu    sync.Mutex
	got   []string
}

func (f *firings) owner(name string) timerOwner {
	return ownerFunc(func(slot int, gen uint32) { f.add(name, slot, gen) })
}

func (f *firings) add(name string, _ int, _ uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, name+"@"+f.clock.Now().Sub(epoch).String())
}

func (f *firings) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.got
	f.got = nil
	return g
}

type ownerFunc func(slot int, gen uint32)

func (o ownerFunc) onTimer(slot int, gen uint32) { o(slot, gen) }

func TestLifeQueue(t *testing.T) {
	clock := transport.NewFakeClock(epoch)
	f := &firings{clock: clock}
	q := &lifeQueue{clock: clock, d: 32 * time.Second}
	q.push(f.owner("a"), 0, 1)
	q.push(f.owner("b"), 1, 1) // same deadline: after a
	clock.Advance(time.Second)
	q.push(f.owner("c"), 0, 1)
	if n := clock.Pending(); n != 1 {
		t.Errorf("%d clock timers for 3 entries, want 1", n)
	}
	clock.Advance(31*time.Second - time.Nanosecond)
	if got := f.take(); len(got) != 0 {
		t.Fatalf("before the deadline: %v", got)
	}
	clock.Advance(time.Nanosecond)
	if got := f.take(); !equalStrings(got, []string{"a@32s", "b@32s"}) {
		t.Errorf("at 32 s: %v", got)
	}
	clock.Advance(time.Hour)
	if got := f.take(); !equalStrings(got, []string{"c@33s"}) {
		t.Errorf("at 33 s: %v", got)
	}
	if n := clock.Pending(); n != 0 {
		t.Errorf("%d clock timers left on an empty queue", n)
	}

	// Many entries, fired in order across the compaction of the slice,
	// with entries added meanwhile.
	for i := 0; i < 3000; i++ {
		q.push(f.owner("x"), 0, 1)
		clock.Advance(10 * time.Millisecond)
	}
	// Pushed every 10 ms from 1h0m32s; 50 s later those of the first 18 s
	// are due.
	clock.Advance(20 * time.Second)
	if got := f.take(); len(got) != 1801 || got[0] != "x@1h1m4s" || got[1800] != "x@1h1m22s" {
		t.Errorf("%d fired, want 1801 from 1h1m4s to 1h1m22s", len(got))
	}
	q.push(f.owner("y"), 0, 1)
	clock.Advance(time.Hour)
	got := f.take()
	if len(got) != 1200 || got[0] != "x@1h1m22.01s" || got[1199] != "y@1h1m54s" {
		t.Errorf("%d fired, first %q, last %q; want 1200, y last at 1h1m54s", len(got), got[0], got[len(got)-1])
	}

	// close drops what is queued and stops the clock timer; later pushes
	// are ignored (the Manager is closed).
	q.push(f.owner("z"), 0, 1)
	q.close()
	q.push(f.owner("w"), 0, 1)
	if n := clock.Pending(); n != 0 {
		t.Errorf("%d clock timers after close", n)
	}
	clock.Advance(time.Hour)
	if got := f.take(); len(got) != 0 {
		t.Errorf("after close: %v", got)
	}
}
