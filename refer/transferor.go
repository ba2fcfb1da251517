package refer

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
	"github.com/sipxfer/sipxfer/transaction"
)

// Outcomes of a transfer, for errors.Is on Result.Err.
var (
	// ErrRejected: the REFER got a non-2xx final response (Result.ReferCode)
	// or none (a transaction error joined to it).
	ErrRejected = errors.New("refer: REFER rejected")
	// ErrFailed: the referenced request failed: the final sipfrag status
	// is 300 or more (Result.Code).
	ErrFailed = errors.New("refer: referenced request failed")
	// ErrNoOutcome: the subscription ended before a final status arrived
	// (Timer N, expiry, a terminated NOTIFY without one, a 481); the
	// cause is joined to it.
	ErrNoOutcome = errors.New("refer: no final status")
	// ErrBadNotify: a NOTIFY's body is not a sipfrag with a status line
	// (RFC 3515 §2.4.5); it was answered 200 and is reported as progress
	// with this error.
	ErrBadNotify = errors.New("refer: NOTIFY body is not a status line")
	// ErrConsultNotConfirmed: AttendedReferTo was given a consultation
	// dialog that is not confirmed (RFC 3891 §3: its target, the UAS of an
	// early dialog, would answer the INVITE with Replaces 481).
	ErrConsultNotConfirmed = errors.New("refer: consultation dialog not confirmed")
)

// ProgressKind says what a Progress reports.
type ProgressKind uint8

// Kinds of progress.
const (
	// Accepted: the REFER got a 2xx (202, or 200 per RFC 7647 §5: the same).
	Accepted ProgressKind = iota + 1
	// Rejected: the REFER failed; the transfer is over.
	Rejected
	// Notified: a NOTIFY reported the referenced request's status.
	Notified
	// Done: the transfer is over; Transfer.Result has the outcome.
	Done
)

func (k ProgressKind) String() string {
	return [...]string{"?", "accepted", "rejected", "notified", "done"}[min(int(k), 4)]
}

// Progress is one step of a transfer, as its transferor sees it.
type Progress struct {
	Kind   ProgressKind
	Code   int    // REFER response code, or sipfrag status code
	Reason string // its reason phrase
	// State is the subscription state of a NOTIFY (Notified).
	State event.State
	// Err is set for a NOTIFY whose body could not be read, and for
	// Rejected and Done when the transfer failed.
	Err error
}

// Result is how a transfer ended.
type Result struct {
	// ReferCode is the final response to the REFER; 0 if none came.
	ReferCode int
	// NoSubscription reports a REFER accepted with Refer-Sub: false (RFC
	// 4488): no progress was reported, so nothing more is known.
	NoSubscription bool
	// Code and Reason are the last status the transferee reported: for a
	// finished transfer, the final response to its request to the target.
	Code   int
	Reason string
	// Err is nil for a transfer whose final status is 2xx (or accepted
	// without subscription); else it wraps ErrRejected, ErrFailed or
	// ErrNoOutcome.
	Err error
}

// ReferOptions describes a REFER to send.
type ReferOptions struct {
	// ReferTo is the Refer-To value: a URI, written in angle brackets,
	// or a name-addr (RFC 3515 §2.1). AttendedReferTo builds the one of
	// an attended transfer.
	ReferTo string
	// ReferredBy is the Referred-By value (RFC 3892); empty sends none.
	// Agent.Self gives the UA's own URI for it.
	ReferredBy string
	// NoSubscription asks for no implicit subscription: Refer-Sub: false
	// (RFC 4488 §4). The transferee may ignore it and notify anyway.
	NoSubscription bool
	// TargetDialog, for a REFER outside a dialog, names the dialog (as this
	// UA holds it) that the REFER is about (RFC 4538).
	TargetDialog *dialog.ID
	// Headers are added to the REFER.
	Headers []dialog.Header
	// OnProgress is called for each step, in order. It must not block.
	OnProgress func(t *Transfer, p Progress)
}

// Transfer is a REFER this UA sent and the implicit subscription that
// reports its progress: the transferor's view (RFC 3515 §2.4.4).
type Transfer struct {
	agent      *Agent
	onProgress func(*Transfer, Progress)
	noSub      bool

	mu       sync.Mutex
	sub      *event.Subscription
	result   Result
	final    bool  // a final status has been reported
	referErr error // why the REFER failed, if it did
	referEnd bool  // the REFER has its final response (or error)
	subEnd   error // why the subscription ended, once it has
	subOver  bool
	over     bool
	done     chan struct{}
}

// Refer sends a REFER inside d (usually a call's dialog) and returns the
// transfer at once (RFC 3515 §2.4.1). Its subscription has the REFER's CSeq
// number as id (§2.4.6) and lives in d as a usage of its own (RFC 5057):
// a BYE of the call does not end it, nor does it end the call.
func (a *Agent) Refer(d *dialog.Dialog, o *ReferOptions) (*Transfer, error) {
	if err := checkReferTo(o.ReferTo); err != nil {
		return nil, err
	}
	t := a.newTransfer(o)
	req, dst, seq, err := d.NewRequestSeq("REFER", a.referOptions(o, nil))
	if err != nil {
		return nil, err
	}
	s, err := a.ev.Expect(d, t.subscribeOptions(seq))
	if err != nil {
		return nil, err
	}
	t.sub = s
	if _, err := d.Request(req, dst, referHandler{t}); err != nil {
		s.Close()
		return nil, err
	}
	return t, nil
}

// ReferOutside sends a REFER outside any dialog to target (RFC 3515
// §2.4.1; RFC 7647 §4: it creates a dialog, from its 2xx or from the first
// NOTIFY). With o.TargetDialog it carries Target-Dialog (RFC 4538).
func (a *Agent) ReferOutside(target string, o *ReferOptions) (*Transfer, error) {
	if err := checkReferTo(o.ReferTo); err != nil {
		return nil, err
	}
	t := a.newTransfer(o)
	in, err := a.ua.NewInitial("REFER", target, &dialog.InitialOptions{RequestOptions: *a.referOptions(o, o.TargetDialog)})
	if err != nil {
		return nil, err
	}
	s, err := a.ev.ExpectInitial(in, t.subscribeOptions(in.Seq()))
	if err != nil {
		in.Close()
		return nil, err
	}
	t.sub = s
	if _, err := in.Send(referHandler{t}); err != nil {
		s.Close()
		in.Close()
		return nil, err
	}
	return t, nil
}

// checkReferTo refuses to send what a recipient must answer 400: RFC 3515
// §2.4.1, "A REFER request MUST contain exactly one Refer-To header field
// value", which must parse.
func checkReferTo(v string) error {
	var na sip.NameAddr
	if err := na.Parse([]byte(v)); err != nil || na.Wildcard {
		return &Error{Status: 400, Reason: "Malformed Refer-To", Err: errors.Join(ErrBadReferTo, err)}
	}
	return nil
}

func (a *Agent) newTransfer(o *ReferOptions) *Transfer {
	return &Transfer{agent: a, onProgress: o.OnProgress, noSub: o.NoSubscription, done: make(chan struct{})}
}

// referOptions writes the REFER's header fields.
func (a *Agent) referOptions(o *ReferOptions, td *dialog.ID) *dialog.RequestOptions {
	hs := []dialog.Header{{Name: "Refer-To", Value: o.ReferTo}}
	if o.ReferredBy != "" {
		hs = append(hs, dialog.Header{Name: "Referred-By", Value: o.ReferredBy})
	}
	if o.NoSubscription {
		hs = append(hs, dialog.Header{Name: "Refer-Sub", Value: "false"})
	}
	if td != nil {
		// RFC 4538 §7: local-tag and remote-tag as the recipient sees them:
		// its local tag is our remote one.
		hs = append(hs, dialog.Header{Name: "Target-Dialog", Value: string(sip.AppendTargetDialog(nil, td.CallID, td.RemoteTag, td.LocalTag))})
	}
	return &dialog.RequestOptions{Headers: append(hs, o.Headers...)}
}

// subscribeOptions is the subscriber side of the implicit subscription.
func (t *Transfer) subscribeOptions(seq uint32) *event.SubscribeOptions {
	return &event.SubscribeOptions{
		Package: "refer",
		ID:      strconv.FormatUint(uint64(seq), 10),
		// RFC 3515 §2.4.6: the notifier of the first REFER in a dialog
		// may leave the id out.
		AcceptMissingID: true,
		ProbeAfter:      max(t.agent.cfg.ProbeAfter, 0),
		OnNotify:        t.notified,
		OnTerminated:    t.terminated,
	}
}

// referHandler takes the responses to the REFER. A REFER answered 401 or
// 407 goes again with a new CSeq (dialog.Config.Credentials), and RFC 3515
// §2.4.6 makes that CSeq the id of the subscription: its NOTIFYs will
// carry it, so the subscription is re-keyed before the retry goes.
type referHandler struct{ t *Transfer }

func (h referHandler) HandleResponse(tx *transaction.ClientTx, r transaction.Response) {
	h.t.referResponse(tx, r)
}

func (h referHandler) RetryRequest(seq uint32) bool {
	h.t.mu.Lock()
	s := h.t.sub
	h.t.mu.Unlock()
	if s != nil {
		s.Rekey(strconv.FormatUint(uint64(seq), 10))
	}
	return true
}

var _ dialog.RetryHandler = referHandler{}

// referResponse takes the REFER's responses.
func (t *Transfer) referResponse(tx *transaction.ClientTx, r transaction.Response) {
	if !r.Final() {
		return
	}
	t.mu.Lock()
	s := t.sub
	t.result.ReferCode = r.Status
	t.mu.Unlock()
	if r.Err == nil && r.Status < 300 {
		t.report(Progress{Kind: Accepted, Code: r.Status, Reason: string(r.Msg.Reason())})
		// RFC 4488 §4: a 2xx with Refer-Sub: false means no subscription.
		if v, present, _ := r.Msg.ReferSub(); t.noSub && present && !v {
			t.mu.Lock()
			t.result.NoSubscription = true
			t.mu.Unlock()
			s.Close()
		} else {
			s.HandleResponse(tx, r)
		}
		t.referDone(nil)
		return
	}
	err := r.Err
	reason := ""
	if err == nil {
		reason = string(r.Msg.Reason())
		err = &dialog.StatusError{Method: "REFER", Code: r.Status, Reason: reason}
	}
	err = errors.Join(ErrRejected, err)
	t.report(Progress{Kind: Rejected, Code: r.Status, Reason: reason, Err: err})
	s.HandleResponse(tx, r) // ends the subscription
	t.referDone(err)
}

// referDone records the REFER's outcome; the transfer is over once the
// subscription is too (under loss, NOTIFYs may all arrive before the 2xx).
func (t *Transfer) referDone(err error) {
	t.mu.Lock()
	t.referEnd, t.referErr = true, err
	t.mu.Unlock()
	t.finish()
}

// notified reads a NOTIFY's sipfrag.
func (t *Transfer) notified(s *event.Subscription, n *event.Notification) {
	code, reason, err := sipfrag.Status(n.Body)
	if err != nil {
		// Liberal: a header field after the status line that does not
		// parse must not hide the status (RFC 3515 §2.4.5: the status line
		// tells the outcome; the rest is optional detail).
		if c, r, e := sipfrag.StatusLine(n.Body); e == nil {
			code, reason, err = c, r, nil
		}
	}
	if err != nil {
		t.report(Progress{Kind: Notified, State: n.State, Err: errors.Join(ErrBadNotify, err)})
		return
	}
	t.mu.Lock()
	t.result.Code, t.result.Reason = code, string(reason)
	first := code >= 200 && !t.final
	if first {
		t.final = true
	}
	t.mu.Unlock()
	t.report(Progress{Kind: Notified, Code: code, Reason: string(reason), State: n.State})
	if first && n.State != event.StateTerminated {
		// The outcome is known and the notifier keeps the subscription:
		// end it (RFC 6665 §4.1.2.3, Expires: 0). Unsubscribe waits for
		// the final NOTIFY, which cannot come while this one is being
		// handled, so it runs on its own; it ends with the subscription
		// (that NOTIFY, Timer N, or the Manager closing).
		go s.Unsubscribe(context.Background())
	}
}

// terminated records the end of the subscription.
func (t *Transfer) terminated(_ *event.Subscription, term *event.Termination) {
	t.mu.Lock()
	t.subOver, t.subEnd = true, term.Err
	if errors.Is(term.Err, event.ErrClosed) {
		// Closed here (the Manager or UA closing): the REFER's answer
		// will not be waited for.
		t.referEnd = true
	}
	t.mu.Unlock()
	t.finish()
}

// finish ends the transfer once both the REFER and its subscription are
// over, and reports the outcome: the last sipfrag status when a final one
// came (whatever became of the REFER's own response), else the REFER's
// failure, else why the subscription ended without one.
func (t *Transfer) finish() {
	t.mu.Lock()
	if t.over || !t.subOver || !t.referEnd {
		t.mu.Unlock()
		return
	}
	t.over = true
	r := &t.result
	switch {
	case t.final && r.Code < 300:
	case t.final:
		r.Err = ErrFailed
	case t.referErr != nil:
		r.Err = t.referErr
	case r.NoSubscription:
	default:
		r.Err = errors.Join(ErrNoOutcome, t.subEnd)
	}
	res := *r
	t.mu.Unlock()
	close(t.done)
	t.report(Progress{Kind: Done, Code: res.Code, Reason: res.Reason, Err: res.Err})
}

func (t *Transfer) report(p Progress) {
	if t.onProgress != nil {
		t.onProgress(t, p)
	}
}

// Done is closed when the transfer is over.
func (t *Transfer) Done() <-chan struct{} { return t.done }

// Result returns the outcome; meaningful once Done is closed.
func (t *Transfer) Result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.result
}

// Wait blocks until the transfer is over, or ctx ends.
func (t *Transfer) Wait(ctx context.Context) (Result, error) {
	select {
	case <-t.done:
		r := t.Result()
		return r, r.Err
	case <-ctx.Done():
		return t.Result(), ctx.Err()
	}
}

// Subscription returns the subscriber side of the implicit subscription.
func (t *Transfer) Subscription() *event.Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sub
}

// Refresh extends the implicit subscription with a SUBSCRIBE carrying
// Event: refer;id=… (RFC 3515 §2.4.4: never a second REFER).
func (t *Transfer) Refresh(ctx context.Context) error { return t.Subscription().Refresh(ctx) }

// Unsubscribe ends the implicit subscription early with a SUBSCRIBE whose
// Expires is 0 (RFC 3515 §2.4.4, RFC 6665 §4.1.2.3).
func (t *Transfer) Unsubscribe(ctx context.Context) error {
	return t.Subscription().Unsubscribe(ctx)
}

// Self returns the UA's own URI in angle brackets, for Referred-By.
func (a *Agent) Self(d *dialog.Dialog) string {
	if d != nil {
		return d.LocalURI()
	}
	for _, l := range a.ua.Addrs() {
		if u, err := a.ua.URI(l.Proto); err == nil {
			return "<" + u + ">"
		}
	}
	return ""
}

// AttendedReferTo returns the Refer-To of an attended transfer (RFC 5589
// §7.3): the remote target of consult, the transferor's dialog with the
// transfer target, with a Replaces naming that dialog as the target holds
// it (to-tag the target's tag, from-tag ours; RFC 3891 §3), so that the
// transferee's INVITE replaces the consultation call. The consultation
// must be answered: an early one gives ErrConsultNotConfirmed.
func AttendedReferTo(consult *dialog.Dialog) (string, error) {
	if consult.State() != dialog.StateConfirmed {
		// RFC 5589 §3.6 (semi-attended transfer) waits for the 200 before
		// the REFER, for this reason.
		return "", ErrConsultNotConfirmed
	}
	var u sip.URI
	target := consult.RemoteTarget()
	if err := u.Parse([]byte(target)); err != nil {
		return "", err
	}
	id := consult.ID()
	return string(AppendReferToReplaces(nil, &u, id.CallID, id.RemoteTag, id.LocalTag, false)), nil
}
