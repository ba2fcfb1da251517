// Package sipfrag reads and writes message/sipfrag bodies (RFC 3420), the
// bodies of the NOTIFYs that report a REFER's progress (RFC 3515 §2.4.5).
//
// A fragment is parsed by the sip package's own parser in fragment mode, so
// every rule and limit of sip applies; this package adds the media type and
// the shapes REFER uses.
package sipfrag

import (
	"bytes"

	"github.com/sipxfer/sipxfer/sip"
)

// ContentType is the media type of a sipfrag body as this stack sends it.
// The version parameter defaults to 2.0 when absent (RFC 3420 §5), and
// peers often omit it.
const ContentType = "message/sipfrag;version=2.0"

// Parse parses a message/sipfrag body into m and checks that every part
// present is valid (RFC 3420 §2): a complete start line if there is one,
// valid header fields, and an empty line before any body. No header field
// is mandatory. A last line ending in a bare LF, or in nothing, is accepted.
// m refers to b afterwards, as with sip.Parse.
func Parse(m *sip.Message, b []byte) error {
	var p sip.Parser
	return ParseWith(&p, m, b)
}

// ParseWith is Parse with the limits of p.
func ParseWith(p *sip.Parser, m *sip.Message, b []byte) error {
	if err := p.ParseFragment(m, b); err != nil {
		return err
	}
	return m.Validate()
}

// Status parses a fragment that must start with a status line, as the
// sipfrag of a REFER NOTIFY does (RFC 3515 §2.4.5), and returns its code and
// reason phrase. It makes no allocations.
func Status(b []byte) (code int, reason []byte, err error) {
	var m sip.Message
	if err := Parse(&m, b); err != nil {
		return 0, nil, err
	}
	if m.StatusCode() == 0 {
		return 0, nil, &sip.ParseError{Err: sip.ErrMalformed, Offset: 0, Reason: "sipfrag without a status line"}
	}
	return m.StatusCode(), m.Reason(), nil
}

// StatusLine reads only the status line that starts a fragment (after any
// empty lines) and returns its code and reason phrase, ignoring whatever
// follows: the reader of a REFER NOTIFY needs the status (RFC 3515 §2.4.5:
// "The response class in this status line indicates the status"), and a
// malformed header field further down, which makes Status fail, must not
// hide it. It makes no allocations.
func StatusLine(b []byte) (code int, reason []byte, err error) {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	line := b[i:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j+1]
	}
	return Status(line)
}

// IsContentType reports whether ct is message/sipfrag with a version
// parameter that is absent or 2.0 (RFC 3420 §5).
func IsContentType(ct *sip.ContentType) bool {
	if !ct.Is("message", "sipfrag") {
		return false
	}
	v, ok := ct.Params.Get("version")
	return !ok || string(v) == "2.0" || string(v) == `"2.0"`
}

// AppendStatus appends a fragment made of a status line alone,
// "SIP/2.0 100 Trying\r\n" (RFC 3515 §2.4.5). An empty reason is written
// as sip.StatusText(code).
func AppendStatus[R sip.Text](dst []byte, code int, reason R) []byte {
	return sip.AppendStatusLine(dst, code, reason)
}
