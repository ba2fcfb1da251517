// "demo ua" as a callee: how it answers INVITEs outside a dialog (with
// Replaces too) and re-INVITEs, and the held calls, incoming or placed for
// a REFER, that it watches and hangs up at exit.

package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// answerSDP is this UA's description in the 2xx to INVITE req: the answer
// to its offer, or an offer of ours when it has none (RFC 3264 §4).
func (a *uaApp) answerSDP(req *sip.Message) []byte {
	if len(req.Body()) == 0 {
		return a.media.offer()
	}
	return a.media.answer(nil, req.Body())
}

// onReInvite answers a re-INVITE in a call: its offer (a hold, a resume)
// gets the matching answer, and an offerless one gets our last
// description as the offer, both versioned as RFC 3264 §8 says. It runs
// on the transport's goroutine and must not block.
func (a *uaApp) onReInvite(c *dialog.Call, req *sip.Message) (int, []byte) {
	prev := c.LocalBody()
	if len(req.Body()) == 0 {
		if len(prev) == 0 {
			return 200, a.media.offer()
		}
		return 200, prev
	}
	return 200, a.media.answer(prev, req.Body())
}

const sdpType = "application/sdp"

// onInvite answers an incoming INVITE outside a dialog by the flags, or,
// for one with Replaces, as RFC 3891 says. It runs on the transport's
// goroutine and must not block.
func (a *uaApp) onInvite(c *dialog.Call, req *sip.Message) {
	callID := string(req.CallID())
	if !a.hold(c) {
		// RFC 3261 §21.5.4: the UA is going away.
		c.Reject(503, "Shutting Down")
		return
	}
	a.received.Add(1)
	ev := callEvent{Event: "call_incoming", CallID: callID, Direction: "in", From: string(req.Get(sip.HeaderFrom))}
	if r, err := req.Replaces(); err == nil {
		ev.Replaces = string(r.CallID)
	}
	a.events.write(ev)
	c.Watch(a.watchCall(callID, "in", "", &a.receivedEstablished, &a.receivedFailed))

	// An attended transfer: the transferee's INVITE replaces our call
	// with the transferor (RFC 5589 §7.3), answered at once.
	body := a.answerSDP(req)
	if a.agent.AcceptReplaces(c, req, sdpType, body) {
		return
	}
	if a.f.ring {
		if err := c.Ring(); err != nil {
			a.log.Warn("ua: cannot ring", "call_id", callID, "err", err)
		}
	}
	var err error
	if a.f.answerCode == 200 {
		err = c.Answer(sdpType, body)
	} else {
		err = c.Reject(a.f.answerCode, "")
	}
	if err != nil {
		a.log.Warn("ua: cannot answer INVITE", "call_id", callID, "code", a.f.answerCode, "err", err)
	}
}

// hold adds c to the calls hung up at exit and starts counting its
// watcher; false when the UA is closing.
func (a *uaApp) hold(c *dialog.Call) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return false
	}
	a.held[c] = struct{}{}
	a.watchers.Add(1)
	return true
}

// watchCall returns the Watch function of a held call, incoming or placed
// for a REFER: it writes the call's events and counts it in established or
// failed, and lets the call go when it ends. A callback, not a goroutine
// per call: under load the UA holds thousands.
func (a *uaApp) watchCall(callID, direction, purpose string, established, failed *atomic.Uint64) func(*dialog.Call, dialog.CallState) {
	up := false // Watch calls one at a time, CallEstablished first
	return func(c *dialog.Call, s dialog.CallState) {
		if s == dialog.CallEstablished {
			up = true
			established.Add(1)
			a.events.write(callEvent{Event: "call_established", CallID: callID, Direction: direction, Purpose: purpose})
			return
		}
		defer a.watchers.Done()
		a.mu.Lock()
		delete(a.held, c)
		a.mu.Unlock()
		if up {
			a.events.write(callEvent{Event: "call_ended", CallID: callID, Direction: direction, Purpose: purpose, Reason: errString(c.Err())})
			return
		}
		failed.Add(1)
		ev := failedEvent(callID, direction, c.Err(), false)
		ev.Purpose = purpose
		a.events.write(ev)
	}
}

// hangUpHeld ends the calls still held at exit, incoming or placed for a
// REFER: BYE when answered, CANCEL or 603 when not yet, waiting for the
// answers until ctx ends. New INVITEs get 503 from now on.
func (a *uaApp) hangUpHeld(ctx context.Context) {
	a.mu.Lock()
	a.closing = true
	calls := make([]*dialog.Call, 0, len(a.held))
	for c := range a.held {
		calls = append(calls, c)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Hangup(ctx); err != nil {
				a.log.Info("ua: hang-up at exit", "err", err)
			}
		}()
	}
	wg.Wait()
}
