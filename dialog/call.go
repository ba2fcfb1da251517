package dialog

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// CallState is the state of a Call.
type CallState uint8

// Call states.
const (
	CallCalling     CallState = iota + 1 // outgoing INVITE sent, no provisional with tag yet
	CallIncoming                         // incoming INVITE not answered yet
	CallEarly                            // a provisional response with a To tag sent or received
	CallAnswered                         // incoming: 2xx sent, its ACK awaited
	CallEstablished                      // 2xx received and ACKed, or 2xx sent and ACK received
	CallEnded
)

func (s CallState) String() string {
	return [...]string{"?", "calling", "incoming", "early", "answered", "established", "ended"}[min(int(s), 6)]
}

// CallOptions adjusts an outgoing call.
type CallOptions struct {
	InitialOptions
	// OnProgress is called for each provisional response but 100 (RFC
	// 3261 §13.2.2.1: the UAC core passes them up). It must not block.
	OnProgress func(c *Call, code int, reason string)
	// OnAnswer is called once with the outcome of the INVITE: nil when a
	// 2xx has set the call up (and been ACKed), else why it failed (a
	// *StatusError, a *transaction.Error, ErrCancelled, ErrTerminated).
	// It must not block.
	OnAnswer func(c *Call, err error)
	// OnOffer, for a delayed offer (an INVITE without a session
	// description, RFC 3264 §4), is called with the 2xx's Content-Type and
	// body (the offer) before the ACK is sent; what it returns (the answer)
	// goes in the ACK (RFC 3261 §13.2.2.4, §13.3.1.4) and becomes LocalBody.
	// It is not called when the INVITE carried a body, nor for a 2xx
	// without one. It runs on the goroutine that read the 2xx and must not
	// block.
	OnOffer func(c *Call, contentType string, offer []byte) (answerType string, answer []byte)
}

// Call is the INVITE usage of a dialog (RFC 5057): a session set up by an
// INVITE, kept by re-INVITEs and ended by BYE. The session description is
// opaque bytes. A Call is safe for concurrent use.
type Call struct {
	ua       *UA
	outgoing bool
	initial  *Initial // outgoing: the INVITE

	mu          sync.Mutex
	state       CallState
	d           *Dialog               // the dialog of the session, nil while early or calling
	early       []*Dialog             // early dialogs (outgoing: one per fork)
	tx          *transaction.ClientTx // outgoing INVITE
	provisional bool                  // outgoing: a provisional response arrived
	cancel      bool                  // outgoing: CANCEL wanted
	cancelSent  bool
	stx         *transaction.ServerTx // incoming INVITE awaiting its final response
	req         *sip.Message          // incoming INVITE (a clone)
	localTag    string                // incoming: our tag
	remote      transport.Addr        // incoming: where the INVITE came from
	contentType string
	localBody   []byte
	remoteBody  []byte
	onProgress  func(*Call, int, string)
	onAnswer    func(*Call, error) // outgoing: once, then nil
	onOffer     func(*Call, string, []byte) (string, []byte)

	// The ACK for the last 2xx received (outgoing side of any INVITE), to
	// send again for each retransmission of that 2xx (RFC 3261 §13.2.2.4).
	ack      []byte
	ackDst   transport.Addr
	ackSeq   uint32
	ackTimer transport.Timer

	// The last 2xx sent, retransmitted until its ACK (RFC 3261 §13.3.1.4).
	ok         []byte
	okSeq      uint32
	okTx       *transaction.ServerTx
	okTimer    transport.Timer
	okInterval time.Duration
	okStart    time.Time
	byeWanted  bool // Bye asked while the 2xx awaited its ACK (§15)

	reinviteOut bool // a re-INVITE we sent awaits its final response
	reinviteIn  bool // a re-INVITE we received is unanswered or unACKed

	// The session timer (RFC 4028): refresh at half the interval if we
	// are the refresher, else end the call if no refresh comes.
	stTimer     transport.Timer
	stInterval  time.Duration
	stRefresher bool
	stGen       uint64
	stMinSE     time.Duration // the largest Min-SE a 422 or a refresh named

	// Made on first use (call_watch.go): most calls are watched, not
	// waited on.
	established chan struct{}
	done        chan struct{}
	watchers    []*callWatcher
	reached     uint8 // reachedEstablished, reachedEnded
	delivering  bool  // a goroutine is telling the watchers
	err         error
}

func newCall(ua *UA, outgoing bool) *Call {
	return &Call{ua: ua, outgoing: outgoing}
}

// Outgoing reports whether this UA placed the call.
func (c *Call) Outgoing() bool { return c.outgoing }

// State returns the call's state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Dialog returns the dialog of the session, nil before one is confirmed.
func (c *Call) Dialog() *Dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.d
}

// EarlyDialogs returns the early dialogs of a call not yet answered: one
// per To tag of provisional responses (a forked INVITE has several).
func (c *Call) EarlyDialogs() []*Dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Dialog(nil), c.early...)
}

// Err returns why the call ended: ErrLocalBye, ErrRemoteBye, ErrCancelled,
// ErrNoACK, a *StatusError for a rejected INVITE, a *transaction.Error for a
// timeout or transport failure; nil while it lasts.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// RemoteBody returns the last session description the peer sent.
func (c *Call) RemoteBody() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteBody
}

// LocalBody returns the last session description this side sent.
func (c *Call) LocalBody() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localBody
}

// Invite returns the incoming INVITE (a copy owned by the Call) until the
// call is answered or rejected; nil for an outgoing call and afterwards.
// OnInvite gets the same request.
func (c *Call) Invite() *sip.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.req
}

// Wait blocks until the call is established (nil) or ends first (its
// error), or ctx ends (ctx.Err()).
func (c *Call) Wait(ctx context.Context) error {
	select {
	case <-c.Established():
		return nil
	case <-c.Done():
		return c.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DialogTerminated implements Usage: the dialog ended under the call.
func (c *Call) DialogTerminated(_ *Dialog, err error) { c.end(err) }

// end ends the call once, with err; it detaches the call from its dialogs.
func (c *Call) end(err error) {
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return
	}
	c.state = CallEnded
	c.err = err
	if c.okTimer != nil {
		c.okTimer.Stop()
		c.okTimer = nil
	}
	c.stopSessionTimerLocked()
	if c.ackTimer != nil {
		c.ackTimer.Stop()
		c.ackTimer = nil
	}
	c.ok, c.ack, c.req = nil, nil, nil
	ds := append(c.early, c.d)
	c.early = nil
	stx := c.stx
	c.stx, c.tx = nil, nil
	answer := c.onAnswer
	// The INVITE transaction can hold c for another 64*T1 (Timer M):
	// let go of what the application's callbacks hold.
	c.onAnswer, c.onProgress, c.onOffer = nil, nil, nil
	c.mu.Unlock()
	c.ua.mu.Lock()
	if stx != nil {
		delete(c.ua.incoming, stx)
	}
	delete(c.ua.dialing, c)
	c.ua.mu.Unlock()
	// Leave the dialogs first: whoever wakes on Done sees them gone.
	for _, d := range ds {
		if d != nil {
			d.RemoveUsage(c)
		}
	}
	c.mu.Lock()
	c.reach(reachedEnded)
	if answer != nil {
		answer(c, err)
	}
}

// ---- outgoing calls (UAC, RFC 3261 §13.2) ----

// Dial sends an INVITE to target and returns the call at once; Wait (or
// Established and Done) tells how it goes. o may be nil. A target (or
// outbound proxy) named by a host name is located (RFC 3263) on a
// goroutine of the UA, so Dial never waits for DNS: a failure to locate it
// ends the call with an error wrapping ErrNoAddress.
func (ua *UA) Dial(target string, o *CallOptions) (*Call, error) {
	if o == nil {
		o = &CallOptions{}
	}
	if ua.full() {
		return nil, ErrTooManyDialogs
	}
	if hs := ua.sessionHeaders(); hs != nil {
		// RFC 4028 §7.1: the INVITE asks for a session interval.
		oc := *o
		oc.Headers = append(append([]Header(nil), o.Headers...), hs...)
		o = &oc
	}
	next, _, _, err := ua.nextHop(target, "INVITE")
	if err != nil {
		return nil, err
	}
	_, numeric, err := ua.numeric(next, false)
	if err != nil {
		return nil, err
	}
	c := newCall(ua, true)
	c.state = CallCalling
	c.contentType, c.localBody = o.ContentType, o.Body
	c.onProgress = o.OnProgress
	c.onAnswer = o.OnAnswer
	c.onOffer = o.OnOffer
	if numeric {
		in, err := ua.NewInitial("INVITE", target, &o.InitialOptions)
		if err != nil {
			return nil, err
		}
		c.initial = in
		in.abandon = c.abandoned
		ua.mu.Lock()
		ua.dialing[c] = struct{}{}
		ua.mu.Unlock()
		if _, err := in.Send(inviteHandler{c}); err != nil {
			in.Close()
			return nil, err
		}
		return c, nil
	}
	ua.mu.Lock()
	ua.dialing[c] = struct{}{}
	ua.mu.Unlock()
	io := o.InitialOptions
	ua.background(func(ctx context.Context) {
		in, err := ua.newInitial(ctx, "INVITE", target, &io)
		if err != nil {
			c.end(err)
			return
		}
		in.abandon = c.abandoned
		c.mu.Lock()
		c.initial = in
		stop := c.cancel || c.state == CallEnded
		c.mu.Unlock()
		if stop {
			in.Close()
			c.end(ErrCancelled)
			return
		}
		if _, err := in.Send(inviteHandler{c}); err != nil {
			in.Close()
			c.end(err)
		}
	})
	if ua.isClosed() {
		c.end(ErrTerminated)
	}
	return c, nil
}

// abandoned reports whether an outgoing call tries no further RFC 3263
// target: it was cancelled or has ended.
func (c *Call) abandoned() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancel || c.state == CallEnded
}

// Invite places a call and waits until it is established or fails. If ctx
// ends first the INVITE is cancelled (RFC 3261 §9.1; the CANCEL waits for a
// provisional response, and a 2xx that crosses it is ACKed and ended with
// BYE) and Invite returns an error wrapping ErrCancelled and ctx.Err().
func (ua *UA) Invite(ctx context.Context, target string, o *CallOptions) (*Call, error) {
	c, err := ua.Dial(target, o)
	if err != nil {
		return nil, err
	}
	if err := c.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			if errors.Is(c.Cancel(), ErrState) && c.State() == CallEstablished {
				// The 2xx came as ctx ended: the caller has given up on
				// the call, so it is ended as one the CANCEL crossed.
				c.hangUp(ErrCancelled)
			}
			return c, errors.Join(ErrCancelled, ctx.Err())
		}
		return c, err
	}
	return c, nil
}

// Cancel cancels an outgoing call not yet answered (RFC 3261 §9.1). The
// CANCEL goes once a provisional response has arrived; the call ends with
// ErrCancelled when the 487 comes, or, if a 2xx wins the race, is ACKed and
// ended with a BYE.
func (c *Call) Cancel() error {
	c.mu.Lock()
	if !c.outgoing || (c.state != CallCalling && c.state != CallEarly) {
		ended := c.state == CallEnded
		c.mu.Unlock()
		if ended {
			return nil
		}
		return ErrState
	}
	c.cancel = true
	send := c.provisional && !c.cancelSent && c.tx != nil
	c.cancelSent = c.cancelSent || send
	tx := c.tx
	c.mu.Unlock()
	if send {
		c.sendCancel(tx)
	}
	return nil
}

func (c *Call) sendCancel(tx *transaction.ClientTx) {
	if _, err := c.ua.tm.Cancel(tx, transaction.ClientHandlerFunc(func(*transaction.ClientTx, transaction.Response) {})); err != nil {
		c.ua.log.Debug("dialog: CANCEL not sent", "err", err)
	}
}

// inviteResponse is the handler of the initial INVITE's transaction.
func (c *Call) inviteResponse(tx *transaction.ClientTx, r transaction.Response) {
	c.mu.Lock()
	if c.tx == nil {
		c.tx = tx
	}
	c.mu.Unlock()
	switch {
	case r.Err != nil:
		c.initial.Close()
		err := r.Err
		c.mu.Lock()
		if c.cancel {
			err = errors.Join(ErrCancelled, err) // §9.1: no final after the CANCEL
		}
		c.mu.Unlock()
		c.end(err)
	case r.Status < 200:
		c.provisionalResponse(tx, r.Msg)
	case r.Status < 300:
		c.successResponse(r.Msg)
		// Later 2xx come through the transaction (RFC 6026 Accepted) or
		// as strays: the Initial need not route requests any more, and
		// nothing will be cancelled. The transaction lives 64*T1 more;
		// what takes its 2xx from now on does not keep the call.
		c.initial.Close()
		c.initial.release()
		tx.SetHandler(c.initial.accepted(r.Msg.ToTag()))
		c.mu.Lock()
		c.tx = nil
		c.mu.Unlock()
	default:
		c.initial.Close()
		var err error = &StatusError{Method: "INVITE", Code: r.Status, Reason: string(r.Msg.Reason())}
		c.mu.Lock()
		if c.cancel && (r.Status == 487 || r.Status == 401 || r.Status == 407) {
			err = errors.Join(ErrCancelled, err)
		}
		c.mu.Unlock()
		c.end(err)
	}
}

func (c *Call) provisionalResponse(tx *transaction.ClientTx, resp *sip.Message) {
	var d *Dialog
	if len(resp.ToTag()) > 0 && resp.StatusCode() > 100 {
		// RFC 3261 §13.2.2.1: a provisional response with a To tag creates
		// an early dialog, one per tag.
		var err error
		if d, err = c.initial.DialogFromResponse(resp); err != nil {
			c.ua.log.Debug("dialog: no early dialog", "err", err)
			d = nil
		}
	}
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return
	}
	c.provisional = true
	send := c.cancel && !c.cancelSent
	c.cancelSent = c.cancelSent || send
	added := false
	if d != nil && !containsDialog(c.early, d) {
		c.early = append(c.early, d)
		c.state = CallEarly
		added = true
	}
	progress := c.onProgress
	c.mu.Unlock()
	if added {
		d.AddUsage(c)
	}
	if send {
		c.sendCancel(tx)
	}
	if code := resp.StatusCode(); code > 100 && progress != nil {
		progress(c, code, string(resp.Reason()))
	}
}

func containsDialog(ds []*Dialog, d *Dialog) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// successResponse handles each 2xx to the initial INVITE (RFC 3261
// §13.2.2.4): the first confirms the call's dialog and is ACKed; its
// retransmissions get the same ACK again; a 2xx from another fork is ACKed
// and its dialog ended with BYE.
func (c *Call) successResponse(resp *sip.Message) {
	d, err := c.initial.DialogFromResponse(resp)
	if err != nil {
		c.ua.log.Warn("dialog: 2xx creates no dialog", "err", err)
		return
	}
	cseq, _ := resp.CSeq()
	c.mu.Lock()
	switch {
	case c.d == d:
		c.mu.Unlock()
		c.resendACK(d, cseq.Seq)
		return
	case c.d != nil || c.state == CallEnded:
		c.mu.Unlock()
		c.ua.log.Debug("dialog: 2xx from a further fork: ACK and BYE", "dialog", d.String())
		c.ackAndBye(d, cseq.Seq)
		return
	}
	c.d = d
	c.state = CallEstablished
	c.remoteBody = append([]byte(nil), resp.Body()...)
	others := make([]*Dialog, 0, len(c.early))
	for _, e := range c.early {
		if e != d {
			others = append(others, e)
		}
	}
	wasEarly := containsDialog(c.early, d)
	c.early = nil
	hangUp := c.cancel
	var ackBody *RequestOptions
	if onOffer := c.onOffer; onOffer != nil && len(c.localBody) == 0 && len(c.remoteBody) > 0 {
		// Delayed offer: the 2xx carries the offer, the ACK the answer.
		c.onOffer = nil
		c.mu.Unlock()
		ct, answer := onOffer(c, string(resp.Get(sip.HeaderContentType)), c.RemoteBody())
		c.mu.Lock()
		if len(answer) > 0 {
			ackBody = &RequestOptions{ContentType: ct, Body: answer}
			c.contentType, c.localBody = ct, answer
		}
	}
	c.mu.Unlock()
	stInterval, stOurs := c.ua.uacSession(resp)
	if !wasEarly {
		d.AddUsage(c)
	}
	// RFC 3261 §13.2.2.4: the ACK is built like any request of the dialog
	// but with the CSeq number of the INVITE; the UAC MUST send it for each
	// 2xx. The call is established once it is sent.
	c.sendACK(d, cseq.Seq, ackBody, func(err error) {
		if err != nil {
			// No ACK can reach the peer (its Contact or Record-Route cannot
			// be located): it will end the session itself (§13.3.1.4).
			c.end(err)
			return
		}
		c.mu.Lock()
		c.reach(reachedEstablished)
		c.mu.Lock()
		answer := c.onAnswer
		// The INVITE transaction can hold c for another 64*T1 (Timer M):
		// let go of what the application's callbacks hold.
		c.onAnswer, c.onProgress = nil, nil
		c.mu.Unlock()
		c.ua.mu.Lock()
		delete(c.ua.dialing, c)
		c.ua.mu.Unlock()
		c.startSessionTimer(stInterval, stOurs)
		if answer != nil {
			answer(c, nil)
		}
		for _, e := range others {
			e.RemoveUsage(c) // early dialogs of other forks end (§13.2.2.4)
		}
		if hangUp {
			// The 2xx crossed our CANCEL: the session exists, so end it.
			c.hangUp(ErrCancelled)
		}
	})
}

// sendACK builds, sends and keeps the ACK for the 2xx of the INVITE with
// CSeq number seq, then calls then (if not nil) with the outcome. It runs
// on the reader goroutine that brought the 2xx: when the dialog's first
// hop is a host name not located yet, the lookup and the ACK go to a
// goroutine of the UA, so that DNS never holds up the reader.
func (c *Call) sendACK(d *Dialog, seq uint32, o *RequestOptions, then func(error)) {
	if then == nil {
		then = func(error) {}
	}
	if _, err := d.destination(context.Background(), false); errors.Is(err, errNeedsDNS) {
		c.ua.background(func(ctx context.Context) {
			if _, err := d.destination(ctx, true); err != nil {
				c.ua.log.Warn("dialog: cannot locate where the ACK goes", "dialog", d.String(), "err", err)
				then(err)
				return
			}
			then(c.sendACKNow(d, seq, o))
		})
		return
	}
	then(c.sendACKNow(d, seq, o))
}

func (c *Call) sendACKNow(d *Dialog, seq uint32, o *RequestOptions) error {
	ack, dst, err := d.buildRequest("ACK", seq, o)
	if err != nil {
		c.ua.log.Warn("dialog: cannot build ACK", "dialog", d.String(), "err", err)
		return err
	}
	if t, ok := d.located(dst); ok {
		c.ua.connect(t) // an ACK has no transaction: a failure shows in the send
	}
	wire, used, err := c.ua.tp.SendRequest(dst, transport.NewBranch(nil), ack)
	if err != nil {
		c.ua.log.Warn("dialog: cannot send ACK", "dialog", d.String(), "err", err)
		return nil // as if lost: the UAS ends the session when no ACK comes (§13.3.1.4)
	}
	c.mu.Lock()
	if c.state == CallEnded {
		// A BYE ended the call while the ACK was sent: keep nothing, so
		// that no timer outlives the call (end stopped the last one).
		c.mu.Unlock()
		return nil
	}
	c.ack, c.ackDst, c.ackSeq = wire, used, seq
	if c.ackTimer != nil {
		c.ackTimer.Stop()
	}
	// The UAS retransmits its 2xx for 64*T1 at most (§13.3.1.4): keep the
	// ACK that long, not for the life of the call.
	c.ackTimer = c.ua.clock.AfterFunc(64*c.ua.t1(), func() {
		c.mu.Lock()
		if c.ackSeq == seq {
			c.ack, c.ackTimer = nil, nil
		}
		c.mu.Unlock()
	})
	c.mu.Unlock()
	return nil
}

// resendACK answers a retransmitted 2xx with the ACK sent for it.
func (c *Call) resendACK(d *Dialog, seq uint32) {
	c.mu.Lock()
	ack, dst, ok := c.ack, c.ackDst, c.ack != nil && c.ackSeq == seq && c.d == d
	c.mu.Unlock()
	if ok {
		c.ua.tp.Send(dst, ack)
	}
}

// acceptedInvite takes the 2xx that follow the first one to a call's
// INVITE while its transaction is Accepted (RFC 6026 §7.2), for 64*T1,
// keeping neither the call nor its Initial alive: a retransmission on the
// call's dialog is ACKed again by the call while it lasts (RFC 3261
// §13.2.2.4); a 2xx from another fork (or from the call's dialog once it
// has ended) is ACKed and its dialog ended with BYE. Such a dialog is
// built from the 2xx itself, whose From, To, Call-ID and CSeq are the
// INVITE's (§8.2.6.2), and the little of the Initial kept here.
type acceptedInvite struct {
	ua     *UA
	tag    string // To tag of the first 2xx: the call's dialog
	target string // the INVITE's Request-URI: remote target if a 2xx has no Contact
	seq    uint32 // the INVITE's CSeq number
	secure bool
	auth   []byte // the INVITE's credentials, for the ACK (RFC 3261 §22.1)
}

// accepted returns the handler of the INVITE's transaction once its first
// 2xx (with To tag tag) has been handled.
func (in *Initial) accepted(tag []byte) *acceptedInvite {
	in.ua.mu.Lock()
	defer in.ua.mu.Unlock()
	return &acceptedInvite{ua: in.ua, tag: string(tag), target: in.target, seq: in.seq, secure: in.secure, auth: in.auth}
}

func (h *acceptedInvite) HandleResponse(_ *transaction.ClientTx, r transaction.Response) {
	resp := r.Msg
	if resp == nil || r.Status < 200 || r.Status >= 300 {
		return
	}
	cseq, _ := resp.CSeq()
	if string(resp.ToTag()) == h.tag {
		// A retransmission: the call ACKs it again while it lasts.
		if d := h.ua.findDialog(resp.CallID(), resp.FromTag(), resp.ToTag()); d != nil {
			if c := d.call(); c != nil {
				c.resendACK(d, cseq.Seq)
			}
			return
		}
		// The dialog has ended: ACKed and ended again, as a fork's.
	}
	local, err1 := withoutTag(resp.Get(sip.HeaderFrom))
	remote, err2 := withoutTag(resp.Get(sip.HeaderTo))
	if err1 != nil || err2 != nil {
		h.ua.log.Warn("dialog: 2xx creates no dialog", "err", errors.Join(err1, err2))
		return
	}
	in := &Initial{ua: h.ua, method: "INVITE", callID: string(resp.CallID()), localTag: string(resp.FromTag()),
		localURI: local, remote: remote, target: h.target, seq: h.seq, secure: h.secure, auth: h.auth}
	d, err := in.DialogFromResponse(resp)
	if err != nil {
		h.ua.log.Warn("dialog: 2xx creates no dialog", "err", err)
		return
	}
	h.ua.log.Debug("dialog: 2xx from a further fork: ACK and BYE", "dialog", d.String())
	h.ua.ackAndBye(d, cseq.Seq)
}

// acceptedReInvite takes the 2xx that follow the first one to a
// re-INVITE while its transaction is Accepted (RFC 6026 §7.2): the call,
// found through its dialog rather than kept, ACKs them again while it
// lasts (RFC 3261 §13.2.2.4).
type acceptedReInvite struct{ ua *UA }

func (h acceptedReInvite) HandleResponse(_ *transaction.ClientTx, r transaction.Response) {
	resp := r.Msg
	if resp == nil || r.Status < 200 || r.Status >= 300 {
		return
	}
	cseq, _ := resp.CSeq()
	if d := h.ua.findDialog(resp.CallID(), resp.FromTag(), resp.ToTag()); d != nil {
		if c := d.call(); c != nil {
			c.resendACK(d, cseq.Seq)
		}
	}
}

// ackAndBye ends a dialog created by a 2xx we do not want (RFC 3261
// §13.2.2.4: "it MUST terminate the dialog by sending a BYE" after the
// ACK).
func (c *Call) ackAndBye(d *Dialog, seq uint32) { c.ua.ackAndBye(d, seq) }

func (ua *UA) ackAndBye(d *Dialog, seq uint32) {
	if _, err := d.destination(context.Background(), false); errors.Is(err, errNeedsDNS) {
		ua.background(func(ctx context.Context) {
			if _, err := d.destination(ctx, true); err != nil {
				d.Terminate(err)
				return
			}
			ua.ackAndBye(d, seq)
		})
		return
	}
	if ack, dst, err := d.buildRequest("ACK", seq, nil); err == nil {
		ua.tp.SendRequest(dst, transport.NewBranch(nil), ack)
	}
	req, dst, err := d.NewRequest("BYE", nil)
	if err == nil {
		d.Request(req, dst, transaction.ClientHandlerFunc(func(*transaction.ClientTx, transaction.Response) {}))
	}
	d.Terminate(ErrLocalBye)
}

// ---- incoming calls (UAS, RFC 3261 §13.3) ----

// newIncomingCall handles an INVITE outside a dialog.
func (ua *UA) newIncomingCall(r *Request) {
	if ua.full() {
		ua.refuse("dialog: INVITE refused: MaxDialogs reached", r.Remote)
		r.Respond(503, "Too Many Dialogs", &ResponseOptions{Headers: []Header{{"Retry-After", retryAfter()}}})
		return
	}
	if !r.Msg.Has(sip.HeaderContact) {
		// RFC 3261 §8.1.1.8: an INVITE MUST contain exactly one Contact.
		r.Respond(400, "Missing Contact", nil)
		return
	}
	if small, err := ua.tooSmall(r.Msg); err != nil {
		r.Respond(400, "Bad Session-Expires", nil)
		return
	} else if small {
		// RFC 4028 §8.1: an interval under our Min-SE gets 422 with it.
		r.Respond(422, "", &ResponseOptions{Headers: []Header{{"Min-SE", secs(ua.cfg.MinSE)}}})
		return
	}
	c := newCall(ua, false)
	c.state = CallIncoming
	c.stx = r.Tx
	c.req = r.Msg.Clone()
	c.localTag = r.ToTag()
	c.remote = r.Remote
	c.remoteBody = append([]byte(nil), c.req.Body()...)
	ua.mu.Lock()
	ua.incoming[r.Tx] = c
	ua.mu.Unlock()
	if ua.cfg.OnInvite == nil {
		c.Reject(480, "")
		return
	}
	ua.cfg.OnInvite(c, r.Msg)
}

// Ring sends 180 Ringing, creating the early dialog.
func (c *Call) Ring() error { return c.Provisional(180, "") }

// Provisional sends a provisional response (101-199) with a To tag to an
// incoming call, creating the early dialog (RFC 3261 §12.1.1).
func (c *Call) Provisional(code int, reason string) error {
	if code <= 100 || code >= 200 {
		return ErrState
	}
	c.mu.Lock()
	if c.outgoing || (c.state != CallIncoming && c.state != CallEarly) {
		c.mu.Unlock()
		return ErrState
	}
	c.mu.Unlock()
	d, err := c.uasDialog(StateEarly)
	if err != nil {
		return err
	}
	b := c.response(code, reason, d)
	if b == nil {
		return ErrState
	}
	c.mu.Lock()
	if c.state == CallIncoming {
		c.state = CallEarly
	}
	stx := c.stx
	c.mu.Unlock()
	return stx.Respond(sip.AppendNoBody(b))
}

// uasDialog returns the dialog of an incoming call, creating it.
func (c *Call) uasDialog(s State) (*Dialog, error) {
	c.mu.Lock()
	if len(c.early) > 0 {
		d := c.early[0]
		c.mu.Unlock()
		if s == StateConfirmed {
			d.confirm()
		}
		return d, nil
	}
	c.mu.Unlock()
	req := c.Invite()
	if req == nil {
		return nil, ErrState
	}
	d, err := c.ua.uasDialog(req, c.localTag, c.remote)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.state = s
	d.mu.Unlock()
	if err := d.AddUsage(c); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.early = append(c.early, d)
	c.mu.Unlock()
	return d, nil
}

// response writes the start of a response to the incoming INVITE: status
// line, the copied fields, and for a dialog the Contact and Record-Route.
// It returns nil once the INVITE has been answered.
func (c *Call) response(code int, reason string, d *Dialog) []byte {
	req := c.Invite()
	if req == nil {
		return nil
	}
	b := make([]byte, 0, 768)
	b = sip.AppendResponse(b, req, code, reason, c.localTag)
	if d != nil {
		b = appendDialogFields(b, c.ua, req, c.remote)
	}
	return c.ua.appendServer(b)
}

// Answer accepts an incoming call with a 200 carrying body (the answer or
// offer, of contentType; may be empty). The 2xx is retransmitted until the
// ACK arrives (RFC 3261 §13.3.1.4); Established closes then.
func (c *Call) Answer(contentType string, body []byte) error {
	c.mu.Lock()
	if c.outgoing || (c.state != CallIncoming && c.state != CallEarly) {
		c.mu.Unlock()
		return ErrState
	}
	c.mu.Unlock()
	d, err := c.uasDialog(StateConfirmed)
	if err != nil {
		if errors.Is(err, ErrTooManyDialogs) {
			return c.Reject(503, "Too Many Dialogs")
		}
		return err
	}
	req := c.Invite()
	b := c.response(200, "", d)
	if b == nil {
		return ErrState
	}
	stInterval, stOurs, stHeaders := c.uasSession(req)
	for _, h := range stHeaders {
		b = sip.AppendHeaderName(b, []byte(h.Name), []byte(h.Value))
	}
	if len(body) > 0 {
		b = sip.AppendBody(b, contentType, body)
	} else {
		b = sip.AppendNoBody(b)
	}
	cseq, _ := req.CSeq()
	c.mu.Lock()
	if c.state == CallEnded {
		c.mu.Unlock()
		return ErrTerminated
	}
	stx := c.stx
	// Answered: the 2xx bytes and its transaction (until the ACK) are all
	// that is needed now.
	c.req, c.stx = nil, nil
	c.d = d
	c.early = nil
	c.state = CallAnswered
	c.contentType, c.localBody = contentType, body
	c.mu.Unlock()
	c.ua.mu.Lock()
	delete(c.ua.incoming, stx)
	c.ua.mu.Unlock()
	// Armed before sending: the ACK may come back within Respond.
	c.startRetransmit(b, cseq.Seq, stx)
	if err := stx.Respond(b); err != nil {
		c.end(err)
		return err
	}
	c.startSessionTimer(stInterval, stOurs)
	return nil
}

// Reject answers an incoming call with a final non-2xx response (300-699)
// and ends it.
func (c *Call) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return ErrState
	}
	c.mu.Lock()
	if c.outgoing || (c.state != CallIncoming && c.state != CallEarly) {
		c.mu.Unlock()
		return ErrState
	}
	stx := c.stx
	c.mu.Unlock()
	b := c.response(code, reason, nil)
	if b == nil {
		return ErrState
	}
	err := stx.Respond(sip.AppendNoBody(b))
	if reason == "" {
		reason = sip.StatusText(code)
	}
	c.end(&StatusError{Method: "INVITE", Code: code, Reason: reason})
	return err
}

// cancelled handles a CANCEL of the incoming INVITE (RFC 3261 §9.2).
func (c *Call) cancelled() {
	c.mu.Lock()
	pending := c.state == CallIncoming || c.state == CallEarly
	stx := c.stx
	c.mu.Unlock()
	if !pending {
		return
	}
	if b := c.response(487, "", nil); b != nil {
		stx.Respond(sip.AppendNoBody(b))
	}
	c.end(ErrCancelled)
}

// startRetransmit keeps sending the 2xx b until its ACK (RFC 3261
// §13.3.1.4): at T1, doubling up to T2, for 64*T1 in all.
func (c *Call) startRetransmit(b []byte, seq uint32, tx *transaction.ServerTx) {
	t1 := c.ua.t1()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded {
		return
	}
	c.ok, c.okSeq, c.okTx = b, seq, tx
	c.okInterval = t1
	c.okStart = c.ua.clock.Now()
	c.okTimer = c.ua.clock.AfterFunc(t1, c.retransmit)
}

func (c *Call) retransmit() {
	c.mu.Lock()
	if c.ok == nil {
		c.mu.Unlock()
		return
	}
	elapsed := c.ua.clock.Now().Sub(c.okStart)
	if elapsed >= 64*c.ua.t1() {
		// RFC 3261 §13.3.1.4: no ACK within 64*T1: the dialog is confirmed
		// but the session SHOULD be ended with a BYE.
		c.ok, c.okTimer = nil, nil
		c.reinviteIn = false
		c.mu.Unlock()
		c.ua.log.Info("dialog: no ACK for 2xx, ending the session", "dialog", c.Dialog().String())
		c.hangUp(ErrNoACK)
		return
	}
	b, tx := c.ok, c.okTx
	c.okInterval = min(2*c.okInterval, c.ua.t2())
	c.okTimer = c.ua.clock.AfterFunc(min(c.okInterval, 64*c.ua.t1()-elapsed), c.retransmit)
	c.mu.Unlock()
	if err := tx.Respond(b); errors.Is(err, transaction.ErrTerminated) {
		// Timer L ended the transaction (RFC 6026 §7.1): send directly.
		c.ua.tp.SendResponse(tx.Reply(), b)
	}
}

// stopRetransmit stops the 2xx retransmissions without an ACK.
func (c *Call) stopRetransmit() {
	c.mu.Lock()
	if c.okTimer != nil {
		c.okTimer.Stop()
		c.okTimer = nil
	}
	c.ok, c.okTx = nil, nil
	c.reinviteIn = false
	c.mu.Unlock()
}

// handleACK takes the ACK for a 2xx we sent.
func (c *Call) handleACK(d *Dialog, seq uint32, ack *sip.Message) {
	c.mu.Lock()
	if c.ok == nil || c.okSeq != seq || c.d != d {
		c.mu.Unlock()
		return // a retransmitted ACK, or one for an older 2xx
	}
	if c.okTimer != nil {
		c.okTimer.Stop()
		c.okTimer = nil
	}
	c.ok, c.okTx = nil, nil
	c.reinviteIn = false
	if len(ack.Body()) > 0 {
		c.remoteBody = append([]byte(nil), ack.Body()...)
	}
	first := c.state == CallAnswered
	if first {
		c.state = CallEstablished
	}
	bye := c.byeWanted
	if first {
		c.reach(reachedEstablished)
	} else {
		c.mu.Unlock()
	}
	if bye {
		c.hangUp(ErrLocalBye)
	}
}

// ---- in the session (RFC 3261 §14, §15) ----

// handleReInvite answers a re-INVITE (RFC 3261 §14.2).
func (c *Call) handleReInvite(r *Request) {
	c.mu.Lock()
	switch {
	case c.state != CallEstablished && c.state != CallAnswered:
		c.mu.Unlock()
		r.Respond(481, "", nil) // no session in this dialog any more
		return
	case c.reinviteOut:
		c.mu.Unlock()
		// RFC 3261 §14.2: an INVITE received while ours is in progress
		// MUST get 491 (Request Pending).
		r.Respond(491, "", nil)
		return
	case c.reinviteIn && c.ok == nil:
		c.mu.Unlock()
		// RFC 3261 §14.2: a second INVITE before the final response to the
		// first MUST get 500 with a Retry-After of 0 to 10 seconds.
		r.Respond(500, "Previous INVITE Pending", &ResponseOptions{Headers: []Header{{"Retry-After", retryAfter()}}})
		return
	}
	var established bool
	if c.ok != nil {
		// Our 2xx to the previous INVITE awaits its ACK, yet the peer sends
		// a new INVITE, which it does only once that 2xx has arrived
		// (§14.1): the ACK was lost. Stop retransmitting and go on (§14.2
		// asks for 500 only before the final response is sent).
		if c.okTimer != nil {
			c.okTimer.Stop()
			c.okTimer = nil
		}
		c.ok, c.okTx = nil, nil
		established = c.state == CallAnswered
		if established {
			c.state = CallEstablished
		}
	}
	c.reinviteIn = true
	body := c.localBody
	if established {
		c.reach(reachedEstablished)
	} else {
		c.mu.Unlock()
	}

	r.Dialog.refreshTarget(r.Msg) // §12.2.2: re-INVITE is a target refresh
	code := 200
	if f := c.ua.cfg.OnReInvite; f != nil {
		code, body = f(c, r.Msg)
	}
	cseq, _ := r.Msg.CSeq()
	if code < 200 || code >= 300 {
		r.Respond(code, "", nil)
		c.mu.Lock()
		c.reinviteIn = false
		c.mu.Unlock()
		return
	}
	b := make([]byte, 0, 768)
	b = sip.AppendResponse(b, r.Msg, code, "", r.Dialog.id.LocalTag)
	b = appendDialogFields(b, c.ua, r.Msg, r.Remote)
	b = c.ua.appendServer(b)
	// RFC 4028 §9: a re-INVITE refreshes the session.
	stInterval, stOurs, stHeaders := c.uasSession(r.Msg)
	for _, h := range stHeaders {
		b = sip.AppendHeaderName(b, []byte(h.Name), []byte(h.Value))
	}
	if stInterval > 0 {
		c.startSessionTimer(stInterval, stOurs)
	}
	if len(body) > 0 {
		b = sip.AppendBody(b, c.contentTypeOr(r.Msg), body)
	} else {
		b = sip.AppendNoBody(b)
	}
	c.mu.Lock()
	c.remoteBody = append([]byte(nil), r.Msg.Body()...)
	c.localBody = body
	c.mu.Unlock()
	c.startRetransmit(b, cseq.Seq, r.Tx)
	if err := r.Tx.Respond(b); err != nil {
		c.stopRetransmit()
	}
}

func (c *Call) contentTypeOr(req *sip.Message) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.contentType != "" {
		return c.contentType
	}
	if ct := req.Get(sip.HeaderContentType); ct != nil {
		return string(ct)
	}
	return "application/sdp"
}

// ReInvite sends a re-INVITE with a new session description (RFC 3261
// §14.1) and returns the peer's. A 491 comes back as a *StatusError: the
// caller may try again after a random wait (§14.1: 2.1–4 s for the owner
// of the Call-ID, 0–2 s otherwise). On a non-2xx the session is unchanged;
// on a 408, or a timeout with no response at all, the call is ended with a
// BYE, on a 481 without one (§12.2.1.2; other usages of the dialog go on,
// RFC 5057). If ctx ends first, ReInvite returns an error wrapping
// ErrCancelled and ctx.Err(), and the re-INVITE is cancelled once a
// provisional response has come (§9.1); so is one Timer C ends. Either
// way the call goes on with its session unchanged, and accepts the next
// re-INVITE once the peer has answered this one.
func (c *Call) ReInvite(ctx context.Context, contentType string, body []byte) ([]byte, error) {
	return c.reInvite(ctx, contentType, body, c.ua.sessionHeaders())
}

// reInvite is ReInvite with extra header fields.
func (c *Call) reInvite(ctx context.Context, contentType string, body []byte, headers []Header) ([]byte, error) {
	c.mu.Lock()
	d := c.d
	switch {
	case c.state != CallEstablished || d == nil:
		c.mu.Unlock()
		return nil, ErrState
	case c.reinviteOut || c.reinviteIn || c.ok != nil:
		// RFC 3261 §14.1: no new INVITE while one is in progress in either
		// direction.
		c.mu.Unlock()
		return nil, ErrPending
	}
	c.reinviteOut = true
	c.mu.Unlock()
	clear := func() {
		c.mu.Lock()
		c.reinviteOut = false
		c.mu.Unlock()
	}
	req, dst, seq, err := d.newRequestSeq("INVITE", &RequestOptions{ContentType: contentType, Body: body, Headers: headers})
	if err != nil {
		clear()
		return nil, err
	}
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	// RFC 3261 §9.1, §14.1: a re-INVITE the caller gives up on is
	// cancelled once a provisional response has come, and the call stays
	// as it was; abandon records that it was given up, and whether the
	// CANCEL has gone.
	var abandon struct {
		sync.Mutex
		tx                       *transaction.ClientTx
		provisional, given, sent bool
	}
	cancelNow := func() {
		abandon.Lock()
		send := abandon.given && abandon.provisional && !abandon.sent && abandon.tx != nil
		abandon.sent = abandon.sent || send
		tx := abandon.tx
		abandon.Unlock()
		if send {
			c.sendCancel(tx)
		}
	}
	_, err = d.Request(req, dst, reInviteHandler{c, func(tx *transaction.ClientTx, r transaction.Response) {
		abandon.Lock()
		abandon.tx = tx
		given := abandon.given
		abandon.Unlock()
		switch {
		case r.Err != nil:
			clear()
			done <- result{err: r.Err}
			// RFC 3261 §14.1: a re-INVITE that times out SHOULD end the
			// dialog, as a 408 does; not one that was answered
			// provisionally and then given up (Timer C, or our CANCEL
			// unanswered: §9.1 considers it cancelled), whose peer is
			// alive.
			abandon.Lock()
			answered := abandon.provisional
			abandon.Unlock()
			var te *transaction.Error
			if errors.As(r.Err, &te) && te.Timer == "C" && !given {
				// Timer C: the peer rang and never answered; cancel its
				// INVITE so that the next one is not refused (§14.2 500).
				c.sendCancel(tx)
			}
			var ae *AuthError
			if answered || errors.As(r.Err, &ae) {
				return // alive, or credentials refused: the session is unchanged
			}
			c.hangUp(r.Err)
		case r.Status < 200:
			abandon.Lock()
			abandon.provisional = true
			abandon.Unlock()
			cancelNow()
		case r.Status < 300:
			if cs, err := r.Msg.CSeq(); err == nil {
				seq = cs.Seq // a retry with credentials took a new one
			}
			d.refreshTarget(r.Msg) // §12.2.1.2: 2xx to a target refresh
			iv, ours := c.ua.uacSession(r.Msg)
			rb := append([]byte(nil), r.Msg.Body()...)
			c.mu.Lock()
			repeat := c.ackSeq == seq && c.ack != nil
			if !repeat {
				c.localBody, c.contentType, c.remoteBody = body, contentType, rb
			}
			c.reinviteOut = false
			c.mu.Unlock()
			if repeat {
				c.resendACK(d, seq)
				return
			}
			// The transaction lives 64*T1 more (RFC 6026 Accepted): what
			// takes its 2xx from now on does not keep the call.
			tx.SetHandler(acceptedReInvite{c.ua})
			if iv > 0 {
				c.startSessionTimer(iv, ours) // RFC 4028 §7.4: refreshed
			}
			// A 2xx that crosses the CANCEL is ACKed and the session
			// changes all the same (§9.1, §14.1).
			c.sendACK(d, seq, nil, nil)
			done <- result{body: rb}
		default:
			clear()
			err := &StatusError{Method: "INVITE", Code: r.Status, Reason: string(r.Msg.Reason())}
			done <- result{err: err}
			switch r.Status {
			case 408:
				c.hangUp(err)
			case 481:
				c.end(err) // the peer has no such session: nothing to BYE
			}
		}
	}})
	if err != nil {
		clear()
		return nil, err
	}
	select {
	case res := <-done:
		return res.body, res.err
	case <-ctx.Done():
		abandon.Lock()
		abandon.given = true
		abandon.Unlock()
		cancelNow()
		return nil, errors.Join(ErrCancelled, ctx.Err())
	case <-c.ua.closing:
		return nil, ErrTerminated // Close ended the transaction unanswered
	}
}

// Bye ends an established session (RFC 3261 §15.1.1). The call ends at
// once with ErrLocalBye; the error returned is the BYE's own outcome. An
// incoming call answered but not yet ACKed sends its BYE when the ACK
// comes or the 2xx times out (§15: the callee MUST NOT send BYE before).
func (c *Call) Bye(ctx context.Context) error {
	done, err := c.hangUp(ErrLocalBye)
	if err != nil || done == nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ua.closing:
		return ErrTerminated
	}
}

// hangUp sends a BYE and ends the call with why. The channel, buffered,
// receives the BYE's outcome; it is nil when the BYE waits for an ACK or
// the call had ended.
func (c *Call) hangUp(why error) (<-chan error, error) {
	c.mu.Lock()
	d := c.d
	switch {
	case c.state == CallEnded:
		c.mu.Unlock()
		return nil, nil
	case c.state == CallAnswered && c.ok != nil:
		c.byeWanted = true
		c.mu.Unlock()
		return nil, nil
	case d == nil:
		c.mu.Unlock()
		return nil, ErrState
	}
	c.mu.Unlock()
	done := make(chan error, 1)
	if _, err := d.destination(context.Background(), false); errors.Is(err, errNeedsDNS) {
		// The peer's Contact is a host name not located yet, and hangUp may
		// run on a reader goroutine: take the CSeq now, locate and send the
		// BYE from the UA's own goroutine. The session ends at once.
		seq, err := d.takeSeq()
		c.end(why)
		if err != nil {
			return nil, err
		}
		c.ua.background(func(ctx context.Context) {
			if _, err := d.destination(ctx, true); err != nil {
				done <- err
				return
			}
			req, dst, err := d.buildRequest("BYE", seq, nil)
			if err == nil {
				err = c.sendBye(d, req, dst, done)
			}
			if err != nil {
				done <- err
			}
		})
		return done, nil
	}
	req, dst, err := d.NewRequest("BYE", nil)
	if err == nil {
		err = c.sendBye(d, req, dst, done)
	}
	// RFC 3261 §15.1.1: the session ends as soon as the BYE is sent; not
	// before, so that whoever wakes on Done (an application about to close
	// its UA, say, after a session timer ended the call) finds the BYE
	// already on its way.
	c.end(why)
	if err != nil {
		return nil, err
	}
	return done, nil
}

// sendBye sends a BYE built for d; done receives its outcome.
func (c *Call) sendBye(d *Dialog, req []byte, dst transport.Addr, done chan<- error) error {
	_, err := d.Request(req, dst, transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, r transaction.Response) {
		switch {
		case r.Err != nil:
			done <- r.Err
		case r.Status >= 300:
			done <- &StatusError{Method: "BYE", Code: r.Status, Reason: string(r.Msg.Reason())}
		case r.Status >= 200:
			done <- nil
		}
	}))
	return err
}

// Hangup ends the call whatever its state: BYE when answered, CANCEL when
// calling, 603 (Decline) when ringing here.
func (c *Call) Hangup(ctx context.Context) error {
	switch c.State() {
	case CallCalling, CallEarly:
		if c.outgoing {
			return c.Cancel()
		}
		return c.Reject(603, "")
	case CallIncoming:
		return c.Reject(603, "")
	case CallEnded:
		return nil
	}
	return c.Bye(ctx)
}

// handleBye answers a BYE (RFC 3261 §15.1.2) and ends the call.
func (c *Call) handleBye(r *Request) {
	c.mu.Lock()
	pending := !c.outgoing && (c.state == CallIncoming || c.state == CallEarly)
	stx := c.stx
	// Our INVITE still awaits its final response (the callee's 2xx were
	// all lost, and it gave up and sent BYE on what is an early dialog
	// here): CANCEL it, so that its transaction ends (§9.1: 64*T1 at most).
	var tx *transaction.ClientTx
	if c.outgoing && (c.state == CallCalling || c.state == CallEarly) && !c.cancelSent {
		tx, c.cancel, c.cancelSent = c.tx, true, true
	}
	c.mu.Unlock()
	r.Respond(200, "", nil)
	if tx != nil {
		c.sendCancel(tx)
	}
	if pending {
		// §15.1.2: pending requests of the dialog still get a response;
		// 487 is RECOMMENDED.
		if b := c.response(487, "", nil); b != nil {
			stx.Respond(sip.AppendNoBody(b))
		}
	}
	c.end(ErrRemoteBye)
}
