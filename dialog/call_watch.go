package dialog

// How an application learns that a call is up or over: the channels of
// Established and Done, made only when asked for, or Watch, a callback
// that costs no goroutine. A UA under load holds thousands of calls; a
// goroutine parked on each call's channels costs a stack, and each wake-up
// is a trip through the scheduler.

// The states a call reports, as bits of Call.reached and callWatcher.seen.
const (
	reachedEstablished uint8 = 1 << iota
	reachedEnded
)

// closedChan is what Established and Done return once their state is
// reached without anyone having asked before.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// callWatcher is a function given to Watch and the states it has been
// told of.
type callWatcher struct {
	f    func(*Call, CallState)
	seen uint8
}

// Established is closed when the session is set up: the 2xx received and
// ACKed (outgoing), or the ACK for the 2xx received (incoming).
func (c *Call) Established() <-chan struct{} {
	return c.stateChan(reachedEstablished, &c.established)
}

// Done is closed when the call has ended; Err then says why.
func (c *Call) Done() <-chan struct{} { return c.stateChan(reachedEnded, &c.done) }

// stateChan returns *ch for state bit s, made on first use.
func (c *Call) stateChan(s uint8, ch *chan struct{}) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *ch == nil {
		if c.reached&s != 0 {
			return closedChan
		}
		*ch = make(chan struct{})
	}
	return *ch
}

// Watch has f called when the call is established (CallEstablished, if it
// ever is) and when it ends (CallEnded), each once and in that order. A
// state the call has already reached is reported at once, before Watch
// returns. f runs on the goroutine that moved the call (the transport's,
// a timer's, or the one that called Bye), one call at a time per Call; it
// must not block, and it may use the Call. Unlike waiting on Established
// and Done, it needs no goroutine per call.
func (c *Call) Watch(f func(c *Call, s CallState)) {
	c.mu.Lock()
	c.watchers = append(c.watchers, &callWatcher{f: f})
	c.deliverLocked()
}

// reach records that the call reached state s (reachedEstablished or
// reachedEnded), closes the state's channel and tells the watchers.
// Established is not reported once the call has ended. Called with c.mu
// held; it returns with it released.
func (c *Call) reach(s uint8) {
	if c.reached&(s|reachedEnded) != 0 {
		c.mu.Unlock()
		return
	}
	c.reached |= s
	ch := &c.established
	if s == reachedEnded {
		ch = &c.done
	}
	if *ch != nil {
		close(*ch)
	}
	c.deliverLocked()
}

// deliverLocked tells each watcher the states it has not been told of, in
// order, with c.mu released around each call. One goroutine delivers at a
// time: another that reaches a state meanwhile leaves its news to it, so a
// watcher never hears CallEnded before CallEstablished. Called with c.mu
// held; it returns with it released.
func (c *Call) deliverLocked() {
	if c.delivering {
		c.mu.Unlock()
		return
	}
	c.delivering = true
	for {
		w, s := c.nextNews()
		if w == nil {
			break
		}
		w.seen |= s
		c.mu.Unlock()
		st := CallEstablished
		if s == reachedEnded {
			st = CallEnded
		}
		w.f(c, st)
		c.mu.Lock()
	}
	c.delivering = false
	if c.reached&reachedEnded != 0 {
		c.watchers = nil // all told: let go of what their closures hold
	}
	c.mu.Unlock()
}

// nextNews returns a watcher and the first state it has yet to hear of;
// nil if none. Called with c.mu held.
func (c *Call) nextNews() (*callWatcher, uint8) {
	for _, w := range c.watchers {
		for _, s := range [...]uint8{reachedEstablished, reachedEnded} {
			if c.reached&s != 0 && w.seen&s == 0 {
				return w, s
			}
		}
	}
	return nil, 0
}
