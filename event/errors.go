package event

import (
	"errors"
	"strconv"
	"time"
)

// Sentinel errors, for errors.Is.
var (
	// ErrUnknownPackage: no Package of that name is registered (a NOTIFY
	// or SUBSCRIBE for it gets 489, RFC 6665 §4.1.3, §4.2.1.1).
	ErrUnknownPackage = errors.New("event: unknown event package")
	// ErrPackageExists: Register was given a name already registered.
	ErrPackageExists = errors.New("event: package already registered")
	// ErrBadPackage: a Package or option breaks the grammar of RFC 6665
	// §8.4 (event-type, id token) or the package's own rules.
	ErrBadPackage = errors.New("event: bad package or event parameter")
	// ErrNoNotify: Timer N (64*T1) fired before the first NOTIFY of a new
	// or refreshed subscription arrived (RFC 6665 §4.1.2.2, §4.1.2.4).
	ErrNoNotify = errors.New("event: no NOTIFY before Timer N")
	// ErrExpired: the subscription reached its expiry without a refresh.
	ErrExpired = errors.New("event: subscription expired")
	// ErrUnsubscribed: the subscriber ended the subscription with a
	// SUBSCRIBE carrying Expires: 0 (RFC 6665 §4.1.2.3).
	ErrUnsubscribed = errors.New("event: unsubscribed")
	// ErrTerminated: the notifier ended the subscription with a NOTIFY
	// whose Subscription-State is terminated (RFC 6665 §4.1.3, §4.2.2):
	// one received, or for a Notifier, the one Terminate sent.
	ErrTerminated = errors.New("event: terminated by the notifier")
	// ErrClosed: the subscription was ended locally without a message
	// (Subscription.Close, Manager.Close), or the Manager is closed.
	ErrClosed = errors.New("event: closed")
	// ErrState: the operation does not fit the subscription's state
	// (Notify after Terminate, Unsubscribe of an ended subscription).
	ErrState = errors.New("event: wrong state for operation")
	// ErrQueueFull: a Notifier already holds Config.MaxPendingNotifies
	// NOTIFYs waiting for the one in flight.
	ErrQueueFull = errors.New("event: too many NOTIFYs pending")
	// ErrTooMany: Config.MaxSubscriptions or Config.MaxPerDialog is
	// reached.
	ErrTooMany = errors.New("event: too many subscriptions")
	// ErrNotAcceptable: a NOTIFY body type is not among those the
	// subscriber accepts (RFC 6665 §3.2.1).
	ErrNotAcceptable = errors.New("event: body type not acceptable")
	// ErrExists: a subscription with the same event package and id
	// already exists in the dialog (RFC 6665 §4.5.2).
	ErrExists = errors.New("event: subscription exists in dialog")
	// ErrGRUU: the dialog's remote target is a GRUU, so it may not carry a
	// new subscription (RFC 6665 §4.5.2: subscribers MUST NOT reuse it;
	// REFER is no exception: use a request outside the dialog with
	// Target-Dialog, RFC 4538).
	ErrGRUU = errors.New("event: remote target is a GRUU: no dialog reuse")
)

// StatusError reports a final non-2xx response to a SUBSCRIBE (or to the
// request that creates an implicit subscription) or to a NOTIFY. errors.As
// finds it; Code and Reason are the response's.
type StatusError struct {
	Method string
	Code   int
	Reason string
	// RetryAfter is the Retry-After of the response (RFC 3261 §20.33),
	// zero when absent.
	RetryAfter time.Duration
	// MinExpires is the Min-Expires of a 423 (Interval Too Brief)
	// response (RFC 6665 §4.2.1.1), zero when absent.
	MinExpires time.Duration
}

// Error returns "event: METHOD answered CODE REASON".
func (e *StatusError) Error() string {
	return "event: " + e.Method + " answered " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Status returns the response code, matching transaction.Error.Status.
func (e *StatusError) Status() int { return e.Code }
