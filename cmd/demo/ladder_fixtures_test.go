// The fixtures of the ladder tests: three parties, a blind transfer's
// messages written by hand, and a Ladder whose clock the test drives.

package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

// The parties of the tests, as the demo runs them.
var (
	testAlice = testAddr("127.0.0.1:5061")
	testBob   = testAddr("127.0.0.1:5062")
	testCarol = testAddr("127.0.0.1:5063")
)

func testAddr(s string) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort(s)}
}

// testMessage returns a message written by hand: head's lines end in CRLF,
// and Content-Length, the empty line and body follow.
func testMessage(head, body string) []byte {
	head = strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n")
	return []byte(fmt.Sprintf("%sContent-Length: %d\r\n\r\n%s", head, len(body), body))
}

// A blind transfer's messages (RFC 5589 §6), with a hold first.
var (
	testInvite = testMessage(`
INVITE sip:bob@127.0.0.1:5062 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKinv1;rport
Max-Forwards: 70
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>
Call-ID: call1
CSeq: 1 INVITE
Contact: <sip:alice@127.0.0.1:5061>
`, "")
	testTrying = testMessage(`
SIP/2.0 100 Trying
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKinv1;rport=5061
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>
Call-ID: call1
CSeq: 1 INVITE
`, "")
	testRinging = testMessage(`
SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKinv1;rport=5061
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>;tag=b1
Call-ID: call1
CSeq: 1 INVITE
`, "")
	testOK = testMessage(`
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKinv1;rport=5061
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>;tag=b1
Call-ID: call1
CSeq: 1 INVITE
Contact: <sip:bob@127.0.0.1:5062>
`, "")
	testACK = testMessage(`
ACK sip:bob@127.0.0.1:5062 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKack1;rport
Max-Forwards: 70
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>;tag=b1
Call-ID: call1
CSeq: 1 ACK
`, "")
	testHold = testMessage(`
INVITE sip:bob@127.0.0.1:5062 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKinv2;rport
Max-Forwards: 70
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>;tag=b1
Call-ID: call1
CSeq: 2 INVITE
Content-Type: application/sdp
`, "v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio 49170 RTP/AVP 0\r\na=sendonly\r\n")
	testRefer = testMessage(`
REFER sip:bob@127.0.0.1:5062 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKref1;rport
Max-Forwards: 70
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>;tag=b1
Call-ID: call1
CSeq: 3 REFER
Refer-To: <sip:carol@127.0.0.1:5063>
Referred-By: <sip:alice@127.0.0.1:5061>
Contact: <sip:alice@127.0.0.1:5061>
`, "")
	testAccepted = testMessage(`
SIP/2.0 202 Accepted
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKref1;rport=5061
From: <sip:alice@127.0.0.1:5061>;tag=a1
To: <sip:bob@127.0.0.1:5062>;tag=b1
Call-ID: call1
CSeq: 3 REFER
`, "")
	testNotifyTrying = testMessage(`
NOTIFY sip:alice@127.0.0.1:5061 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKnot1;rport
Max-Forwards: 70
From: <sip:bob@127.0.0.1:5062>;tag=b1
To: <sip:alice@127.0.0.1:5061>;tag=a1
Call-ID: call1
CSeq: 1 NOTIFY
Event: refer
Subscription-State: active;expires=60
Content-Type: message/sipfrag;version=2.0
`, "SIP/2.0 100 Trying\r\n")
	testInviteCarol = testMessage(`
INVITE sip:carol@127.0.0.1:5063 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKinv3;rport
Max-Forwards: 70
From: <sip:bob@127.0.0.1:5062>;tag=b2
To: <sip:carol@127.0.0.1:5063>
Call-ID: call2
CSeq: 1 INVITE
Referred-By: <sip:alice@127.0.0.1:5061>
Replaces: call3;to-tag=c3;from-tag=a3
Contact: <sip:bob@127.0.0.1:5062>
`, "")
	testNotifyOK = testMessage(`
NOTIFY sip:alice@127.0.0.1:5061 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKnot2;rport
Max-Forwards: 70
From: <sip:bob@127.0.0.1:5062>;tag=b1
To: <sip:alice@127.0.0.1:5061>;tag=a1
Call-ID: call1
CSeq: 2 NOTIFY
Event: refer
Subscription-State: terminated;reason=noresource
Content-Type: message/sipfrag;version=2.0
`, "SIP/2.0 200 OK\r\n")
	testBye = testMessage(`
BYE sip:carol@127.0.0.1:5063 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKbye1;rport
Max-Forwards: 70
From: <sip:alice@127.0.0.1:5061>;tag=a3
To: <sip:carol@127.0.0.1:5063>;tag=c3
Call-ID: call3
CSeq: 7 BYE
`, "")
)

// traceExchange traces msg as the two layers of a run see it: sent by from,
// then received by to, whose transport adds received and rport to the top
// Via of a request (RFC 3581 §4).
func traceExchange(l *Ladder, from, to transport.Addr, msg []byte) {
	l.TraceMessage(&transport.Trace{Sent: true, Local: from, Remote: to, Msg: msg})
	l.TraceMessage(&transport.Trace{Local: to, Remote: from, Msg: stampedByReceiver(msg, from)})
}

// stampedByReceiver returns msg as its receiver's transport traces it.
func stampedByReceiver(msg []byte, from transport.Addr) []byte {
	if bytes.HasPrefix(msg, []byte("SIP/2.0 ")) {
		return msg
	}
	port := fmt.Sprintf(";rport=%d;received=%s", from.Port(), from.Addr())
	return bytes.Replace(msg, []byte(";rport"), []byte(port), 1)
}

// newTestLadder returns a Ladder of Alice, Bob and Carol whose clock
// advances 10 ms each time it is read.
func newTestLadder(out *bytes.Buffer, colour bool) *Ladder {
	l := NewLadder(out, colour)
	now := time.Unix(1700000000, 0)
	l.Now = func() time.Time { now = now.Add(10 * time.Millisecond); return now }
	l.AddParty("Alice", testAlice)
	l.AddParty("Bob", testBob)
	l.AddParty("Carol", testCarol)
	return l
}
