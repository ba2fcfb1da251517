package sip

import (
	"bytes"
	"net/netip"
	"strconv"
)

// Scheme identifies the kind of a URI.
type Scheme uint8

// The URI schemes Parse tells apart.
const (
	SchemeOther Scheme = iota // any other absolute URI, kept opaque
	SchemeSIP                 // sip: (RFC 3261 §19.1)
	SchemeSIPS                // sips: (RFC 3261 §19.1)
	SchemeTel                 // tel: (RFC 3966)
)

// String returns the scheme's name in lower case, or "" for SchemeOther.
func (s Scheme) String() string {
	switch s {
	case SchemeSIP:
		return "sip"
	case SchemeSIPS:
		return "sips"
	case SchemeTel:
		return "tel"
	}
	return ""
}

// URI is a parsed URI. Every []byte of a URI filled by Parse is a view into
// the input of Parse, valid for as long as that input is.
type URI struct {
	Scheme    Scheme
	SchemeRaw []byte // scheme as written; schemes are case-insensitive
	User      []byte // escaped, as written; for tel: the telephone number
	Password  []byte // escaped, as written; nil when absent
	Host      []byte // hostname, IPv4 address or "[IPv6 address]"
	Port      int    // 0 when absent
	Params    Params // uri-parameters without the leading ';'
	Headers   []byte // headers after '?', without the '?'
	Opaque    []byte // SchemeOther: everything after "scheme:"
	Raw       []byte // the whole URI as parsed; AppendTo writes it as is
}

// Parse parses b as a SIP, SIPS, tel or other absolute URI into u, keeping
// views into b and allocating nothing on success. The error is a
// *ParseError wrapping ErrBadURI, its Offset relative to b. Whether a URI
// of that kind, or with those components, is allowed where it appears (a
// Request-URI takes no headers, RFC 3261 §19.1.1 Table 1) is for the caller
// to decide.
func (u *URI) Parse(b []byte) error {
	*u = URI{Raw: b}
	return u.parse(b)
}

// parse is Parse into a u that is zero but for Raw.
func (u *URI) parse(b []byte) error {
	// "sip:", as nearly every URI starts, is read as the general path
	// below would read it.
	if len(b) > 4 && b[3] == ':' && b[0]|0x20 == 's' && b[1]|0x20 == 'i' && b[2]|0x20 == 'p' {
		u.Scheme, u.SchemeRaw = SchemeSIP, b[:3]
		return u.parseSIP(b, 4)
	}
	if len(b) == 0 {
		return newError(ErrBadURI, 0, "empty URI")
	}
	// RFC 3261 §25: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
	n := 0
	if isAlpha(b[0]) {
		for n = 1; n < len(b) && isSchemeChar(b[n]); n++ {
		}
	}
	if n == 0 || n == len(b) || b[n] != ':' {
		return uriError(b, n, "bad scheme in URI")
	}
	u.SchemeRaw = b[:n]
	switch {
	case equalFold(u.SchemeRaw, "sip"):
		u.Scheme = SchemeSIP
	case equalFold(u.SchemeRaw, "sips"):
		u.Scheme = SchemeSIPS
	case equalFold(u.SchemeRaw, "tel"):
		u.Scheme = SchemeTel
		return u.parseTel(b, n+1)
	default:
		return u.parseOpaque(b, n+1)
	}
	return u.parseSIP(b, n+1)
}

// parseSIP parses what follows "sip:" or "sips:" at b[i]:
// [ userinfo ] hostport uri-parameters [ headers ] (RFC 3261 §25).
func (u *URI) parseSIP(b []byte, i int) error {
	// No component after userinfo may hold an unescaped '@', so the first
	// one ends userinfo, whatever ';' or '?' the user holds before it
	// ("sip:user;par=u%40example.net@example.com", RFC 4475 §3.1.1.9).
	if at := bytes.IndexByte(b[i:], '@'); at >= 0 {
		at += i
		n := i + span(b[i:at], cUser)
		switch {
		case n < at && b[n] != ':':
			return uriError(b, n, "bad user in URI")
		case n == i:
			// RFC 3261 §19.1.1: with an '@' the user MUST NOT be empty.
			return uriError(b, i, "empty user in URI")
		}
		u.User = b[i:n]
		if n < at {
			if p := n + 1 + span(b[n+1:at], cPassword); p < at {
				return uriError(b, p, "bad password in URI")
			}
			u.Password = b[n+1 : at]
		}
		i = at + 1
	}

	if i == len(b) {
		return uriError(b, i, "missing host in URI")
	}
	end, ok := scanHost(b, i)
	if !ok {
		return uriError(b, i, "bad host in URI")
	}
	u.Host, i = b[i:end], end
	if i < len(b) && b[i] != ':' && b[i] != ';' && b[i] != '?' {
		return uriError(b, i, "bad host in URI")
	}
	if i < len(b) && b[i] == ':' {
		i++
		n := i
		for ; n < len(b) && isDigit(b[n]); n++ {
			if u.Port = u.Port*10 + int(b[n]-'0'); u.Port > 65535 {
				return uriError(b, i, "bad port in URI")
			}
		}
		if n == i || n < len(b) && b[n] != ';' && b[n] != '?' {
			return uriError(b, n, "bad port in URI")
		}
		// Port 0 is reserved, reaches no one and would read as no port.
		if u.Port == 0 {
			return uriError(b, i, "bad port in URI")
		}
		i = n
	}
	if i < len(b) && b[i] == ';' {
		i++
		end := i + indexOrLen(b[i:], '?')
		u.Params = b[i:end]
		if off, reason := checkURIParams(u.Params); off >= 0 {
			return uriError(b, i+off, reason)
		}
		i = end
	}
	if i < len(b) && b[i] == '?' {
		i++
		u.Headers = b[i:]
		if off, reason := checkURIHeaders(u.Headers); off >= 0 {
			return uriError(b, i+off, reason)
		}
	}
	return nil
}

// hostEnd returns the end of the host starting at b[i]: past the ']' of an
// IPv6reference, else past the run of hostname characters.
func hostEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '[' {
		return min(closingBracket(b, i)+1, len(b))
	}
	for i < len(b) && (isHostnameChar(b[i]) || b[i] == '.') {
		i++
	}
	return i
}

// isHostnameChar reports whether c may appear in a label of a hostname:
// alphanum and '-' (RFC 3261 §25), and '_', which the grammar excludes but
// names in the wild carry (sip:bob@my_host.local). Accepting it changes no
// framing: '_' delimits nothing in a URI or a Via.
func isHostnameChar(c byte) bool { return charClass[c]&cLabel != 0 }

// checkURIHeaders returns the offset in h of the first fault of the
// headers after a '?' and what it is, or -1. RFC 3261 §25: headers =
// "?" header *( "&" header ), header = hname "=" hvalue.
func checkURIHeaders(h []byte) (int, string) {
	for i, count := 0, 0; ; count++ {
		// As for parameters, a bound keeps Equal cheap on hostile input.
		if count == MaxParams {
			return i, "too many headers in URI"
		}
		n := i + span(h[i:], cHeaderNV) // hname
		if n == i {
			if i == len(h) || h[i] == '&' || h[i] == '=' {
				return i, "empty header in URI"
			}
			return i, "bad header in URI"
		}
		if n == len(h) || h[n] != '=' {
			return n, "bad header in URI"
		}
		i = n + 1
		n = i + span(h[i:], cHeaderNV) // hvalue, which may be empty
		if n == len(h) {
			return -1, ""
		}
		if h[n] != '&' {
			return n, "bad header in URI"
		}
		i = n + 1
	}
}

// parseTel parses the telephone-subscriber of a tel URI at b[i] (RFC 3966
// §3): the number into User, its parameters into Params.
func (u *URI) parseTel(b []byte, i int) error {
	end := i + indexOrLen(b[i:], ';')
	u.User = b[i:end]
	if off := badTelNumber(u.User); off >= 0 {
		return uriError(b, i+off, "bad telephone number in URI")
	}
	if end < len(b) {
		u.Params = b[end+1:]
		if off, reason := checkURIParams(u.Params); off >= 0 {
			return uriError(b, end+1+off, reason)
		}
	}
	// RFC 3966 §5.1.5: a local number MUST carry its phone-context.
	if u.User[0] != '+' && !u.HasParam("phone-context") {
		return uriError(b, i, "missing phone-context in URI")
	}
	return nil
}

// badTelNumber returns the offset of the first fault of a tel URI number,
// or -1. RFC 3966 §3: global-number-digits = "+" *phonedigit DIGIT
// *phonedigit; local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#")
// *phonedigit-hex; both with visual separators "-" "." "(" ")".
func badTelNumber(n []byte) int {
	global := len(n) > 0 && n[0] == '+'
	digits := false
	for i, c := range n {
		switch {
		case i == 0 && global, isVisualSeparator(c):
		case isDigit(c), !global && (charClass[c]&cHex != 0 || c == '*' || c == '#'):
			digits = true
		default:
			return i
		}
	}
	if !digits {
		return len(n)
	}
	return -1
}

func isVisualSeparator(c byte) bool {
	return c == '-' || c == '.' || c == '(' || c == ')'
}

// parseOpaque keeps what follows "scheme:" of any other absolute URI. RFC
// 3261 §25 absoluteURI allows only printable ASCII; '<', '>' and '"' would
// also break the name-addr around it.
func (u *URI) parseOpaque(b []byte, i int) error {
	if i == len(b) {
		return uriError(b, i, "empty opaque part in URI")
	}
	for j := i; j < len(b); j++ {
		if c := b[j]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '%' && !isEscape(b, j) {
			return uriError(b, j, "bad character in URI")
		}
	}
	u.Opaque = b[i:]
	return nil
}

// uriError returns the error for a fault at b[off], naming whitespace and
// broken escapes, the usual culprits, before the given reason.
func uriError(b []byte, off int, reason string) error {
	if off < len(b) {
		switch b[off] {
		case ' ', '\t', '\r', '\n':
			reason = "whitespace in URI"
		case '%':
			if !isEscape(b, off) {
				reason = "bad escape in URI"
			}
		}
	}
	return newError(ErrBadURI, off, reason)
}

// validHost reports whether h is a host: hostname, IPv4address or
// IPv6reference (RFC 3261 §25).
func validHost(h []byte) bool {
	end, ok := scanHost(h, 0)
	return ok && end == len(h)
}

// scanHost returns the end of the host starting at b[i] (as hostEnd finds
// it) and whether b[i:end] is a valid host (as validHost judges it), in
// one pass for the usual hostname or IPv4address.
func scanHost(b []byte, i int) (end int, ok bool) {
	if i < len(b) && b[i] == '[' {
		end = hostEnd(b, i)
		_, ok = parseIPv6Reference(b[i:end])
		return end, ok
	}
	// An IPv4address, as in most Via and Contact values, is read at once,
	// unless a hostname character follows it and makes it something else.
	if i < len(b) && isDigit(b[i]) {
		if e := ipv4End(b, i); e >= 0 && (e == len(b) || b[e] != '.' && !isHostnameChar(b[e])) {
			return e, true
		}
	}
	// One pass checks the hostname rule of validHostname: labels not
	// empty, not starting or ending with '-', the last starting with a
	// letter, one trailing '.' allowed. skipClass crosses each label; its
	// first and last bytes are looked at only at its end. A host that
	// fails the rule may still be an IPv4address that ipv4End did not
	// take above, such as one followed by '_'.
	start, j := i, i
	labelOK := true
	for {
		j = skipClass(b, j, cLabel)
		if j == len(b) || b[j] != '.' {
			break
		}
		if j == start || b[start] == '-' || b[j-1] == '-' {
			labelOK = false
		}
		j++
		start = j
	}
	end = j
	switch {
	case end == i:
		return end, false
	case start == end:
		// Ends with '.': the label before it was the toplabel, checked
		// when its '.' was seen; only one trailing '.' is allowed, and a
		// lone "." is no hostname.
		if end-1 == i || b[end-2] == '.' {
			return end, false
		}
		if labelOK && isAlpha(b[lastLabelStart(b, i, end-1)]) {
			return end, true
		}
	default:
		if labelOK && b[start] != '-' && b[end-1] != '-' && isAlpha(b[start]) {
			return end, true
		}
	}
	if isDigit(b[i]) {
		_, ok = parseIPv4(b[i:end])
	}
	return end, ok
}

// ipv4End returns the end of the IPv4address that starts b[i:] (RFC 3261
// §25: four 1*3DIGIT separated by '.', each at most 255, as parseIPv4
// reads them), or -1.
func ipv4End(b []byte, i int) int {
	for k := 0; k < 4; k++ {
		if k > 0 {
			if i == len(b) || b[i] != '.' {
				return -1
			}
			i++
		}
		v, n := 0, 0
		for ; n < 3 && i < len(b) && isDigit(b[i]); n++ {
			v = v*10 + int(b[i]-'0')
			i++
		}
		if n == 0 || v > 255 {
			return -1
		}
	}
	return i
}

// lastLabelStart returns the start of the label ending at b[end], not
// before b[i].
func lastLabelStart(b []byte, i, end int) int {
	for end > i && b[end-1] != '.' {
		end--
	}
	return end
}

// parseIPv4 parses an IPv4address (RFC 3261 §25: four 1*3DIGIT), each
// number at most 255.
func parseIPv4(s []byte) (ip [4]byte, ok bool) {
	for k := range ip {
		if k > 0 {
			if len(s) == 0 || s[0] != '.' {
				return ip, false
			}
			s = s[1:]
		}
		v, n := 0, 0
		for ; n < len(s) && n < 3 && isDigit(s[n]); n++ {
			v = v*10 + int(s[n]-'0')
		}
		if n == 0 || v > 255 {
			return ip, false
		}
		ip[k], s = byte(v), s[n:]
	}
	return ip, len(s) == 0
}

// HostIP returns the address a host names when it is an IP address:
// IPv4address, IPv6reference ("[2001:db8::1]") or a bare IPv6address, as
// RFC 3261 §25 allows in a Via received parameter. An IPv4-mapped IPv6
// address comes back as IPv4, so that it compares equal to the same
// source. ok is false for a hostname. Unlike netip.ParseAddr it takes
// bytes, allocates nothing, accepts the leading zeros of 1*3DIGIT, and
// ignores the extra colon of "2001:db8:::192.0.2.1" (RFC 5118 §4.10).
func HostIP(h []byte) (ip netip.Addr, ok bool) {
	if len(h) > 0 && h[0] == '[' {
		v6, ok := parseIPv6Reference(h)
		if !ok {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16(v6).Unmap(), true
	}
	if v4, ok := parseIPv4(h); ok {
		return netip.AddrFrom4(v4), true
	}
	if v6, ok := parseIPv6(h); ok {
		return netip.AddrFrom16(v6).Unmap(), true
	}
	return netip.Addr{}, false
}

// parseIPv6Reference parses "[" IPv6address "]".
func parseIPv6Reference(h []byte) (ip [16]byte, ok bool) {
	if len(h) < 2 || h[0] != '[' || h[len(h)-1] != ']' {
		return ip, false
	}
	return parseIPv6(h[1 : len(h)-1])
}

// parseIPv6 parses an IPv6address: groups of 1*4HEXDIG, at most one "::"
// standing for one or more zero groups, and an optional IPv4address in
// place of the last two: RFC 3261 §25 as corrected by RFC 5954, which takes
// RFC 3986's rule and so bounds the address to 128 bits. As RFC 5118 §4.10
// suggests for robustness, the extra colon the RFC 3261 ABNF let through
// between "::" and an IPv4address ("2001:db8:::192.0.2.1") is ignored.
func parseIPv6(s []byte) (ip [16]byte, ok bool) {
	gap, n, i := -1, 0, 0 // gap: where "::" stands in ip; n: bytes filled
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		if gap, i = 0, 2; i == len(s) {
			return ip, true
		}
		i = skipBuggyColon(s, i)
	}
	for {
		if n == len(ip) {
			return ip, false
		}
		j, v := i, 0
		for ; j < len(s) && j-i < 4 && charClass[s[j]]&cHex != 0; j++ {
			v = v<<4 | int(unhex(s[j]))
		}
		if j == i {
			return ip, false
		}
		if j < len(s) && s[j] == '.' {
			v4, ok := parseIPv4(s[i:])
			if !ok || n > len(ip)-4 {
				return ip, false
			}
			n += copy(ip[n:], v4[:])
			break
		}
		ip[n], ip[n+1] = byte(v>>8), byte(v)
		if n, i = n+2, j; i == len(s) {
			break
		}
		if s[i] != ':' || i+1 == len(s) {
			return ip, false
		}
		if i++; s[i] == ':' {
			if gap >= 0 {
				return ip, false
			}
			if gap, i = n, i+1; i == len(s) {
				break
			}
			i = skipBuggyColon(s, i)
		}
	}
	if gap < 0 || n == len(ip) {
		return ip, gap < 0 && n == len(ip)
	}
	// Slide the groups after "::" to the end, zeros taking their place.
	tail := n - gap
	copy(ip[len(ip)-tail:], ip[gap:n])
	clear(ip[gap : len(ip)-tail])
	return ip, true
}

// skipBuggyColon returns i+1 if s[i:] is ":" IPv4address, which right
// after "::" is RFC 3261's hexpart ":" IPv4address (RFC 5118 §4.10), else i.
func skipBuggyColon(s []byte, i int) int {
	if s[i] == ':' {
		if _, ok := parseIPv4(s[i+1:]); ok {
			return i + 1
		}
	}
	return i
}

// hostEqual compares hosts case-insensitively; IP addresses match when
// their binary forms do, however they are written (RFC 5954).
func hostEqual(a, b []byte) bool {
	if x, ok := parseIPv6Reference(a); ok {
		y, ok := parseIPv6Reference(b)
		return ok && x == y
	}
	if x, ok := parseIPv4(a); ok {
		y, ok := parseIPv4(b)
		return ok && x == y
	}
	return equalFold(a, b)
}

// Equal reports whether u and v are equivalent URIs. SIP and SIPS URIs
// follow RFC 3261 §19.1.4, their IP addresses compared in binary form (RFC
// 5954) and their header component values exactly once unescaped; tel URIs
// follow RFC 3966 §4; any other URIs must have the same scheme, ignoring
// case, and the same opaque part. Equal never allocates.
func (u *URI) Equal(v *URI) bool {
	// RFC 3261 §19.1.4: a SIP and a SIPS URI are never equivalent.
	if u.Scheme != v.Scheme {
		return false
	}
	switch u.Scheme {
	case SchemeOther:
		return equalFold(u.SchemeRaw, v.SchemeRaw) && bytes.Equal(u.Opaque, v.Opaque)
	case SchemeTel:
		return telEqual(u, v)
	}
	// RFC 3261 §19.1.4: userinfo is case-sensitive, a missing password
	// differs from an empty one, and an explicit port never equals a
	// default one.
	return escapedEqual(u.User, v.User, false) &&
		(u.Password == nil) == (v.Password == nil) &&
		escapedEqual(u.Password, v.Password, false) &&
		hostEqual(u.Host, v.Host) &&
		u.Port == v.Port &&
		uriParamsEqual(u.Params, v.Params) &&
		headersIn(u.Headers, v.Headers) && headersIn(v.Headers, u.Headers)
}

// uriParamsEqual compares uri-parameters as RFC 3261 §19.1.4 does: those
// present in both must match; user, ttl, method, maddr and transport must
// also be present in both; any other in only one is ignored.
func uriParamsEqual(a, b Params) bool {
	for p := a; len(p) > 0; {
		var name, va []byte
		name, va, p = p.Next()
		vb, ok := findParam(b, name, true)
		if ok && !paramValueEqual(va, vb) || !ok && mustMatchParam(name) {
			return false
		}
	}
	for p := b; len(p) > 0; {
		var name []byte
		name, _, p = p.Next()
		if _, ok := findParam(a, name, true); !ok && mustMatchParam(name) {
			return false
		}
	}
	return true
}

// mustMatchParam reports whether a URI with the uri-parameter name never
// equals one without it (RFC 3261 §19.1.4).
func mustMatchParam(name []byte) bool {
	return escapedEqual(name, "user", true) || escapedEqual(name, "ttl", true) ||
		escapedEqual(name, "method", true) || escapedEqual(name, "maddr", true) ||
		escapedEqual(name, "transport", true)
}

// paramValueEqual compares parameter values ignoring case and escaping; a
// parameter without a value only matches one without a value.
func paramValueEqual(a, b []byte) bool {
	return (a == nil) == (b == nil) && escapedEqual(a, b, true)
}

// headersIn reports whether every header of a is also in b. RFC 3261
// §19.1.4 leaves matching to each header field's own rules (§20); names are
// compared ignoring case, values exactly after unescaping, so that two
// different values are never taken for the same.
func headersIn(a, b []byte) bool {
	for len(a) > 0 {
		var name, value []byte
		name, value, a = splitHeader(a)
		found := false
		for h := b; len(h) > 0 && !found; {
			var n, v []byte
			n, v, h = splitHeader(h)
			found = escapedEqual(n, name, true) && escapedEqual(v, value, false)
		}
		if !found {
			return false
		}
	}
	return true
}

// telEqual compares tel URIs as RFC 3966 §4 does: numbers digit by digit
// ignoring visual separators, and the same set of parameters in any order,
// all without regard to case.
func telEqual(u, v *URI) bool {
	return phoneDigitsEqual(u.User, v.User) &&
		telParamsIn(u.Params, v.Params) && telParamsIn(v.Params, u.Params)
}

// telParamsIn reports whether every parameter of a is in b with an equal
// value.
func telParamsIn(a, b Params) bool {
	for p := a; len(p) > 0; {
		var name, va []byte
		name, va, p = p.Next()
		vb, ok := findParam(b, name, true)
		if !ok {
			return false
		}
		// RFC 3966 §4: ext and a global-number phone-context are digits.
		digits := equalFold(name, "ext") ||
			equalFold(name, "phone-context") && len(va) > 0 && va[0] == '+'
		if digits && !phoneDigitsEqual(va, vb) || !digits && !paramValueEqual(va, vb) {
			return false
		}
	}
	return true
}

// phoneDigitsEqual compares phone numbers ignoring visual separators and
// the case of hex digits.
func phoneDigitsEqual(a, b []byte) bool {
	i, j := 0, 0
	for {
		for i < len(a) && isVisualSeparator(a[i]) {
			i++
		}
		for j < len(b) && isVisualSeparator(b[j]) {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if lower(a[i]) != lower(b[j]) {
			return false
		}
		i, j = i+1, j+1
	}
}

// IsSecure reports whether u is a SIPS URI (RFC 3261 §19.1).
func (u *URI) IsSecure() bool { return u.Scheme == SchemeSIPS }

// Param returns the value of u's uri-parameter name, as written. Names are
// compared as RFC 3261 §19.1.4 compares them: ignoring case and escaping,
// so "%6C%72" is "lr". ok is true for a parameter without a value.
func (u *URI) Param(name string) (value []byte, ok bool) {
	return findParam(u.Params, name, true)
}

// HasParam reports whether u has the uri-parameter name.
func (u *URI) HasParam(name string) bool {
	_, ok := u.Param(name)
	return ok
}

// Transport returns the transport parameter ("udp", "tcp", "tls", "sctp",
// ...), or nil.
func (u *URI) Transport() []byte { v, _ := u.Param("transport"); return v }

// Maddr returns the maddr parameter, the address to send to in place of
// the host (RFC 3261 §19.1.1), or nil.
func (u *URI) Maddr() []byte { v, _ := u.Param("maddr"); return v }

// UserParam returns the user parameter ("phone", "ip", ...), or nil.
func (u *URI) UserParam() []byte { v, _ := u.Param("user"); return v }

// LR reports whether u has the lr parameter: the element it names does
// loose routing (RFC 3261 §19.1.1).
func (u *URI) LR() bool { return u.HasParam("lr") }

// Header returns the value of u's header component name, still escaped.
// Names are compared ignoring case and escaping.
func (u *URI) Header(name string) (value []byte, ok bool) {
	for h := u.Headers; len(h) > 0; {
		var n, v []byte
		n, v, h = splitHeader(h)
		if escapedEqual(n, name, true) {
			return v, true
		}
	}
	return nil, false
}

// NextHeader returns the name and value, both still escaped, of the header
// component of u.Headers starting at offset i, and the offset of the next
// one. To visit them all:
//
//	for i := 0; i < len(u.Headers); {
//		var name, value []byte
//		name, value, i = u.NextHeader(i)
//		// ...
//	}
func (u *URI) NextHeader(i int) (name, value []byte, next int) {
	name, value, rest := splitHeader(u.Headers[i:])
	return name, value, len(u.Headers) - len(rest)
}

// splitHeader splits the first hname=hvalue off h.
func splitHeader(h []byte) (name, value, rest []byte) {
	end := indexOrLen(h, '&')
	if end < len(h) {
		rest = h[end+1:]
	}
	h = h[:end]
	eq := indexOrLen(h, '=')
	if eq < len(h) {
		value = h[eq+1:]
	}
	return h[:eq], value, rest
}

// AppendTo appends the URI's text to dst. A URI filled by Parse writes Raw
// unchanged; to write changed fields, set Raw to nil first.
func (u *URI) AppendTo(dst []byte) []byte {
	if u.Raw != nil {
		return append(dst, u.Raw...)
	}
	if u.SchemeRaw != nil {
		dst = append(dst, u.SchemeRaw...)
	} else {
		dst = append(dst, u.Scheme.String()...)
	}
	dst = append(dst, ':')
	switch u.Scheme {
	case SchemeOther:
		return append(dst, u.Opaque...)
	case SchemeTel:
		dst = append(dst, u.User...)
	default:
		if len(u.User) > 0 {
			dst = append(dst, u.User...)
			if u.Password != nil {
				dst = append(append(dst, ':'), u.Password...)
			}
			dst = append(dst, '@')
		}
		dst = append(dst, u.Host...)
		if u.Port != 0 {
			dst = strconv.AppendInt(append(dst, ':'), int64(u.Port), 10)
		}
	}
	if len(u.Params) > 0 {
		dst = append(append(dst, ';'), u.Params...)
	}
	if len(u.Headers) > 0 && u.Scheme != SchemeTel {
		dst = append(append(dst, '?'), u.Headers...)
	}
	return dst
}

// String returns the URI's text.
func (u *URI) String() string { return string(u.AppendTo(nil)) }

// indexOrLen returns the index of the first c in b, or len(b).
func indexOrLen(b []byte, c byte) int {
	if i := bytes.IndexByte(b, c); i >= 0 {
		return i
	}
	return len(b)
}

func isAlpha(c byte) bool { return (c|0x20)-'a' < 26 }

// isSchemeChar reports whether c may follow a scheme's first letter.
func isSchemeChar(c byte) bool {
	return charClass[c]&cAlphanum != 0 || c == '+' || c == '-' || c == '.'
}
