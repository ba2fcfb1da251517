package transport

import (
	"bytes"
	"errors"
	"sync"

	"github.com/sipxfer/sipxfer/sip"
)

// Receive buffers. A datagram is read into a pooled buffer of
// maxDatagram bytes plus viaSlack, the room stampVia needs to insert
// ";received=<IPv6>" and "=<port>" without copying the message.
const (
	maxDatagram = 65535
	viaSlack    = 128
)

var datagramPool = sync.Pool{New: func() any {
	b := make([]byte, maxDatagram+viaSlack)
	return &b
}}

// rx is the pooled state of one inbound message: the Inbound handed to the
// Handler, the Message it points to, and scratch for an error response.
type rx struct {
	in  Inbound
	msg sip.Message
	out []byte
	tag [16]byte
}

var rxPool = sync.Pool{New: func() any { return new(rx) }}

// parse modes of an rxFrame
const (
	frameDatagram = iota // sip.Parser.Parse
	frameStream          // sip.Parser.ParseStream
	frameHeaders         // sip.Parser.ParseHeaderFields
)

// rxFrame is a message in a receive buffer that the transport may edit in
// place: bytes are inserted by shifting the rest of the buffer.
type rxFrame struct {
	buf   []byte // the whole buffer; edits need room up to len(buf)
	start int    // the message is buf[start:end]
	end   int
	tail  int // buf[end:tail] holds bytes read after the message, kept by edits
	mode  int
}

// offset returns the index in f.buf of s, a slice of f.buf.
func (f *rxFrame) offset(s []byte) int { return cap(f.buf) - cap(s) }

// replace replaces buf[pos:pos+old] with text, shifting the rest.
func (f *rxFrame) replace(pos, old int, text []byte) {
	delta := len(text) - old
	copy(f.buf[pos+len(text):f.tail+delta], f.buf[pos+old:f.tail])
	copy(f.buf[pos:], text)
	f.end += delta
	f.tail += delta
}

// parse parses f's message into m per its mode.
func (l *Layer) parse(m *sip.Message, f *rxFrame) error {
	b := f.buf[f.start:f.end]
	switch f.mode {
	case frameStream:
		return l.parser.ParseStream(m, b)
	case frameHeaders:
		// Only to answer a request that failed: what was too large was the
		// whole message, or it had too many or too long header fields, or
		// a Content-Length that frames nothing (not interpreted here). The
		// input is already bounded by the message size; the field count is
		// held to a few times the limit so a pooled Message stays small.
		p := l.parser
		p.MaxMessageSize = -1
		p.MaxLineLength = -1
		if p.MaxHeaders == 0 {
			p.MaxHeaders = sip.DefaultMaxHeaders
		}
		if p.MaxHeaders > 0 {
			p.MaxHeaders *= 4
		}
		return p.ParseHeaderFields(m, b)
	}
	return l.parser.Parse(m, b)
}

// receiveDatagram handles one datagram in buf[:n]; buf has viaSlack bytes
// of room after maxDatagram.
func (l *Layer) receiveDatagram(buf []byte, n int, local, remote Addr) {
	if sip.IsKeepAlive(buf[:n]) {
		l.stats.keepAlives.Add(1)
		return
	}
	f := rxFrame{buf: buf, end: n, tail: n, mode: frameDatagram}
	l.receive(&f, ReplyTo{Remote: remote, Local: local})
}

// receive parses, checks and dispatches the message in f. It may edit the
// buffer; f reports the message's new end.
func (l *Layer) receive(f *rxFrame, rt ReplyTo) {
	r := rxPool.Get().(*rx)
	defer func() {
		r.in = Inbound{}
		rxPool.Put(r)
	}()
	m := &r.msg
	if err := l.parse(m, f); err != nil {
		l.stats.parseErrors.Add(1)
		l.rejectUnparsed(r, f, rt, err)
		return
	}
	if m.IsRequest() {
		// RFC 3261 §18.2.1, RFC 3581 §4: received and rport, before the
		// request goes up (and before a 400 is routed on them).
		if stampVia(m, f, rt.Remote.AddrPort) {
			if err := l.parse(m, f); err != nil {
				l.stats.parseErrors.Add(1)
				l.stats.droppedRequests.Add(1)
				return
			}
		}
		l.traceReceived(rt.Local, rt.Remote, m.Bytes())
		if err := m.Validate(); err != nil {
			l.stats.invalid.Add(1)
			l.reject(r, m, rt, err)
			return
		}
	} else {
		l.traceReceived(rt.Local, rt.Remote, m.Bytes())
		if err := m.Validate(); err != nil {
			l.stats.invalid.Add(1)
			l.badResponse(r, m, rt, m.StatusCode(), err)
			return
		}
		// RFC 3261 §18.1.2: a response whose top Via sent-by is not one we
		// insert MUST be silently discarded.
		via, _ := m.TopVia()
		if !l.isOurSentBy(&via, rt.Local) {
			l.stats.droppedResponses.Add(1)
			l.warn(warnForeignResponse, "transport: dropped response with a foreign sent-by", rt.Remote, nil)
			return
		}
	}
	r.in = Inbound{Msg: m, Local: rt.Local, Remote: rt.Remote, Reply: rt}
	l.stats.received.Add(1)
	l.h.HandleInbound(&r.in)
}

// reject answers a request that parsed but failed Validate, if it can be
// answered: not an ACK (RFC 3261 §17.1.1.3: never answered), with a top
// Via, From, To, Call-ID and CSeq that parse, which the response copies
// (§8.2.6.2). Otherwise the request is dropped.
func (l *Layer) reject(r *rx, m *sip.Message, rt ReplyTo, err error) {
	var pe *sip.ParseError
	if !errors.As(err, &pe) || m.Method() == sip.MethodAck || !answerable(m) {
		l.stats.droppedRequests.Add(1)
		l.warn(warnBadRequest, "transport: dropped bad request", rt.Remote, err)
		return
	}
	l.warn(warnBadRequest, "transport: rejected bad request", rt.Remote, err)
	r.out = sip.AppendResponse(r.out[:0], m, pe.StatusCode(), pe.ReasonPhrase(), NewTag(r.tag[:0]))
	r.out = sip.AppendNoBody(r.out)
	if l.SendResponse(rt, r.out) == nil {
		l.stats.rejected.Add(1)
	}
	if cap(r.out) > 8192 {
		r.out = nil // do not pin a huge buffer in the pool
	}
}

// answerable reports whether a response can be built from m's header
// fields: top Via, From, To and CSeq parse, and Call-ID is present.
func answerable(m *sip.Message) bool {
	if _, err := m.TopVia(); err != nil {
		return false
	}
	if _, err := m.From(); err != nil {
		return false
	}
	if _, err := m.To(); err != nil {
		return false
	}
	if _, err := m.CSeq(); err != nil {
		return false
	}
	return len(m.CallID()) > 0
}

// rejectUnparsed handles input that failed to parse. A response is
// dropped (RFC 3261 §18.3). For a request, the header fields are parsed
// on their own, without the start line or body; if that works and the
// request can be answered, it gets the status the error calls for: 400
// with the reason (e.g. a Content-Length beyond the datagram, §18.3), 505
// for a SIP version other than 2.0, 513 for a message too large.
// Garbage is dropped.
func (l *Layer) rejectUnparsed(r *rx, f *rxFrame, rt ReplyTo, err error) {
	var pe *sip.ParseError
	b := f.buf[f.start:f.end]
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	eol := bytes.IndexByte(b[i:], '\n')
	response := len(b)-i >= 4 && equalFoldASCII(b[i:i+4], "sip/")
	if response && (eol < 0 || !errors.As(err, &pe)) {
		l.stats.droppedResponses.Add(1)
		l.warn(warnBadResponse, "transport: dropped unparsable response", rt.Remote, err)
		return
	}
	if !response && (!errors.As(err, &pe) || eol < 0 || bytes.HasPrefix(b[i:], []byte("ACK "))) {
		l.stats.droppedRequests.Add(1)
		l.warn(warnGarbage, "transport: dropped unparsable input", rt.Remote, err)
		return
	}
	hdrStart := i + eol + 1
	hdrEnd := headerEnd(b, hdrStart)
	h := rxFrame{buf: f.buf, start: f.start + hdrStart, end: f.start + hdrEnd, tail: f.tail, mode: frameHeaders}
	m := &r.msg
	if response {
		status := 0
		if l.parse(m, &h) == nil {
			status = statusOf(b[i : i+eol])
		}
		l.badResponse(r, m, rt, status, err)
		return
	}
	if l.parse(m, &h) != nil || !answerable(m) {
		l.stats.droppedRequests.Add(1)
		l.warn(warnGarbage, "transport: dropped unparsable request", rt.Remote, err)
		return
	}
	if stampVia(m, &h, rt.Remote.AddrPort) {
		delta := h.tail - f.tail
		f.end += delta
		f.tail += delta
		if l.parse(m, &h) != nil {
			l.stats.droppedRequests.Add(1)
			return
		}
	}
	l.reject(r, m, rt, pe)
}

// badResponse handles a response that failed to parse or to validate; m
// holds what could be read of it (for one that failed to parse, its header
// fields alone), status its status code, 0 if unknown. A final response
// whose top Via names this Layer and whose CSeq parses belongs to one of
// our client transactions, which would otherwise wait for a final response
// that never comes (an INVITE past its provisional response has no timer,
// RFC 3261 §17.1.1.2): it goes to the function set with OnBadResponse, to
// fail that transaction visibly. Anything else is dropped (a provisional
// response: the final one follows; a foreign sent-by: RFC 3261 §18.1.2).
func (l *Layer) badResponse(r *rx, m *sip.Message, rt ReplyTo, status int, err error) {
	l.stats.droppedResponses.Add(1)
	f := l.onBad.Load()
	if f == nil || status < 200 {
		l.warn(warnBadResponse, "transport: dropped invalid response", rt.Remote, err)
		return
	}
	via, verr := m.TopVia()
	_, cerr := m.CSeq()
	if verr != nil || cerr != nil || !l.isOurSentBy(&via, rt.Local) {
		l.warn(warnBadResponse, "transport: dropped invalid response", rt.Remote, err)
		return
	}
	l.warn(warnBadResponse, "transport: unusable final response", rt.Remote, err)
	r.in = Inbound{Msg: m, Local: rt.Local, Remote: rt.Remote, Reply: rt}
	(*f)(&r.in, status, err)
}

// OnBadResponse sets f to receive each final response addressed to this
// Layer (its top Via names the Layer, RFC 3261 §18.1.2, and its CSeq
// parses) that cannot be used: it failed to parse or sip.Message.Validate,
// as err says; status is its status code (200-699). in.Msg holds at least
// its header fields, valid until f returns, like a Handler's. A
// transaction.Manager built on the Layer sets f so that the client
// transaction the response answers fails at once with an error its TU
// sees, rather than waiting forever. Without f such responses are dropped
// (and counted in Stats.DroppedResponses either way).
func (l *Layer) OnBadResponse(f func(in *Inbound, status int, err error)) {
	if f == nil {
		l.onBad.Store(nil)
		return
	}
	l.onBad.Store(&f)
}

// statusOf returns the status code of a status line "SIP/2.0 NNN ...", or
// 0 if it has none in 100-699.
func statusOf(line []byte) int {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || len(line) < sp+4 || (len(line) > sp+4 && line[sp+4] != ' ' && line[sp+4] != '\r') {
		return 0
	}
	code := 0
	for _, c := range line[sp+1 : sp+4] {
		if c < '0' || c > '9' {
			return 0
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 699 {
		return 0
	}
	return code
}

// headerEnd returns the index in b just past the last header line that
// starts at or after i: the start of the empty line, or len(b).
func headerEnd(b []byte, i int) int {
	for i < len(b) {
		if b[i] == '\n' || (b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n') {
			return i
		}
		eol := bytes.IndexByte(b[i:], '\n')
		if eol < 0 {
			return len(b)
		}
		i += eol + 1
	}
	return len(b)
}
