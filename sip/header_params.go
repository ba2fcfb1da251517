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

// eachHeaderParamFast is eachHeaderParam for the usual list, in one pass
// (paramList.scan); done is false when scan leaves the list to the general
// path, and ok is the verdict when done.
func eachHeaderParamFast(p Params, visit func(name, value []byte) bool) (ok, done bool) {
	var l paramList
	if !l.scan(p) {
		return false, false
	}
	if visit != nil {
		for k := 0; k < l.n; k++ {
			if !visit(l.name(p, k), l.value(p, k)) {
				return false, true
			}
		}
	}
	return true, true
}

// paramList records where scan found each parameter of a list, as
// offsets: a closure per parameter, or slices for all, cost more than the
// scan itself. The name of parameter k is p[pos[k][0]:pos[k][1]], its value
// p[pos[k][2]:pos[k][3]], pos[k][2] being -1 when there is no '='.
type paramList struct {
	n   int
	pos [fastParams][4]int32
}

// scan checks the usual header parameter list p in one pass and records
// its parameters: values that are tokens or quoted-strings, no name twice,
// no more than fastParams. It returns false when it meets anything else
// (an IPv6 value, whitespace inside a value, a fault), leaving the verdict
// to eachHeaderParamSlow, which gives every error; true means p is valid.
func (l *paramList) scan(p Params) bool {
	if len(p) > 1<<30 {
		return false // offsets are int32
	}
	i, n := 0, 0
	for {
		for i < len(p) && isWS(p[i]) {
			i++
		}
		ns := i
		i = skipClass(p, i, cToken)
		if i == ns || n == fastParams {
			return false
		}
		name := p[ns:i]
		for k := 0; k < n; k++ {
			if equalFold(p[l.pos[k][0]:l.pos[k][1]], name) {
				return false
			}
		}
		pos := &l.pos[n]
		pos[0], pos[1], pos[2], pos[3] = int32(ns), int32(i), -1, -1
		n++
		for i < len(p) && isWS(p[i]) {
			i++
		}
		if i < len(p) && p[i] == '=' {
			for i++; i < len(p) && isWS(p[i]); i++ {
			}
			vs := i
			if i < len(p) && p[i] == '"' {
				if i = quotedEnd(p, i); i < 0 {
					return false
				}
			} else {
				i = skipClass(p, i, cToken)
			}
			if i == vs {
				return false
			}
			pos[2], pos[3] = int32(vs), int32(i)
			for i < len(p) && isWS(p[i]) {
				i++
			}
		}
		if i == len(p) {
			l.n = n
			return true
		}
		if p[i] != ';' {
			return false
		}
		i++
	}
}

// name returns the name of parameter k of p, which scan recorded.
func (l *paramList) name(p Params, k int) []byte { return p[l.pos[k][0]:l.pos[k][1]] }

// value returns the value of parameter k of p, nil when it has no '='.
func (l *paramList) value(p Params, k int) []byte {
	if l.pos[k][2] < 0 {
		return nil
	}
	return p[l.pos[k][2]:l.pos[k][3]]
}

// get returns the value of the parameter called name (compared without
// regard to case) and whether p has it.
func (l *paramList) get(p Params, name string) (value []byte, ok bool) {
	for k := 0; k < l.n; k++ {
		if int(l.pos[k][1]-l.pos[k][0]) == len(name) && equalFold(l.name(p, k), name) {
			return l.value(p, k), true
		}
	}
	return nil, false
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
