package event

import (
	"fmt"
	"strings"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// State is the state of a subscription: the states of the subscriber's
// diagram in RFC 6665 §4.1.2 and of the notifier's in §4.2.2.
type State uint8

// Subscription states.
const (
	// StateNotifyWait: the subscriber has sent the request that creates
	// the subscription and awaits the first NOTIFY (RFC 6665 §4.1.2).
	StateNotifyWait State = iota + 1
	// StatePending: the notifier has not decided yet whether to grant the
	// subscription (Subscription-State: pending).
	StatePending
	// StateActive: the subscription is accepted (Subscription-State:
	// active).
	StateActive
	// StateTerminated: the subscription has ended.
	StateTerminated
)

// String returns the Subscription-State value of s ("active", "pending",
// "terminated"), or "notify_wait".
func (s State) String() string {
	switch s {
	case StateNotifyWait:
		return "notify_wait"
	case StatePending:
		return "pending"
	case StateActive:
		return "active"
	case StateTerminated:
		return "terminated"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Reason is the reason parameter of Subscription-State: terminated
// (RFC 6665 §4.1.3, the IANA registry of §7.2). Other specifications add
// their own; any token is a Reason.
type Reason string

// The reason codes of RFC 6665 §4.1.3.
const (
	ReasonDeactivated Reason = "deactivated"
	ReasonProbation   Reason = "probation"
	ReasonRejected    Reason = "rejected"
	ReasonTimeout     Reason = "timeout"
	ReasonGiveUp      Reason = "giveup"
	ReasonNoResource  Reason = "noresource"
	ReasonInvariant   Reason = "invariant"
)

// parseReason returns a received reason, with the codes RFC 6665 defines
// in their registered spelling whatever the case of the token.
func parseReason(b []byte) Reason {
	for _, r := range [...]Reason{ReasonDeactivated, ReasonProbation, ReasonRejected, ReasonTimeout, ReasonGiveUp, ReasonNoResource, ReasonInvariant} {
		if strings.EqualFold(string(b), string(r)) {
			return r
		}
	}
	return Reason(b)
}

// Retry is what RFC 6665 §4.1.3 lets a subscriber do after its
// subscription was terminated: whether to re-subscribe, and not before
// how long.
type Retry struct {
	// Allowed reports that a new subscription may (or should) be tried.
	Allowed bool
	// After is the least wait before trying: the retry-after parameter,
	// or Config.ProbationDelay for probation without one; zero means at
	// once.
	After time.Duration
}

// decideRetry applies RFC 6665 §4.1.3 to the Subscription-State of a
// NOTIFY that terminated a subscription.
func decideRetry(reason Reason, retryAfter time.Duration, hasRetryAfter bool, probation time.Duration) Retry {
	switch reason {
	case ReasonDeactivated, ReasonTimeout:
		// RFC 6665 §4.1.3: deactivated SHOULD retry immediately, timeout
		// MAY; retry-after has no semantics for either.
		return Retry{Allowed: true}
	case ReasonProbation:
		// RFC 6665 §4.1.3: retry "at some later time", waiting at least
		// retry-after when present.
		if !hasRetryAfter {
			retryAfter = probation
		}
		return Retry{Allowed: true, After: retryAfter}
	case ReasonGiveUp:
		// RFC 6665 §4.1.3: wait at least retry-after; without it the
		// client MAY retry immediately.
		return Retry{Allowed: true, After: retryAfter}
	case ReasonRejected, ReasonNoResource, ReasonInvariant:
		// RFC 6665 §4.1.3: clients SHOULD NOT re-subscribe (for invariant
		// regardless of retry-after).
		return Retry{}
	}
	// RFC 6665 §4.1.3: no or an unknown reason: the client MAY retry at
	// any time, but SHOULD NOT before retry-after when it is present.
	return Retry{Allowed: true, After: retryAfter}
}

// Notification is a NOTIFY the subscriber accepted, as passed to
// SubscribeOptions.OnNotify. A NOTIFY retransmitted by the notifier is
// absorbed by its server transaction and reported once.
type Notification struct {
	// State is the Subscription-State value. A NOTIFY with an extension
	// state leaves the subscription's state as it was and reports that
	// state here.
	State State
	// Reason and RetryAfter are the parameters of a terminated state;
	// HasRetryAfter tells a zero retry-after from none.
	Reason        Reason
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Expires is the expires parameter of an active or pending state, the
	// time left on the subscription; HasExpires is false without one.
	Expires    time.Duration
	HasExpires bool
	// ContentType and Body are the NOTIFY's body, copied: the caller may
	// keep them.
	ContentType string
	Body        []byte
	// Msg is the NOTIFY itself, valid only during the callback.
	Msg *sip.Message
}

// Termination says why a subscription ended and what RFC 6665 §4.1.3
// lets the subscriber do next.
type Termination struct {
	// Err is why: ErrTerminated (a terminated NOTIFY), ErrNoNotify,
	// ErrExpired, ErrUnsubscribed, ErrClosed, a *StatusError for a
	// failure response, a *transaction.Error for a timeout or transport
	// failure, an error wrapping dialog.ErrTerminated or a 481 when the
	// dialog ended, or a context's error.
	Err error
	// Reason, RetryAfter and HasRetryAfter are the Subscription-State
	// parameters of the NOTIFY that ended the subscription, if one did.
	Reason        Reason
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Retry is the decision RFC 6665 §4.1.3 gives for Reason (only for a
	// terminated NOTIFY that the subscriber did not ask for; otherwise
	// Retry.Allowed is false).
	Retry Retry
}
