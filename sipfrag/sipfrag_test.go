package sipfrag

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// frag turns an example written with "\n" line ends into CRLF form.
func frag(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// The body of the RFC 3420 §3.1 SDP example: 246 octets with CRLF line
// ends. The RFC's Content-Length of 247 counts one octet too many.
const sdpBody = `v=0
o=alice 2890844526 2890844526 IN IP4 host.anywhere.com
s=
c=IN IP4 host.anywhere.com
t=0 0
m=audio 49170 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=video 51372 RTP/AVP 31
a=rtpmap:31 H261/90000
m=video 53000 RTP/AVP 32
a=rtpmap:32 MPV/90000
`

// Every valid example of RFC 3420 §3.1.
func TestParseValidExamples(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, m *sip.Message)
	}{
		{"request line only", "INVITE sip:alice@atlanta.com SIP/2.0\n", func(t *testing.T, m *sip.Message) {
			if !m.IsRequest() || m.Method() != sip.MethodInvite || string(m.RequestURI().Raw) != "sip:alice@atlanta.com" || len(m.Fields()) != 0 {
				t.Errorf("request %q %q, %d fields", m.MethodName(), m.RequestURI().Raw, len(m.Fields()))
			}
		}},
		{"status line only", "SIP/2.0 603 Declined\n", func(t *testing.T, m *sip.Message) {
			if m.IsRequest() || m.StatusCode() != 603 || string(m.Reason()) != "Declined" {
				t.Errorf("status %d %q", m.StatusCode(), m.Reason())
			}
		}},
		{"REGISTER with a folded Contact list", `REGISTER sip:atlanta.com SIP/2.0
To: sip:alice@atlanta.com
Contact: <sip:alicepc@atlanta.com>;q=0.9,
         <sip:alicemobile@atlanta.com>;q=0.1
`, func(t *testing.T, m *sip.Message) {
			if m.Method() != sip.MethodRegister || m.Count(sip.HeaderContact) != 2 {
				t.Fatalf("method %q, %d Contact values", m.MethodName(), m.Count(sip.HeaderContact))
			}
			it := m.Values(sip.HeaderContact)
			for _, want := range []struct{ uri, q string }{
				{"sip:alicepc@atlanta.com", "0.9"}, {"sip:alicemobile@atlanta.com", "0.1"},
			} {
				v, _ := it.Next()
				var n sip.NameAddr
				if err := n.Parse(v); err != nil {
					t.Fatal(err)
				}
				q, _ := n.Params.Get("q")
				if string(n.URI.Raw) != want.uri || string(q) != want.q {
					t.Errorf("Contact %q q=%q, want %q q=%q", n.URI.Raw, q, want.uri, want.q)
				}
			}
		}},
		{"400 with Warning", `SIP/2.0 400 Bad Request
Warning: 399 atlanta.com Your Event header field was malformed
`, func(t *testing.T, m *sip.Message) {
			if m.StatusCode() != 400 || string(m.Reason()) != "Bad Request" ||
				string(m.Get(sip.HeaderWarning)) != "399 atlanta.com Your Event header field was malformed" {
				t.Errorf("status %d %q, Warning %q", m.StatusCode(), m.Reason(), m.Get(sip.HeaderWarning))
			}
		}},
		{"header fields without start line", `From: Alice <sip:alice@atlanta.com>
To: Bob <sip:bob@biloxi.com>
Contact: <sip:alice@pc33.atlanta.com>
Date: Thu, 21 Feb 2002 13:02:03 GMT
Call-ID: a84b4c76e66710
Cseq: 314159 INVITE
`, func(t *testing.T, m *sip.Message) {
			if m.IsRequest() || m.StatusCode() != 0 || len(m.Fields()) != 6 {
				t.Fatalf("request %v status %d, %d fields", m.IsRequest(), m.StatusCode(), len(m.Fields()))
			}
			from, err := m.From()
			if err != nil || string(from.DisplayName) != "Alice" {
				t.Errorf("From %q %v", from.DisplayName, err)
			}
			cseq, err := m.CSeq()
			if err != nil || cseq.Seq != 314159 || cseq.Method != sip.MethodInvite {
				t.Errorf("Cseq %+v %v", cseq, err)
			}
			if _, err := m.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
			if string(m.CallID()) != "a84b4c76e66710" {
				t.Errorf("Call-ID %q", m.CallID())
			}
		}},
		{"200 with SDP body", "SIP/2.0 200 OK\nContent-Type: application/sdp\nContent-Length: 246\n\n" + sdpBody, func(t *testing.T, m *sip.Message) {
			ct, err := m.ContentType()
			if m.StatusCode() != 200 || err != nil || !ct.Is("application", "sdp") {
				t.Errorf("status %d, Content-Type %+v %v", m.StatusCode(), ct, err)
			}
			if string(m.Body()) != string(frag(sdpBody)) {
				t.Errorf("body %q", m.Body())
			}
		}},
		{"text-plain body without start line", "Content-Type: text/plain\nContent-Length: 11\n\nHi There!\n", func(t *testing.T, m *sip.Message) {
			ct, err := m.ContentType()
			if m.StatusCode() != 0 || m.IsRequest() || err != nil || !ct.Is("text", "plain") {
				t.Errorf("status %d, Content-Type %+v %v", m.StatusCode(), ct, err)
			}
			if string(m.Body()) != "Hi There!\r\n" {
				t.Errorf("body %q", m.Body())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sip.Message
			if err := Parse(&m, frag(tt.in)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, &m)
		})
	}
}

// Every invalid example of RFC 3420 §3.2.
func TestParseInvalidExamples(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		// The start line, if present, must be complete and valid.
		{"method alone", "INVITE\n", sip.ErrMalformed},
		{"version 1.09", "INVITE sip:alice@atlanta.com SIP/1.09\n", sip.ErrVersion},
		{"version alone", "SIP/2.0\n", sip.ErrMalformed},
		{"status without version", "404 Not Found\n", sip.ErrBadURI},
		// All header fields must be valid.
		{"Via without host, To without URI", "INVITE sip:alice@atlanta.com SIP/2.0\nVia: SIP/2.0/UDP ;branch=z9hG4bK29342a\nTo: <>;tag=39234\n", sip.ErrBadHeader},
		{"Call-ID with spaces", "To: sip:alice@atlanta.com\nFrom: sip:bob@biloxi.com;tag=1992312\nCall-ID: this is invalid\n", sip.ErrBadHeader},
		{"two tags", "INVITE sip:alice@atlanta.com SIP/2.0\nFrom: <sip:bob@biloxi.com>;tag=z9hG4bK2912;tag=z9hG4bK99234\n", sip.ErrBadHeader},
		// A body needs the empty line (and the header fields describing it).
		{"body without empty line", "MESSAGE sip:alice@atlanta.com SIP/2.0\nHi There!\n", sip.ErrMalformed},
		{"body without empty line or CRLF", "MESSAGE sip:alice@atlanta.com SIP/2.0\nHi There!", sip.ErrMalformed},
		// The SDP example exactly as printed: Content-Length 247, body 246.
		{"Content-Length beyond the body", "SIP/2.0 200 OK\nContent-Type: application/sdp\nContent-Length: 247\n\n" + sdpBody, sip.ErrContentLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sip.Message
			err := Parse(&m, frag(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			var pe *sip.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not a *sip.ParseError", err)
			}
		})
	}
	// Each fault of the two-field examples is a fault alone.
	for _, in := range []string{
		"Via: SIP/2.0/UDP ;branch=z9hG4bK29342a\n",
		"To: <>;tag=39234\n",
		"Call-ID: this is invalid\n",
	} {
		var m sip.Message
		if err := Parse(&m, frag(in)); !errors.Is(err, sip.ErrBadHeader) {
			t.Errorf("Parse(%q) = %v, want ErrBadHeader", in, err)
		}
	}
	var m sip.Message
	if err := Parse(&m, frag("To: sip:alice@atlanta.com\nFrom: sip:bob@biloxi.com;tag=1992312\n")); err != nil {
		t.Errorf("To and From without the Call-ID: %v", err)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		code   int
		reason string
	}{
		{"CRLF", "SIP/2.0 100 Trying\r\n", 100, "Trying"},
		{"bare LF (baresip)", "SIP/2.0 200 OK\n", 200, "OK"},
		{"no line end", "SIP/2.0 486 Busy Here", 486, "Busy Here"},
		{"empty reason", "SIP/2.0 180 ", 180, ""},
		{"no reason, no SP", "SIP/2.0 180", 180, ""},
		{"with header fields", "SIP/2.0 603 Declined\r\nWarning: 399 h \"x\"\r\n", 603, "Declined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, err := Status([]byte(tt.in))
			if err != nil || code != tt.code || string(reason) != tt.reason {
				t.Errorf("Status(%q) = %d, %q, %v; want %d, %q", tt.in, code, reason, err, tt.code, tt.reason)
			}
		})
	}
	for _, in := range []string{
		"Content-Type: text/plain\r\n",             // no start line
		"INVITE sip:alice@atlanta.com SIP/2.0\r\n", // a request line
		"",
		"SIP/2.0 99 Too Low\r\n",
		"SIP/2.0 200 OK\r\nCall-ID: this is invalid\r\n",
	} {
		code, reason, err := Status([]byte(in))
		var pe *sip.ParseError
		if !errors.As(err, &pe) || !errors.Is(err, sip.ErrMalformed) && !errors.Is(err, sip.ErrBadHeader) || code != 0 || reason != nil {
			t.Errorf("Status(%q) = %d, %q, %v; want a *sip.ParseError", in, code, reason, err)
		}
	}
	if _, _, err := Status([]byte("Content-Type: text/plain\r\n")); !errors.Is(err, sip.ErrMalformed) {
		t.Errorf("no status line: %v, want ErrMalformed", err)
	}
}

func TestStatusZeroAllocs(t *testing.T) {
	in := []byte("SIP/2.0 200 OK\r\nContent-Type: text/plain\r\n")
	n := testing.AllocsPerRun(100, func() {
		if code, _, err := Status(in); err != nil || code != 200 {
			t.Fatal(code, err)
		}
	})
	if n != 0 {
		t.Errorf("Status: %v allocations, want 0", n)
	}
}

func TestIsContentType(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"message/sipfrag", true},
		{"message/sipfrag;version=2.0", true},
		{"Message/SIPfrag", true},
		{`message/sipfrag; version="2.0"`, true},
		{"message/sipfrag;version=3.0", false},
		{"application/sdp", false},
		{"message/sip", false},
	}
	for _, tt := range tests {
		var ct sip.ContentType
		if err := ct.Parse([]byte(tt.in)); err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if got := IsContentType(&ct); got != tt.want {
			t.Errorf("IsContentType(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	var ct sip.ContentType
	if err := ct.Parse([]byte(ContentType)); err != nil || !IsContentType(&ct) {
		t.Errorf("ContentType constant %q: %v", ContentType, err)
	}
}

func TestAppendStatus(t *testing.T) {
	tests := []struct {
		got  []byte
		want string
	}{
		{AppendStatus(nil, 100, "Trying"), "SIP/2.0 100 Trying\r\n"},
		{AppendStatus(nil, 200, ""), "SIP/2.0 200 OK\r\n"},
		{AppendStatus([]byte("x"), 486, []byte("Busy Here")), "xSIP/2.0 486 Busy Here\r\n"},
		{AppendStatus(nil, 503, "Service\r\nUnavailable"), "SIP/2.0 503 Service  Unavailable\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("AppendStatus = %q, want %q", tt.got, tt.want)
		}
	}
	// What AppendStatus writes, Status reads back.
	code, reason, err := Status(AppendStatus(nil, 202, ""))
	if err != nil || code != 202 || string(reason) != "Accepted" {
		t.Errorf("round trip: %d %q %v", code, reason, err)
	}
}

// StatusLine reads the status line even when a header field after it is
// malformed (Status refuses the whole body then), and refuses a body whose
// first line is no status line.
func TestStatusLine(t *testing.T) {
	for _, c := range []struct {
		in     string
		code   int
		reason string
	}{
		{"SIP/2.0 200 OK\r\nCall-ID: this is invalid\r\n", 200, "OK"},
		{"SIP/2.0 486 Busy Here\nno colon here\n", 486, "Busy Here"},
		{"\r\nSIP/2.0 603 Declined\r\n\r\nbody", 603, "Declined"},
		{"SIP/2.0 180 Ringing", 180, "Ringing"},
	} {
		code, reason, err := StatusLine([]byte(c.in))
		if err != nil || code != c.code || string(reason) != c.reason {
			t.Errorf("StatusLine(%q) = %d, %q, %v; want %d %q", c.in, code, reason, err, c.code, c.reason)
		}
	}
	for _, in := range []string{"", "\r\n", "Warning: 399 h \"x\"\r\nSIP/2.0 200 OK\r\n", "SIP/2.0 20 OK\r\n", "INVITE sip:a@b SIP/2.0\r\n"} {
		if code, _, err := StatusLine([]byte(in)); err == nil {
			t.Errorf("StatusLine(%q) = %d, want an error", in, code)
		}
	}
	in := []byte("SIP/2.0 200 OK\r\nBad Line\r\n")
	if n := testing.AllocsPerRun(100, func() { StatusLine(in) }); n != 0 {
		t.Errorf("StatusLine: %v allocations, want 0", n)
	}
}
