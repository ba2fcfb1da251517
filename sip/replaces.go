package sip

// Replaces is a Replaces header value (RFC 3891 §6.1):
// callid *( SEMI replaces-param ), naming the dialog that the INVITE
// carrying it is to replace. Every []byte is a view into the parsed value.
//
// The tags are seen from the UA that receives the INVITE (RFC 3891 §3: it
// matches them "as if they were tags present in an incoming request"):
// ToTag is that UA's own (local) tag in the dialog to replace and FromTag
// is its peer's (remote) tag, whoever sent the INVITE that created the
// dialog. In an attended transfer (RFC 5589 §7.3) the transferor, writing
// the Replaces for the dialog it has with the transfer target, therefore
// puts the target's tag in to-tag and its own tag in from-tag.
type Replaces struct {
	CallID    []byte // compared byte for byte (RFC 3261 §20.8)
	ToTag     []byte // the recipient's local tag
	FromTag   []byte // the recipient's remote tag
	EarlyOnly bool   // early-only: replace only an early dialog (RFC 3891 §3)
	Params    Params // every parameter after the Call-ID, tags included
}

// Parse parses a Replaces value. The to-tag and from-tag parameters are
// required, exactly once each, with token values.
func (r *Replaces) Parse(b []byte) error {
	*r = Replaces{}
	callID, params, err := splitCallID(b)
	if err != nil {
		return err
	}
	r.CallID = callID
	bad := "bad parameter"
	// RFC 3891 §6.1: "exactly one to-tag and exactly one from-tag";
	// eachHeaderParam refuses any parameter named twice.
	ok := eachHeaderParam(params, func(name, value []byte) bool {
		switch {
		case equalFold(name, "to-tag"):
			r.ToTag = value
			if !isTokenString(value) {
				bad = "bad to-tag"
				return false
			}
		case equalFold(name, "from-tag"):
			r.FromTag = value
			if !isTokenString(value) {
				bad = "bad from-tag"
				return false
			}
		case equalFold(name, "early-only"):
			// early-flag = "early-only": a flag, never a name=value.
			if r.EarlyOnly = true; value != nil {
				bad = "early-only with a value"
				return false
			}
		}
		return true
	})
	switch {
	case params != nil && !ok:
		return newError(ErrBadHeader, len(callID), bad)
	case r.ToTag == nil:
		return newError(ErrBadHeader, len(callID), "missing to-tag")
	case r.FromTag == nil:
		return newError(ErrBadHeader, len(callID), "missing from-tag")
	}
	r.Params = params
	return nil
}

// Match reports whether r names the dialog with the given Call-ID and
// tags, as the UA that received the INVITE holds them (RFC 3891 §3: to-tag
// against the local tag, from-tag against the remote tag). The Call-ID and
// tags compare byte for byte, except that, for RFC 2543 peers, a tag of
// "0" also matches an empty one (RFC 3891 §6.1).
func (r *Replaces) Match(callID, localTag, remoteTag []byte) bool {
	return string(r.CallID) == string(callID) &&
		tagMatch(r.ToTag, localTag) && tagMatch(r.FromTag, remoteTag)
}

// tagMatch compares a tag of a Replaces with a dialog's tag.
func tagMatch(want, have []byte) bool {
	return string(want) == string(have) || string(want) == "0" && len(have) == 0
}

// Replaces parses the Replaces header field. RFC 3891 §3: a request with
// more than one is answered 400, so more than one is an error here.
func (m *Message) Replaces() (Replaces, error) {
	var r Replaces
	v := m.Get(HeaderReplaces)
	if !m.Has(HeaderReplaces) {
		return r, m.missing(HeaderReplaces)
	}
	if m.fieldCount(HeaderReplaces) > 1 {
		return r, newError(ErrBadHeader, -1, "more than one Replaces")
	}
	if err := r.Parse(v); err != nil {
		return r, m.fieldError(HeaderReplaces, v, err)
	}
	return r, nil
}

// AppendReplaces appends a Replaces header value,
// "callid;to-tag=toTag;from-tag=fromTag" with ";early-only" when earlyOnly
// is set. toTag is the tag of the UA that will receive the INVITE, fromTag
// its peer's (see Replaces). As with the other builders, CR and LF are
// written as spaces.
func AppendReplaces[T Text](dst []byte, callID, toTag, fromTag T, earlyOnly bool) []byte {
	dst = appendSafe(dst, callID)
	dst = append(dst, ";to-tag="...)
	dst = appendSafe(dst, toTag)
	dst = append(dst, ";from-tag="...)
	dst = appendSafe(dst, fromTag)
	if earlyOnly {
		dst = append(dst, ";early-only"...)
	}
	return dst
}

// splitCallID splits a value of the form callid *( SEMI param ), as
// Replaces and Target-Dialog have, into the Call-ID and the checked
// parameter list, nil when there is none.
func splitCallID(b []byte) (callID []byte, params Params, err error) {
	b = trimWS(b)
	i := 0
	// callid = word [ "@" word ] (RFC 3261 §25.1); neither ';' nor
	// whitespace is a word character, so either ends it.
	for i < len(b) && (charClass[b[i]]&cWord != 0 || b[i] == '@') {
		i++
	}
	if !validCallID(b[:i]) {
		return nil, nil, newError(ErrBadHeader, 0, "bad Call-ID")
	}
	rest := trimWS(b[i:])
	if len(rest) == 0 {
		return b[:i], nil, nil
	}
	if rest[0] != ';' {
		return nil, nil, newError(ErrBadHeader, i, "bad Call-ID")
	}
	params = trimWS(rest[1:])
	if len(params) == 0 {
		// RFC 3261 §25: a SEMI comes with a parameter.
		return nil, nil, newError(ErrBadHeader, i, "bad parameter")
	}
	return b[:i], params, nil
}
