package sip

import "bytes"

// Event is an Event header value (RFC 6665 §8.2.1):
// event-type *( SEMI event-param ), event-type being a package name with
// optional template suffixes ("presence.winfo").
type Event struct {
	Type   []byte // the event-type, e.g. "refer"; compare with Is
	ID     []byte // the id parameter, nil if absent
	Params Params
}

// Is reports whether the event type is pkg. RFC 6665 §8.2.1: event types
// compare byte by byte, so "Refer" is not "refer".
func (e *Event) Is(pkg string) bool { return string(e.Type) == pkg }

// Match reports whether e and o name the same subscription. RFC 6665 §8.2.1:
// the event type and the id parameter compare byte by byte, an Event with an
// id never matches one without, and other parameters do not count.
func (e *Event) Match(o *Event) bool {
	return bytes.Equal(e.Type, o.Type) && bytes.Equal(e.ID, o.ID) && (e.ID == nil) == (o.ID == nil)
}

// Parse parses an Event value.
func (e *Event) Parse(b []byte) error {
	*e = Event{}
	b = trimWS(b)
	i := 0
	// event-type = event-package *( "." event-template ), each a token-nodot.
	for i < len(b) && isToken(b[i]) {
		i++
	}
	if i == 0 || b[0] == '.' || b[i-1] == '.' || hasDoubleDot(b[:i]) {
		return newError(ErrBadHeader, 0, "bad event type")
	}
	e.Type = b[:i]
	rest := trimWS(b[i:])
	if len(rest) == 0 {
		return nil
	}
	if rest[0] != ';' {
		return newError(ErrBadHeader, i, "bad event parameter")
	}
	p := trimWS(rest[1:])
	var id []byte
	hasID := false
	var l paramList
	if l.scan(p) {
		id, hasID = l.get(p, "id")
	} else if !eachHeaderParamSlow(p, func(name, value []byte) bool {
		if len(name) == 2 && equalFold(name, "id") {
			id, hasID = value, true
		}
		return true
	}) {
		return newError(ErrBadHeader, i, "bad event parameter")
	}
	e.Params = p
	if hasID {
		if len(id) == 0 {
			return newError(ErrBadHeader, i, "empty event id")
		}
		e.ID = id
	}
	return nil
}

// hasDoubleDot reports whether b holds "..", an empty event-template.
// Event types are short and mostly without a dot: a loop beats a call to
// bytes.Contains.
func hasDoubleDot(b []byte) bool {
	for i := 1; i < len(b); i++ {
		if b[i] == '.' && b[i-1] == '.' {
			return true
		}
	}
	return false
}

// Event parses the Event header field.
func (m *Message) Event() (Event, error) {
	var e Event
	v := m.Get(HeaderEvent)
	if !m.Has(HeaderEvent) {
		return e, m.missing(HeaderEvent)
	}
	if err := e.Parse(v); err != nil {
		return e, m.fieldError(HeaderEvent, v, err)
	}
	return e, nil
}

// SubscriptionState is the Subscription-State header field
// (RFC 6665 §8.2.3): substate-value *( SEMI subexp-params ).
type SubscriptionState struct {
	State         []byte // "active", "pending", "terminated" or an extension
	Reason        []byte // reason parameter, nil if absent
	Expires       uint32
	HasExpires    bool
	RetryAfter    uint32
	HasRetryAfter bool
	Params        Params
	// BadParams is set when the substate-value is well formed but the
	// parameters after its ';' are not (linphone 5.1 sends
	// "terminated;reason=reason=noresource"). Parse then keeps the state
	// and drops every parameter: Reason, Expires, RetryAfter and Params are
	// zero, as if none had been sent.
	BadParams bool
}

// Is reports whether the state is s ("active", "pending", "terminated"),
// case-insensitively.
func (s *SubscriptionState) Is(state string) bool { return equalFold(s.State, state) }

// Parse parses a Subscription-State value. It fails only when the
// substate-value is missing or followed by something other than ';': a
// malformed parameter list is understood by the state alone (BadParams),
// since the state is what a subscriber must act on (RFC 6665 §4.1.3) and
// an unknown reason counts as none.
func (s *SubscriptionState) Parse(b []byte) error {
	*s = SubscriptionState{}
	b = trimWS(b)
	i := 0
	for i < len(b) && isToken(b[i]) {
		i++
	}
	if i == 0 {
		return newError(ErrBadHeader, 0, "bad substate-value")
	}
	s.State = b[:i]
	rest := trimWS(b[i:])
	if len(rest) == 0 {
		return nil
	}
	if rest[0] != ';' {
		return newError(ErrBadHeader, i, "bad Subscription-State parameter")
	}
	if !s.parseParams(trimWS(rest[1:])) {
		*s = SubscriptionState{State: s.State, BadParams: true}
	}
	return nil
}

// parseParams fills the fields of s from the parameters p, reporting
// whether they are well formed.
func (s *SubscriptionState) parseParams(p Params) bool {
	var expires, retry []byte
	var hasExpires, hasRetry bool
	var l paramList
	if l.scan(p) {
		s.Reason, _ = l.get(p, "reason")
		expires, hasExpires = l.get(p, "expires")
		retry, hasRetry = l.get(p, "retry-after")
	} else if !eachHeaderParamSlow(p, func(name, value []byte) bool {
		switch {
		case len(name) == 6 && equalFold(name, "reason"):
			s.Reason = value
		case len(name) == 7 && equalFold(name, "expires"):
			expires, hasExpires = value, true
		case len(name) == 11 && equalFold(name, "retry-after"):
			retry, hasRetry = value, true
		}
		return true
	}) {
		return false
	}
	s.Params = p
	var ok bool
	if hasExpires {
		if s.Expires, ok = parseUint32(expires); !ok {
			return false
		}
		s.HasExpires = true
	}
	if hasRetry {
		if s.RetryAfter, ok = parseUint32(retry); !ok {
			return false
		}
		s.HasRetryAfter = true
	}
	return true
}

// SubscriptionState parses the Subscription-State header field.
func (m *Message) SubscriptionState() (SubscriptionState, error) {
	var s SubscriptionState
	v := m.Get(HeaderSubscriptionState)
	if !m.Has(HeaderSubscriptionState) {
		return s, m.missing(HeaderSubscriptionState)
	}
	if err := s.Parse(v); err != nil {
		return s, m.fieldError(HeaderSubscriptionState, v, err)
	}
	return s, nil
}

// ReferSub parses the Refer-Sub header field (RFC 4488 §7.1:
// "true" / "false" *( SEMI exten )). present is false when it is absent.
func (m *Message) ReferSub() (value, present bool, err error) {
	v := m.Get(HeaderReferSub)
	if !m.Has(HeaderReferSub) {
		return false, false, nil
	}
	tok := v
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		tok = trimWS(v[:i])
		if !checkHeaderParams(trimWS(v[i+1:])) {
			return false, true, m.fieldError(HeaderReferSub, v, newError(ErrBadHeader, i, "bad parameter"))
		}
	}
	switch {
	case equalFold(tok, "true"):
		return true, true, nil
	case equalFold(tok, "false"):
		return false, true, nil
	}
	return false, true, m.fieldError(HeaderReferSub, v, newError(ErrBadHeader, 0, "value not true or false"))
}
