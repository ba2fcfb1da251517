package sip

import (
	"bytes"
	"strings"
)

// Default limits of a zero Parser. A SIP message must fit a UDP datagram
// (65,535 bytes less headers); real messages are a few kilobytes.
const (
	DefaultMaxMessageSize = 65535
	DefaultMaxHeaders     = 128
	DefaultMaxLineLength  = 8192
	DefaultMaxURILength   = 2048
)

// Parser holds the limits that bound parsing untrusted input. The zero value
// uses the defaults above; a negative limit means no limit.
type Parser struct {
	MaxMessageSize int // bytes of the whole message; over it: ErrTooLarge
	MaxHeaders     int // header fields; over it: ErrTooManyHeaders
	MaxLineLength  int // bytes of one header field, folds included; over it: ErrLineTooLong
	MaxURILength   int // bytes of a request's Request-URI; over it: ErrURITooLong
}

const maxInt = int(^uint(0) >> 1)

func limit(v, def int) int {
	if v == 0 {
		return def
	}
	if v < 0 {
		return maxInt
	}
	return v
}

type parseMode uint8

const (
	modeDatagram parseMode = iota // no Content-Length: body runs to the end
	modeStream                    // Content-Length mandatory (RFC 3261 §18.3)
	modeFragment                  // message/sipfrag: start line optional, end optional (RFC 3420)
	modeHeaders                   // header fields only, Content-Length not interpreted
)

// Parse parses the message in a datagram, b, into m with the default limits;
// see Parser.Parse.
func Parse(m *Message, b []byte) error {
	var p Parser
	return p.parse(m, b, modeDatagram)
}

// Parse parses a message received as a datagram (RFC 3261 §18.3): the body
// is Content-Length bytes, or the rest of b when the header is absent; a
// Content-Length larger than what follows the headers is an error
// (ErrContentLength), and bytes after the body are ignored. CRLFs before the
// start line are skipped (§7.5). On error m is left in an unspecified state.
func (p *Parser) Parse(m *Message, b []byte) error { return p.parse(m, b, modeDatagram) }

// ParseStream parses a message read from a stream transport, typically
// b[:n] after Frame returned n: Content-Length is mandatory (RFC 3261 §18.3)
// and a body shorter than it is ErrIncomplete.
func (p *Parser) ParseStream(m *Message, b []byte) error { return p.parse(m, b, modeStream) }

// ParseFragment parses a message/sipfrag body (RFC 3420 §2): the start line
// is optional, no header field is mandatory, and the fragment may end after
// any complete line, or with a last line lacking its CRLF. Anything after the
// empty line is the body; as in a datagram, a Content-Length larger than
// that is ErrContentLength.
func (p *Parser) ParseFragment(m *Message, b []byte) error { return p.parse(m, b, modeFragment) }

// ParseHeaderFields parses b as header fields alone, without a start line,
// as ParseFragment parses them, except that Content-Length is not
// interpreted: a negative, non-numeric or repeated one is kept as a field
// like any other. It serves to answer a message that failed to parse for
// its Content-Length (RFC 3261 §18.3, RFC 4475 §3.1.2.3, §3.3.9): the
// fields a response copies are still there to read.
func (p *Parser) ParseHeaderFields(m *Message, b []byte) error { return p.parse(m, b, modeHeaders) }

func (p *Parser) parse(m *Message, b []byte, mode parseMode) error {
	maxSize := limit(p.MaxMessageSize, DefaultMaxMessageSize)
	maxHeaders := limit(p.MaxHeaders, DefaultMaxHeaders)
	maxLine := limit(p.MaxLineLength, DefaultMaxLineLength)
	maxURI := limit(p.MaxURILength, DefaultMaxURILength)

	m.reset()
	frag := mode >= modeFragment // no mandatory fields, may end anywhere
	m.fragment = frag
	if len(b) > maxSize {
		return newError(ErrTooLarge, maxSize, "message too large")
	}

	// RFC 3261 §7.5: ignore CRLFs before the start line.
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	start := i
	crlf := 0 // lines ended by CR LF (or, in a sipfrag, by a final CR)
	if i == len(b) {
		if frag {
			m.raw = b[start:]
			return nil
		}
		return newError(ErrIncomplete, i, "empty message")
	}

	if !frag || (mode == modeFragment && !isHeaderLine(b[i:])) {
		eol := bytes.IndexByte(b[i:], '\n')
		end := i + eol
		if eol < 0 {
			if !frag {
				return newError(ErrIncomplete, len(b), "no end of start line")
			}
			end = len(b)
		}
		line := b[i:end]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
			crlf++
		}
		if len(line) > maxLine {
			return newError(ErrLineTooLong, i, "start line too long")
		}
		if err := m.parseStartLine(line, i); err != nil {
			return err
		}
		if m.IsRequest() && len(m.RequestURI().Raw) > maxURI {
			return newError(ErrURITooLong, i, "Request-URI too long")
		}
		i = end + 1
	}

	n := 0
	for {
		if i >= len(b) {
			if !frag {
				return newError(ErrIncomplete, i, "no end of header fields")
			}
			m.setFields(n)
			m.raw = b[start:]
			return checkBareCR(m.raw, start, crlf)
		}
		if c := b[i]; c == '\n' || c == '\r' {
			if c == '\r' {
				switch {
				case i+1 == len(b):
					// The CR of the empty line's CRLF ends the input: a stream
					// or datagram still lacks its LF (RFC 3261 §7); a sipfrag
					// may end without one.
					if !frag {
						return newError(ErrIncomplete, len(b), "no end of header fields")
					}
					crlf++
				case b[i+1] != '\n':
					return newError(ErrMalformed, i, "bare CR after header fields")
				default:
					i++
					crlf++
				}
			}
			i++
			break
		}
		if isWS(b[i]) {
			// A fold right after the start line continues no header field.
			return newError(ErrMalformed, i, "line folding without a header field")
		}

		// Find the end of the field, joining folded lines (RFC 3261 §7.3.1).
		lineStart := i
		eol := bytes.IndexByte(b[i:], '\n')
		if eol < 0 {
			if !frag {
				return newError(ErrIncomplete, len(b), "no end of header field")
			}
			eol = len(b) - i
		}
		end := i + eol
		for end+1 < len(b) && isWS(b[end+1]) {
			b[end] = ' '
			if b[end-1] == '\r' {
				b[end-1] = ' '
			}
			eol = bytes.IndexByte(b[end+1:], '\n')
			if eol < 0 {
				if !frag {
					return newError(ErrIncomplete, len(b), "no end of header field")
				}
				eol = len(b) - end - 1
			}
			end += 1 + eol
			if end-lineStart > maxLine {
				break
			}
		}
		lineEnd := end
		if lineEnd > lineStart && lineEnd <= len(b) && b[lineEnd-1] == '\r' {
			lineEnd--
			crlf++
		}
		if lineEnd-lineStart > maxLine {
			return newError(ErrLineTooLong, lineStart, "header line too long")
		}
		if n >= maxHeaders {
			return newError(ErrTooManyHeaders, lineStart, "too many header fields")
		}
		if err := m.addField(n, b[lineStart:lineEnd], lineStart, mode != modeHeaders); err != nil {
			return err
		}
		n++
		i = end + 1
	}
	m.setFields(n)
	if err := checkBareCR(b[start:i], start, crlf); err != nil {
		return err
	}

	// RFC 3261 §18.3: Content-Length frames the body.
	rest := len(b) - i
	switch {
	case m.contentLength > maxSize-i:
		// The body could never fit the limit, whatever arrives later.
		return newError(ErrTooLarge, maxSize, "message too large")
	case m.contentLength > rest:
		// A datagram or a sipfrag body is all there is; only a stream may
		// bring the rest later (RFC 3261 §18.3, RFC 3420 §2).
		if mode != modeStream {
			return newError(ErrContentLength, i, "Content-Length larger than message")
		}
		return newError(ErrIncomplete, len(b), "body shorter than Content-Length")
	case m.contentLength >= 0:
		rest = m.contentLength
	case mode == modeStream:
		// RFC 3261 §18.3: on a stream Content-Length MUST be present.
		return newError(ErrContentLength, i, "missing Content-Length")
	}
	if rest > 0 {
		m.body = b[i : i+rest]
	}
	m.raw = b[start : i+rest]
	return nil
}

// checkBareCR reports a CR that does not end a line, which RFC 3261 §7
// forbids (CR appears only in CRLF), and which a serializer could not
// reproduce. Counting every CR of the header section in one vectorised
// pass and comparing with the CRLF line ends seen costs far less than
// searching each value.
func checkBareCR(head []byte, off, crlf int) error {
	if bytes.Count(head, crBytes) == crlf {
		return nil
	}
	for i, c := range head {
		if c == '\r' && (i+1 == len(head) || head[i+1] != '\n') {
			return newError(ErrMalformed, off+i, "bare CR in header section")
		}
	}
	return newError(ErrMalformed, off, "bare CR in header section")
}

var crBytes = []byte{'\r'}

// reset clears the parse state while keeping m.extra's storage; it avoids
// zeroing the inline field array, which parse overwrites.
func (m *Message) reset() {
	m.raw, m.request, m.fragment = nil, false, false
	m.method, m.methodName = MethodOther, nil
	m.requestURI = URI{}
	m.status, m.reason = 0, nil
	m.nfields = 0
	m.extra = m.extra[:0]
	m.first = [numHeaders]uint16{}
	m.dup, m.checked = 0, false
	m.contentLength, m.body = -1, nil
}

// addField indexes header line number n; off is its offset in the input.
// With length set, a Content-Length field is read for framing.
func (m *Message) addField(n int, line []byte, off int, length bool) error {
	// Names are short: a plain loop finds the colon sooner than a call
	// to the vectorised IndexByte.
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon < 0 {
		return newError(ErrMalformed, off, "header field without colon")
	}
	name := line[:colon]
	// HCOLON allows whitespace, but no line break, before the colon.
	for len(name) > 0 && isWS(name[len(name)-1]) {
		name = name[:len(name)-1]
	}
	h := LookupHeader(name)
	// A known name matched a token already; only others need the check.
	if h == HeaderOther && !isTokenString(name) {
		return newError(ErrMalformed, off, "bad header field name")
	}
	// The field is written in place, member by member: building a Field
	// and copying it stalled on store forwarding (8-byte stores read back
	// as 16-byte loads), a fifth of Parse.
	var f *Field
	if n < inlineFields {
		f = &m.fieldBuf[n]
	} else {
		if n == inlineFields {
			m.extra = append(m.extra[:0], m.fieldBuf[:]...)
		}
		m.extra = append(m.extra, Field{})
		f = &m.extra[len(m.extra)-1]
	}
	f.Name, f.RawName, f.Value = h, name, trimWS(line[colon+1:])
	if f.Name != HeaderOther && m.first[f.Name] == 0 {
		m.first[f.Name] = uint16(min(n+1, 0xffff))
		if f.Name == HeaderContentLength && length {
			// RFC 3261 §20.14: 1*DIGIT. parseUint32 bounds it; the check keeps
			// the int positive on 32-bit platforms. parse then holds it to
			// MaxMessageSize.
			v, ok := parseUint32(f.Value)
			if !ok || uint64(v) > uint64(maxInt) {
				return newError(ErrContentLength, off, "bad Content-Length value")
			}
			m.contentLength = int(v)
		}
	} else if f.Name != HeaderOther {
		m.dup |= 1 << f.Name
		if f.Name == HeaderContentLength && length {
			// RFC 4475 §3.3.9: conflicting lengths make framing ambiguous.
			return newError(ErrContentLength, off, "more than one Content-Length")
		}
	}
	return nil
}

// setFields records that n fields were parsed.
func (m *Message) setFields(n int) { m.nfields = n }

// isHeaderLine reports whether b begins with "token *WSP :", which a start
// line never does; used to tell whether a sipfrag has a start line.
func isHeaderLine(b []byte) bool {
	i := 0
	for i < len(b) && isToken(b[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i < len(b) && b[i] == ':'
}

func (m *Message) parseStartLine(line []byte, off int) error {
	if len(line) >= 4 && equalFold(line[:4], "SIP/") {
		return m.parseStatusLine(line, off)
	}
	// Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1):
	// exactly one SP between elements, none at the end.
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return newError(ErrMalformed, off, "bad request line")
	}
	method := line[:sp1]
	if !isTokenString(method) {
		return newError(ErrMalformed, off, "bad method")
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return newError(ErrMalformed, off+sp1+1, "bad request line")
	}
	uriOff := off + sp1 + 1
	if err := m.requestURI.Parse(rest[:sp2]); err != nil {
		reason, off := "bad Request-URI", uriOff
		if pe, ok := err.(*ParseError); ok {
			reason, off = strings.TrimSuffix(pe.Reason, "URI")+"Request-URI", uriOff+pe.Offset
		}
		return newError(ErrBadURI, off, reason)
	}
	// RFC 3261 §19.1.1 (table): headers are not allowed in a Request-URI.
	if m.requestURI.Scheme != SchemeOther && m.requestURI.Headers != nil {
		return newError(ErrBadURI, uriOff, "headers in Request-URI")
	}
	version := rest[sp2+1:]
	if err := checkVersion(version, uriOff+sp2+1); err != nil {
		return err
	}
	m.request = true
	m.methodName = method
	m.method = LookupMethod(method)
	return nil
}

// parseStatusLine parses Status-Line = SIP-Version SP Status-Code SP
// Reason-Phrase (RFC 3261 §7.2). An absent reason, with or without its SP,
// is accepted: RFC 4475 §3.1.1.13 and sipfrag peers send both.
func (m *Message) parseStatusLine(line []byte, off int) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		sp = len(line)
	}
	if err := checkVersion(line[:sp], off); err != nil {
		return err
	}
	codeAt := min(sp+1, len(line)) // "SIP/2.0" may end a sipfrag
	code := line[codeAt:]
	if len(code) < 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) ||
		(len(code) > 3 && code[3] != ' ') {
		return newError(ErrMalformed, off+codeAt, "bad status code")
	}
	status := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	// RFC 3261 §21: classes 1xx to 6xx; anything else is not a SIP response.
	if status < 100 || status > 699 {
		return newError(ErrMalformed, off+codeAt, "status code out of range")
	}
	m.status = status
	if len(code) > 4 {
		m.reason = code[4:]
	}
	return nil
}

// checkVersion accepts SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT,
// case-insensitive (RFC 3261 §7.1), and reports any version other than 2.0
// as ErrVersion so that a server can answer 505.
func checkVersion(v []byte, off int) error {
	if string(v) == "SIP/2.0" {
		return nil // as nearly every message writes it
	}
	if len(v) < 7 || !equalFold(v[:4], "SIP/") {
		return newError(ErrMalformed, off, "bad SIP version")
	}
	dot := bytes.IndexByte(v[4:], '.')
	if dot <= 0 {
		return newError(ErrMalformed, off, "bad SIP version")
	}
	major, okMajor := parseUint32(v[4 : 4+dot])
	minor, okMinor := parseUint32(v[5+dot:])
	if !okMajor || !okMinor {
		return newError(ErrMalformed, off, "bad SIP version")
	}
	if major != 2 || minor != 0 {
		return newError(ErrVersion, off, "unsupported SIP version")
	}
	return nil
}

// parseUint32 parses 1*DIGIT that fits in 32 bits, leading zeros allowed.
func parseUint32(b []byte) (uint32, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v > 1<<32-1 {
			return 0, false
		}
	}
	return uint32(v), true
}

// IsKeepAlive reports whether b is a CRLF keep-alive (RFC 5626 §3.5.1) with
// no message: only CR and LF bytes.
func IsKeepAlive(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return len(b) > 0
}

// Frame reports how many bytes of a stream the next message occupies, so
// that a TCP or TLS reader can take exactly one message at a time
// (RFC 3261 §18.3). b holds what has been read so far.
//
// If b starts with CR or LF, Frame returns the length of that run: a
// keep-alive or the bytes §7.5 says to ignore (see IsKeepAlive). Otherwise it
// returns ErrIncomplete until b holds all header fields, then the total
// length of the message, which may exceed len(b): read until it does.
// A missing Content-Length is ErrContentLength; a message that would exceed
// MaxMessageSize is ErrTooLarge. On either the stream cannot be resynchronised
// and should be closed.
func (p *Parser) Frame(b []byte) (int, error) {
	maxSize := limit(p.MaxMessageSize, DefaultMaxMessageSize)
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i > 0 {
		return i, nil
	}
	contentLength := -1
	for i < len(b) {
		eol := bytes.IndexByte(b[i:], '\n')
		if eol < 0 {
			break
		}
		line := b[i : i+eol]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		next := i + eol + 1
		if len(line) == 0 {
			if contentLength < 0 {
				// RFC 3261 §18.3: Content-Length MUST be used with stream transports.
				return 0, newError(ErrContentLength, i, "missing Content-Length")
			}
			total := next + contentLength
			if total > maxSize {
				return 0, newError(ErrTooLarge, maxSize, "message too large")
			}
			return total, nil
		}
		if i > 0 && !isWS(line[0]) && isContentLengthLine(line) {
			// Collect folded continuation lines of the value.
			j := next
			for j < len(b) && isWS(b[j]) {
				k := bytes.IndexByte(b[j:], '\n')
				if k < 0 {
					return 0, newError(ErrIncomplete, len(b), "no end of header fields")
				}
				j += k + 1
			}
			if j == len(b) {
				break // a continuation may still arrive
			}
			value := trimWS(b[i+bytes.IndexByte(line, ':')+1 : j])
			v, ok := parseUint32(value)
			if !ok || contentLength >= 0 {
				return 0, newError(ErrContentLength, i, "bad Content-Length")
			}
			contentLength = int(v)
			next = j
		}
		i = next
	}
	if len(b) > maxSize {
		return 0, newError(ErrTooLarge, maxSize, "message too large")
	}
	return 0, newError(ErrIncomplete, len(b), "no end of header fields")
}

// isContentLengthLine reports whether a header line is a Content-Length
// field, long or compact form.
func isContentLengthLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return false
	}
	name := line[:colon]
	for len(name) > 0 && isWS(name[len(name)-1]) {
		name = name[:len(name)-1]
	}
	return LookupHeader(name) == HeaderContentLength
}
