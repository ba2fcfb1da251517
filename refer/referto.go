package refer

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync"

	"github.com/sipxfer/sipxfer/sip"
)

// Sentinel errors, for errors.Is. ParseReferTo returns them inside an
// *Error, which also carries the response to send.
var (
	// ErrNoReferTo: the REFER has no Refer-To (400, RFC 3515 §2.4.2).
	ErrNoReferTo = errors.New("refer: no Refer-To")
	// ErrMultipleReferTo: the REFER has more than one Refer-To value,
	// in one field or several (400, RFC 3515 §2.4.2).
	ErrMultipleReferTo = errors.New("refer: more than one Refer-To value")
	// ErrBadReferTo: the Refer-To value, or an embedded header the policy
	// allows, does not parse (400).
	ErrBadReferTo = errors.New("refer: malformed Refer-To")
	// ErrScheme: the policy does not allow the scheme of the Refer-To URI
	// (403).
	ErrScheme = errors.New("refer: Refer-To scheme not allowed")
	// ErrMethod: the Refer-To URI asks for a method other than INVITE and
	// the policy does not allow it (403).
	ErrMethod = errors.New("refer: Refer-To method not allowed")
	// ErrEmbeddedHeader: the Refer-To URI embeds a header the policy
	// rejects (403).
	ErrEmbeddedHeader = errors.New("refer: header not allowed in Refer-To")
	// ErrReplaces: the embedded Replaces is malformed, repeated or asked
	// of a request other than INVITE (400, RFC 3891 §3).
	ErrReplaces = errors.New("refer: bad Replaces in Refer-To")
	// ErrExtension: the embedded Require names an option tag the policy
	// does not support (403, RFC 3261 §19.1.5).
	ErrExtension = errors.New("refer: Refer-To requires an unsupported extension")
)

// Error is a REFER that ParseReferTo refuses: Status and Reason are the
// response to send, Err says why for errors.Is and errors.As.
type Error struct {
	Status int    // 400 or 403
	Reason string // reason phrase, e.g. "Multiple Refer-To values"
	Err    error  // one of the sentinels above, wrapping the sip error behind it if any
}

// Error returns the text of Err, which names the sentinel and the cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return "refer: " + e.Reason
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// reject returns the *Error for status and reason, wrapping sentinel and,
// when not nil, the error that caused it.
func reject(status int, reason string, sentinel, cause error) error {
	err := sentinel
	if cause != nil {
		err = fmt.Errorf("%w: %w", sentinel, cause)
	}
	return &Error{Status: status, Reason: reason, Err: err}
}

// HeaderMode says what ParseReferTo does with a header embedded in the
// Refer-To URI that the policy does not allow.
type HeaderMode uint8

// The header modes.
const (
	// DropHeaders (the zero value) leaves out every header the policy does
	// not allow; Target.EachDropped lists them for logging.
	DropHeaders HeaderMode = iota
	// RejectForbidden refuses a Refer-To embedding a forbidden header (see
	// Policy) with 403 and leaves out other headers not allowed.
	RejectForbidden
	// RejectDisallowed refuses a Refer-To embedding any header the policy
	// does not allow, with 403.
	RejectDisallowed
)

// Policy is what a REFER recipient accepts in a Refer-To. The zero value,
// which a nil *Policy stands for, accepts SIP and SIPS URIs asking for an
// INVITE, and copies only the headers DefaultAllowHeader lists.
//
// Some embedded headers are forbidden whatever AllowHeader says, because
// the request's sender must write them itself: Via, From, To, Call-ID,
// CSeq, Route, Record-Route, Contact, Max-Forwards, the Content-* fields,
// MIME-Version, "body", Authorization, Proxy-Authorization, Proxy-Require,
// Expires, Event, Date, Timestamp, and those that would falsely advertise
// its capabilities: Accept, Accept-Encoding, Accept-Language, Allow,
// Allow-Events, Supported, User-Agent, Organization (RFC 3261 §19.1.5:
// SHOULD NOT honor).
type Policy struct {
	// AllowTel accepts tel URIs (RFC 3966), for a UA that can call a
	// telephone number.
	AllowTel bool
	// AllowOtherSchemes accepts any other URI (http, mailto, ...). RFC
	// 3515 §5.2: acting on one unprompted can attack hosts behind the same
	// firewall; set it only if the user approves each such URI.
	AllowOtherSchemes bool
	// AnyMethod accepts a method URI parameter other than INVITE, which the
	// request must then use (RFC 3261 §19.1.5); by default it is refused.
	AnyMethod bool
	// EmbeddedHeaders says what to do with headers not allowed.
	EmbeddedHeaders HeaderMode
	// AllowHeader, when not nil, replaces DefaultAllowHeader. It is given
	// the header's name unescaped, and its HeaderName (HeaderOther for
	// names the stack does not know). It must not keep name.
	AllowHeader func(h sip.HeaderName, name []byte) bool
	// Supported lists the option tags, besides "replaces", that the
	// request to the target may carry in an embedded Require; RFC 3261
	// §19.1.5: a UA MUST NOT send a request requiring an extension it does
	// not support.
	Supported []string
}

// DefaultAllowHeader reports whether an embedded header is on the default
// allow-list, those a transferee can copy into its INVITE without harm:
// Replaces (RFC 3891, attended transfer), Require (for "replaces", RFC 5589
// §7.5), the caller preferences Accept-Contact, Reject-Contact and
// Request-Disposition (RFC 3841), Subject, Priority, Call-Info, Alert-Info
// and In-Reply-To.
//
// Referred-By is not on it: the referee copies the REFER's own (RFC 3892
// §2.2, see Target.AppendHeaderFields). Nor is Target-Dialog (RFC 4538),
// which would let the referrer hand the referee an authorization to the
// target beyond the Replaces the transfer needs; allow it with
// Policy.AllowHeader if wanted.
func DefaultAllowHeader(h sip.HeaderName, name []byte) bool {
	switch h {
	case sip.HeaderReplaces, sip.HeaderRequire, sip.HeaderSubject, sip.HeaderPriority,
		sip.HeaderCallInfo, sip.HeaderAlertInfo, sip.HeaderInReplyTo,
		// RFC 3841 §9, long and compact names (sip knows both).
		sip.HeaderAcceptContact, sip.HeaderRejectContact, sip.HeaderRequestDisposition:
		return true
	}
	return false
}

// forbidden reports whether an embedded header may never be copied.
func forbidden(h sip.HeaderName, name []byte) bool {
	switch h {
	case sip.HeaderVia, sip.HeaderFrom, sip.HeaderTo, sip.HeaderCallID, sip.HeaderCSeq,
		sip.HeaderRoute, sip.HeaderRecordRoute, sip.HeaderContact, sip.HeaderMaxForwards,
		sip.HeaderContentLength, sip.HeaderContentType, sip.HeaderContentEncoding,
		sip.HeaderContentDisposition, sip.HeaderContentLanguage, sip.HeaderMIMEVersion,
		sip.HeaderAuthorization, sip.HeaderProxyAuthorization, sip.HeaderProxyRequire,
		sip.HeaderExpires, sip.HeaderEvent, sip.HeaderDate, sip.HeaderTimestamp,
		sip.HeaderAccept, sip.HeaderAcceptEncoding, sip.HeaderAcceptLanguage, sip.HeaderAllow,
		sip.HeaderAllowEvents, sip.HeaderSupported, sip.HeaderUserAgent, sip.HeaderOrganization:
		return true
	case sip.HeaderOther:
		// RFC 3261 §19.1.1: the hname "body" is the message body.
		return equalFold(name, "body")
	}
	return false
}

// Target is the checked Refer-To of a REFER: what the referee is to
// contact. Its []byte fields are views into the REFER's buffer.
type Target struct {
	NameAddr   sip.NameAddr // the Refer-To value; NameAddr.URI is the URI to contact
	ReferredBy []byte       // the REFER's Referred-By value, nil if it has none

	allowed  uint64 // bit i: the i-th header of NameAddr.URI.Headers is copied
	dropped  uint64 // bit i: it is left out
	replaces int    // 1 + index of the embedded Replaces, 0 if none
}

// URI returns the Refer-To URI.
func (t *Target) URI() *sip.URI { return &t.NameAddr.URI }

// Method returns the method the request to the target must use (RFC 3261
// §19.1.5): that of the method URI parameter, INVITE without one, and
// MethodOther for an extension method.
func (t *Target) Method() sip.Method {
	v, ok := t.NameAddr.URI.Param("method")
	if !ok {
		return sip.MethodInvite
	}
	return sip.LookupMethod(v)
}

// MethodName returns the method of the request to the target as it is
// written on the wire: the method URI parameter, unescaped (RFC 3261
// §19.1.5), or "INVITE" without one. Methods are case-sensitive (§7.1).
func (t *Target) MethodName() string {
	v, ok := t.NameAddr.URI.Param("method")
	if !ok {
		return "INVITE"
	}
	b, err := sip.Unescape(nil, v)
	if err != nil {
		return string(v)
	}
	return string(b)
}

// AppendRequestURI appends the URI the request to the target is sent to:
// the Refer-To URI without its headers and method parameter, which RFC
// 3261 §19.1.1 (Table 1) and §19.1.5 keep out of a Request-URI.
func (t *Target) AppendRequestURI(dst []byte) []byte {
	u := t.NameAddr.URI
	if u.Scheme != sip.SchemeSIP && u.Scheme != sip.SchemeSIPS {
		return u.AppendTo(dst)
	}
	params := u.Params
	u.Raw, u.Params, u.Headers = nil, nil, nil
	dst = u.AppendTo(dst)
	for q := params; len(q) > 0; {
		var name, value []byte
		name, value, q = q.Next()
		if escapedIs(name, "method") {
			continue
		}
		dst = append(append(dst, ';'), name...)
		if value != nil {
			dst = append(append(dst, '='), value...)
		}
	}
	return dst
}

// HasReplaces reports whether the Refer-To URI embeds a Replaces that the
// policy allows: the REFER asks for an attended transfer.
func (t *Target) HasReplaces() bool { return t.replaces != 0 }

// Replaces returns the embedded Replaces, unescaped into buf and parsed;
// the result is a view into that buffer, which is grown if too small.
// ok is false when there is none.
func (t *Target) Replaces(buf []byte) (r sip.Replaces, ok bool) {
	if t.replaces == 0 {
		return r, false
	}
	_, value := t.header(t.replaces - 1)
	b, err := sip.Unescape(buf[:0], value)
	if err != nil || r.Parse(b) != nil {
		return sip.Replaces{}, false
	}
	return r, true
}

// header returns the escaped name and value of the i-th embedded header.
func (t *Target) header(i int) (name, value []byte) {
	u := &t.NameAddr.URI
	for off, n := 0, 0; off < len(u.Headers); n++ {
		name, value, off = u.NextHeader(off)
		if n == i {
			return name, value
		}
	}
	return nil, nil
}

// EachHeader calls f with each embedded header the policy allowed, in
// order, its name and value unescaped into buf. The slices f gets are
// valid only during the call. EachHeader returns buf, grown if needed, for
// reuse: with a buffer kept from call to call it allocates nothing.
func (t *Target) EachHeader(buf []byte, f func(h sip.HeaderName, name, value []byte)) []byte {
	u := &t.NameAddr.URI
	for off, i := 0, 0; off < len(u.Headers); i++ {
		var name, value []byte
		name, value, off = u.NextHeader(off)
		if t.allowed&(1<<i) == 0 {
			continue
		}
		// The URI parser checked every escape, so Unescape cannot fail.
		buf, _ = sip.Unescape(buf[:0], name)
		n := len(buf)
		buf, _ = sip.Unescape(buf, value)
		f(sip.LookupHeader(buf[:n]), buf[:n], buf[n:])
	}
	return buf
}

// AppendHeaderFields appends, as "Name: value" lines, the header fields
// the request to the target inherits from the REFER: its Referred-By,
// which RFC 3892 §2.2 says the referee MUST copy, then every embedded
// header the policy allowed, unescaped, known names in their canonical
// long form. An embedded Referred-By, if the policy allows one, is left
// out when the REFER has its own, so that there is only one.
func (t *Target) AppendHeaderFields(dst []byte) []byte {
	if t.ReferredBy != nil {
		dst = sip.AppendHeader(dst, sip.HeaderReferredBy, t.ReferredBy)
	}
	u := &t.NameAddr.URI
	for off, i := 0, 0; off < len(u.Headers); i++ {
		var name, value []byte
		name, value, off = u.NextHeader(off)
		if t.allowed&(1<<i) == 0 {
			continue
		}
		start := len(dst)
		dst, _ = sip.Unescape(dst, name)
		h := sip.LookupHeader(dst[start:])
		if h == sip.HeaderReferredBy && t.ReferredBy != nil {
			dst = dst[:start]
			continue
		}
		if h != sip.HeaderOther {
			dst = append(dst[:start], h.String()...)
		}
		dst = append(dst, ": "...)
		vstart := len(dst)
		dst, _ = sip.Unescape(dst, value)
		// ParseReferTo refused control characters; this keeps a Target
		// changed since from injecting a header field all the same.
		for j := vstart; j < len(dst); j++ {
			if dst[j] == '\r' || dst[j] == '\n' {
				dst[j] = ' '
			}
		}
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// Dropped returns how many embedded headers the policy left out.
func (t *Target) Dropped() int { return bits.OnesCount64(t.dropped) }

// EachDropped calls f with each embedded header the policy left out, name
// and value still escaped as in the REFER (so that a log line cannot be
// split by them), for the application to log.
func (t *Target) EachDropped(f func(name, value []byte)) {
	u := &t.NameAddr.URI
	for off, i := 0, 0; off < len(u.Headers); i++ {
		var name, value []byte
		name, value, off = u.NextHeader(off)
		if t.dropped&(1<<i) != 0 {
			f(name, value)
		}
	}
}

// ParseReferTo reads and checks the Refer-To of a REFER request against
// policy p (nil for the zero Policy): exactly one value, well formed, of a
// scheme and method the policy accepts, and embedded headers sorted into
// those to copy and those to leave out, the former checked. On refusal the
// error is an *Error giving the response to send; if the value parsed, the
// Target still holds it, for the application to log it or to ask its user
// about it (RFC 3515 §5.2). ParseReferTo allocates nothing unless an
// embedded header name is escaped or an embedded Replaces is longer than
// 256 bytes.
func ParseReferTo(req *sip.Message, p *Policy) (Target, error) {
	var t Target
	if p == nil {
		p = &zeroPolicy
	}
	// RFC 3515 §2.4.2: zero or more than one Refer-To value MUST be
	// answered 400, whether the values share a field or not.
	n, values := 0, 0 // elements, and those not empty
	for it := req.Values(sip.HeaderReferTo); ; {
		v, ok := it.Next()
		if !ok {
			break
		}
		for {
			end := sip.ListElementEnd(v)
			if n++; len(trimWS(v[:end])) > 0 {
				values++
			}
			if end == len(v) {
				break
			}
			v = v[end+1:]
		}
	}
	switch {
	case n == 0:
		return t, reject(400, "Missing Refer-To", ErrNoReferTo, nil)
	case values > 1:
		return t, reject(400, "Multiple Refer-To values", ErrMultipleReferTo, nil)
	case n > 1: // one value and an empty element: "<sip:a@h>,"
		return t, reject(400, "Malformed Refer-To", ErrBadReferTo, nil)
	}
	var err error
	if t.NameAddr, err = req.ReferTo(); err != nil {
		return t, reject(400, "Malformed Refer-To", ErrBadReferTo, err)
	}
	if t.NameAddr.Wildcard {
		return t, reject(400, "Malformed Refer-To", ErrBadReferTo, nil)
	}
	t.ReferredBy = req.Get(sip.HeaderReferredBy)

	// RFC 3515 §2.4.2: "A UA not capable of accessing non-SIP URIs SHOULD
	// NOT accept REFER requests to them."
	u := &t.NameAddr.URI
	switch {
	case u.Scheme == sip.SchemeSIP || u.Scheme == sip.SchemeSIPS:
	case u.Scheme == sip.SchemeTel && p.AllowTel:
	case u.Scheme == sip.SchemeOther && p.AllowOtherSchemes:
	default:
		// 403, not 603: a 6xx is only for a UA that knows no other end
		// point will answer (RFC 3261 §21.6.2), and a forked REFER may
		// reach one that can; nor 416, which is about the Request-URI
		// (§21.4.14).
		return t, reject(403, "Refer-To scheme not allowed", ErrScheme, nil)
	}
	if u.Scheme != sip.SchemeTel && u.Scheme != sip.SchemeOther && t.Method() != sip.MethodInvite && !p.AnyMethod {
		return t, reject(403, "Refer-To method not allowed", ErrMethod, nil)
	}
	if m := t.Method(); m == sip.MethodAck || m == sip.MethodCancel {
		// An ACK or CANCEL exists only for a transaction of the sender's
		// (RFC 3261 §17.1.1.3, §9.1): no request of its own to send.
		return t, reject(403, "Refer-To method not allowed", ErrMethod, nil)
	}
	if err := t.checkHeaders(p); err != nil {
		return t, err
	}
	// RFC 3891 §3: a Replaces in a request other than INVITE MUST be
	// answered 400; refuse the REFER that would make one.
	if t.replaces != 0 && t.Method() != sip.MethodInvite {
		return t, reject(400, "Replaces in Refer-To needs INVITE", ErrReplaces, nil)
	}
	return t, nil
}

var zeroPolicy Policy

// checkHeaders sorts the embedded headers into allowed and dropped, and
// checks those allowed.
func (t *Target) checkHeaders(p *Policy) error {
	u := &t.NameAddr.URI
	var seen [4]uint64 // known single-valued headers already allowed, by HeaderName
	for off, i := 0, 0; off < len(u.Headers); i++ {
		var name, value []byte
		name, value, off = u.NextHeader(off)
		if bytes.IndexByte(name, '%') >= 0 {
			// Rare, so the buffer is declared here: passing name to
			// AllowHeader moves it to the heap.
			var buf [32]byte
			name, _ = sip.Unescape(buf[:0], name)
		}
		h := sip.LookupHeader(name)
		bad := forbidden(h, name)
		ok := !bad && isToken(name)
		if ok && p.AllowHeader != nil {
			ok = p.AllowHeader(h, name)
		} else if ok {
			ok = DefaultAllowHeader(h, name)
		}
		if !ok {
			if p.EmbeddedHeaders == RejectDisallowed || bad && p.EmbeddedHeaders == RejectForbidden {
				return reject(403, headerPhrase("Header ", h, name, " not allowed in Refer-To"), ErrEmbeddedHeader, nil)
			}
			// The URI parser allows at most sip.MaxParams (64) headers.
			t.dropped |= 1 << i
			continue
		}
		if !cleanValue(value) {
			return reject(400, headerPhrase("Malformed ", h, name, " in Refer-To"), ErrBadReferTo, nil)
		}
		if h != sip.HeaderOther && !h.IsList() {
			// RFC 3261 §7.3.1: one field only, and RFC 3891 §3 answers an
			// INVITE with two Replaces 400.
			if seen[h>>6]&(1<<(h&63)) != 0 {
				if h == sip.HeaderReplaces {
					return reject(400, "Multiple Replaces in Refer-To", ErrReplaces, nil)
				}
				return reject(400, headerPhrase("Multiple ", h, name, " in Refer-To"), ErrBadReferTo, nil)
			}
			seen[h>>6] |= 1 << (h & 63)
		}
		switch h {
		case sip.HeaderReplaces:
			if err := checkReplaces(value); err != nil {
				return reject(400, "Malformed Replaces in Refer-To", ErrReplaces, err)
			}
			t.replaces = i + 1
		case sip.HeaderRequire:
			if err := checkRequire(value, p.Supported); err != nil {
				return err
			}
		}
		t.allowed |= 1 << i
	}
	return nil
}

// scratch holds an embedded Replaces, unescaped, while it is parsed:
// sip.Replaces.Parse keeps views of its input, which would move a buffer
// on the stack to the heap at every call.
var scratch = sync.Pool{New: func() any { return new([256]byte) }}

// checkReplaces checks that an embedded Replaces value (escaped) parses.
func checkReplaces(value []byte) error {
	buf := scratch.Get().(*[256]byte)
	defer scratch.Put(buf)
	v, _ := sip.Unescape(buf[:0], value)
	var r sip.Replaces
	return r.Parse(v)
}

// checkRequire checks that an embedded Require value (escaped) lists only
// option tags the referee supports.
func checkRequire(value []byte, supported []string) error {
	var buf [128]byte
	v, _ := sip.Unescape(buf[:0], value)
	for {
		end := bytes.IndexByte(v, ',')
		if end < 0 {
			end = len(v)
		}
		tag := trimWS(v[:end])
		if !isToken(tag) {
			return reject(400, "Malformed Require in Refer-To", ErrBadReferTo, nil)
		}
		// RFC 3261 §19.1.5: "An implementation MUST NOT send a request
		// requiring an extension that it does not support."
		ok := equalFold(tag, "replaces")
		for _, s := range supported {
			ok = ok || equalFold(tag, s)
		}
		if !ok {
			return reject(403, "Refer-To requires an unsupported extension", ErrExtension, nil)
		}
		if end == len(v) {
			break
		}
		v = v[end+1:]
	}
	return nil
}

// headerPhrase names an embedded header in a reason phrase: known names
// in canonical form, others only if they are plain letters, digits and
// '-', so that the phrase stays within RFC 3261 §25 Reason-Phrase.
func headerPhrase(before string, h sip.HeaderName, name []byte, after string) string {
	switch {
	case h != sip.HeaderOther:
		return before + h.String() + after
	case equalFold(name, "body"):
		return before + "body" + after
	case plainName(name):
		return before + string(name) + after
	}
	return before + "header" + after
}

func plainName(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return len(b) > 0 && len(b) <= 64
}

// cleanValue reports whether an escaped header value, once unescaped,
// holds no control character but HTAB: a header field value cannot
// (RFC 3261 §25), and CR or LF would inject a header field.
func cleanValue(v []byte) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			c = unhex(v[i+1])<<4 | unhex(v[i+2])
			i += 2
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// AppendReferToReplaces appends a Refer-To value for an attended transfer
// (RFC 5589 §7.3): target, a SIP or SIPS URI, in angle brackets, with a
// Replaces header added to its headers (after '&' if it has some), its
// value escaped as RFC 3261 §19.1.1 requires of an hvalue (';', '=' and
// '@' become %3B, %3D and %40):
//
//	<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>
//
// callID, toTag and fromTag name the dialog between the transferor and the
// UA the referee will send its INVITE to, as that UA holds it (see
// sip.Replaces): toTag is that UA's tag, the transferor's remote tag, and
// fromTag the transferor's own. earlyOnly adds the early-only flag.
func AppendReferToReplaces[T sip.Text](dst []byte, target *sip.URI, callID, toTag, fromTag T, earlyOnly bool) []byte {
	dst = append(dst, '<')
	dst = target.AppendTo(dst)
	if len(target.Headers) > 0 {
		dst = append(dst, '&')
	} else {
		dst = append(dst, '?')
	}
	dst = append(dst, "Replaces="...)
	dst = appendEscaped(dst, callID)
	dst = append(dst, "%3Bto-tag%3D"...)
	dst = appendEscaped(dst, toTag)
	dst = append(dst, "%3Bfrom-tag%3D"...)
	dst = appendEscaped(dst, fromTag)
	if earlyOnly {
		dst = append(dst, "%3Bearly-only"...)
	}
	return append(dst, '>')
}

// appendEscaped escapes s as an hvalue; a string goes through a small
// stack buffer, since sip.AppendEscaped takes bytes.
func appendEscaped[T sip.Text](dst []byte, s T) []byte {
	var chunk [64]byte
	for len(s) > 0 {
		n := copy(chunk[:], s)
		dst = sip.AppendEscaped(dst, chunk[:n], sip.ComponentHeader)
		s = s[n:]
	}
	return dst
}

// escapedIs reports whether the URI text b is s once unescaped, ignoring
// ASCII case (RFC 3261 §19.1.4 compares parameter names so).
func escapedIs(b []byte, s string) bool {
	j := 0
	for i := 0; i < len(b); i, j = i+1, j+1 {
		c := b[i]
		if c == '%' && i+2 < len(b) {
			c = unhex(b[i+1])<<4 | unhex(b[i+2])
			i += 2
		}
		if j == len(s) || lower(c) != lower(s[j]) {
			return false
		}
	}
	return j == len(s)
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals s ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// isToken reports whether b is a non-empty RFC 3261 §25 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return len(b) > 0
}

func trimWS(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }
