package sip

import "bytes"

// Params is a view of a parameter list: the text after the first ';' of
// uri-parameters (";transport=tcp;lr" gives Params("transport=tcp;lr")) or
// of a header field's parameters (From: <...>;tag=x;foo="a;b" gives
// Params(`tag=x;foo="a;b"`)). It splits on ';' but not on one inside a
// quoted-string, and allows whitespace around ';' and '=' (RFC 3261 §25
// SEMI, EQUAL). Values come back as written: escaped in URIs, quoted in
// header fields.
type Params []byte

// Next splits the first parameter off p, returning its name, its value and
// the parameters after it. The value is nil when there is no '=' (as in
// "lr"). Whitespace around name and value is trimmed. To visit them all:
//
//	for q := p; len(q) > 0; {
//		var name, value []byte
//		name, value, q = q.Next()
//		// ...
//	}
func (p Params) Next() (name, value []byte, rest Params) {
	// Fast path: find ';' and '=' with IndexByte (vectorised); only a quote
	// before the ';' needs the byte-by-byte scan.
	end := bytes.IndexByte(p, ';')
	if q := bytes.IndexByte(p, '"'); q >= 0 && (end < 0 || q < end) {
		end = -1
		for i := q; i < len(p); i++ {
			if p[i] == '"' {
				i = closingQuote(p, i)
			} else if p[i] == ';' {
				end = i
				break
			}
		}
	}
	if end < 0 {
		end = len(p)
	} else {
		rest = p[end+1:]
	}
	cur := p[:end]
	eq := bytes.IndexByte(cur, '=')
	if eq < 0 {
		return trimWS(cur), nil, rest
	}
	return trimWS(cur[:eq]), trimWS(cur[eq+1:]), rest
}

// Get returns the value of the first parameter called name, compared
// without regard to case. ok is true for a parameter without a value (as
// "lr"), whose value is nil.
func (p Params) Get(name string) (value []byte, ok bool) {
	return findParam(p, name, false)
}

// Has reports whether p has a parameter called name, compared without
// regard to case.
func (p Params) Has(name string) bool {
	_, ok := p.Get(name)
	return ok
}

// findParam looks name up in p. With escaped set the names are URI text,
// where "%6C%72" is "lr" (RFC 3261 §19.1.4); in header fields '%' is just a
// token character.
func findParam[S ~string | ~[]byte](p Params, name S, escaped bool) (value []byte, ok bool) {
	for len(p) > 0 {
		var n, v []byte
		n, v, p = p.Next()
		if escaped && escapedEqual(n, name, true) || !escaped && equalFold(n, name) {
			return v, true
		}
	}
	return nil, false
}

// closingQuote returns the index of the '"' that closes the quoted-string
// opening at b[i], or len(b) if it is unterminated. A backslash quotes the
// byte after it.
func closingQuote(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b)
}

// checkURIParams returns the offset in p of the first fault of the
// uri-parameters after a ';' and what it is, or -1.
func checkURIParams(p []byte) (int, string) {
	for i, count := 0, 0; ; count++ {
		// MaxParams keeps the duplicate check, and Equal, cheap on hostile input.
		if count == MaxParams {
			return i, "too many parameters in URI"
		}
		n := i + span(p[i:], cParam) // pname
		if n == i {
			return paramFault(p, i, "empty parameter in URI")
		}
		// RFC 3261 §19.1.1, RFC 3966 §3: a name MUST NOT appear twice.
		if _, dup := findParam(Params(p[:i]), p[i:n], true); dup {
			return i, "duplicate parameter in URI"
		}
		if n < len(p) && p[n] == '=' {
			i = n + 1
			if n = i + span(p[i:], cParam); n == i { // pvalue
				return paramFault(p, i, "empty parameter value in URI")
			}
		}
		if n == len(p) {
			return -1, ""
		}
		if p[n] != ';' {
			return n, "bad parameter in URI"
		}
		i = n + 1
	}
}

// paramFault tells an empty name or value at p[i] from a bad character.
func paramFault(p []byte, i int, empty string) (int, string) {
	if i == len(p) || p[i] == ';' || p[i] == '=' {
		return i, empty
	}
	return i, "bad parameter in URI"
}

// closingBracket returns the index of the first ']' at or after b[i], or
// len(b).
func closingBracket(b []byte, i int) int {
	for ; i < len(b); i++ {
		if b[i] == ']' {
			return i
		}
	}
	return len(b)
}

// quotedEnd returns the index just past the quoted-string opening at b[i],
// or -1 if it is malformed or unterminated (RFC 3261 §25 quoted-string). The
// message parser has already turned folded lines into spaces, so CR and LF
// are not allowed.
func quotedEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			// quoted-pair: any octet up to %x7F but CR and LF
			if i++; i == len(b) || b[i] > 0x7f || b[i] == '\r' || b[i] == '\n' {
				return -1
			}
		case c == ' ' || c == '\t' || c >= 0x21 && c <= 0x7e:
			// qdtext, '"' and '\' being handled above
		default:
			n := utf8Tail(c)
			if n < 0 || i+n >= len(b) {
				return -1
			}
			for ; n > 0; n-- {
				if i++; b[i] < 0x80 || b[i] > 0xbf {
					return -1
				}
			}
		}
	}
	return -1
}

// utf8Tail returns how many UTF8-CONT bytes follow c as the lead byte of
// UTF8-NONASCII (RFC 3261 §25), or -1 if c cannot lead one.
func utf8Tail(c byte) int {
	switch {
	case c < 0xc0:
		return -1
	case c < 0xe0:
		return 1
	case c < 0xf0:
		return 2
	case c < 0xf8:
		return 3
	case c < 0xfc:
		return 4
	case c < 0xfe:
		return 5
	}
	return -1
}
