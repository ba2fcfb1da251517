package sip

import "bytes"

// inlineFields is how many header fields a Message indexes without
// allocating. Messages with more still parse; the rest go to a slice that is
// allocated once and reused by later parses into the same Message.
const inlineFields = 32

// Field is one header field as it appeared in the message.
type Field struct {
	Name    HeaderName // HeaderOther for names the stack does not know
	RawName []byte     // the name as written, e.g. "v" or "VIA"
	Value   []byte     // the value without surrounding whitespace; line folds are spaces
}

// Message is a parsed SIP request or response (RFC 3261 §7).
//
// A Message is a view: every []byte it returns, and every typed value read
// from it, refers to the buffer given to Parse. The caller must not modify
// or reuse that buffer while the Message or any value read from it is in
// use; Clone makes a Message that owns a copy. Parse replaces the CR and LF
// of folded header lines in the buffer with spaces (RFC 3261 §7.3.1 gives
// them the meaning of SP), and otherwise leaves the buffer untouched.
//
// A Message is reusable: parsing into the same value again makes no
// allocations for messages of up to 32 header fields. The zero value is an
// empty message. A Message is not safe for concurrent use while it is being
// parsed.
type Message struct {
	raw      []byte // the message, from start line to end of body
	request  bool
	fragment bool // parsed by ParseFragment

	method     Method
	methodName []byte
	requestURI URI

	status int
	reason []byte

	nfields  int
	fieldBuf [inlineFields]Field
	extra    []Field            // all fields when nfields > inlineFields
	first    [numHeaders]uint16 // 1 + index of the first field with each name, 0 if absent
	dup      uint64             // bit h set: more than one field named h (numHeaders <= 64)

	// What Validate parsed, kept for the getters that the transport and
	// transaction layers call right after it (TopVia, CSeq, FromTag, ToTag),
	// so that each received message is parsed once. Valid while checked is
	// set; parse clears it.
	checked bool
	topVia  Via
	cseq    CSeq
	fromTag []byte
	toTag   []byte

	contentLength int // -1 when absent
	body          []byte
}

// IsRequest reports whether m is a request; otherwise it is a response.
func (m *Message) IsRequest() bool { return m.request }

// Method returns the request method, or MethodOther for an extension
// method or a response.
func (m *Message) Method() Method { return m.method }

// MethodName returns the request method as written, nil for a response.
func (m *Message) MethodName() []byte { return m.methodName }

// RequestURI returns the parsed Request-URI of a request.
func (m *Message) RequestURI() *URI { return &m.requestURI }

// StatusCode returns a response's status code, 0 for a request.
func (m *Message) StatusCode() int { return m.status }

// Reason returns a response's reason phrase, possibly empty.
func (m *Message) Reason() []byte { return m.reason }

// Body returns the message body: exactly Content-Length bytes when the
// header is present.
func (m *Message) Body() []byte { return m.body }

// Bytes returns the message as parsed, from the start line to the end of
// the body; bytes after the body in a datagram are not included.
func (m *Message) Bytes() []byte { return m.raw }

// Fields returns every header field in order of appearance.
func (m *Message) Fields() []Field {
	if m.nfields > inlineFields {
		return m.extra
	}
	return m.fieldBuf[:m.nfields]
}

// Has reports whether m has a header field named h.
func (m *Message) Has(h HeaderName) bool { return h < numHeaders && m.first[h] != 0 }

// Get returns the value of the first header field named h, or nil.
func (m *Message) Get(h HeaderName) []byte {
	if h == HeaderOther || h >= numHeaders || m.first[h] == 0 {
		return nil
	}
	return m.Fields()[m.first[h]-1].Value
}

// GetName returns the value of the first header field with the given name,
// compared case-insensitively, compact forms included; it works for names
// the stack does not know.
func (m *Message) GetName(name string) []byte {
	if h := LookupHeader([]byte(name)); h != HeaderOther {
		return m.Get(h)
	}
	for i := range m.Fields() {
		if f := &m.Fields()[i]; f.Name == HeaderOther && equalFold(f.RawName, name) {
			return f.Value
		}
	}
	return nil
}

// Count returns the number of values of h: list elements for a list header
// (two Via fields of two values each count four), fields otherwise.
func (m *Message) Count(h HeaderName) int {
	n := 0
	for it := m.Values(h); ; n++ {
		if _, ok := it.Next(); !ok {
			return n
		}
	}
}

// ContentLength returns the value of Content-Length, or -1 if the message
// has none.
func (m *Message) ContentLength() int { return m.contentLength }

// Values returns an iterator over the values of h in order: the elements of
// every comma-separated list for list headers (RFC 3261 §7.3.1), each field
// whole otherwise.
func (m *Message) Values(h HeaderName) Values {
	if h == HeaderOther || h >= numHeaders || m.first[h] == 0 {
		return Values{}
	}
	return Values{fields: m.Fields(), name: h, next: int(m.first[h]) - 1, list: h.IsList()}
}

// Values iterates over the values of one header name; see Message.Values.
// The zero value yields nothing.
type Values struct {
	fields []Field
	name   HeaderName
	next   int // index of the next field to look at
	// The unread part of the current field's list is Value[off:] of field
	// next-1. An offset rather than a slice keeps what Next returns from
	// seeming, to escape analysis, to point into the Message itself, so that
	// a Message on the stack stays there when its values are parsed.
	off     int
	pending bool // the current field holds list elements still to return
	list    bool
}

// Next returns the next value, or false when there are no more. For list
// headers an empty element (as in "a,,b") is returned as an empty value so
// that typed parsers reject it.
func (v *Values) Next() ([]byte, bool) {
	var rest []byte
	if v.pending {
		rest = v.fields[v.next-1].Value[v.off:]
	} else {
		for {
			if v.next >= len(v.fields) {
				return nil, false
			}
			f := &v.fields[v.next]
			v.next++
			if f.Name != v.name {
				continue
			}
			if !v.list {
				return f.Value, true
			}
			rest, v.off, v.pending = f.Value, 0, true
			break
		}
	}
	i := ListElementEnd(rest)
	if i < len(rest) {
		v.off += i + 1
	} else {
		v.pending = false
	}
	return trimWS(rest[:i]), true
}

// ListElementEnd returns the index of the comma that ends the first element
// of a comma-separated header value (RFC 3261 §7.3.1), or len(b). Commas
// inside quoted strings (with their backslash escapes) and inside angle
// brackets do not count. Values splits list headers with it; use it to
// count the elements of a field that must hold one (Refer-To).
func ListElementEnd(b []byte) int {
	// The usual cases are found with vectorised searches: a comma with
	// neither quote nor '<' before it, or after a bracketed URI (as in
	// "<sip:p1;lr>, <sip:p2;lr>") holding no quote, whose '>' the byte
	// loop below would also close it at.
	for i := 0; ; {
		comma := bytes.IndexByte(b[i:], ',')
		if comma < 0 {
			return len(b)
		}
		comma += i
		if bytes.IndexByte(b[i:comma], '"') >= 0 {
			break
		}
		lt := bytes.IndexByte(b[i:comma], '<')
		if lt < 0 {
			return comma
		}
		lt += i
		gt := bytes.IndexByte(b[lt:], '>')
		if gt < 0 || bytes.IndexByte(b[lt:lt+gt], '"') >= 0 {
			break
		}
		i = lt + gt + 1
	}
	return listElementEndSlow(b)
}

// listElementEndSlow is ListElementEnd byte by byte, for any value.
func listElementEndSlow(b []byte) int {
	inQuote, inAngle := false, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == ',' && !inAngle:
			return i
		}
	}
	return len(b)
}

// Reset empties m for reuse, keeping its allocated storage and dropping
// every reference to the buffer it was parsed from.
func (m *Message) Reset() {
	extra := m.extra[:0]
	*m = Message{extra: extra, contentLength: -1}
}

// Clone returns a deep copy of m that owns its bytes, for keeping a message
// beyond the life of the buffer it was parsed from.
func (m *Message) Clone() *Message {
	c := new(Message)
	if m.raw == nil {
		c.Reset()
		return c
	}
	buf := append([]byte(nil), m.raw...)
	p := Parser{MaxMessageSize: -1, MaxHeaders: -1, MaxLineLength: -1}
	if m.fragment {
		_ = p.ParseFragment(c, buf)
	} else {
		// m parsed from these very bytes; Content-Length now frames them exactly.
		_ = p.Parse(c, buf)
	}
	return c
}
