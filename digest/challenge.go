package digest

// Challenge is a parsed Digest challenge: the value of a WWW-Authenticate
// or Proxy-Authenticate header field (RFC 3261 §20.27, §20.44; RFC 7616
// §3.3). Strings are copies: a Challenge outlives the message it came from.
type Challenge struct {
	Realm     string
	Domain    string // space-separated URIs, as given; unused in SIP
	Nonce     string
	Opaque    string
	HasOpaque bool // the challenge had an opaque, to be echoed even if empty
	Stale     bool // the previous nonce was stale: retry without asking the user
	// Algorithm is the parsed algorithm, MD5 when absent; AlgorithmName is
	// the name as the challenge wrote it ("" when absent), echoed verbatim
	// in the credentials.
	Algorithm     Algorithm
	AlgorithmName string
	QOP           QOP  // qop-options offered; 0: none (RFC 2069 compatibility)
	UTF8          bool // charset=UTF-8 (RFC 7616 §4)
	Userhash      bool // userhash=true: send H(username:realm) (RFC 7616 §3.4.4)
}

// ParseChallenge parses a WWW-Authenticate or Proxy-Authenticate value.
// RFC 3261 §7.3.1 keeps one challenge per header field value, so the
// value holds exactly one. Errors wrap ErrUnsupportedScheme (not Digest),
// ErrUnsupportedAlgorithm, ErrUnsupportedQOP (qop offered, none known) or
// ErrMalformed (grammar, missing realm or nonce, a repeated parameter).
// Unknown parameters are ignored (RFC 7616 §3.3).
func ParseChallenge(b []byte) (Challenge, error) {
	var c Challenge
	rest, err := scheme(b)
	if err != nil {
		return c, err
	}
	s := scanner{b: rest}
	var haveRealm, haveNonce bool
	var qop []byte
	for {
		name, value, ok, reason := s.next()
		if !ok {
			if reason != "" {
				return Challenge{}, fail(ErrMalformed, c.Realm, reason)
			}
			break
		}
		switch {
		case equalFold(name, "realm"):
			c.Realm, haveRealm = string(value), true
		case equalFold(name, "nonce"):
			c.Nonce, haveNonce = string(value), true
		case equalFold(name, "domain"):
			c.Domain = string(value)
		case equalFold(name, "opaque"):
			c.Opaque, c.HasOpaque = string(value), true
		case equalFold(name, "stale"):
			// RFC 2617 §3.2.1: anything but "true" (any case) is false.
			c.Stale = equalFold(value, "true")
		case equalFold(name, "algorithm"):
			a, ok := ParseAlgorithm(value)
			if !ok {
				return Challenge{}, fail(ErrUnsupportedAlgorithm, "", "algorithm "+string(value))
			}
			c.Algorithm, c.AlgorithmName = a, string(value)
		case equalFold(name, "qop"):
			qop = value
		case equalFold(name, "charset"):
			c.UTF8 = equalFold(value, "UTF-8")
		case equalFold(name, "userhash"):
			c.Userhash = equalFold(value, "true")
		}
	}
	if !haveRealm {
		return Challenge{}, fail(ErrMalformed, "", "missing realm")
	}
	if !haveNonce {
		return Challenge{}, fail(ErrMalformed, c.Realm, "missing nonce")
	}
	if qop != nil {
		// qop-options: a comma-separated list of tokens; unknown ones are
		// ignored, but a list of nothing known cannot be answered.
		for len(qop) > 0 {
			i := 0
			for i < len(qop) && qop[i] != ',' {
				i++
			}
			tok := qop[skipLWS(qop[:i], 0):i]
			for len(tok) > 0 && isLWS(tok[len(tok)-1]) {
				tok = tok[:len(tok)-1]
			}
			c.QOP |= parseQOP(tok)
			if i == len(qop) {
				break
			}
			qop = qop[i+1:]
		}
		if c.QOP == 0 {
			return Challenge{}, fail(ErrUnsupportedQOP, c.Realm, "no known qop offered")
		}
	} else if c.Algorithm.Session() {
		// RFC 3261 §22.4 item 8: -sess needs a cnonce, which needs qop.
		return Challenge{}, fail(ErrMalformed, c.Realm, c.AlgorithmName+" without qop")
	}
	return c, nil
}

// AppendChallenge appends c as a WWW-Authenticate or Proxy-Authenticate
// value: "Digest realm=..., nonce=..., ...". Parsing what it writes gives
// c back.
func AppendChallenge(dst []byte, c *Challenge) []byte {
	dst = append(dst, "Digest "...)
	first := true
	dst = appendQuoted(appendParam(dst, &first, "realm"), c.Realm)
	if c.Domain != "" {
		dst = appendQuoted(appendParam(dst, &first, "domain"), c.Domain)
	}
	dst = appendQuoted(appendParam(dst, &first, "nonce"), c.Nonce)
	if c.HasOpaque {
		dst = appendQuoted(appendParam(dst, &first, "opaque"), c.Opaque)
	}
	if c.Stale {
		dst = append(appendParam(dst, &first, "stale"), "true"...)
	}
	dst = appendAlgorithm(dst, &first, c.Algorithm, c.AlgorithmName)
	if c.QOP != 0 {
		dst = appendQuoted(appendParam(dst, &first, "qop"), c.QOP.String())
	}
	if c.UTF8 {
		dst = append(appendParam(dst, &first, "charset"), "UTF-8"...)
	}
	if c.Userhash {
		dst = append(appendParam(dst, &first, "userhash"), "true"...)
	}
	return dst
}

// appendAlgorithm writes the algorithm as named, or by its registry name
// when the name is empty and the algorithm is not the default MD5, so a
// hand-built value still says what it means.
func appendAlgorithm(dst []byte, first *bool, a Algorithm, name string) []byte {
	switch {
	case name != "":
		if _, ok := ParseAlgorithm(name); ok {
			return append(appendParam(dst, first, "algorithm"), name...)
		}
		return append(appendParam(dst, first, "algorithm"), a.String()...)
	case a != MD5:
		return append(appendParam(dst, first, "algorithm"), a.String()...)
	}
	return dst
}

// String returns c as AppendChallenge writes it.
func (c *Challenge) String() string { return string(AppendChallenge(nil, c)) }
