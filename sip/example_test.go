package sip_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sipxfer/sipxfer/sip"
)

func ExampleParse() {
	datagram := []byte("REFER sip:bob@192.0.2.4 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
		"To: <sip:bob@biloxi.example.com>;tag=8321234356\r\n" +
		"Call-ID: 3848276298220188511@atlanta.example.com\r\n" +
		"CSeq: 2 REFER\r\n" +
		"r: <sip:carol@chicago.example.com>\r\n" +
		"Content-Length: 0\r\n\r\n")

	var m sip.Message // reuse it for the next datagram: no allocations
	if err := sip.Parse(&m, datagram); err != nil {
		fmt.Println(err)
		return
	}
	via, _ := m.TopVia()
	cseq, _ := m.CSeq()
	referTo, _ := m.ReferTo() // "r" is Refer-To's compact form
	fmt.Printf("%s %s, branch %s, rport %v\n", m.MethodName(), cseq.MethodName, via.Branch, via.HasRPort)
	fmt.Printf("Refer-To host %s\n", referTo.URI.Host)
	// Output:
	// REFER REFER, branch z9hG4bK74bf9, rport true
	// Refer-To host chicago.example.com
}

func ExampleParseError() {
	var m sip.Message
	err := sip.Parse(&m, []byte("OPTIONS sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP h:99999\r\n"+
		"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"))
	if err == nil {
		err = m.Validate()
	}
	var pe *sip.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.StatusCode(), pe.ReasonPhrase())
	}
	// Output:
	// 400 Bad Request (bad sent-by port in Via)
}

func ExampleAppendResponse() {
	var req sip.Message
	_ = sip.Parse(&req, []byte("OPTIONS sip:bob@192.0.2.4 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"+
		"From: <sip:alice@192.0.2.1>;tag=1\r\nTo: <sip:bob@192.0.2.4>\r\n"+
		"Call-ID: c1\r\nCSeq: 7 OPTIONS\r\n\r\n"))
	buf := make([]byte, 0, 512) // reuse it: building allocates nothing
	buf = sip.AppendResponse(buf, &req, 200, "", "b0b")
	buf = sip.AppendHeader(buf, sip.HeaderAllow, "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY")
	buf = sip.AppendNoBody(buf)
	fmt.Print(strings.ReplaceAll(string(buf), "\r\n", "\n"))
	// Output:
	// SIP/2.0 200 OK
	// Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
	// From: <sip:alice@192.0.2.1>;tag=1
	// To: <sip:bob@192.0.2.4>;tag=b0b
	// Call-ID: c1
	// CSeq: 7 OPTIONS
	// Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY
	// Content-Length: 0
}
