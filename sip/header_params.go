package sip

// MaxParams bounds the parameters of one header value or URI, so that
// checking them for duplicates stays cheap on hostile input.
const MaxParams = 64

// checkHeaderParams reports whether p is a valid *( SEMI generic-param )
// list (without the first ';') in which no name appears twice: RFC 3420 §3.2
// shows a repeated tag as invalid, as RFC 3261 §19.1.1 says for URIs.
// Callers pass what follows a ';', trimmed, so p must not be empty.
func checkHeaderParams(p Params) bool {
	// RFC 3261 §25: each SEMI comes with a generic-param, so a trailing
	// ';' is an extraneous separator (RFC 4475 §3.1.2.1).
	return len(p) > 0 && validHeaderParams(p) && uniqueParams(p)
}

// uniqueParams reports whether no parameter name repeats, case-insensitively,
// and there are at most MaxParams. The quadratic scan is bounded by MaxParams
// and costs nothing for the usual one to three parameters.
func uniqueParams(p Params) bool {
	n := 0
	for q := p; len(q) > 0; n++ {
		if n == MaxParams {
			return false
		}
		var name []byte
		name, _, q = q.Next()
		for r := q; len(r) > 0; {
			var other []byte
			other, _, r = r.Next()
			if equalFold(other, name) {
				return false
			}
		}
	}
	return true
}
