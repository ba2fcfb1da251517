package transaction

import (
	"errors"
	"strconv"
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
	// ErrBadResponse: a final response to the request arrived that could
	// not be used (it failed to parse or to validate); the transaction
	// ended on it rather than wait for a final response that will not
	// come. The UAC treats it as 502 (Bad Gateway, RFC 3261 §21.5.3: an
	// invalid response from downstream).
	ErrBadResponse = errors.New("transaction: unusable final response")
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
// transport failed, or because the final response that came could not be
// used. errors.Is(err, ErrTimeout), errors.Is(err, ErrTransport) and
// errors.Is(err, ErrBadResponse) tell them apart; errors.Is and errors.As
// also reach the cause (the transport's error, or the *sip.ParseError).
type Error struct {
	Err   error  // ErrTimeout, ErrTransport or ErrBadResponse
	Timer string // the timer that fired for ErrTimeout: "B", "C", "F", "H", or "CANCEL" (§9.1)
	Code  int    // the status code of the unusable response, for ErrBadResponse
	Cause error  // the transport's error, or why the response was unusable
}

// Error returns "transaction: timeout (Timer B)", "transaction: transport
// failure: <cause>" or "transaction: unusable final response (200):
// <cause>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Timer != "" {
		b.WriteString(" (Timer ")
		b.WriteString(e.Timer)
		b.WriteString(")")
	}
	if e.Code != 0 {
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(e.Code))
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
// as: 408 for a timeout, 503 for a transport failure; and 502 for an
// unusable response (§21.5.3).
func (e *Error) Status() int {
	switch e.Err {
	case ErrTimeout:
		return 408
	case ErrBadResponse:
		return 502
	}
	return 503
}

func timeoutError(timer string) *Error { return &Error{Err: ErrTimeout, Timer: timer} }

func transportError(cause error) *Error { return &Error{Err: ErrTransport, Cause: cause} }
