// "demo ua" as a transferee: its policy for REFERs that passed the REFER
// Agent's checks, and the call the Agent places to a Refer-To target.

package main

import (
	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// onRefer decides a REFER that passed the Agent's checks, by the flags
// (the transferee's role). It runs on the transport's goroutine.
func (a *uaApp) onRefer(in *refer.Incoming) {
	a.refersReceived.Add(1)
	ev := referReceivedEvent{
		Event:          "refer_received",
		CallID:         string(in.Msg.CallID()),
		ReferTo:        string(in.Msg.Get(sip.HeaderReferTo)),
		ID:             in.ID,
		InDialog:       in.Dialog != nil,
		NoSubscription: in.NoSubscription,
		Attended:       in.Target.HasReplaces(),
		ReferredBy:     string(in.Target.ReferredBy),
	}
	if in.About != nil {
		if d := in.About.Dialog(); d != nil {
			ev.About = d.ID().CallID
		}
	}
	if v, present, err := in.Msg.ReferSub(); err == nil && present && !v {
		ev.NoReferSub = true
	}
	a.mu.Lock()
	closing := a.closing
	a.mu.Unlock()
	var err error
	switch {
	case closing:
		ev.Code = 503
		a.refersDeclined.Add(1)
		a.events.write(ev)
		err = in.Reject(503, "Shutting Down")
	case !a.f.acceptRefer:
		ev.Code = 603
		a.refersDeclined.Add(1)
		a.events.write(ev)
		err = in.Reject(603, "Declined")
	default:
		ev.Code = 200
		if a.f.rfc3515 {
			ev.Code = 202
		}
		a.refersAccepted.Add(1)
		a.events.write(ev)
		// Accept answers, sends the first NOTIFY and dials the target,
		// all before it returns (referredCallOptions, onReferredCall).
		err = in.Accept()
		a.mu.Lock()
		callID, undialled := a.referIDs[in]
		delete(a.referIDs, in)
		a.mu.Unlock()
		if undialled {
			// The Agent could not send the INVITE (and notified 503).
			a.referred.Add(1)
			a.referredFailed.Add(1)
			a.events.write(callEvent{Event: "call_failed", CallID: callID, Direction: "out", Purpose: "referred", Reason: "cannot call " + string(in.Target.URI().Raw)})
		}
	}
	if err != nil {
		a.events.write(errorEvent{Event: "error", CallID: ev.CallID, Error: "answering REFER: " + err.Error()})
	}
}

// referredCallOptions are the options of the INVITE the Agent sends to a
// Refer-To target: the SDP offer and a Call-ID chosen here, so that the
// events can name the call.
func (a *uaApp) referredCallOptions(in *refer.Incoming) *dialog.CallOptions {
	callID := newCallID()
	a.mu.Lock()
	a.referIDs[in] = callID
	a.mu.Unlock()
	return a.callOptions(callID)
}

// onReferredCall watches the call the Agent placed for a REFER. It is
// held until the target hangs up or the UA exits.
func (a *uaApp) onReferredCall(in *refer.Incoming, c *dialog.Call) {
	a.mu.Lock()
	callID := a.referIDs[in]
	delete(a.referIDs, in)
	// Held even when closing: UA.Close ends it at the latest.
	a.held[c] = struct{}{}
	a.watchers.Add(1)
	a.mu.Unlock()
	a.referred.Add(1)
	c.Watch(a.watchCall(callID, "out", "referred", &a.referredEstablished, &a.referredFailed))
}
