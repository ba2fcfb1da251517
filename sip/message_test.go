package sip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// crlf turns a readable multi-line literal into wire form.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const referRequest = `REFER sip:bob@192.0.2.4:5060;transport=udp SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8;rport
Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.99
Max-Forwards: 70
To: "Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314160 REFER
Contact: <sip:alice@192.0.2.1>
Refer-To: <sip:carol@chicago.example.com?Replaces=12345%40192.0.2.5%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>
Referred-By: <sip:alice@atlanta.example.com>
Event: refer;id=93809824
Supported: norefersub, replaces
Allow: INVITE, ACK, CANCEL, BYE, REFER, NOTIFY
Content-Length: 0

`

func TestParseRequest(t *testing.T) {
	var m Message
	if err := Parse(&m, crlf(referRequest)); err != nil {
		t.Fatal(err)
	}
	if !m.IsRequest() || m.Method() != MethodRefer || string(m.MethodName()) != "REFER" {
		t.Fatalf("start line: request=%v method=%v %q", m.IsRequest(), m.Method(), m.MethodName())
	}
	if got := string(m.RequestURI().Raw); got != "sip:bob@192.0.2.4:5060;transport=udp" {
		t.Errorf("Request-URI %q", got)
	}
	if got := len(m.Fields()); got != 14 {
		t.Errorf("%d fields, want 14", got)
	}
	if got := string(m.CallID()); got != "a84b4c76e66710@pc33.atlanta.example.com" {
		t.Errorf("Call-ID %q", got)
	}
	cseq, err := m.CSeq()
	if err != nil || cseq.Seq != 314160 || cseq.Method != MethodRefer {
		t.Errorf("CSeq %+v %v", cseq, err)
	}
	via, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	if string(via.Transport) != "UDP" || string(via.Host) != "192.0.2.1" || via.Port != 5060 ||
		string(via.Branch) != "z9hG4bKnashds8" || !via.HasRPort || via.RPort != 0 {
		t.Errorf("top Via %+v", via)
	}
	if n := m.Count(HeaderVia); n != 2 {
		t.Errorf("Count(Via) = %d", n)
	}
	to, err := m.To()
	if err != nil || string(to.DisplayName) != "Bob" || !to.Quoted || string(to.Tag()) != "a6c85cf" {
		t.Errorf("To %+v %v", to, err)
	}
	from, err := m.From()
	if err != nil || string(from.DisplayName) != "Alice" || from.Quoted || string(from.Tag()) != "1928301774" {
		t.Errorf("From %+v %v", from, err)
	}
	ev, err := m.Event()
	if err != nil || !ev.Is("refer") || string(ev.ID) != "93809824" {
		t.Errorf("Event %+v %v", ev, err)
	}
	if !m.HasToken(HeaderSupported, "NoReferSub") || !m.HasToken(HeaderAllow, "REFER") || m.HasToken(HeaderAllow, "refer") {
		t.Error("token lists")
	}
	if m.ContentLength() != 0 || len(m.Body()) != 0 {
		t.Errorf("body %d %q", m.ContentLength(), m.Body())
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseResponseAndBody(t *testing.T) {
	msg := crlf("SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:b@h>;tag=2\nFrom: <sip:a@h>;tag=1\nCall-ID: x\nCSeq: 1 INVITE\nContent-Type: text/plain\nContent-Length: 5\n\nhelloEXTRA")
	var m Message
	if err := Parse(&m, msg); err != nil {
		t.Fatal(err)
	}
	if m.IsRequest() || m.StatusCode() != 180 || string(m.Reason()) != "Ringing" {
		t.Errorf("status line %d %q", m.StatusCode(), m.Reason())
	}
	if string(m.Body()) != "hello" || bytes.HasSuffix(m.Bytes(), []byte("EXTRA")) {
		t.Errorf("body %q", m.Body())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, msg string
		want      error
		status    int
	}{
		{"version", "INVITE sip:a@b SIP/3.0\n\n", ErrVersion, 505},
		{"response version", "SIP/1.0 200 OK\n\n", ErrVersion, 505},
		{"not a version", "INVITE sip:a@b HTTP/1.1\n\n", ErrMalformed, 400},
		{"double space", "INVITE  sip:a@b SIP/2.0\n\n", ErrMalformed, 400},
		{"trailing space", "INVITE sip:a@b SIP/2.0 \n\n", ErrMalformed, 400},
		{"status code", "SIP/2.0 20 OK\n\n", ErrMalformed, 400},
		{"status range", "SIP/2.0 700 OK\n\n", ErrMalformed, 400},
		{"no colon", "OPTIONS sip:a@b SIP/2.0\nVia\n\n", ErrMalformed, 400},
		{"bad name", "OPTIONS sip:a@b SIP/2.0\nV(a: x\n\n", ErrMalformed, 400},
		{"incomplete", "OPTIONS sip:a@b SIP/2.0\nVia: x\n", ErrIncomplete, 400},
		{"cl too big", "OPTIONS sip:a@b SIP/2.0\nContent-Length: 10\n\nabc", ErrContentLength, 400},
		{"cl negative", "OPTIONS sip:a@b SIP/2.0\nContent-Length: -1\n\n", ErrContentLength, 400},
		{"cl twice", "OPTIONS sip:a@b SIP/2.0\nContent-Length: 0\nl: 0\n\n", ErrContentLength, 400},
		{"fold first", "OPTIONS sip:a@b SIP/2.0\n x: y\n\n", ErrMalformed, 400},
		{"bare CR in value", "OPTIONS sip:a@b SIP/2.0\nSubject: a\rb\n\n", ErrMalformed, 400},
		{"bare CR line end", "OPTIONS sip:a@b SIP/2.0\nSubject: a\r\r\n\n", ErrMalformed, 400},
		{"ruri headers", "OPTIONS sip:a@b?x=y SIP/2.0\n\n", ErrBadURI, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := Parse(&m, crlf(tt.msg))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.StatusCode() != tt.status {
				t.Fatalf("status %v", err)
			}
		})
	}
}
