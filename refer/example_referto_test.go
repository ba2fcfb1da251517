package refer_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// The transferee of RFC 5589 §7.5 checks the REFER and writes the start of
// the INVITE it sends to the transfer target.
func ExampleParseReferTo() {
	msg := strings.ReplaceAll(`REFER sips:transferee@192.0.2.4 SIP/2.0
Via: SIP/2.0/TLS pc33.atlanta.example.com;branch=z9hG4bKnashds9
Max-Forwards: 70
To: <sips:transferee@biloxi.example.com>;tag=a6c85cf
From: <sips:transferor@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314160 REFER
Refer-To: <sips:transfertarget@chicago.example.com?Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231&Require=replaces&Call-ID=evil>
Referred-By: <sips:transferor@atlanta.example.com>
Contact: <sips:transferor@pc33.atlanta.example.com>
Content-Length: 0

`, "\n", "\r\n")
	var req sip.Message
	if err := sip.Parse(&req, []byte(msg)); err != nil {
		panic(err)
	}
	target, err := refer.ParseReferTo(&req, nil)
	var rej *refer.Error
	if errors.As(err, &rej) {
		fmt.Println("answer", rej.Status, rej.Reason)
		return
	}
	invite := sip.AppendRequestLine(nil, "INVITE", target.AppendRequestURI(nil))
	// ... Via, Max-Forwards, From, To, Call-ID, CSeq, Contact ...
	invite = target.AppendHeaderFields(invite)
	fmt.Print(strings.ReplaceAll(string(invite), "\r\n", "\n"))
	target.EachDropped(func(name, value []byte) { fmt.Printf("dropped %s=%s\n", name, value) })
	// Output:
	// INVITE sips:transfertarget@chicago.example.com SIP/2.0
	// Referred-By: <sips:transferor@atlanta.example.com>
	// Replaces: 090459243588173445;to-tag=9m2n3wq;from-tag=763231
	// Require: replaces
	// dropped Call-ID=evil
}

// The transferor of RFC 5589 §7.3 has a dialog with the transfer target
// (Call-ID 592435881734450904, its own tag 763231, the target's 9m2n3wq)
// and refers the transferee to the target's Contact, replacing that
// dialog.
func ExampleAppendReferToReplaces() {
	var contact sip.URI
	if err := contact.Parse([]byte("sips:482n4z24kdg@chicago.example.com;gr=8594958")); err != nil {
		panic(err)
	}
	b := refer.AppendReferToReplaces([]byte("Refer-To: "), &contact, "592435881734450904", "9m2n3wq", "763231", false)
	fmt.Println(string(b))
	// Output:
	// Refer-To: <sips:482n4z24kdg@chicago.example.com;gr=8594958?Replaces=592435881734450904%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231>
}
