package refer

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// Errors of the transferee's side.
var (
	// ErrDecided: Accept, Reject or Defer was called on a REFER already
	// answered that way.
	ErrDecided = errors.New("refer: REFER already decided")
	// ErrNoSubscription: the REFER was accepted with Refer-Sub: false, so
	// there is nobody to notify (RFC 4488).
	ErrNoSubscription = errors.New("refer: no implicit subscription")
)

// Incoming is a REFER this UA received and accepted as well-formed: the
// transferee's view of a transfer (RFC 3515 §2.4.2). The application
// decides what to do with it (Accept, Reject, Defer); then, unless
// Config.NoAutoCall, the Agent calls the target and reports the call's
// progress to the transferor in NOTIFYs, which the application can also
// send itself (Notify, CurrentNotify).
type Incoming struct {
	agent *Agent
	r     *dialog.Request

	// Msg is the REFER (a copy the Incoming owns).
	Msg *sip.Message
	// Target is its checked Refer-To, a view into Msg.
	Target Target
	// Dialog is the REFER's dialog: the call's for a REFER inside one, or
	// the one its 2xx creates (nil until accepted) for a REFER outside.
	Dialog *dialog.Dialog
	// About is the call the REFER is about: the call of the REFER's dialog,
	// or the dialog its Target-Dialog names (RFC 4538); nil if neither.
	About *dialog.Call
	// ID is the Event id of the implicit subscription: the REFER's CSeq
	// number (RFC 3515 §2.4.6).
	ID string
	// NoSubscription reports a REFER with Refer-Sub: false that the Agent
	// honours (RFC 4488): it is answered with Refer-Sub: false and no
	// NOTIFY is sent.
	NoSubscription bool

	mu       sync.Mutex
	decided  bool
	deferred bool
	final    bool
	notifier *event.Notifier
	lastCode int
	lastWhy  string
	call     *dialog.Call
	decideBy transport.Timer
}

// handleRefer checks a REFER and hands it to the application.
func (a *Agent) handleRefer(r *dialog.Request) {
	r.Keep() // the Incoming outlives this call, and Target views the REFER
	req := r.Msg
	target, err := ParseReferTo(req, a.cfg.Policy)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			r.Respond(e.Status, e.Reason, nil)
		} else {
			r.Respond(400, "Bad Refer-To", nil)
		}
		return
	}
	cseq, err := req.CSeq()
	if err != nil {
		r.Respond(400, "Bad CSeq", nil)
		return
	}
	in := &Incoming{
		agent:  a,
		r:      r,
		Msg:    req,
		Target: target,
		Dialog: r.Dialog,
		ID:     strconv.FormatUint(uint64(cseq.Seq), 10),
	}
	if r.Dialog != nil {
		in.About = r.Dialog.Call()
	} else {
		// RFC 3261 §8.1.1.8: a request that can create a dialog MUST carry
		// one Contact; without it there is nowhere to send the NOTIFYs.
		if !oneContact(req) {
			r.Respond(400, "Missing or Bad Contact", nil)
			return
		}
		// RFC 4538 §4: Target-Dialog names the dialog the REFER is about,
		// from the recipient's point of view.
		named := false
		if td, err := in.Msg.TargetDialog(); err == nil {
			if d := a.ua.FindDialog(dialog.ID{CallID: string(td.CallID), LocalTag: string(td.LocalTag), RemoteTag: string(td.RemoteTag)}); d != nil {
				named = true
				in.About = d.Call()
			}
		}
		// RFC 3515 §5: a REFER from anyone could make this UA place calls
		// for them; outside a dialog of ours it needs the application's
		// consent.
		if !named && !a.cfg.AcceptOutsideDialog {
			r.Respond(403, "REFER Outside a Dialog Not Accepted", nil)
			return
		}
	}
	// RFC 4488 §4: Refer-Sub: false asks for no implicit subscription.
	if v, present, err := in.Msg.ReferSub(); err != nil {
		r.Respond(400, "Bad Refer-Sub", nil)
		return
	} else if present && !v && !a.cfg.IgnoreNoSubscription {
		in.NoSubscription = true
	}

	in.mu.Lock()
	in.decideBy = a.ua.Clock().AfterFunc(a.cfg.DecideWithin, func() { in.Defer() })
	in.mu.Unlock()
	if a.cfg.OnRefer == nil {
		in.Accept()
		return
	}
	a.cfg.OnRefer(in)
}

// oneContact reports whether m has exactly one Contact value, a URI.
func oneContact(m *sip.Message) bool {
	var v []byte
	for it := m.Values(sip.HeaderContact); ; {
		f, ok := it.Next()
		if !ok {
			break
		}
		if v != nil || sip.ListElementEnd(f) != len(f) {
			return false
		}
		v = f
	}
	var na sip.NameAddr
	return v != nil && na.Parse(v) == nil && !na.Wildcard
}

// Accept accepts the REFER: a 200 (Config.AcceptCode: 202 for peers that
// know only RFC 3515) and, unless NoSubscription, the implicit
// subscription with its first NOTIFY, "SIP/2.0 100 Trying" in state active
// (RFC 3515 §2.4.4, §2.4.5). After Defer it grants the pending
// subscription. Then, unless Config.NoAutoCall, the
// Agent calls the target.
func (in *Incoming) Accept() error {
	in.mu.Lock()
	if in.decided && !in.deferred {
		in.mu.Unlock()
		return ErrDecided
	}
	wasDeferred := in.deferred
	in.decided, in.deferred = true, false
	in.stopTimerLocked()
	in.mu.Unlock()
	if wasDeferred {
		// Refer-Sub: false leaves no subscription to grant, and one the
		// referrer ended meanwhile does not withdraw the reference (RFC
		// 3515 §2.4.4; RFC 6665 §4.2.1.4 ends only the subscription): go
		// on to call either way.
		if err := in.notify(event.StateActive, 100, "Trying"); err != nil && !errors.Is(err, ErrNoSubscription) && !errors.Is(err, event.ErrState) {
			return err
		}
	} else if err := in.respond(event.StateActive); err != nil {
		return err
	}
	if !in.agent.cfg.NoAutoCall {
		in.callTarget()
	}
	return nil
}

// Defer accepts the REFER while its approval waits (RFC 3515 §2.4.7): a
// 2xx (Config.AcceptCode) and a NOTIFY "SIP/2.0 100 Trying" in state
// pending. Accept later grants it; Reject declines it with a final NOTIFY
// (603 by default).
func (in *Incoming) Defer() error {
	in.mu.Lock()
	if in.decided {
		in.mu.Unlock()
		return ErrDecided
	}
	in.decided, in.deferred = true, true
	in.stopTimerLocked()
	in.mu.Unlock()
	if err := in.respond(event.StatePending); err != nil {
		// The REFER was refused after all (503, or nothing could be sent):
		// nothing is pending, and a later Accept must not call the target.
		in.mu.Lock()
		in.deferred, in.final = false, true
		in.mu.Unlock()
		return err
	}
	return nil
}

// Reject refuses the REFER. Before it is answered, the response is code
// (400-699; 603 Decline by default). After Defer, the refusal is a final
// NOTIFY whose sipfrag carries code (RFC 3515 §2.4.7: "SIP/2.0 603
// Declined").
func (in *Incoming) Reject(code int, reason string) error {
	if code == 0 {
		code = 603
	}
	if code < 300 || code > 699 {
		return errors.New("refer: Reject needs a code from 300 to 699")
	}
	in.mu.Lock()
	if in.decided && !in.deferred {
		in.mu.Unlock()
		return ErrDecided
	}
	deferred := in.deferred
	in.decided, in.deferred = true, false
	in.stopTimerLocked()
	in.mu.Unlock()
	if deferred {
		return in.Notify(code, reason)
	}
	return in.r.Respond(code, reason, nil)
}

func (in *Incoming) stopTimerLocked() {
	if in.decideBy != nil {
		in.decideBy.Stop()
		in.decideBy = nil
	}
}

// respond answers the REFER with its 2xx, creating the implicit
// subscription in state, and sends the first NOTIFY (RFC 6665 §4.2.1.2:
// at once).
func (in *Incoming) respond(state event.State) error {
	a := in.agent
	d := in.Dialog
	created := d == nil
	if created {
		var err error
		if d, err = in.r.CreateDialog(); err != nil {
			in.r.Respond(503, "Too Many Dialogs", nil)
			return err
		}
		in.mu.Lock()
		in.Dialog = d
		in.mu.Unlock()
	}
	opts := &dialog.ResponseOptions{Contact: true}
	if in.NoSubscription {
		// RFC 4488 §4: the 2xx says Refer-Sub: false, and no NOTIFY follows.
		opts.Headers = []dialog.Header{{Name: "Refer-Sub", Value: "false"}}
		err := in.r.Respond(a.cfg.AcceptCode, "", opts)
		if created {
			d.Terminate(nil) // no usage will live in it
		}
		return err
	}
	n, err := a.ev.NewNotifier(d, &event.NotifierOptions{Package: "refer", ID: in.ID, Expires: a.cfg.Expires})
	if err != nil {
		reason := "" // the event Manager is closed, or the dialog gone
		if errors.Is(err, event.ErrTooMany) {
			reason = "Too Many Subscriptions"
		}
		in.r.Respond(503, reason, nil)
		if created {
			// Made for the subscription that could not be: nothing may
			// stay in the UA's table that nothing will end.
			d.Terminate(err)
			in.mu.Lock()
			in.Dialog = nil
			in.mu.Unlock()
		}
		return err
	}
	in.mu.Lock()
	in.notifier = n
	in.mu.Unlock()
	// The 2xx tells the subscription's duration (RFC 3515 §2.4.4).
	opts.Headers = []dialog.Header{{Name: "Expires", Value: strconv.Itoa(int(a.cfg.Expires.Seconds()))}}
	if err := in.r.Respond(a.cfg.AcceptCode, "", opts); err != nil {
		n.Terminate(event.ReasonNoResource, 0, "", nil)
		return err
	}
	return in.notify(state, 100, "Trying")
}

// Notify reports the status of the referenced request: a provisional code
// keeps the subscription active; a final one (200-699) ends it with
// Subscription-State terminated;reason=noresource (RFC 3515 §2.4.7: the
// final NOTIFY MUST end the subscription).
func (in *Incoming) Notify(code int, reason string) error {
	st := event.StateActive
	if code >= 200 {
		st = event.StateTerminated
	}
	return in.notify(st, code, reason)
}

// CurrentNotify sends the last status again, as a fresh NOTIFY (for a
// transferor that asked, or after a lost state).
func (in *Incoming) CurrentNotify() error {
	in.mu.Lock()
	code, why := in.lastCode, in.lastWhy
	in.mu.Unlock()
	if code == 0 {
		code, why = 100, "Trying"
	}
	return in.notify(event.StateActive, code, why)
}

func (in *Incoming) notify(st event.State, code int, reason string) error {
	if reason == "" {
		reason = sip.StatusText(code)
	}
	in.mu.Lock()
	n := in.notifier
	switch {
	case in.final:
		in.mu.Unlock()
		return ErrDecided
	case n == nil:
		// Not accepted yet, or Refer-Sub: false: nothing to tell, and
		// nothing recorded (a later Accept still owes its first NOTIFY).
		in.mu.Unlock()
		return ErrNoSubscription
	}
	in.lastCode, in.lastWhy = code, reason
	if st == event.StateTerminated {
		in.final = true
	}
	in.mu.Unlock()
	body := in.agent.cfg.Sipfrag(code, reason)
	if st == event.StateTerminated {
		return n.Terminate(event.ReasonNoResource, 0, sipfrag.ContentType, body)
	}
	return n.Notify(st, sipfrag.ContentType, body)
}

// Subscription returns the notifier side of the implicit subscription, nil
// before Accept or Defer and with NoSubscription.
func (in *Incoming) Subscription() *event.Notifier {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.notifier
}

// AuthUser returns the user whose digest credentials the REFER carried
// when the UA authenticates REFERs (dialog.Config.Authenticate, RFC 3515
// §5), else "".
func (in *Incoming) AuthUser() string { return in.r.AuthUser }

// Call returns the call the Agent placed to the target, nil before.
func (in *Incoming) Call() *dialog.Call {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.call
}

// callTarget sends the INVITE to the Refer-To target (RFC 3515 §2.4.2:
// the UA MUST contact the resource), with Referred-By (RFC 3892 §3) and
// the embedded headers the policy allows (Replaces for an attended
// transfer), and reports its progress.
func (in *Incoming) callTarget() {
	a := in.agent
	var opts dialog.CallOptions
	if a.cfg.CallOptions != nil {
		if o := a.cfg.CallOptions(in); o != nil {
			opts = *o
		}
	}
	opts.Headers = append([]dialog.Header(nil), opts.Headers...)
	if rb := in.referredBy(); rb != "" {
		opts.Headers = append(opts.Headers, dialog.Header{Name: "Referred-By", Value: rb})
	}
	in.Target.EachHeader(nil, func(_ sip.HeaderName, name, value []byte) {
		opts.Headers = append(opts.Headers, dialog.Header{Name: string(name), Value: string(value)})
	})
	// RFC 3515 §2.4.5: each provisional response but 100 is reported
	// (100 Trying was the first NOTIFY), then the final one with its code.
	opts.OnProgress = func(_ *dialog.Call, code int, reason string) { in.Notify(code, reason) }
	opts.OnAnswer = func(_ *dialog.Call, err error) {
		code, reason := outcome(err)
		in.Notify(code, reason)
	}
	uri := string(in.Target.AppendRequestURI(nil))
	if method := in.Target.MethodName(); method != "INVITE" {
		// RFC 3261 §19.1.5: the Refer-To's method parameter names the
		// request to send (Policy.AnyMethod let it through).
		in.requestTarget(method, uri, &opts.InitialOptions)
		return
	}
	c, err := a.ua.Dial(uri, &opts)
	if err != nil {
		// RFC 3515 §2.4.5: a reference that fails: 503.
		in.Notify(503, "Service Unavailable")
		return
	}
	in.mu.Lock()
	in.call = c
	in.mu.Unlock()
	if a.cfg.OnCall != nil {
		a.cfg.OnCall(in, c)
	}
}

// requestTarget sends the non-INVITE request a Refer-To's method
// parameter asks for, outside any dialog, and reports its provisional
// responses but 100 and its final one as the reference's progress (RFC
// 3515 §2.4.5), as for an INVITE.
func (in *Incoming) requestTarget(method, uri string, o *dialog.InitialOptions) {
	req, err := in.agent.ua.NewInitial(method, uri, o)
	if err != nil {
		in.Notify(503, "Service Unavailable") // RFC 3515 §2.4.5
		return
	}
	_, err = req.Send(transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, r transaction.Response) {
		switch {
		case r.Err == nil && r.Status < 200:
			if r.Status > 100 {
				in.Notify(r.Status, string(r.Msg.Reason()))
			}
			return
		case r.Err == nil:
			in.Notify(r.Status, string(r.Msg.Reason()))
		default:
			in.Notify(r.Status, sip.StatusText(r.Status))
		}
		req.Close()
	}))
	if err != nil {
		req.Close()
		in.Notify(503, "Service Unavailable")
	}
}

// referredBy is the Referred-By of the request to the target: the REFER's
// (RFC 3892 §3: the referee copies it), or, when the REFER has none, the
// REFER's From without its tag, since that is who referred us. The
// target of an attended transfer needs it: it is how RFC 5589 §7 lets the
// replaced call's party vouch for the INVITE with Replaces (see
// PartyOfReplaced).
func (in *Incoming) referredBy() string {
	if in.Target.ReferredBy != nil {
		return string(in.Target.ReferredBy)
	}
	from, err := in.Msg.From()
	if err != nil || from.Wildcard {
		return ""
	}
	var b []byte
	if from.Quoted {
		b = append(append(append(b, '"'), from.DisplayName...), '"', ' ')
	} else if len(from.DisplayName) > 0 {
		b = append(append(b, from.DisplayName...), ' ')
	}
	b = append(append(append(b, '<'), from.URI.Raw...), '>')
	return string(b)
}

// outcome is the status to report for a call's answer.
func outcome(err error) (int, string) {
	if err == nil {
		return 200, "OK"
	}
	var se *dialog.StatusError
	if errors.As(err, &se) {
		return se.Code, se.Reason
	}
	var te *transaction.Error
	if errors.As(err, &te) {
		return te.Status(), sip.StatusText(te.Status())
	}
	if errors.Is(err, dialog.ErrCancelled) {
		return 487, "Request Terminated"
	}
	return 503, "Service Unavailable"
}

// String describes the REFER for logs.
func (in *Incoming) String() string {
	var b strings.Builder
	b.WriteString("REFER id=")
	b.WriteString(in.ID)
	b.WriteString(" to ")
	b.Write(in.Target.URI().Raw)
	return b.String()
}
