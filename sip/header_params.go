package sip

// MaxParams bounds the parameters of one header value or URI, so that
// checking them for duplicates stays cheap on hostile input.
const MaxParams = 64

// checkHeaderParams reports whether p, the text after the first ';' of a
// header value, is a valid *( SEMI generic-param ) list (RFC 3261 §25): each
// parameter a token name with an optional EQUAL gen-value, no name twice
// (RFC 3420 §3.2 shows a repeated tag as invalid, as RFC 3261 §19.1.1 says
// for URIs), at most MaxParams. It walks p once with Params.Next, the same
// split every later reader uses.
func checkHeaderParams(p Params) bool { return eachHeaderParam(p, nil) }

// eachHeaderParam is checkHeaderParams that also hands every parameter to
// visit (when not nil) in the same pass; visit returning false fails the
// check. visit may see a parameter twice (when the fast path gives up half
// way), so it must only record what it is given.
func eachHeaderParam(p Params, visit func(name, value []byte) bool) bool {
	if ok, done := eachHeaderParamFast(p, visit); done {
		return ok
	}
	return eachHeaderParamSlow(p, visit)
}

// eachHeaderParamSlow is the general path of eachHeaderParam, for any list
// and with every check.
func eachHeaderParamSlow(p Params, visit func(name, value []byte) bool) bool {
	p = trimWS(p)
	// RFC 3261 §25: each SEMI comes with a generic-param, so an empty list
	// or a trailing ';' is an extraneous separator (RFC 4475 §3.1.2.1).
	if len(p) == 0 || p[len(p)-1] == ';' {
		return false
	}
	for q, n := p, 0; len(q) > 0; n++ {
		seen := p[:len(p)-len(q)]
		var name, value []byte
		name, value, q = q.Next()
		if n == MaxParams || !validGenericParam(name, value) || repeats(seen, name) {
			return false
		}
		if visit != nil && !visit(name, value) {
			return false
		}
	}
	return true
}

// fastParams is how many parameters eachHeaderParamFast handles; longer
// lists take the general path.
const fastParams = 8

// eachHeaderParamFast is eachHeaderParam for the usual list, in one pass:
// parameters whose values are tokens or quoted-strings, no more than
// fastParams. done is false when it meets anything else (an IPv6 value,
// whitespace inside a value, a fault), leaving the verdict to the general
// path, which gives every error; ok is its verdict when done.
func eachHeaderParamFast(p Params, visit func(name, value []byte) bool) (ok, done bool) {
	var names [fastParams][]byte
	i, n := 0, 0
	for {
		for i < len(p) && isWS(p[i]) {
			i++
		}
		ns := i
		for i < len(p) && isToken(p[i]) {
			i++
		}
		if i == ns || n == fastParams {
			return false, false
		}
		name := p[ns:i]
		for k := 0; k < n; k++ {
			if equalFold(names[k], name) {
				return false, false
			}
		}
		names[n] = name
		n++
		for i < len(p) && isWS(p[i]) {
			i++
		}
		var value []byte
		if i < len(p) && p[i] == '=' {
			for i++; i < len(p) && isWS(p[i]); i++ {
			}
			vs := i
			if i < len(p) && p[i] == '"' {
				if i = quotedEnd(p, i); i < 0 {
					return false, false
				}
			} else {
				for i < len(p) && isToken(p[i]) {
					i++
				}
			}
			if i == vs {
				return false, false
			}
			value = p[vs:i]
			for i < len(p) && isWS(p[i]) {
				i++
			}
		}
		if visit != nil && !visit(name, value) {
			return false, true
		}
		if i == len(p) {
			return true, true
		}
		if p[i] != ';' {
			return false, false
		}
		i++
	}
}

// validGenericParam checks generic-param = token [ EQUAL gen-value ],
// gen-value = token / host / quoted-string, given the name and value
// Params.Next split off (value nil when there is no '=').
func validGenericParam(name, value []byte) bool {
	if !isTokenString(name) {
		return false
	}
	switch {
	case value == nil:
		return true
	case len(value) == 0:
		return false
	case value[0] == '"':
		return quotedEnd(value, 0) == len(value)
	case isTokenString(value):
		return true
	case value[0] == '[':
		return validHost(value)
	}
	// RFC 3261 §25 via-received: a bare IPv6address, which is no token.
	_, ok := parseIPv6(value)
	return ok && equalFold(name, "received")
}

// repeats reports whether seen, the parameters before name, has one of the
// same name. The quadratic cost is bounded by MaxParams and nil for the
// usual single parameter.
func repeats(seen Params, name []byte) bool {
	for len(seen) > 0 {
		var prev []byte
		prev, _, seen = seen.Next()
		if equalFold(prev, name) {
			return true
		}
	}
	return false
}
