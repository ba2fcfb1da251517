package sip

import "strconv"

// Text is the constraint of the builder functions: a string or a byte
// slice, so callers pass either without converting (and allocating).
type Text interface{ ~string | ~[]byte }

// The builders below write a message by appending to a caller's buffer and
// never allocate beyond growing it. A message is a start line, header
// fields, then AppendBody (or AppendNoBody), which ends the header section:
//
//	b = sip.AppendRequestLine(b, "OPTIONS", "sip:bob@192.0.2.1")
//	b = sip.AppendHeader(b, sip.HeaderVia, "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK77")
//	...
//	b = sip.AppendNoBody(b)
//
// Values are written as given, except that CR and LF become spaces: a value
// cannot inject a header field or end the header section.

// AppendRequestLine appends Request-Line = Method SP Request-URI SP
// SIP-Version CRLF (RFC 3261 §7.1).
func AppendRequestLine[M, U Text](dst []byte, method M, requestURI U) []byte {
	dst = appendSafe(dst, method)
	dst = append(dst, ' ')
	dst = appendSafe(dst, requestURI)
	return append(dst, " SIP/2.0\r\n"...)
}

// AppendStatusLine appends Status-Line = SIP-Version SP Status-Code SP
// Reason-Phrase CRLF (RFC 3261 §7.2). An empty reason is written as
// StatusText(code).
func AppendStatusLine[R Text](dst []byte, code int, reason R) []byte {
	dst = append(dst, "SIP/2.0 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if len(reason) == 0 {
		dst = append(dst, StatusText(code)...)
	} else {
		dst = appendSafe(dst, reason)
	}
	return append(dst, "\r\n"...)
}

// AppendHeader appends a known header field in its canonical long form.
func AppendHeader[V Text](dst []byte, h HeaderName, value V) []byte {
	dst = append(dst, h.String()...)
	dst = append(dst, ": "...)
	dst = appendSafe(dst, value)
	return append(dst, "\r\n"...)
}

// AppendHeaderName appends a header field by name, for names the stack
// does not know.
func AppendHeaderName[N, V Text](dst []byte, name N, value V) []byte {
	dst = appendSafe(dst, name)
	dst = append(dst, ": "...)
	dst = appendSafe(dst, value)
	return append(dst, "\r\n"...)
}

// AppendHeaderUint appends a header field with a decimal value (CSeq
// numbers, Expires, Max-Forwards).
func AppendHeaderUint(dst []byte, h HeaderName, v uint64) []byte {
	dst = append(dst, h.String()...)
	dst = append(dst, ": "...)
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, "\r\n"...)
}

// AppendCSeq appends "CSeq: seq METHOD".
func AppendCSeq[M Text](dst []byte, seq uint32, method M) []byte {
	dst = append(dst, "CSeq: "...)
	dst = strconv.AppendUint(dst, uint64(seq), 10)
	dst = append(dst, ' ')
	dst = appendSafe(dst, method)
	return append(dst, "\r\n"...)
}

// AppendBody appends Content-Type (when the body is not empty),
// Content-Length, the empty line and the body. Content-Length is always
// written: RFC 3261 §18.3 requires it on streams and it costs little.
func AppendBody[T, B Text](dst []byte, contentType T, body B) []byte {
	if len(body) > 0 {
		dst = AppendHeader(dst, HeaderContentType, contentType)
	}
	dst = AppendHeaderUint(dst, HeaderContentLength, uint64(len(body)))
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// AppendNoBody appends "Content-Length: 0" and the empty line.
func AppendNoBody(dst []byte) []byte {
	return append(dst, "Content-Length: 0\r\n\r\n"...)
}

// AppendResponse appends the status line and the header fields a response
// copies from its request (RFC 3261 §8.2.6.2): every Via in order, From,
// To, Call-ID and CSeq, then Timestamp in a 100 (§8.2.6.1). If the
// request's To has no tag, toTag is added to it (§8.2.6.2: a UAS MUST add
// one, except on 100 Trying, where an empty toTag adds none). The caller
// appends any other header fields and then AppendBody or AppendNoBody.
// req must be a valid request (see Message.Validate).
func AppendResponse[R, T Text](dst []byte, req *Message, code int, reason R, toTag T) []byte {
	dst = AppendStatusLine(dst, code, reason)
	for i := range req.Fields() {
		if f := &req.Fields()[i]; f.Name == HeaderVia {
			dst = AppendHeader(dst, HeaderVia, f.Value)
		}
	}
	dst = AppendHeader(dst, HeaderFrom, req.Get(HeaderFrom))
	to := req.Get(HeaderTo)
	dst = append(dst, "To: "...)
	dst = appendSafe(dst, to)
	if len(toTag) > 0 && headerTag(to) == nil {
		dst = append(dst, ";tag="...)
		dst = appendSafe(dst, toTag)
	}
	dst = append(dst, "\r\n"...)
	dst = AppendHeader(dst, HeaderCallID, req.Get(HeaderCallID))
	dst = AppendHeader(dst, HeaderCSeq, req.Get(HeaderCSeq))
	if code == 100 && req.Has(HeaderTimestamp) {
		dst = AppendHeader(dst, HeaderTimestamp, req.Get(HeaderTimestamp))
	}
	return dst
}

// AppendTo appends m as a message: start line, every header field (known
// names in their canonical long form), a Content-Length that matches the
// body, the empty line and the body. Parsing the result gives the same
// start line, fields and body. A sipfrag without a start line or body is
// written as it was, without adding Content-Length.
func (m *Message) AppendTo(dst []byte) []byte {
	switch {
	case m.request:
		dst = AppendRequestLine(dst, m.methodName, m.requestURI.Raw)
	case m.status != 0:
		dst = append(dst, "SIP/2.0 "...)
		dst = strconv.AppendInt(dst, int64(m.status), 10)
		dst = append(dst, ' ')
		dst = appendSafe(dst, m.reason)
		dst = append(dst, "\r\n"...)
	}
	for i := range m.Fields() {
		f := &m.Fields()[i]
		switch {
		case f.Name == HeaderContentLength && !m.fragment:
			continue
		case f.Name == HeaderOther:
			dst = AppendHeaderName(dst, f.RawName, f.Value)
		default:
			dst = AppendHeader(dst, f.Name, f.Value)
		}
	}
	if m.fragment {
		if len(m.body) > 0 {
			dst = append(dst, "\r\n"...)
			dst = append(dst, m.body...)
		}
		return dst
	}
	dst = AppendHeaderUint(dst, HeaderContentLength, uint64(len(m.body)))
	dst = append(dst, "\r\n"...)
	return append(dst, m.body...)
}

// appendSafe appends s with CR and LF replaced by SP.
func appendSafe[S Text](dst []byte, s S) []byte {
	n := len(dst)
	dst = append(dst, s...)
	for i := n; i < len(dst); i++ {
		if dst[i] == '\r' || dst[i] == '\n' {
			dst[i] = ' '
		}
	}
	return dst
}

// StatusText returns the reason phrase RFC 3261 §21 (and RFC 3515, 6665,
// 4538 for their codes) gives a status code, or "" if unknown.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 181:
		return "Call Is Being Forwarded"
	case 182:
		return "Queued"
	case 183:
		return "Session Progress"
	case 200:
		return "OK"
	case 202:
		return "Accepted"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Moved Temporarily"
	case 305:
		return "Use Proxy"
	case 380:
		return "Alternative Service"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 410:
		return "Gone"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Unsupported URI Scheme"
	case 420:
		return "Bad Extension"
	case 421:
		return "Extension Required"
	case 423:
		return "Interval Too Brief"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 482:
		return "Loop Detected"
	case 483:
		return "Too Many Hops"
	case 484:
		return "Address Incomplete"
	case 485:
		return "Ambiguous"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 489:
		return "Bad Event"
	case 491:
		return "Request Pending"
	case 493:
		return "Undecipherable"
	case 500:
		return "Server Internal Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	case 505:
		return "Version Not Supported"
	case 513:
		return "Message Too Large"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 604:
		return "Does Not Exist Anywhere"
	case 606:
		return "Not Acceptable"
	}
	return ""
}
