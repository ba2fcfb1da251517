package digest

// AuthInfo is a parsed Authentication-Info value (RFC 3261 §20.6, RFC 7616
// §3.5): what a server sends back in a 2xx to prove it knew the password
// too (rspauth) and to hand out the next nonce.
type AuthInfo struct {
	NextNonce string
	QOP       QOP    // 0 when absent
	RspAuth   string // hex response-digest, "" when absent
	CNonce    string
	NC        uint32 // 0 when absent
}

// ParseAuthInfo parses an Authentication-Info value: ainfo *(COMMA ainfo),
// without a scheme. Every parameter is optional; unknown ones are ignored.
// Errors wrap ErrMalformed or ErrUnsupportedQOP.
func ParseAuthInfo(b []byte) (AuthInfo, error) {
	var a AuthInfo
	s := scanner{b: b}
	for {
		name, value, ok, reason := s.next()
		if !ok {
			if reason != "" {
				return AuthInfo{}, fail(ErrMalformed, "", reason)
			}
			return a, nil
		}
		switch {
		case equalFold(name, "nextnonce"):
			a.NextNonce = string(value)
		case equalFold(name, "qop"):
			if a.QOP = parseQOP(value); a.QOP == 0 {
				return AuthInfo{}, fail(ErrUnsupportedQOP, "", "qop "+string(value))
			}
		case equalFold(name, "rspauth"):
			// response-digest = LDQUOT *LHEX RDQUOT (RFC 3261 §25).
			if !isHex(value, len(value)) {
				return AuthInfo{}, fail(ErrMalformed, "", "rspauth is not hex")
			}
			a.RspAuth = string(lowerHex(value))
		case equalFold(name, "cnonce"):
			a.CNonce = string(value)
		case equalFold(name, "nc"):
			n, ok := parseNC(value)
			if !ok {
				return AuthInfo{}, fail(ErrMalformed, "", "bad nc")
			}
			a.NC = n
		}
	}
}

// AppendAuthInfo appends a as an Authentication-Info value. Parsing what it
// writes gives a back.
func AppendAuthInfo(dst []byte, a *AuthInfo) []byte {
	first := true
	if a.NextNonce != "" {
		dst = appendQuoted(appendParam(dst, &first, "nextnonce"), a.NextNonce)
	}
	if a.QOP == QOPAuth || a.QOP == QOPAuthInt {
		dst = append(appendParam(dst, &first, "qop"), a.QOP.String()...)
	}
	if a.RspAuth != "" {
		dst = appendQuoted(appendParam(dst, &first, "rspauth"), a.RspAuth)
	}
	if a.CNonce != "" {
		dst = appendQuoted(appendParam(dst, &first, "cnonce"), a.CNonce)
	}
	if a.NC != 0 {
		dst = appendNC(appendParam(dst, &first, "nc"), a.NC)
	}
	return dst
}

// String returns a as AppendAuthInfo writes it.
func (a *AuthInfo) String() string { return string(AppendAuthInfo(nil, a)) }
