package fuzz

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// unlimited parses what AppendTo wrote: writing compact names in long form
// can push a message that was within the default limits past them.
var unlimited = sip.Parser{MaxMessageSize: -1, MaxHeaders: -1, MaxLineLength: -1, MaxURILength: -1}

// FuzzParse parses into a reused Message, as a transport does, and reads
// every typed header of what parsed. Nothing may panic, and:
//   - a parse error is a *sip.ParseError with an offset in the input;
//   - parsing into a fresh Message gives the same result;
//   - Bytes is a view into the input and Body a view into Bytes, exactly
//     Content-Length bytes long when that header is present;
//   - Clone gives the same start line, fields and body, and validates alike.
func FuzzParse(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	var m sip.Message // reused from one input to the next
	f.Fuzz(func(t *testing.T, data []byte) {
		// Parse turns folds into spaces in its input; the fuzzer's is read-only.
		in := bytes.Clone(data)
		err := sip.Parse(&m, in)

		var fresh sip.Message
		freshErr := sip.Parse(&fresh, bytes.Clone(data))
		if (err == nil) != (freshErr == nil) {
			t.Fatalf("reused Message: %v; fresh Message: %v", err, freshErr)
		}
		if err != nil {
			checkParseError(t, err, len(in))
			return
		}
		if d := diffMessages(&m, &fresh); d != "" {
			t.Fatalf("reused and fresh Message differ: %s", d)
		}

		if !within(in, m.Bytes()) {
			t.Fatal("Bytes is not a view into the input")
		}
		if !within(m.Bytes(), m.Body()) {
			t.Fatal("Body is not a view into Bytes")
		}
		if cl := m.ContentLength(); cl >= 0 && len(m.Body()) != cl {
			t.Fatalf("Body has %d bytes, Content-Length says %d", len(m.Body()), cl)
		}
		for _, fl := range m.Fields() {
			if !within(in, fl.RawName) || !within(in, fl.Value) {
				t.Fatalf("field %q is not a view into the input", fl.RawName)
			}
		}

		readEverything(&m)
		verr := m.Validate()

		c := m.Clone()
		if d := diffMessages(&m, c); d != "" {
			t.Fatalf("Clone differs: %s", d)
		}
		if cerr := c.Validate(); (cerr == nil) != (verr == nil) {
			t.Fatalf("Validate: %v; on the Clone: %v", verr, cerr)
		}
		if verr == nil {
			checkValidated(t, &m, &fresh)
		}
		if verr == nil && m.IsRequest() {
			checkResponse(t, &m)
		}
	})
}

// checkValidated checks what Validate keeps in m (the top Via, CSeq and
// tags, which TopVia, CSeq, FromTag and ToTag then return) equals what
// the same reads parse afresh from other, the same message not validated,
// and that Validate's index of repeated names let no single-valued field
// through twice.
func checkValidated(t *testing.T, m, other *sip.Message) {
	t.Helper()
	via, err1 := m.TopVia()
	want, err2 := other.TopVia()
	if (err1 == nil) != (err2 == nil) || string(via.Branch) != string(want.Branch) ||
		string(via.Host) != string(want.Host) || via.Port != want.Port ||
		string(via.Transport) != string(want.Transport) || string(via.Params) != string(want.Params) ||
		via.RPort != want.RPort || via.HasRPort != want.HasRPort || string(via.Received) != string(want.Received) {
		t.Fatalf("validated TopVia %+v, %v; parsed afresh %+v, %v", via, err1, want, err2)
	}
	cs, err1 := m.CSeq()
	wcs, err2 := other.CSeq()
	if (err1 == nil) != (err2 == nil) || cs.Seq != wcs.Seq || cs.Method != wcs.Method ||
		string(cs.MethodName) != string(wcs.MethodName) {
		t.Fatalf("validated CSeq %+v, %v; parsed afresh %+v, %v", cs, err1, wcs, err2)
	}
	if a, b := m.FromTag(), other.FromTag(); string(a) != string(b) || (a == nil) != (b == nil) {
		t.Fatalf("validated From tag %q, parsed afresh %q", a, b)
	}
	if a, b := m.ToTag(), other.ToTag(); string(a) != string(b) || (a == nil) != (b == nil) {
		t.Fatalf("validated To tag %q, parsed afresh %q", a, b)
	}
	var n [256]int
	for _, f := range m.Fields() {
		n[f.Name]++
	}
	for _, h := range []sip.HeaderName{sip.HeaderTo, sip.HeaderFrom, sip.HeaderCallID, sip.HeaderCSeq,
		sip.HeaderMaxForwards, sip.HeaderContentType, sip.HeaderExpires, sip.HeaderEvent,
		sip.HeaderSubscriptionState, sip.HeaderReferSub, sip.HeaderReferredBy} {
		if n[h] > 1 {
			t.Fatalf("Validate accepted %d %s fields", n[h], h)
		}
	}
}

// checkParseError checks err is the documented *sip.ParseError.
func checkParseError(t *testing.T, err error, n int) {
	t.Helper()
	var pe *sip.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *sip.ParseError", err, err)
	}
	if pe.Offset < -1 || pe.Offset > n {
		t.Fatalf("error %v: offset outside the %d-byte input", err, n)
	}
	_, _ = pe.StatusCode(), pe.ReasonPhrase()
}

// readEverything calls every accessor of m; their results are not checked,
// only that none panics.
func readEverything(m *sip.Message) {
	_, _ = m.TopVia()
	_, _ = m.CSeq()
	_, _ = m.From()
	_, _ = m.To()
	_, _ = m.Event()
	_, _ = m.SubscriptionState()
	_, _ = m.ReferTo()
	_, _ = m.ReferredBy()
	_, _, _ = m.ReferSub()
	_, _, _ = m.MaxForwards()
	_, _, _ = m.Expires()
	_, _, _ = m.MinExpires()
	_, _, _ = m.RetryAfter()
	_, _ = m.ContentType()
	_, _ = m.Date()
	_ = m.CallID()
	_ = m.RequestURI().String()
	_, _, _ = m.Method(), m.MethodName(), m.Reason()
	for h := 0; h < 256; h++ {
		name := sip.HeaderName(h)
		_, _, _ = m.Has(name), m.Get(name), m.Count(name)
		var via sip.Via
		var na sip.NameAddr
		for it := m.Values(name); ; {
			v, ok := it.Next()
			if !ok {
				break
			}
			switch name {
			case sip.HeaderVia:
				_ = via.Parse(v)
			case sip.HeaderContact, sip.HeaderRoute, sip.HeaderRecordRoute, sip.HeaderReplyTo:
				_ = na.Parse(v)
			}
		}
	}
	for _, tok := range []string{"replaces", "norefersub", "REFER", "refer"} {
		for _, h := range []sip.HeaderName{sip.HeaderAllow, sip.HeaderSupported, sip.HeaderRequire, sip.HeaderAllowEvents} {
			_ = m.HasToken(h, tok)
		}
	}
	for _, fl := range m.Fields() {
		_ = m.GetName(string(fl.RawName))
	}
}

// checkResponse builds a 200 to a valid request, which AppendResponse
// documents it can, and checks that it parses and validates.
func checkResponse(t *testing.T, req *sip.Message) {
	t.Helper()
	b := sip.AppendNoBody(sip.AppendResponse(nil, req, 200, "", "fuzz1"))
	var resp sip.Message
	if err := unlimited.Parse(&resp, b); err != nil {
		t.Fatalf("response to a valid request does not parse: %v\n%q", err, b)
	}
	if err := resp.Validate(); err != nil {
		t.Fatalf("response to a valid request does not validate: %v\n%q", err, b)
	}
}

// diffMessages describes how a and b differ in start line, fields or body,
// or returns "".
func diffMessages(a, b *sip.Message) string {
	switch {
	case a.IsRequest() != b.IsRequest():
		return "request/response"
	case !bytes.Equal(a.MethodName(), b.MethodName()):
		return "method"
	case !bytes.Equal(a.RequestURI().Raw, b.RequestURI().Raw):
		return "Request-URI"
	case a.StatusCode() != b.StatusCode():
		return "status code"
	case !bytes.Equal(a.Reason(), b.Reason()):
		return "reason phrase"
	case !bytes.Equal(a.Body(), b.Body()):
		return "body"
	case a.ContentLength() != b.ContentLength():
		return "Content-Length"
	}
	fa, fb := a.Fields(), b.Fields()
	if len(fa) != len(fb) {
		return "number of fields"
	}
	for i := range fa {
		if fa[i].Name != fb[i].Name || !bytes.Equal(fa[i].RawName, fb[i].RawName) || !bytes.Equal(fa[i].Value, fb[i].Value) {
			return "field " + string(fa[i].RawName)
		}
	}
	return ""
}

// FuzzParseStream reads its input as a stream the way a TCP reader does:
// Frame, then ParseStream on exactly the bytes framed, then on to the next
// message. A message Frame framed is never ErrIncomplete to ParseStream,
// and one that parses occupies exactly the framed bytes.
func FuzzParseStream(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p sip.Parser
		var m sip.Message
		for rest := bytes.Clone(data); len(rest) > 0; {
			n, err := p.Frame(rest)
			if err != nil {
				if n != 0 {
					t.Fatalf("Frame returned %d with error %v", n, err)
				}
				// ErrTooLarge is reported at the limit, which may lie beyond
				// what has been read.
				checkParseError(t, err, max(len(rest), sip.DefaultMaxMessageSize))
				return
			}
			if n <= 0 {
				t.Fatalf("Frame returned %d without error", n)
			}
			if n > len(rest) {
				return // the reader would wait for more bytes
			}
			frame := rest[:n]
			rest = rest[n:]
			if sip.IsKeepAlive(frame) {
				continue
			}
			err = p.ParseStream(&m, frame)
			if errors.Is(err, sip.ErrIncomplete) {
				t.Fatalf("Frame framed %d bytes that ParseStream finds incomplete: %v\n%q", n, err, frame)
			}
			if err == nil && len(m.Bytes()) != n {
				t.Fatalf("Frame framed %d bytes, the message has %d", n, len(m.Bytes()))
			}
		}
	})
}

// FuzzRoundTrip checks what AppendTo documents: parsing its output gives
// the same start line, the same fields (names and values in order; the
// Content-Length AppendTo writes anew is left out) and the same body, and
// writing that again gives the same bytes.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m1, m2 sip.Message
		if sip.Parse(&m1, bytes.Clone(data)) != nil {
			return
		}
		out := m1.AppendTo(nil)
		if err := unlimited.Parse(&m2, out); err != nil {
			t.Fatalf("AppendTo output does not parse: %v\ninput  %q\noutput %q", err, data, out)
		}
		if d := diffRoundTrip(&m1, &m2); d != "" {
			t.Fatalf("round trip changed the %s\ninput  %q\noutput %q", d, data, out)
		}
		if again := m2.AppendTo(nil); !bytes.Equal(again, out) {
			t.Fatalf("AppendTo is not stable\nfirst  %q\nsecond %q", out, again)
		}
	})
}

// diffRoundTrip compares a message with its reparsed AppendTo output.
// Known names are written in long form, so they compare by HeaderName;
// other names by their spelling.
func diffRoundTrip(a, b *sip.Message) string {
	switch {
	case a.IsRequest() != b.IsRequest():
		return "request/response"
	case !bytes.Equal(a.MethodName(), b.MethodName()):
		return "method"
	case !bytes.Equal(a.RequestURI().Raw, b.RequestURI().Raw):
		return "Request-URI"
	case a.StatusCode() != b.StatusCode():
		return "status code"
	case !bytes.Equal(a.Reason(), b.Reason()):
		return "reason phrase"
	case !bytes.Equal(a.Body(), b.Body()):
		return "body"
	}
	fa, fb := withoutContentLength(a.Fields()), withoutContentLength(b.Fields())
	if len(fa) != len(fb) {
		return "number of fields"
	}
	for i := range fa {
		x, y := &fa[i], &fb[i]
		if x.Name != y.Name || x.Name == sip.HeaderOther && !bytes.Equal(x.RawName, y.RawName) {
			return "name of field " + string(x.RawName)
		}
		if !bytes.Equal(x.Value, y.Value) {
			return "value of field " + string(x.RawName)
		}
	}
	return ""
}

func withoutContentLength(fields []sip.Field) []sip.Field {
	out := make([]sip.Field, 0, len(fields))
	for _, fl := range fields {
		if fl.Name != sip.HeaderContentLength {
			out = append(out, fl)
		}
	}
	return out
}
