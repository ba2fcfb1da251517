package sip

import "bytes"

// NameAddr is the value of From, To, Contact, Route, Record-Route, Reply-To,
// Refer-To and Referred-By: a name-addr ("Bob" <sip:bob@host>;tag=1) or an
// addr-spec (sip:bob@host;tag=1), with header parameters (RFC 3261 §20.10,
// §25). Every []byte is a view into the parsed value.
type NameAddr struct {
	DisplayName []byte // quoted: the text between the quotes, escapes kept; else the tokens
	Quoted      bool   // DisplayName was a quoted-string
	Bracketed   bool   // the URI was enclosed in < >
	Wildcard    bool   // the value was "*" (Contact in REGISTER, RFC 3261 §10.2.2)
	URI         URI
	Params      Params // header parameters after the URI, without the leading ';'
}

// Tag returns the tag parameter (RFC 3261 §19.3), nil if absent.
func (n *NameAddr) Tag() []byte {
	v, _ := n.Params.Get("tag")
	return v
}

// Expires returns the expires parameter of a Contact and whether it is
// present and valid (delta-seconds fitting 32 bits).
func (n *NameAddr) Expires() (uint32, bool) {
	v, ok := n.Params.Get("expires")
	if !ok {
		return 0, false
	}
	return parseUint32(v)
}

// Parse parses b as a name-addr or addr-spec with parameters.
func (n *NameAddr) Parse(b []byte) error {
	_, err := n.parse(b)
	return err
}

// parse is Parse that also returns the tag parameter, found in the same
// pass over the parameters.
func (n *NameAddr) parse(b []byte) (tag []byte, err error) {
	*n = NameAddr{}
	b = trimWS(b)
	if len(b) == 1 && b[0] == '*' {
		n.Wildcard = true
		return nil, nil
	}
	var rest []byte
	switch {
	case len(b) > 0 && b[0] == '<':
		// No display name: the usual Contact, Route and Record-Route.
		n.DisplayName, rest = b[:0], b
	case len(b) > 0 && b[0] == '"':
		end := quotedEnd(b, 0)
		if end < 0 {
			return nil, newError(ErrBadHeader, 0, "unterminated quoted string")
		}
		n.DisplayName, n.Quoted = b[1:end-1], true
		after := trimWS(b[end:])
		if len(after) == 0 || after[0] != '<' {
			return nil, newError(ErrBadHeader, end, "quoted display name without <URI>")
		}
		rest = after
	default:
		lt := bytes.IndexByte(b, '<')
		if lt < 0 {
			return n.parseAddrSpec(b)
		}
		// display-name = *(token LWS): tokens and whitespace only; RFC 4475
		// §3.1.1.6 shows no LWS is needed before '<'.
		n.DisplayName = trimWS(b[:lt])
		for _, c := range n.DisplayName {
			if !isToken(c) && !isWS(c) {
				return nil, newError(ErrBadHeader, 0, "bad display name")
			}
		}
		rest = b[lt:]
	}
	gt := bytes.IndexByte(rest, '>')
	if gt < 0 {
		return nil, newError(ErrBadHeader, len(b)-len(rest), "missing '>'")
	}
	// n is zero but for what was set above: the URI needs no clearing.
	n.URI.Raw = rest[1:gt]
	if err := n.URI.parse(n.URI.Raw); err != nil {
		return nil, shiftError(err, len(b)-len(rest)+1)
	}
	n.Bracketed = true
	return n.parseParams(rest[gt+1:])
}

// parseAddrSpec handles the form without angle brackets.
func (n *NameAddr) parseAddrSpec(b []byte) ([]byte, error) {
	end := 0
	for end < len(b) && b[end] != ';' && !isWS(b[end]) {
		end++
	}
	uri := b[:end]
	// RFC 3261 §20: a URI with a comma, question mark or semicolon MUST be
	// in angle brackets; unbracketed, ';' starts header parameters.
	if bytes.IndexByte(uri, ',') >= 0 || bytes.IndexByte(uri, '?') >= 0 {
		return nil, newError(ErrBadHeader, 0, "addr-spec with ',' or '?' outside <>")
	}
	if err := n.URI.Parse(uri); err != nil {
		return nil, err
	}
	return n.parseParams(b[end:])
}

// parseParams checks *( SEMI generic-param ) after the URI and returns the
// tag parameter, nil if absent.
func (n *NameAddr) parseParams(b []byte) ([]byte, error) {
	b = trimWS(b)
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != ';' {
		return nil, newError(ErrBadHeader, 0, "unexpected text after URI")
	}
	p := trimWS(b[1:])
	// RFC 3261 §25: tag-param = "tag" EQUAL token; a tag without a value
	// would match nothing and make a response add a second one.
	var tag []byte
	badTag := false
	var l paramList
	ok := true
	if l.scan(p) {
		// scan took the value for a token unless it is quoted.
		if v, has := l.get(p, "tag"); has {
			tag, badTag = v, v == nil || v[0] == '"'
		}
	} else {
		ok = eachHeaderParamSlow(p, func(name, value []byte) bool {
			if len(name) == 3 && equalFold(name, "tag") {
				tag, badTag = value, !isTokenString(value)
			}
			return true
		})
	}
	switch {
	case !ok:
		return nil, newError(ErrBadHeader, 0, "bad header parameter")
	case badTag:
		return nil, newError(ErrBadHeader, 0, "bad tag parameter")
	}
	n.Params = p
	return tag, nil
}

// shiftError moves the offset of a *ParseError from a sub-slice parser to
// the enclosing value.
func shiftError(err error, by int) error {
	pe, ok := err.(*ParseError)
	if !ok {
		return err
	}
	return newError(pe.Err, pe.Offset+by, pe.Reason)
}

// FromTag returns the tag parameter of the From header field (RFC 3261
// §19.3), nil if there is none. It reads only the parameters after the URI,
// without checking the URI itself: it is for the hot path of matching
// transactions and dialogs, on messages Validate has accepted.
func (m *Message) FromTag() []byte {
	if m.checked {
		return m.fromTag
	}
	return headerTag(m.Get(HeaderFrom))
}

// ToTag returns the tag parameter of the To header field, as FromTag does.
func (m *Message) ToTag() []byte {
	if m.checked {
		return m.toTag
	}
	return headerTag(m.Get(HeaderTo))
}

// headerTag returns the tag parameter of a name-addr or addr-spec value.
func headerTag(b []byte) []byte {
	p := nameAddrParams(b)
	// Usually the tag comes first, a token: read it where it stands.
	// Params.Get, which splits the list as Params.Next does, returns the
	// same for such a list and reads any other.
	if len(p) > 4 && p[3] == '=' && equalFold(p[:3], "tag") {
		i := 4
		for i < len(p) && isToken(p[i]) {
			i++
		}
		if i > 4 && (i == len(p) || p[i] == ';') {
			return p[4:i]
		}
	}
	tag, _ := p.Get("tag")
	return tag
}

// nameAddrParams returns the header parameters that follow the URI of a
// name-addr or addr-spec, as NameAddr.Parse finds them on a valid value:
// after the '>' of a bracketed URI (skipping a quoted display name, which
// may hold '<'), else after the first ';' (RFC 3261 §20: unbracketed, ';'
// starts header parameters).
func nameAddrParams(b []byte) Params {
	b = trimWS(b)
	if len(b) > 0 && b[0] == '"' {
		end := quotedEnd(b, 0)
		if end < 0 {
			return nil
		}
		b = b[end:]
	}
	if lt := bytes.IndexByte(b, '<'); lt >= 0 {
		gt := bytes.IndexByte(b[lt:], '>')
		if gt < 0 {
			return nil
		}
		b = b[lt+gt+1:]
	}
	semi := bytes.IndexByte(b, ';')
	if semi < 0 {
		return nil
	}
	return trimWS(b[semi+1:])
}

// From parses the From header field (RFC 3261 §20.20).
func (m *Message) From() (NameAddr, error) { return m.nameAddr(HeaderFrom) }

// To parses the To header field (RFC 3261 §20.39).
func (m *Message) To() (NameAddr, error) { return m.nameAddr(HeaderTo) }

// ReferTo parses the first Refer-To header field (RFC 3515 §2.1). Whether
// there is exactly one is for the REFER recipient to check (§2.4.1).
func (m *Message) ReferTo() (NameAddr, error) { return m.nameAddr(HeaderReferTo) }

// ReferredBy parses the Referred-By header field (RFC 3892 §3).
func (m *Message) ReferredBy() (NameAddr, error) { return m.nameAddr(HeaderReferredBy) }

func (m *Message) nameAddr(h HeaderName) (NameAddr, error) {
	var n NameAddr
	v := m.Get(h)
	if v == nil && !m.Has(h) {
		return n, m.missing(h)
	}
	if err := n.Parse(v); err != nil {
		return n, m.fieldError(h, v, err)
	}
	return n, nil
}

// missing returns the error for an absent header field.
func (m *Message) missing(h HeaderName) error {
	return newError(ErrNotFound, -1, "no "+h.String()+" header field")
}

// fieldError turns an error from parsing value v of h into one whose offset
// is in the message and whose reason names the header ("bad URI in To").
func (m *Message) fieldError(h HeaderName, v []byte, err error) error {
	pe, ok := err.(*ParseError)
	if !ok {
		return err
	}
	off := -1
	if v != nil && cap(m.raw) >= cap(v) {
		off = cap(m.raw) - cap(v) + max(pe.Offset, 0)
	}
	return newError(ErrBadHeader, off, pe.Reason+" in "+h.String())
}
