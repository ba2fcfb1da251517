package event

import (
	"strings"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// Package describes an event package (RFC 6665 §5.4): what the framework
// needs to know to subscribe to it and to serve it. Register it with a
// Manager before subscribing to it or accepting SUBSCRIBEs for it.
type Package struct {
	// Name is the event-type, compared byte for byte (RFC 6665 §8.2.1):
	// "presence", "refer", "presence.winfo".
	Name string
	// DefaultExpires is the duration of a subscription whose SUBSCRIBE has
	// no Expires (RFC 6665 §3.1.1, §5.4.4: the package MUST define it).
	// Default one hour.
	DefaultExpires time.Duration
	// MaxExpires caps the duration a notifier grants (RFC 6665 §4.2.1.1:
	// it MAY shorten, never lengthen). Default: no cap.
	MaxExpires time.Duration
	// MinExpires is the shortest duration the notifier accepts: a
	// SUBSCRIBE asking for less gets 423 with Min-Expires (RFC 6665
	// §4.2.1.1). Zero accepts any.
	MinExpires time.Duration
	// Accept lists the NOTIFY body types of the package; the first is the
	// default for a SUBSCRIBE without Accept (RFC 6665 §3.1.3, §5.4.5).
	// A subscriber sends them in Accept; a notifier answers 406 to a
	// SUBSCRIBE accepting none of them (§4.1.2.1). Empty: no check.
	Accept []string
	// MultiplePerDialog allows several subscriptions of the package in one
	// dialog, told apart by the Event id parameter (RFC 6665 §4.5.2). When
	// false a dialog holds at most one of each role: a SUBSCRIBE that would
	// create a second gets 403, and creating one locally fails with
	// ErrExists.
	MultiplePerDialog bool
	// Forking lets one SUBSCRIBE install several subscriptions, one per
	// notifier that sends a NOTIFY (RFC 6665 §4.1.4, §5.4.9); each fork is
	// offered to SubscribeOptions.OnFork. When false, the first dialog
	// wins and NOTIFYs from other forks get 481.
	Forking bool
	// Coalesce lets a Notifier replace a NOTIFY that waits (behind the one
	// in flight, or for MinNotifyInterval) with a newer one, for packages
	// that send complete state (RFC 6665 §5.3.1): the subscriber then
	// skips intermediate states. The final NOTIFY (Terminate) replaces
	// whatever waits too, and goes as soon as none is in flight. Default
	// false: every NOTIFY is sent, in order.
	Coalesce bool
	// ImplicitOnly marks a package whose subscriptions only another request
	// creates, and whose notifier answers 403 to a SUBSCRIBE for one that
	// does not exist (refer: RFC 3515 §2.4.4). A subscriber of such a
	// package takes a 403 to a refresh as the end of the subscription, like
	// the responses RFC 6665 §4.1.2.2 lists (481 ...), not as a failure that
	// leaves it valid until its expiry.
	ImplicitOnly bool
	// MinNotifyInterval is the least time between two NOTIFYs of one
	// subscription that Notifier.Notify sends (RFC 6665 §4.2.2 and
	// §5.4.10: notifications are subject to throttling). The NOTIFY that
	// answers a SUBSCRIBE and the final one are not held back. Zero: no
	// limit. Notifier.SetMinInterval changes it per subscription.
	MinNotifyInterval time.Duration

	// OnSubscribe makes this UA a notifier for the package: it is called
	// for each SUBSCRIBE that creates or refreshes a subscription, and
	// decides the answer. It must not block (RFC 6665 §4.2.1.1: notifiers
	// MUST NOT wait for a user response). For a new subscription the
	// Notifier has no dialog yet and cannot send: the first state goes in
	// the Answer; a refused one ends (Done closes) without OnTerminated.
	// A SUBSCRIBE that would create a subscription of a package without
	// OnSubscribe gets 489; refreshes of existing subscriptions (such as
	// the implicit ones of NewNotifier) are accepted without it. Packages
	// with OnSubscribe are listed in Allow-Events (RFC 6665 §4.4.4).
	OnSubscribe func(n *Notifier, r *SubscribeRequest) Answer
	// OnTerminated is called when a notifier-side subscription of the
	// package ends, with why (ErrExpired, ErrUnsubscribed, ErrTerminated
	// after Terminate, a *StatusError or *transaction.Error for a NOTIFY
	// that failed, ErrClosed). It must not block.
	OnTerminated func(n *Notifier, err error)
}

// SubscribeRequest is a SUBSCRIBE passed to Package.OnSubscribe.
type SubscribeRequest struct {
	// Msg is the request, valid only during the callback.
	Msg *sip.Message
	// Refresh reports a SUBSCRIBE for a subscription that exists (RFC
	// 6665 §4.2.1.4); otherwise it creates one.
	Refresh bool
	// Expires is the duration about to be granted: the request's, or the
	// package default, capped by MaxExpires. Answer.Expires may shorten it.
	Expires time.Duration
}

// Answer is the decision of Package.OnSubscribe.
type Answer struct {
	// Code is the response: 0 or 2xx accepts (with 200: RFC 6665 §8.3.1
	// forbids sending 202), 300-699 rejects (403 or 603 for a refused
	// authorization, §4.2.1.3).
	Code   int
	Reason string
	// Headers are added to the response (Retry-After with a 503 ...).
	Headers []dialog.Header
	// Expires, when positive and shorter than SubscribeRequest.Expires,
	// shortens the subscription (RFC 6665 §4.2.1.1).
	Expires time.Duration
	// State is the state of the NOTIFY sent at once (RFC 6665 §4.2.1.2):
	// StateActive (the default for a new subscription) or StatePending. For
	// a refresh, zero keeps the current state.
	State State
	// ContentType and Body are the resource state for that NOTIFY. For a
	// refresh, an empty ContentType keeps the last state sent.
	ContentType string
	Body        []byte
}

// validEventType reports whether name is an event-type (RFC 6665 §8.4):
// token-nodot *( "." token-nodot ).
func validEventType(name string) bool {
	var e sip.Event
	return name != "" && e.Parse([]byte(name)) == nil && string(e.Type) == name
}

// validToken reports whether id can be an Event id parameter (RFC 6665
// §8.4: "id" EQUAL token).
func validToken(id string) bool {
	var e sip.Event
	return id != "" && e.Parse([]byte("x;id="+id)) == nil && string(e.ID) == id
}

// eventOf is the Event of package pkg with id ("" for none), for matching
// with sip.Event.Match (RFC 6665 §8.2.1).
func eventOf(pkg, id string) sip.Event {
	e := sip.Event{Type: []byte(pkg)}
	if id != "" {
		e.ID = []byte(id)
	}
	return e
}

// eventValue is the Event header value for package pkg and id.
func eventValue(pkg, id string) string {
	if id == "" {
		return pkg
	}
	return pkg + ";id=" + id
}

// acceptable reports whether a body of media type ctype may be sent to a
// subscriber that accepts accept (RFC 6665 §3.2.1); an empty list accepts
// anything. Types compare case-insensitively without parameters, and
// "*/*" and "type/*" match as in RFC 3261 §20.1.
func acceptable(ctype string, accept []string) bool {
	if len(accept) == 0 {
		return true
	}
	var c sip.ContentType
	if c.Parse([]byte(ctype)) != nil {
		return false
	}
	for _, a := range accept {
		typ, sub, ok := mediaRange(a)
		if !ok {
			continue
		}
		if (typ == "*" || strings.EqualFold(typ, string(c.Type))) && (sub == "*" || strings.EqualFold(sub, string(c.Subtype))) {
			return true
		}
	}
	return false
}

// mediaRange splits an Accept element "type/subtype;params".
func mediaRange(a string) (typ, sub string, ok bool) {
	if i := strings.IndexByte(a, ';'); i >= 0 {
		a = a[:i]
	}
	typ, sub, ok = strings.Cut(strings.TrimSpace(a), "/")
	return strings.TrimSpace(typ), strings.TrimSpace(sub), ok && typ != "" && sub != ""
}

// acceptList returns the elements of the Accept header fields of m, nil
// when it has none.
func acceptList(m *sip.Message) []string {
	var out []string
	vs := m.Values(sip.HeaderAccept)
	for v, ok := vs.Next(); ok; v, ok = vs.Next() {
		if s := strings.TrimSpace(string(v)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// overlaps reports whether a subscriber's Accept list admits one of the
// package's body types (RFC 6665 §4.1.2.1: otherwise 406).
func overlaps(accept, pkgTypes []string) bool {
	if len(pkgTypes) == 0 {
		return true
	}
	for _, t := range pkgTypes {
		if acceptable(t, accept) {
			return true
		}
	}
	return false
}
