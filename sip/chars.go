package sip

// Character classes of RFC 3261 §25.1, one bit each, looked up in a
// 256-entry table so that scanning costs one load per byte.
const (
	cToken      uint16 = 1 << iota // token
	cAlphanum                      // ALPHA / DIGIT
	cUnreserved                    // alphanum / mark
	cUser                          // unreserved / escaped "%" / user-unreserved
	cPassword                      // unreserved / escaped "%" / & = + $ ,
	cParam                         // paramchar: param-unreserved / unreserved / "%"
	cHeaderNV                      // hname/hvalue: hnv-unreserved / unreserved / "%"
	cWord                          // word (Call-ID)
	cDigit                         // DIGIT
	cHex                           // HEXDIG (either case)
	cHost                          // hostname, IPv4 and IPv6 reference characters
	cWS                            // SP / HTAB
	cLabel                         // hostname label: alphanum, '-' and '_' (see isHostnameChar)
)

var charClass = func() (t [256]uint16) {
	set := func(bits uint16, chars string) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= bits
		}
	}
	const (
		alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		digit = "0123456789"
		mark  = "-_.!~*'()"
	)
	all := cToken | cAlphanum | cUnreserved | cUser | cPassword | cParam | cHeaderNV | cWord
	set(all|cHost, alpha)
	set(all|cHost|cDigit|cHex, digit)
	set(cHex, "abcdefABCDEF")
	set(cUnreserved|cUser|cPassword|cParam|cHeaderNV, mark)
	set(cToken, "-.!%*_+`'~")
	set(cWord, "-.!%*_+`'~()<>:\\\"/[]?{}")
	set(cUser|cPassword|cParam|cHeaderNV, "%")
	set(cUser, "&=+$,;?/")
	set(cPassword, "&=+$,")
	set(cParam, "[]/:&+$")
	set(cHeaderNV, "[]/?:+$")
	set(cHost, "-.[]:")
	set(cWS, " \t")
	set(cLabel, alpha+digit+"-_")
	return t
}()

func isToken(c byte) bool { return charClass[c]&cToken != 0 }
func isDigit(c byte) bool { return c-'0' < 10 }
func isWS(c byte) bool    { return c == ' ' || c == '\t' }

// isTokenString reports whether b is a non-empty token.
func isTokenString(b []byte) bool {
	return len(b) > 0 && skipClass(b, 0, cToken) == len(b)
}

// allOf reports whether every byte of b is in class.
func allOf(b []byte, class uint16) bool { return skipClass(b, 0, class) == len(b) }

// lower returns the ASCII lower case of c.
func lower(c byte) byte {
	if c-'A' < 26 {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether a and b are equal under ASCII case folding,
// without allocating. s is usually a constant.
func equalFold[S ~string | ~[]byte](a []byte, s S) bool {
	if len(a) != len(s) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != s[i] && lower(a[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// trimWS trims SP, HTAB, CR and LF from both ends of b. CR and LF can only
// be left over from line folding, which is LWS. Every byte it trims is at
// most ' ', so one comparison settles the usual case of a visible byte.
func trimWS(b []byte) []byte {
	for len(b) > 0 && b[0] <= ' ' && isLWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] <= ' ' && isLWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skipClass returns the index of the first byte at or after b[i] that is
// not in class, or len(b). It tests four bytes a step while they all are,
// which makes the runs of names, tokens and hosts cheaper to cross.
func skipClass(b []byte, i int, class uint16) int {
	for i+4 <= len(b) && charClass[b[i]]&charClass[b[i+1]]&charClass[b[i+2]]&charClass[b[i+3]]&class != 0 {
		i += 4
	}
	for i < len(b) && charClass[b[i]]&class != 0 {
		i++
	}
	return i
}
