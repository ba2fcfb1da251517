// "demo ua" as a transferor (-transfer-to): the blind or attended REFER of
// an established call, the NOTIFYs it follows, and the consultation's end.

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// attendedReferTo is the Refer-To of an attended transfer whose
// consultation is consult: its Contact with a Replaces, or uri with that
// Replaces when uri is set (-refer-to-uri).
func attendedReferTo(consult *dialog.Dialog, uri string) (string, error) {
	referTo, err := refer.AttendedReferTo(consult)
	if err != nil || uri == "" {
		return referTo, err
	}
	var u sip.URI
	if err := u.Parse([]byte(uri)); err != nil {
		return "", err
	}
	id := consult.ID()
	return string(refer.AppendReferToReplaces(nil, &u, id.CallID, id.RemoteTag, id.LocalTag, false)), nil
}

// replacedByeWait is how long the transferor of an attended transfer
// waits for the target's BYE of the consultation (RFC 5589 §7.3: the
// target ends the replaced dialog) before sending its own.
const replacedByeWait = 2 * time.Second

// transfer transfers the established call c to -transfer-to (the
// transferor's role, RFC 5589 §6.1 and §7.3) and returns when the
// transfer is over, the consultation of -attended ended. Once stopping
// ends it waits for the outcome until hardStop does.
func (a *uaApp) transfer(stopping, hardStop context.Context, c *dialog.Call, callID string) {
	a.transfersStarted.Add(1)
	d := c.Dialog()
	referTo := "<" + a.f.transferTo + ">"
	var consult *dialog.Call
	var consultID string
	// over reports the outcome, then ends the consultation if any.
	over := func(res refer.Result, err error, cut bool) {
		a.transferOver(callID, res, err, cut)
		if consult != nil {
			a.endConsult(hardStop, consult, consultID, err == nil)
		}
	}
	if a.f.attended {
		// RFC 5589 §7.3: the transferor consults the target first, then
		// REFERs with a Replaces naming that call.
		consultID = newCallID()
		var err error
		consult, err = a.ua.Invite(stopping, a.f.transferTo, a.callOptions(consultID))
		if err != nil {
			ev := failedEvent(consultID, "out", err, stopping.Err() != nil && errors.Is(err, dialog.ErrCancelled))
			ev.Purpose = "consult"
			a.events.write(ev)
			consult = nil
			over(refer.Result{}, fmt.Errorf("consultation: %w", err), ev.Cancelled)
			return
		}
		a.events.write(callEvent{Event: "call_established", CallID: consultID, Direction: "out", Purpose: "consult"})
		if referTo, err = attendedReferTo(consult.Dialog(), a.f.referToURI); err != nil {
			over(refer.Result{}, err, false)
			return
		}
	}

	opts := &refer.ReferOptions{
		ReferTo:        referTo,
		ReferredBy:     a.agent.Self(d),
		NoSubscription: a.f.noReferSub,
		OnProgress:     func(_ *refer.Transfer, p refer.Progress) { a.progress(callID, p) },
	}
	// Written first: the answer may come before Refer returns.
	a.events.write(referSentEvent{Event: "refer_sent", CallID: callID, ReferTo: referTo,
		OutOfDialog: a.f.outOfDialog, NoReferSub: a.f.noReferSub, Attended: a.f.attended})
	var tr *refer.Transfer
	var err error
	if a.f.outOfDialog {
		// RFC 4538: outside the dialog, to the transferee's Contact (the
		// UA instance holding the call), which Target-Dialog names.
		id := d.ID()
		opts.TargetDialog = &id
		tr, err = a.agent.ReferOutside(d.RemoteTarget(), opts)
	} else {
		tr, err = a.agent.Refer(d, opts)
	}
	if err != nil {
		over(refer.Result{}, fmt.Errorf("sending REFER: %w", err), false)
		return
	}
	select {
	case <-tr.Done():
	case <-hardStop.Done():
		over(tr.Result(), errors.New("ua exiting"), true)
		return
	}
	res := tr.Result()
	over(res, res.Err, false)
}

// progress writes the events of a transfer's steps but the last, which
// transfer writes.
func (a *uaApp) progress(callID string, p refer.Progress) {
	switch p.Kind {
	case refer.Accepted, refer.Rejected:
		a.events.write(referResponseEvent{Event: "refer_response", CallID: callID, Code: p.Code, Reason: p.Reason})
	case refer.Notified:
		a.events.write(notifyEvent{Event: "notify", CallID: callID, Code: p.Code, Reason: p.Reason, State: p.State.String(), Error: errString(p.Err)})
	}
}

// transferOver counts a transfer and writes its transfer_result; cut
// marks one the exit interrupted, which is not a failure.
func (a *uaApp) transferOver(callID string, res refer.Result, err error, cut bool) {
	a.noteAuth(err)
	ev := transferResultEvent{Event: "transfer_result", CallID: callID, OK: err == nil,
		ReferCode: res.ReferCode, Code: res.Code, Reason: res.Reason, NoSubscription: res.NoSubscription,
		Cancelled: cut, Error: errString(err)}
	switch {
	case err == nil:
		a.transfersOK.Add(1)
	case cut:
		a.transfersCancelled.Add(1)
	default:
		a.transfersFailed.Add(1)
	}
	a.events.write(ev)
}

// endConsult ends the consultation of an attended transfer. After a
// transfer that worked the target hangs it up, the transferee's INVITE
// having replaced it; if it has not within replacedByeWait, or at once
// after a failed transfer, this side does.
func (a *uaApp) endConsult(hardStop context.Context, c *dialog.Call, callID string, replaced bool) {
	if replaced {
		t := time.NewTimer(replacedByeWait)
		select {
		case <-c.Done():
		case <-t.C:
		case <-hardStop.Done():
		}
		t.Stop()
	}
	ev := callEvent{Event: "call_ended", CallID: callID, Direction: "out", Purpose: "consult"}
	a.hangUp(hardStop, c, &ev)
	a.events.write(ev)
}
