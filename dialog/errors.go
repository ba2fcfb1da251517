package dialog

import (
	"errors"
	"strconv"
)

// Sentinel errors, for errors.Is.
var (
	// ErrTerminated: the dialog or call has ended.
	ErrTerminated = errors.New("dialog: terminated")
	// ErrNoDialog: no dialog matches the request (RFC 3261 §12.2.2: 481).
	ErrNoDialog = errors.New("dialog: no such dialog")
	// ErrPending: an INVITE is already in progress on the dialog (RFC 3261
	// §14.1: a UAC MUST NOT start a re-INVITE while one is pending).
	ErrPending = errors.New("dialog: INVITE in progress")
	// ErrTooManyDialogs: the UA holds Config.MaxDialogs dialogs already.
	ErrTooManyDialogs = errors.New("dialog: too many dialogs")
	// ErrNoAddress: the URI has no address this UA can send to (it
	// resolves IP literals only, unless Config.Resolve says otherwise).
	ErrNoAddress = errors.New("dialog: cannot resolve URI")
	// ErrNoListener: the UA has no listener for the protocol a request
	// must leave on, so it cannot write a Contact.
	ErrNoListener = errors.New("dialog: no listener for protocol")
	// ErrState: the operation does not fit the call's state (answering
	// an outgoing call, hanging up one that has not been answered).
	ErrState = errors.New("dialog: wrong state for operation")
	// ErrNoACK: the UAS retransmitted its 2xx for 64*T1 without receiving
	// an ACK (RFC 3261 §13.3.1.4), and ended the session with a BYE.
	ErrNoACK = errors.New("dialog: no ACK for 2xx")
	// ErrRemoteBye: the peer ended the session with a BYE.
	ErrRemoteBye = errors.New("dialog: remote hung up")
	// ErrLocalBye: this side ended the session with a BYE.
	ErrLocalBye = errors.New("dialog: local hang-up")
	// ErrCancelled: the INVITE was cancelled (RFC 3261 §9) before it was
	// answered, by the caller's context or the remote CANCEL.
	ErrCancelled = errors.New("dialog: INVITE cancelled")
)

// StatusError reports a final non-2xx response to a request: an INVITE
// that was rejected, a BYE or re-INVITE that failed. errors.As finds it;
// Code and Reason are the response's.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return "dialog: " + e.Method + " answered " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Status returns the response code, matching transaction.Error.Status.
func (e *StatusError) Status() int { return e.Code }
