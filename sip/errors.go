package sip

import (
	"errors"
	"strconv"
)

// Sentinel errors, for errors.Is. Every error the parsers return is a
// *ParseError wrapping exactly one of these.
var (
	// ErrMalformed: the message breaks the RFC 3261 §25 grammar; a server
	// answers 400.
	ErrMalformed = errors.New("sip: malformed message")
	// ErrVersion: the start line names a SIP version other than 2.0; a
	// server answers 505 (RFC 3261 §8.2.2.x, §21.5.7).
	ErrVersion = errors.New("sip: unsupported SIP version")
	// ErrTooLarge: the message exceeds Parser.MaxMessageSize; a server
	// answers 513 (RFC 3261 §21.5.7) or closes a stream.
	ErrTooLarge = errors.New("sip: message too large")
	// ErrTooManyHeaders: more header fields than Parser.MaxHeaders.
	ErrTooManyHeaders = errors.New("sip: too many header fields")
	// ErrLineTooLong: a header line (folded lines included) exceeds
	// Parser.MaxLineLength.
	ErrLineTooLong = errors.New("sip: header line too long")
	// ErrURITooLong: a Request-URI longer than Parser.MaxURILength; the
	// transport answers 414 (RFC 3261 §21.4.12).
	ErrURITooLong = errors.New("sip: Request-URI too long")
	// ErrIncomplete: the buffer ends before the message does. On a stream
	// read more; on a datagram it is fatal.
	ErrIncomplete = errors.New("sip: incomplete message")
	// ErrContentLength: Content-Length is missing on a stream, negative,
	// overlarge, repeated, or longer than the bytes available.
	ErrContentLength = errors.New("sip: bad Content-Length")
	// ErrBadURI: a URI does not parse.
	ErrBadURI = errors.New("sip: malformed URI")
	// ErrUnsupportedScheme: a request's Request-URI has a scheme other than
	// sip, sips or tel; a UAS answers 416 (RFC 3261 §8.2.2.1).
	ErrUnsupportedScheme = errors.New("sip: unsupported URI scheme")
	// ErrBadHeader: a header field value does not parse for its type.
	ErrBadHeader = errors.New("sip: malformed header field")
	// ErrMissingHeader: a mandatory header field is absent (RFC 3261 §8.1.1).
	ErrMissingHeader = errors.New("sip: missing mandatory header field")
	// ErrNotFound: an accessor found no header field of that name.
	ErrNotFound = errors.New("sip: no such header field")
)

// ParseError describes where and why input was rejected. Reason is short,
// lower case and safe to put in a reason phrase ("malformed Via").
type ParseError struct {
	Err    error  // one of the sentinel errors above
	Offset int    // byte offset in the parsed input, -1 when unknown
	Reason string // what was wrong, e.g. "CSeq number out of range"
}

func (e *ParseError) Error() string {
	s := "sip: " + e.Reason
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	return s
}

// Unwrap returns the sentinel error, so errors.Is(err, ErrBadURI) works.
func (e *ParseError) Unwrap() error { return e.Err }

// StatusCode is the response a server owes the sender of a request that
// failed this way: 505 for a version, 513 for size, 414 for a Request-URI
// too long, 416 for its scheme, otherwise 400.
func (e *ParseError) StatusCode() int {
	switch e.Err {
	case ErrVersion:
		return 505
	case ErrUnsupportedScheme:
		return 416
	case ErrTooLarge:
		return 513
	case ErrURITooLong:
		return 414
	}
	return 400
}

// ReasonPhrase is a reason phrase for the response: the standard phrase of
// StatusCode followed by what was wrong, e.g. "Bad Request (malformed Via)".
func (e *ParseError) ReasonPhrase() string {
	switch e.StatusCode() {
	case 505:
		return "Version Not Supported"
	case 513:
		return "Message Too Large"
	case 414:
		return "Request-URI Too Long"
	case 416:
		return "Unsupported URI Scheme"
	}
	return "Bad Request (" + e.Reason + ")"
}

func newError(sentinel error, off int, reason string) *ParseError {
	return &ParseError{Err: sentinel, Offset: off, Reason: reason}
}
