package sip

// CSeq is the CSeq header field: a sequence number and a method
// (RFC 3261 §20.16).
type CSeq struct {
	Seq        uint32 // RFC 3261 §8.1.1.5: expressible as a 32-bit unsigned integer
	Method     Method
	MethodName []byte // as written; extension methods are MethodOther
}

// Parse parses CSeq = 1*DIGIT LWS Method.
func (c *CSeq) Parse(b []byte) error {
	*c = CSeq{}
	b = trimWS(b)
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	seq, ok := parseUint32(b[:i])
	if !ok {
		return newError(ErrBadHeader, 0, "bad CSeq number")
	}
	if i == len(b) || !isWS(b[i]) {
		return newError(ErrBadHeader, i, "bad CSeq")
	}
	method := trimWS(b[i:])
	if !isTokenString(method) {
		return newError(ErrBadHeader, i, "bad CSeq method")
	}
	c.Seq, c.MethodName, c.Method = seq, method, LookupMethod(method)
	return nil
}

// CSeq parses the CSeq header field.
func (m *Message) CSeq() (CSeq, error) {
	if m.checked {
		return m.cseq, nil
	}
	var c CSeq
	v := m.Get(HeaderCSeq)
	if !m.Has(HeaderCSeq) {
		return c, m.missing(HeaderCSeq)
	}
	if err := c.Parse(v); err != nil {
		return c, m.fieldError(HeaderCSeq, v, err)
	}
	return c, nil
}

// CallID returns the Call-ID value, nil if absent. Call-IDs compare
// case-sensitively, byte for byte (RFC 3261 §20.8).
func (m *Message) CallID() []byte { return m.Get(HeaderCallID) }

// validCallID checks callid = word [ "@" word ] (RFC 3261 §25.1).
func validCallID(b []byte) bool {
	// '@' is no word character: the first word ends at it or at a fault.
	at := skipClass(b, 0, cWord)
	if at == len(b) {
		return at > 0
	}
	return at > 0 && b[at] == '@' && at < len(b)-1 && skipClass(b, at+1, cWord) == len(b)
}
