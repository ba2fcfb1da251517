package transaction

import (
	"errors"
	"strings"
)

// Sentinel errors, for errors.Is.
var (
	// ErrTimeout: a timer ended the transaction without a final response
	// (Timer B, F or C at a client, Timer H at a server). RFC 3261 §8.1.3.1:
	// a UAC MUST treat it as a 408 (Request Timeout).
	ErrTimeout = errors.New("transaction: timeout")
	// ErrTransport: the transport layer failed to send (RFC 3261 §17.1.4,
	// §17.2.4). RFC 3261 §8.1.3.1: a UAC MUST treat it as a 503 (Service
	// Unavailable).
	ErrTransport = errors.New("transaction: transport failure")
	// ErrTerminated: the transaction has ended; nothing more can be sent on
	// it.
	ErrTerminated = errors.New("transaction: terminated")
	// ErrFinal: a final response was already sent (server) or received
	// (client), so the response or CANCEL asked for is not allowed
	// (RFC 3261 §17.2.2, §9.1).
	ErrFinal = errors.New("transaction: final response already sent or received")
	// ErrNoProvisional: a CANCEL was asked for before any provisional
	// response arrived; RFC 3261 §9.1 says to wait for one.
	ErrNoProvisional = errors.New("transaction: no provisional response yet")
	// ErrNotInvite: the operation applies to INVITE transactions only.
	ErrNotInvite = errors.New("transaction: not an INVITE transaction")
	// ErrACK: ACK has no client transaction (RFC 3261 §17.1); send it with
	// the transport directly.
	ErrACK = errors.New("transaction: ACK has no client transaction")
	// ErrBadMessage: the bytes given are not a request (Request) or not a
	// response (Respond).
	ErrBadMessage = errors.New("transaction: malformed message")
	// ErrClosed: the Manager has been closed.
	ErrClosed = errors.New("transaction: manager closed")
)

// Error is what RFC 3261 §8.1.3.1 calls a transaction layer error: the
// transaction ended without a final response because a timer fired or the
// transport failed. errors.Is(err, ErrTimeout) and errors.Is(err,
// ErrTransport) tell them apart; for ErrTransport, errors.Is and errors.As
// also reach the transport's own error.
type Error struct {
	Err   error  // ErrTimeout or ErrTransport
	Timer string // the timer that fired for ErrTimeout: "B", "C", "F", "H", or "CANCEL" (§9.1)
	Cause error  // the transport's error, for ErrTransport
}

// Error returns "transaction: timeout (Timer B)" or "transaction: transport
// failure: <cause>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Timer != "" {
		b.WriteString(" (Timer ")
		b.WriteString(e.Timer)
		b.WriteString(")")
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and, for a transport failure, its cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Status is the status code RFC 3261 §8.1.3.1 says a UAC treats the error
// as: 408 for a timeout, 503 for a transport failure.
func (e *Error) Status() int {
	if e.Err == ErrTimeout {
		return 408
	}
	return 503
}

func timeoutError(timer string) *Error { return &Error{Err: ErrTimeout, Timer: timer} }

func transportError(cause error) *Error { return &Error{Err: ErrTransport, Cause: cause} }
