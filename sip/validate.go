package sip

// Validate checks the header fields a user agent relies on before it acts on
// a message, beyond the framing Parse checks. It returns the first problem
// as a *ParseError whose StatusCode and ReasonPhrase a server can send back.
//
// For every message: exactly one To, From, Call-ID and CSeq, each well
// formed, with a legal Call-ID (RFC 3261 §8.1.1, §20, RFC 4475 §3.3.8); at
// least one Via, every Via value well formed; at most one of the other
// single-valued fields the stack reads (Max-Forwards, Content-Type,
// Expires, Event, Subscription-State, Refer-Sub, Referred-By); every
// Contact, Route and Record-Route value, Max-Forwards (0-255), Expires,
// Retry-After, Content-Type, Event, Subscription-State, Refer-Sub,
// Referred-By and the token lists well formed when present (of
// Subscription-State only the state: SubscriptionState.Parse drops
// malformed parameters). For a request additionally: the Request-URI
// scheme is sip, sips or tel (else ErrUnsupportedScheme, 416, §8.2.2.1)
// and the CSeq method equals the request method (§8.1.1.5).
//
// Validate does not check Refer-To, whose count the REFER recipient must
// answer with its own rule (RFC 3515 §2.4.1), nor unknown header fields.
// Max-Forwards is not required: RFC 2543 peers omit it (RFC 4475 §3.4.1).
//
// For a message/sipfrag (ParseFragment) no header field is mandatory, but
// those present must be valid (RFC 3420 §2).
//
// A valid m keeps the top Via, CSeq and tags Validate parsed, which TopVia,
// CSeq, FromTag and ToTag then return without parsing again; so, like
// Parse, Validate must not run concurrently with other uses of m.
func (m *Message) Validate() error {
	m.checked = false
	if !m.fragment {
		for _, h := range [...]HeaderName{HeaderTo, HeaderFrom, HeaderCallID, HeaderCSeq, HeaderVia} {
			if !m.Has(h) {
				return newError(ErrMissingHeader, -1, "missing "+h.String())
			}
		}
	}
	if m.dup&singleValued != 0 {
		for _, h := range singleValuedOrder {
			if m.dup&(1<<h) != 0 {
				return newError(ErrBadHeader, -1, "more than one "+h.String())
			}
		}
	}
	var na NameAddr
	var fromTag, toTag []byte
	for _, h := range [...]HeaderName{HeaderTo, HeaderFrom, HeaderReferredBy} {
		if m.Has(h) {
			v := m.Get(h)
			tag, err := na.parse(v)
			if err != nil {
				return m.fieldError(h, v, err)
			}
			switch h {
			case HeaderTo:
				toTag = tag
			case HeaderFrom:
				fromTag = tag
			}
		}
	}
	if id := m.CallID(); m.Has(HeaderCallID) && !validCallID(id) {
		return m.fieldError(HeaderCallID, id, newError(ErrBadHeader, 0, "bad value"))
	}
	if m.request && !m.fragment && m.requestURI.Scheme == SchemeOther {
		// RFC 3261 §8.2.2.1: a scheme the UAS does not support: 416. tel is
		// known (RFC 3966); whether the UA serves that number is its 404.
		return newError(ErrUnsupportedScheme, -1, "unsupported URI scheme in Request-URI")
	}
	var cseq CSeq
	if m.Has(HeaderCSeq) {
		v := m.Get(HeaderCSeq)
		if err := cseq.Parse(v); err != nil {
			return m.fieldError(HeaderCSeq, v, err)
		}
		if m.request && string(cseq.MethodName) != string(m.methodName) {
			// RFC 3261 §8.1.1.5: the CSeq method MUST match the request's.
			return newError(ErrBadHeader, -1, "CSeq method does not match request method")
		}
	}
	if err := m.checkVias(); err != nil {
		return err
	}
	for _, h := range [...]HeaderName{HeaderContact, HeaderRoute, HeaderRecordRoute} {
		if err := m.checkNameAddrs(h, &na); err != nil {
			return err
		}
	}
	if _, _, err := m.MaxForwards(); err != nil {
		return err
	}
	if _, _, err := m.Expires(); err != nil {
		return err
	}
	if _, _, err := m.RetryAfter(); err != nil {
		return err
	}
	if _, _, err := m.ReferSub(); err != nil {
		return err
	}
	if m.Has(HeaderContentType) {
		if _, err := m.ContentType(); err != nil {
			return err
		}
	}
	if m.Has(HeaderEvent) {
		if _, err := m.Event(); err != nil {
			return err
		}
	}
	if m.Has(HeaderSubscriptionState) {
		if _, err := m.SubscriptionState(); err != nil {
			return err
		}
	}
	if err := m.checkWarning(); err != nil {
		return err
	}
	for _, h := range [...]HeaderName{
		HeaderAllow, HeaderSupported, HeaderRequire, HeaderProxyRequire,
		HeaderUnsupported, HeaderAllowEvents,
	} {
		if err := m.checkTokenList(h); err != nil {
			return err
		}
	}
	// Everything parsed; keep what the transaction layer reads next (the
	// top Via is in m.topVia already).
	if m.Has(HeaderVia) && m.Has(HeaderCSeq) {
		m.cseq, m.fromTag, m.toTag, m.checked = cseq, fromTag, toTag, true
	}
	return nil
}

// checkVias checks every Via value, walking the fields as checkNameAddrs
// does. The top one is parsed into m.topVia, which TopVia returns once
// Validate has set m.checked, so that it is not copied on the way.
func (m *Message) checkVias() error {
	if !m.Has(HeaderVia) {
		return nil
	}
	fields := m.Fields()[m.first[HeaderVia]-1:]
	if m.dup&(1<<HeaderVia) == 0 {
		fields = fields[:1]
	}
	into := &m.topVia
	var via Via
	for i := range fields {
		f := &fields[i]
		if f.Name != HeaderVia {
			continue
		}
		for rest := f.Value; ; {
			end := ListElementEnd(rest)
			v := trimWS(rest[:end])
			if err := into.Parse(v); err != nil {
				return m.fieldError(HeaderVia, v, err)
			}
			into = &via
			if end == len(rest) {
				break
			}
			rest = rest[end+1:]
		}
	}
	return nil
}

// checkNameAddrs checks every value of the list header h (Contact, Route,
// Record-Route) is a name-addr or addr-spec, only a Contact may be "*",
// and an expires parameter is delta-seconds. It visits the values as
// Values does, walking the fields named h from the first, or only the
// first when Parse saw no other.
func (m *Message) checkNameAddrs(h HeaderName, na *NameAddr) error {
	if !m.Has(h) {
		return nil
	}
	fields := m.Fields()[m.first[h]-1:]
	if m.dup&(1<<h) == 0 {
		fields = fields[:1]
	}
	for i := range fields {
		f := &fields[i]
		if f.Name != h {
			continue
		}
		for rest := f.Value; ; {
			end := ListElementEnd(rest)
			v := trimWS(rest[:end])
			if err := na.Parse(v); err != nil {
				return m.fieldError(h, v, err)
			}
			if na.Wildcard && h != HeaderContact {
				return m.fieldError(h, v, newError(ErrBadHeader, 0, "bad value"))
			}
			if e, has := na.Params.Get("expires"); has {
				if _, ok := parseUint32(e); !ok {
					return m.fieldError(h, v, newError(ErrBadHeader, 0, "bad expires parameter"))
				}
			}
			if end == len(rest) {
				break
			}
			rest = rest[end+1:]
		}
	}
	return nil
}

// singleValuedOrder lists the fields Validate allows once, in the order
// it reports them; singleValued has their bits of Message.dup, so that the
// usual message, with none repeated, is cleared with one test.
var singleValuedOrder = [...]HeaderName{
	HeaderTo, HeaderFrom, HeaderCallID, HeaderCSeq, HeaderMaxForwards,
	HeaderContentType, HeaderExpires, HeaderEvent, HeaderSubscriptionState,
	HeaderReferSub, HeaderReferredBy,
}

var singleValued = func() (bits uint64) {
	for _, h := range singleValuedOrder {
		bits |= 1 << h
	}
	return bits
}()

// numHeaders must fit the bits of Message.dup.
var _ [64 - numHeaders]struct{}

// checkWarning checks each warning-value starts with warn-code = 3DIGIT and
// SP (RFC 3261 §20.43; RFC 4475 §3.1.2.5 has a 4-digit code).
func (m *Message) checkWarning() error {
	for it := m.Values(HeaderWarning); ; {
		v, ok := it.Next()
		if !ok {
			return nil
		}
		if len(v) < 4 || !isDigit(v[0]) || !isDigit(v[1]) || !isDigit(v[2]) || v[3] != ' ' {
			return m.fieldError(HeaderWarning, v, newError(ErrBadHeader, 0, "bad warn-code"))
		}
	}
}

// fieldCount returns the number of header fields named h.
func (m *Message) fieldCount(h HeaderName) int {
	switch {
	case !m.Has(h):
		return 0
	case m.dup&(1<<h) == 0:
		return 1
	}
	n := 0
	for _, f := range m.Fields()[m.first[h]-1:] {
		if f.Name == h {
			n++
		}
	}
	return n
}
