package digest

import "github.com/sipxfer/sipxfer/sip"

// The auth-param lists of RFC 3261 §25 (digest-cln, dig-resp, ainfo) share
// one shape: name "=" ( token / quoted-string ), separated by commas with
// optional whitespace. scanner walks such a list once.
//
// Strict where it matters: names are tokens, a quoted-string is closed and
// holds no control character (not even escaped, so nothing parsed can put
// one back on the wire), a name appears once, and there are at most
// sip.MaxParams parameters, which also bounds the duplicate check. Liberal
// elsewhere: names compare without case, empty list elements are skipped
// (RFC 7230 §7 #rule), and an unquoted value may hold any visible ASCII
// but '"' and ',' (servers send base64 nonces unquoted).
type scanner struct {
	b    []byte
	i    int
	n    int
	seen [sip.MaxParams][]byte
}

// next returns the next parameter with its value unquoted and unescaped
// (a view into the input unless it had escapes). ok is false at the end
// of the list or on a fault, which reason then describes.
func (s *scanner) next() (name, value []byte, ok bool, reason string) {
	b, i := s.b, s.i
	for {
		i = skipLWS(b, i)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		break
	}
	if i == len(b) {
		s.i = i
		return nil, nil, false, ""
	}
	start := i
	for i < len(b) && isToken(b[i]) {
		i++
	}
	name = b[start:i]
	if len(name) == 0 {
		return nil, nil, false, "bad parameter name"
	}
	if s.n == len(s.seen) {
		return nil, nil, false, "too many parameters"
	}
	for _, n := range s.seen[:s.n] {
		if equalFold(n, name) {
			return nil, nil, false, "duplicate parameter " + string(name)
		}
	}
	s.seen[s.n] = name
	s.n++
	i = skipLWS(b, i)
	if i == len(b) || b[i] != '=' {
		return nil, nil, false, "parameter " + string(name) + " without value"
	}
	i = skipLWS(b, i+1)
	if i < len(b) && b[i] == '"' {
		end, escaped := i+1, false
		for ; end < len(b) && b[end] != '"'; end++ {
			c := b[end]
			if c == '\\' {
				if end++; end == len(b) {
					break
				}
				c, escaped = b[end], true
			}
			if isCtl(c) {
				return nil, nil, false, "control character in " + string(name)
			}
		}
		if end == len(b) {
			return nil, nil, false, "unterminated quoted-string in " + string(name)
		}
		value = b[i+1 : end]
		if escaped {
			value = unescape(value)
		}
		i = end + 1
	} else {
		start := i
		for i < len(b) && b[i] > ' ' && b[i] < 0x7f && b[i] != '"' && b[i] != ',' {
			i++
		}
		if i == start {
			return nil, nil, false, "empty value of " + string(name)
		}
		value = b[start:i]
	}
	i = skipLWS(b, i)
	if i < len(b) && b[i] != ',' {
		return nil, nil, false, "comma expected after " + string(name)
	}
	s.i = i
	return name, value, true, ""
}

// unescape removes the backslashes of quoted-pairs into a new slice.
func unescape(q []byte) []byte {
	out := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' {
			i++
		}
		out = append(out, q[i])
	}
	return out
}

// scheme checks that b starts with the auth-scheme "Digest" (compared
// without case, RFC 7235 §2.1) followed by whitespace or nothing, and
// returns the parameters after it.
func scheme(b []byte) ([]byte, *Error) {
	i := skipLWS(b, 0)
	start := i
	for i < len(b) && isToken(b[i]) {
		i++
	}
	if i == start {
		return nil, fail(ErrMalformed, "", "missing auth-scheme")
	}
	if !equalFold(b[start:i], "Digest") {
		return nil, fail(ErrUnsupportedScheme, "", "scheme "+string(b[start:i])+" is not Digest")
	}
	if i < len(b) && !isLWS(b[i]) {
		return nil, fail(ErrMalformed, "", "no space after Digest")
	}
	return b[i:], nil
}

func skipLWS(b []byte, i int) int {
	for i < len(b) && isLWS(b[i]) {
		i++
	}
	return i
}

// isLWS accepts CR and LF too, in case a caller hands over a value whose
// folding was not undone.
func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isCtl(c byte) bool { return c < ' ' && c != '\t' || c == 0x7f }

// tokenChars is RFC 3261 §25 token: alphanum / "-" / "." / "!" / "%" / "*"
// / "_" / "+" / "`" / "'" / "~".
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-.!%*_+`'~" {
		t[c] = true
	}
	return t
}()

func isToken(c byte) bool { return tokenChars[c] }

func isTokenString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) {
			return false
		}
	}
	return true
}

// appendQuoted appends s as a quoted-string: '"' and '\' escaped, control
// characters (which nothing parsed contains) written as spaces so that no
// value can break the header field.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case isCtl(c):
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// appendParam appends ", name=" (no comma first) and returns dst ready for
// the value.
func appendParam(dst []byte, first *bool, name string) []byte {
	if !*first {
		dst = append(dst, ", "...)
	}
	*first = false
	dst = append(dst, name...)
	return append(dst, '=')
}

// parseNC reads nc-value = 8LHEX (RFC 3261 §25). Upper case hex is
// accepted; zero is not a count.
func parseNC(b []byte) (uint32, bool) {
	if len(b) != 8 {
		return 0, false
	}
	var n uint32
	for _, c := range b {
		d, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		n = n<<4 | uint32(d)
	}
	return n, n != 0
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c-'0' < 10:
		return c - '0', true
	case c|0x20-'a' < 6:
		return c | 0x20 - 'a' + 10, true
	}
	return 0, false
}

// appendNC appends n as 8 lower case hex digits.
func appendNC(dst []byte, n uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[n>>uint(shift)&0xf])
	}
	return dst
}

// isHex reports whether b is n hex digits.
func isHex(b []byte, n int) bool {
	if len(b) != n {
		return false
	}
	for _, c := range b {
		if _, ok := hexDigit(c); !ok {
			return false
		}
	}
	return true
}
