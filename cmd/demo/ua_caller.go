// "demo ua" as a caller (-call): placing calls at -call-rate, holding each
// -hold long, and hanging up.

package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
)

// placeCalls places the calls of -call, -max-calls and -call-rate, and
// returns when each has ended. Calls still being set up when stopping
// ends are cancelled and those up are hung up; hardStop bounds the wait
// for the answers to their BYEs.
func (a *uaApp) placeCalls(stopping, hardStop context.Context) {
	interval := time.Duration(float64(time.Second) / a.f.callRate)
	tick := time.NewTicker(max(interval, time.Microsecond))
	defer tick.Stop()
	var wg sync.WaitGroup
loop:
	for i := 0; a.f.maxCalls == 0 || i < a.f.maxCalls; i++ {
		if i > 0 {
			select {
			case <-tick.C:
			case <-stopping.Done():
				break loop
			}
		}
		if stopping.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.placeCall(stopping, hardStop)
		}()
	}
	wg.Wait()
}

// placeCall places one call, keeps it -hold long, transfers it with
// -transfer-to, and hangs up.
func (a *uaApp) placeCall(stopping, hardStop context.Context) {
	a.placed.Add(1)
	callID := newCallID()
	c, err := a.ua.Invite(stopping, a.f.call, a.callOptions(callID))
	if err != nil {
		cut := stopping.Err() != nil && errors.Is(err, dialog.ErrCancelled)
		if cut {
			a.cancelled.Add(1)
		} else {
			a.failed.Add(1)
		}
		a.noteAuth(err)
		a.events.write(failedEvent(callID, "out", err, cut))
		return
	}
	a.established.Add(1)
	a.events.write(callEvent{Event: "call_established", CallID: callID, Direction: "out"})

	if a.f.hold > 0 {
		t := time.NewTimer(a.f.hold)
		select {
		case <-t.C:
		case <-c.Done():
		case <-stopping.Done():
		}
		t.Stop()
	}
	if a.f.transferTo != "" && stopping.Err() == nil {
		a.transfer(stopping, hardStop, c, callID)
	}
	ev := callEvent{Event: "call_ended", CallID: callID, Direction: "out"}
	a.hangUp(hardStop, c, &ev)
	a.events.write(ev)
}

// hangUp sends BYE on the established call c unless the peer has ended it
// first, waits for its end, and completes ev, its call_ended event: the
// call's error, and why the BYE failed if it did.
func (a *uaApp) hangUp(hardStop context.Context, c *dialog.Call, ev *callEvent) {
	select {
	case <-c.Done(): // the peer hung up first
	default:
		if err := c.Bye(hardStop); err != nil {
			a.hangupsFailed.Add(1)
			ev.ByeError = err.Error()
		}
	}
	<-c.Done() // Bye ends the call at once, whatever its outcome
	ev.Reason = errString(c.Err())
}

// failedEvent describes a call that ended without being established;
// cut marks one cancelled because the UA is exiting.
func failedEvent(callID, direction string, err error, cut bool) callEvent {
	ev := callEvent{Event: "call_failed", CallID: callID, Direction: direction, Reason: errString(err), Cancelled: cut}
	var se *dialog.StatusError
	var ae *dialog.AuthError
	if errors.As(err, &se) {
		ev.Status = se.Code
	} else if errors.As(err, &ae) {
		ev.Status = ae.Code
	}
	return ev
}
