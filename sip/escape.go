package sip

import "bytes"

// Component names a part of a SIP URI, for AppendEscaped: each has its own
// set of characters that may appear unescaped (RFC 3261 §25).
type Component uint8

// The URI components AppendEscaped knows.
const (
	ComponentUser     Component = iota // user: unreserved / user-unreserved
	ComponentPassword                  // password: unreserved / "&" / "=" / "+" / "$" / ","
	ComponentParam                     // pname, pvalue: unreserved / param-unreserved
	ComponentHeader                    // hname, hvalue: unreserved / hnv-unreserved
)

var componentClass = [...]uint16{
	ComponentUser:     cUser,
	ComponentPassword: cPassword,
	ComponentParam:    cParam,
	ComponentHeader:   cHeaderNV,
}

const upperHex = "0123456789ABCDEF"

// AppendEscaped appends src to dst with every byte that component c does not
// allow as is written as "%" HEXDIG HEXDIG, in upper case (RFC 3261
// §19.1.2). A '%' in src is data, so it is always escaped. AppendEscaped
// panics if c is not one of the Component constants.
func AppendEscaped(dst, src []byte, c Component) []byte {
	class := componentClass[c]
	for _, b := range src {
		if charClass[b]&class != 0 && b != '%' {
			dst = append(dst, b)
		} else {
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&15])
		}
	}
	return dst
}

// Unescape appends src to dst with each escape "%" HEXDIG HEXDIG replaced
// by the byte it stands for. A '%' not followed by two hex digits is an
// error, a *ParseError wrapping ErrBadURI with Offset relative to src; dst
// is then returned as it was passed.
func Unescape(dst, src []byte) ([]byte, error) {
	start := len(dst)
	for off := 0; ; {
		i := bytes.IndexByte(src[off:], '%')
		if i < 0 {
			return append(dst, src[off:]...), nil
		}
		i += off
		if !isEscape(src, i) {
			return dst[:start], newError(ErrBadURI, i, "bad escape in URI")
		}
		dst = append(dst, src[off:i]...)
		dst = append(dst, unhex(src[i+1])<<4|unhex(src[i+2]))
		off = i + 3
	}
}

// isEscape reports whether b[i:] starts with "%" HEXDIG HEXDIG.
func isEscape[S ~string | ~[]byte](b S, i int) bool {
	return i+2 < len(b) && b[i] == '%' &&
		charClass[b[i+1]]&cHex != 0 && charClass[b[i+2]]&cHex != 0
}

// unhex returns the value of the hex digit c.
func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// span returns the length of the longest prefix of b made of bytes of class
// in which every '%' starts a well-formed escape.
func span(b []byte, class uint16) int {
	for i := 0; ; {
		// Four bytes a step across the run between escapes, as skipClass.
		for i+4 <= len(b) && spanClass[b[i]]&spanClass[b[i+1]]&spanClass[b[i+2]]&spanClass[b[i+3]]&class != 0 {
			i += 4
		}
		for i < len(b) && spanClass[b[i]]&class != 0 {
			i++
		}
		if i == len(b) || b[i] != '%' || charClass['%']&class == 0 || !isEscape(b, i) {
			return i
		}
		i += 3
	}
}

// spanClass is charClass without '%', which span checks for an escape.
var spanClass = func() [256]uint16 {
	t := charClass
	t['%'] = 0
	return t
}()

// isReserved reports whether c is in the reserved set of RFC 2396 (RFC 3261
// §25): the characters whose escaped form means something else.
func isReserved(c byte) bool {
	switch c {
	case ';', '/', '?', ':', '@', '&', '=', '+', '$', ',':
		return true
	}
	return false
}

// decodeAt decodes the character at b[i], returning it, the number of bytes
// it takes, and whether it is the escaped form of a reserved character.
func decodeAt[S ~string | ~[]byte](b S, i int) (c byte, n int, escReserved bool) {
	if !isEscape(b, i) {
		return b[i], 1, false
	}
	c = unhex(b[i+1])<<4 | unhex(b[i+2])
	return c, 3, isReserved(c)
}

// escapedEqual reports whether a and b are the same text once escapes are
// decoded, folding ASCII case if fold is set. RFC 3261 §19.1.4: only
// characters outside the reserved set equal their escaped form, so "%3B"
// matches "%3b" but not ";". It decodes on the fly and never allocates.
func escapedEqual[S ~string | ~[]byte](a []byte, b S, fold bool) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, na, ra := a[i], 1, false
		cb, nb, rb := b[j], 1, false
		if ca == '%' {
			ca, na, ra = decodeAt(a, i)
		}
		if cb == '%' {
			cb, nb, rb = decodeAt(b, j)
		}
		if ra != rb || ca != cb && (!fold || lower(ca) != lower(cb)) {
			return false
		}
		i, j = i+na, j+nb
	}
	return i == len(a) && j == len(b)
}
