package sip

// HasToken reports whether the token list header h (Allow, Supported,
// Require, Proxy-Require, Unsupported, Allow-Events) lists tok, across all
// its fields. Option tags are tokens and compare case-insensitively
// (RFC 3261 §7.3.1, §19.2); methods in Allow (§7.1) and event types in
// Allow-Events (RFC 6665 §8.2.1) compare case-sensitively.
func (m *Message) HasToken(h HeaderName, tok string) bool {
	exact := h == HeaderAllow || h == HeaderAllowEvents
	for it := m.Values(h); ; {
		v, ok := it.Next()
		if !ok {
			return false
		}
		if exact && string(v) == tok || !exact && equalFold(v, tok) {
			return true
		}
	}
}

// checkTokenList reports whether every element of the list header h is a
// token; an empty field is allowed (RFC 3261 §20.5 allows an empty Allow,
// §20.37 an empty Supported).
func (m *Message) checkTokenList(h HeaderName) error {
	if !m.Has(h) {
		return nil
	}
	fields := m.Fields()[m.first[h]-1:]
	if m.dup&(1<<h) == 0 {
		fields = fields[:1]
	}
	for i := range fields {
		f := &fields[i]
		if f.Name != h || len(f.Value) == 0 {
			continue
		}
		if !isTokenList(f.Value) {
			return m.fieldError(h, f.Value, newError(ErrBadHeader, 0, "bad token"))
		}
	}
	return nil
}

// isTokenList reports whether v is token *( COMMA token ), LWS allowed
// around each token: what splitting v with ListElementEnd and checking
// every trimmed element with isTokenString decides, in one pass. The
// quotes and angle brackets that ListElementEnd steps over are no token
// characters, so an element holding them fails either way.
func isTokenList(v []byte) bool {
	i := 0
	for {
		for i < len(v) && v[i] <= ' ' && isLWS(v[i]) {
			i++
		}
		start := i
		i = skipClass(v, i, cToken)
		if i == start {
			return false
		}
		for i < len(v) && v[i] <= ' ' && isLWS(v[i]) {
			i++
		}
		if i == len(v) {
			return true
		}
		if v[i] != ',' {
			return false
		}
		i++
	}
}
