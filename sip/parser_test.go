package sip

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFoldingAndWhitespace(t *testing.T) {
	msg := crlf("OPTIONS sip:a@b SIP/2.0\nSubject :\n  first\n\tsecond  \nX-Empty:\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bK1\n\n")
	var m Message
	if err := Parse(&m, msg); err != nil {
		t.Fatal(err)
	}
	if got := string(m.Get(HeaderSubject)); got != "first  \tsecond" {
		t.Errorf("Subject %q", got)
	}
	if got := m.GetName("x-empty"); got == nil || len(got) != 0 {
		t.Errorf("X-Empty %q", got)
	}
	via, err := m.TopVia()
	if err != nil || string(via.Branch) != "z9hG4bK1" {
		t.Errorf("Via %+v %v", via, err)
	}
}

func TestCompactForms(t *testing.T) {
	// RFC 3261 §7.3.3 and the extensions: o Event, r Refer-To, b Referred-By, u Allow-Events.
	want := map[string]HeaderName{
		"i": HeaderCallID, "m": HeaderContact, "e": HeaderContentEncoding, "l": HeaderContentLength,
		"c": HeaderContentType, "f": HeaderFrom, "s": HeaderSubject, "k": HeaderSupported,
		"t": HeaderTo, "v": HeaderVia, "o": HeaderEvent, "r": HeaderReferTo, "b": HeaderReferredBy,
		"u": HeaderAllowEvents,
	}
	for name, h := range want {
		for _, n := range []string{name, strings.ToUpper(name)} {
			if got := LookupHeader([]byte(n)); got != h {
				t.Errorf("LookupHeader(%q) = %v, want %v", n, got, h)
			}
		}
	}
	for h := HeaderName(1); h < numHeaders; h++ {
		for _, n := range []string{h.String(), strings.ToLower(h.String()), strings.ToUpper(h.String())} {
			if got := LookupHeader([]byte(n)); got != h {
				t.Errorf("LookupHeader(%q) = %v", n, got)
			}
		}
	}
	for _, n := range []string{"X-Foo", "Vias", "z", "Contact-", "Refer-T0"} {
		if got := LookupHeader([]byte(n)); got != HeaderOther {
			t.Errorf("LookupHeader(%q) = %v, want HeaderOther", n, got)
		}
	}
}

func TestListValues(t *testing.T) {
	msg := crlf(`OPTIONS sip:a@b SIP/2.0
Contact: "Doe, \"J\"" <sip:a@b;x=1,2>;q=0.5, sip:c@d
Contact: <sip:e@f?h=a,b>
Allow: INVITE,ACK ,  BYE

`)
	var m Message
	if err := Parse(&m, msg); err != nil {
		t.Fatal(err)
	}
	var got []string
	for it := m.Values(HeaderContact); ; {
		v, ok := it.Next()
		if !ok {
			break
		}
		got = append(got, string(v))
	}
	want := []string{`"Doe, \"J\"" <sip:a@b;x=1,2>;q=0.5`, "sip:c@d", "<sip:e@f?h=a,b>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Contact values %q, want %q", got, want)
	}
	if n := m.Count(HeaderAllow); n != 3 || !m.HasToken(HeaderAllow, "BYE") {
		t.Errorf("Allow count %d", n)
	}
}

func TestManyHeaders(t *testing.T) {
	var b strings.Builder
	b.WriteString("OPTIONS sip:a@b SIP/2.0\r\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "X-H%d: %d\r\n", i, i)
	}
	b.WriteString("Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n")
	var m Message
	for round := 0; round < 2; round++ { // the second parse reuses the overflow slice
		if err := Parse(&m, []byte(b.String())); err != nil {
			t.Fatal(err)
		}
		if len(m.Fields()) != 101 || string(m.GetName("x-h99")) != "99" || !m.Has(HeaderVia) {
			t.Fatalf("round %d: %d fields", round, len(m.Fields()))
		}
	}
	p := Parser{MaxHeaders: 50}
	if err := p.Parse(&m, []byte(b.String())); !errors.Is(err, ErrTooManyHeaders) {
		t.Errorf("MaxHeaders: %v", err)
	}
}

func TestLimits(t *testing.T) {
	long := "OPTIONS sip:a@b SIP/2.0\r\nX: " + strings.Repeat("a", 200) + "\r\n\r\n"
	var m Message
	if err := (&Parser{MaxLineLength: 100}).Parse(&m, []byte(long)); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("MaxLineLength: %v", err)
	}
	if err := (&Parser{MaxMessageSize: 100}).Parse(&m, []byte(long)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxMessageSize: %v", err)
	} else if pe := err.(*ParseError); pe.StatusCode() != 513 {
		t.Errorf("status %d", pe.StatusCode())
	}
	if err := (&Parser{}).Parse(&m, []byte(long)); err != nil {
		t.Errorf("defaults: %v", err)
	}
	// RFC 3261 §21.4.12: a Request-URI longer than the limit is 414; the
	// same URI in a header field is only bounded by the line length.
	uri := "sip:" + strings.Repeat("a", DefaultMaxURILength-len("sip:@b")) + "@b"
	if err := Parse(&m, []byte("OPTIONS "+uri+" SIP/2.0\r\n\r\n")); err != nil {
		t.Errorf("Request-URI of %d bytes: %v", len(uri), err)
	}
	err := Parse(&m, []byte("OPTIONS "+uri+"x SIP/2.0\r\nContact: <"+uri+"x>\r\n\r\n"))
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrURITooLong) || pe.StatusCode() != 414 || pe.ReasonPhrase() != "Request-URI Too Long" {
		t.Errorf("Request-URI of %d bytes: %v", len(uri)+1, err)
	}
	if err := (&Parser{MaxURILength: -1}).Parse(&m, []byte("OPTIONS "+uri+"x SIP/2.0\r\n\r\n")); err != nil {
		t.Errorf("no URI limit: %v", err)
	}
	if err := Parse(&m, []byte("SIP/2.0 200 OK\r\nContact: <"+uri+"x>\r\n\r\n")); err != nil {
		t.Errorf("response with a long Contact: %v", err)
	}
	// A Content-Length that cannot fit MaxMessageSize is too large (513)
	// at once, on a stream too; a larger limit lets a large body wait.
	big := crlf("MESSAGE sip:a@b SIP/2.0\nContent-Length: 2000000\n\nhi")
	if err := (&Parser{}).ParseStream(&m, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("default limit, huge Content-Length: %v", err)
	}
	if err := (&Parser{MaxMessageSize: 4 << 20}).ParseStream(&m, big); !errors.Is(err, ErrIncomplete) {
		t.Errorf("4 MiB limit, 2 MB body: %v", err)
	}
}

func TestDatagramBody(t *testing.T) {
	var m Message
	// No Content-Length on a datagram: the body is the rest of the packet.
	if err := Parse(&m, crlf("MESSAGE sip:a@b SIP/2.0\n\nhi there")); err != nil || string(m.Body()) != "hi there" {
		t.Errorf("body %q %v", m.Body(), err)
	}
	// On a stream it is an error (RFC 3261 §18.3).
	if err := (&Parser{}).ParseStream(&m, crlf("MESSAGE sip:a@b SIP/2.0\n\nhi")); !errors.Is(err, ErrContentLength) {
		t.Errorf("stream without Content-Length: %v", err)
	}
	if err := (&Parser{}).ParseStream(&m, crlf("MESSAGE sip:a@b SIP/2.0\nl: 5\n\nhi")); !errors.Is(err, ErrIncomplete) {
		t.Errorf("short stream body: %v", err)
	}
	// Leading CRLFs are ignored (RFC 3261 §7.5).
	if err := Parse(&m, crlf("\n\nOPTIONS sip:a@b SIP/2.0\nl: 0\n\n")); err != nil || m.Method() != MethodOptions {
		t.Errorf("leading CRLF: %v", err)
	}
}

func TestFrame(t *testing.T) {
	one := crlf("MESSAGE sip:a@b SIP/2.0\nContent-Length:\n 5\n\nhello")
	stream := append(append(crlf("\n\n"), one...), one...)
	var p Parser
	n, err := p.Frame(stream)
	if err != nil || n != 4 || !IsKeepAlive(stream[:n]) {
		t.Fatalf("keep-alive: %d %v", n, err)
	}
	stream = stream[n:]
	for i := 1; i < len(one); i++ {
		if n, err := p.Frame(one[:i]); err == nil && n <= i {
			t.Fatalf("prefix %d framed as %d", i, n)
		} else if err != nil && !errors.Is(err, ErrIncomplete) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	n, err = p.Frame(stream)
	if err != nil || n != len(one) {
		t.Fatalf("Frame = %d, %v; want %d", n, err, len(one))
	}
	var m Message
	if err := p.ParseStream(&m, stream[:n]); err != nil || string(m.Body()) != "hello" {
		t.Fatalf("ParseStream: %v %q", err, m.Body())
	}
	if _, err := p.Frame(crlf("MESSAGE sip:a@b SIP/2.0\n\n")); !errors.Is(err, ErrContentLength) {
		t.Errorf("missing Content-Length: %v", err)
	}
	if _, err := (&Parser{MaxMessageSize: 50}).Frame(crlf("MESSAGE sip:a@b SIP/2.0\nl: 100\n\n")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

func TestClone(t *testing.T) {
	buf := crlf(referRequest)
	var m Message
	if err := Parse(&m, buf); err != nil {
		t.Fatal(err)
	}
	c := m.Clone()
	for i := range buf {
		buf[i] = 'x'
	}
	if c.Method() != MethodRefer || string(c.CallID()) != "a84b4c76e66710@pc33.atlanta.example.com" || len(c.Fields()) != 14 {
		t.Errorf("clone lost data: %q", c.CallID())
	}
}

func TestAppendResponse(t *testing.T) {
	var req Message
	if err := Parse(&req, crlf(referRequest)); err != nil {
		t.Fatal(err)
	}
	// The request's To already has a tag: it is copied as is.
	b := AppendResponse(nil, &req, 202, "", "ignored")
	b = AppendNoBody(b)
	want := crlf(`SIP/2.0 202 Accepted
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8;rport
Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.99
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
To: "Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314160 REFER
Content-Length: 0

`)
	if !bytes.Equal(b, want) {
		t.Errorf("response:\n%s\nwant:\n%s", b, want)
	}
	// Without a To tag one is added, except for an untagged 100 (§8.2.6.2).
	var inv Message
	if err := Parse(&inv, crlf("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: sip:b@h\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nCSeq: 1 INVITE\nTimestamp: 54\n\n")); err != nil {
		t.Fatal(err)
	}
	var r Message
	if err := Parse(&r, AppendNoBody(AppendResponse(nil, &inv, 180, "", "xyz"))); err != nil {
		t.Fatal(err)
	}
	if to, _ := r.To(); string(to.Tag()) != "xyz" || string(to.URI.Raw) != "sip:b@h" {
		t.Errorf("To %q tag %q", r.Get(HeaderTo), to.Tag())
	}
	if r.Has(HeaderTimestamp) {
		t.Error("Timestamp copied into a 180")
	}
	if err := Parse(&r, AppendNoBody(AppendResponse(nil, &inv, 100, "", ""))); err != nil {
		t.Fatal(err)
	}
	if string(r.Get(HeaderTimestamp)) != "54" || string(r.Get(HeaderTo)) != "sip:b@h" {
		t.Errorf("100: Timestamp %q To %q", r.Get(HeaderTimestamp), r.Get(HeaderTo))
	}
}

func TestAppendSafe(t *testing.T) {
	b := AppendHeader(nil, HeaderSubject, "x\r\nVia: injected")
	if string(b) != "Subject: x  Via: injected\r\n" {
		t.Errorf("%q", b)
	}
}

func TestRoundTrip(t *testing.T) {
	var m, m2 Message
	if err := Parse(&m, crlf(referRequest)); err != nil {
		t.Fatal(err)
	}
	out := m.AppendTo(nil)
	if err := Parse(&m2, out); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := sameMessage(&m, &m2); err != nil {
		t.Error(err)
	}
}

// sameMessage compares what AppendTo promises to keep: start line, fields
// other than Content-Length, in order, and body.
func sameMessage(a, b *Message) error {
	if a.IsRequest() != b.IsRequest() || string(a.MethodName()) != string(b.MethodName()) ||
		string(a.RequestURI().Raw) != string(b.RequestURI().Raw) ||
		a.StatusCode() != b.StatusCode() || string(a.Reason()) != string(b.Reason()) {
		return fmt.Errorf("start lines differ")
	}
	fa, fb := a.Fields(), b.Fields()
	j := 0
	for _, f := range fa {
		if f.Name == HeaderContentLength {
			continue
		}
		for j < len(fb) && fb[j].Name == HeaderContentLength {
			j++
		}
		if j == len(fb) || f.Name != fb[j].Name || string(f.Value) != string(fb[j].Value) {
			return fmt.Errorf("field %q differs", f.RawName)
		}
		j++
	}
	if !bytes.Equal(a.Body(), b.Body()) {
		return fmt.Errorf("bodies differ")
	}
	return nil
}

// ParseHeaderFields reads the fields of a message whose Content-Length
// frames nothing (RFC 4475 §3.1.2.3, §3.3.9), so that it can be answered.
func TestParseHeaderFieldsIgnoresContentLength(t *testing.T) {
	for _, cl := range []string{"Content-Length: -999\n", "Content-Length: five\n", "Content-Length: 13\nl: 5\n"} {
		var m Message
		var p Parser
		b := crlf("Via: SIP/2.0/UDP h;branch=z9hG4bK1\nCall-ID: x\n" + cl)
		if err := p.ParseHeaderFields(&m, b); err != nil {
			t.Fatalf("%q: %v", cl, err)
		}
		if string(m.CallID()) != "x" || m.ContentLength() != -1 || m.IsRequest() {
			t.Errorf("%q: Call-ID %q, Content-Length %d", cl, m.CallID(), m.ContentLength())
		}
	}
}
