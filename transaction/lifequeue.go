package transaction

import (
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

// lifeQueue runs the timers that keep a finished transaction for a fixed
// time over an unreliable transport and nearly always run out: J, L and M
// (64*T1; RFC 3261 §17.2.2, RFC 6026 §8.4, §8.7), K and I (T4, §17.1.2.2,
// §17.2.1), one queue per duration. (Timer D ends early when an ACK
// cannot be sent, so it stays a clock timer.) In a queue they all
// last the same, so arming order is deadline order: a FIFO with one clock
// timer for its head stands in for a clock timer and a closure per
// transaction, and under load those transactions are most of the ones
// alive.
//
// An entry is not removed when its timer is stopped: it fires anyway and
// the slot's generation number makes it a no-op (timerSlot.fire). A
// stopped entry keeps its transaction reachable until its deadline, which
// is why only timers that rarely stop early come here.
type lifeQueue struct {
	clock transport.Clock
	d     time.Duration

	mu      sync.Mutex
	base    time.Time   // the clock when the first entry came: deadlines count from it
	entries []lifeEntry // from head: deadlines in order
	head    int
	t       transport.Timer // for entries[head]; nil when empty
	closed  bool
}

// lifeEntry is 32 bytes: a deadline as an offset from base, not a
// time.Time, since there is one entry per finished transaction.
type lifeEntry struct {
	o    timerOwner
	slot int32
	gen  uint32
	due  time.Duration // deadline, since base
}

// Stop makes lifeQueue a transport.Timer for timerSlot.t: a slot stops an
// entry by moving its generation on, so there is nothing to do here.
func (q *lifeQueue) Stop() bool { return true }

// push arms slot of o, at generation gen, to fire d from now.
func (q *lifeQueue) push(o timerOwner, slot int, gen uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	now := q.clock.Now()
	if q.base.IsZero() {
		q.base = now
	}
	q.entries = append(q.entries, lifeEntry{o: o, slot: int32(slot), gen: gen, due: now.Sub(q.base) + q.d})
	if q.t == nil {
		q.t = q.clock.AfterFunc(q.d, q.fire)
	}
}

// fire runs every entry that is due, one at a time with the lock released,
// then arms the clock for the next.
func (q *lifeQueue) fire() {
	for {
		q.mu.Lock()
		now := q.clock.Now().Sub(q.base)
		if q.closed || q.head == len(q.entries) || q.entries[q.head].due > now {
			q.t = nil
			if !q.closed && q.head < len(q.entries) {
				q.t = q.clock.AfterFunc(q.entries[q.head].due-now, q.fire)
			}
			q.mu.Unlock()
			return
		}
		e := q.entries[q.head]
		q.entries[q.head] = lifeEntry{} // let the transaction go
		q.head++
		switch n := len(q.entries) - q.head; {
		case n == 0 && cap(q.entries) > 4096:
			q.entries, q.head = nil, 0 // a burst is over: give its array back
		case n == 0:
			q.entries, q.head = q.entries[:0], 0
		case q.head >= 1024 && q.head > n:
			copy(q.entries, q.entries[q.head:])
			clear(q.entries[n:])
			q.entries, q.head = q.entries[:n], 0
		}
		q.mu.Unlock()
		e.o.onTimer(int(e.slot), e.gen)
	}
}

// close drops every entry and stops the clock timer: the Manager has ended
// its transactions.
func (q *lifeQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.t != nil {
		q.t.Stop()
		q.t = nil
	}
	q.entries, q.head = nil, 0
}
