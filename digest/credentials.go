package digest

// Credentials is a parsed Digest response: the value of an Authorization
// or Proxy-Authorization header field (RFC 3261 §20.7, §20.28; RFC 7616
// §3.4). Strings are copies.
type Credentials struct {
	Username string // the user's name, or H(name:realm) when Userhash
	Realm    string
	Nonce    string
	URI      string // digest-uri: the Request-URI (RFC 3261 §22.4 item 3)
	Response string // hex request-digest
	// Algorithm and AlgorithmName as in Challenge: MD5 and "" when absent.
	Algorithm     Algorithm
	AlgorithmName string
	CNonce        string
	Opaque        string
	HasOpaque     bool
	QOP           QOP    // the one chosen; 0 when absent (RFC 2069)
	NC            uint32 // nonce count; 0 when absent
	Userhash      bool
}

// ParseCredentials parses an Authorization or Proxy-Authorization value.
// Errors wrap ErrUnsupportedScheme, ErrUnsupportedAlgorithm,
// ErrUnsupportedQOP or ErrMalformed: a repeated parameter; a missing
// username, realm, nonce, uri or response; a response that is not the hex
// of the algorithm's hash; qop without cnonce and nc (RFC 7616 §3.4); an nc
// that is not 8 hex digits (RFC 3261 §25).
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	rest, err := scheme(b)
	if err != nil {
		return c, err
	}
	s := scanner{b: rest}
	const (
		haveUsername = 1 << iota
		haveRealm
		haveNonce
		haveURI
		haveResponse
		haveCNonce
		haveAll = haveUsername | haveRealm | haveNonce | haveURI | haveResponse
	)
	have := 0
	var response, nc []byte
	for {
		name, value, ok, reason := s.next()
		if !ok {
			if reason != "" {
				return Credentials{}, fail(ErrMalformed, c.Realm, reason)
			}
			break
		}
		switch {
		case equalFold(name, "username"):
			c.Username, have = string(value), have|haveUsername
		case equalFold(name, "realm"):
			c.Realm, have = string(value), have|haveRealm
		case equalFold(name, "nonce"):
			c.Nonce, have = string(value), have|haveNonce
		case equalFold(name, "uri"):
			c.URI, have = string(value), have|haveURI
		case equalFold(name, "response"):
			response, have = value, have|haveResponse
		case equalFold(name, "cnonce"):
			c.CNonce, have = string(value), have|haveCNonce
		case equalFold(name, "opaque"):
			c.Opaque, c.HasOpaque = string(value), true
		case equalFold(name, "algorithm"):
			a, ok := ParseAlgorithm(value)
			if !ok {
				return Credentials{}, fail(ErrUnsupportedAlgorithm, c.Realm, "algorithm "+string(value))
			}
			c.Algorithm, c.AlgorithmName = a, string(value)
		case equalFold(name, "qop"):
			if c.QOP = parseQOP(value); c.QOP == 0 {
				return Credentials{}, fail(ErrUnsupportedQOP, c.Realm, "qop "+string(value))
			}
		case equalFold(name, "nc"):
			if nc = value; nc == nil {
				nc = []byte{}
			}
		case equalFold(name, "userhash"):
			c.Userhash = equalFold(value, "true")
		}
	}
	if have&haveAll != haveAll {
		missing := "username"
		switch {
		case have&haveUsername == 0:
		case have&haveRealm == 0:
			missing = "realm"
		case have&haveNonce == 0:
			missing = "nonce"
		case have&haveURI == 0:
			missing = "uri"
		default:
			missing = "response"
		}
		return Credentials{}, fail(ErrMalformed, c.Realm, "missing "+missing)
	}
	if c.URI == "" {
		return Credentials{}, fail(ErrMalformed, c.Realm, "empty uri")
	}
	if !isHex(response, 2*c.Algorithm.Size()) {
		return Credentials{}, fail(ErrMalformed, c.Realm, "response is not a "+c.Algorithm.String()+" digest")
	}
	c.Response = string(lowerHex(response))
	if nc != nil {
		n, ok := parseNC(nc)
		if !ok {
			return Credentials{}, fail(ErrMalformed, c.Realm, "bad nc")
		}
		c.NC = n
	}
	if c.QOP != 0 && (have&haveCNonce == 0 || c.NC == 0) {
		// RFC 7616 §3.4: cnonce and nc MUST be sent when qop is.
		return Credentials{}, fail(ErrMalformed, c.Realm, "qop without cnonce and nc")
	}
	if c.QOP == 0 && c.Algorithm.Session() {
		return Credentials{}, fail(ErrMalformed, c.Realm, c.AlgorithmName+" without qop")
	}
	return c, nil
}

// lowerHex folds hex digits to lower case, copying only if needed.
func lowerHex(b []byte) []byte {
	for i, c := range b {
		if c-'A' < 6 {
			out := append([]byte(nil), b...)
			for j := i; j < len(out); j++ {
				out[j] = lower(out[j])
			}
			return out
		}
	}
	return b
}

// AppendCredentials appends c as an Authorization or Proxy-Authorization
// value, in the order of RFC 7616's examples: username, realm, nonce, uri,
// response, algorithm (as the challenge named it), cnonce, opaque, qop, nc,
// userhash. qop and nc are tokens, unquoted (RFC 3261 §25, RFC 7616 §3.4);
// the rest are quoted-strings. Parsing what it writes gives c back.
func AppendCredentials(dst []byte, c *Credentials) []byte {
	dst = append(dst, "Digest "...)
	first := true
	dst = appendQuoted(appendParam(dst, &first, "username"), c.Username)
	dst = appendQuoted(appendParam(dst, &first, "realm"), c.Realm)
	dst = appendQuoted(appendParam(dst, &first, "nonce"), c.Nonce)
	dst = appendQuoted(appendParam(dst, &first, "uri"), c.URI)
	dst = appendQuoted(appendParam(dst, &first, "response"), c.Response)
	dst = appendAlgorithm(dst, &first, c.Algorithm, c.AlgorithmName)
	if c.CNonce != "" || c.QOP != 0 {
		dst = appendQuoted(appendParam(dst, &first, "cnonce"), c.CNonce)
	}
	if c.HasOpaque {
		dst = appendQuoted(appendParam(dst, &first, "opaque"), c.Opaque)
	}
	if c.QOP == QOPAuth || c.QOP == QOPAuthInt {
		dst = append(appendParam(dst, &first, "qop"), c.QOP.String()...)
	}
	if c.NC != 0 {
		dst = appendNC(appendParam(dst, &first, "nc"), c.NC)
	}
	if c.Userhash {
		dst = append(appendParam(dst, &first, "userhash"), "true"...)
	}
	return dst
}

// String returns c as AppendCredentials writes it.
func (c *Credentials) String() string { return string(AppendCredentials(nil, c)) }
