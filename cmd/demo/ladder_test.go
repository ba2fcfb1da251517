package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sipxfer/sipxfer/sip"
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

func TestLadderBlindTransfer(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Blind transfer")
	traceExchange(l, testAlice, testBob, testInvite)
	traceExchange(l, testBob, testAlice, testTrying)
	traceExchange(l, testBob, testAlice, testRinging)
	traceExchange(l, testBob, testAlice, testOK)
	traceExchange(l, testAlice, testBob, testACK)
	traceExchange(l, testAlice, testBob, testHold)
	traceExchange(l, testAlice, testBob, testRefer)
	traceExchange(l, testBob, testAlice, testAccepted)
	traceExchange(l, testBob, testAlice, testNotifyTrying)
	traceExchange(l, testBob, testCarol, testInviteCarol)
	traceExchange(l, testBob, testAlice, testNotifyOK)
	l.Note("Alice hangs up her call with Carol")
	traceExchange(l, testAlice, testCarol, testBye)
	l.Summary(nil)

	want := `

━━ Blind transfer ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
│<────────────────│                 │  100 Trying (CSeq 1 INVITE)
│<────────────────│                 │  180 Ringing (CSeq 1 INVITE)
│<────────────────│                 │  200 OK (CSeq 1 INVITE)
│────────────────>│                 │  ACK (CSeq 1 ACK)
│────────────────>│                 │  INVITE (CSeq 2 INVITE)  hold: a=sendonly
│────────────────>│                 │  REFER (CSeq 3 REFER)  Refer-To: <sip:carol@127.0.0.1:5063>
│<────────────────│                 │  202 Accepted (CSeq 3 REFER)
│<────────────────│                 │  NOTIFY (CSeq 1 NOTIFY)  Event: refer
│                 │                 │    Subscription-State: active;expires=60
│                 │                 │    sipfrag: SIP/2.0 100 Trying
│                 │────────────────>│  INVITE (CSeq 1 INVITE)  Replaces: call3;to-tag=c3;from-tag=a3
│<────────────────│                 │  NOTIFY (CSeq 2 NOTIFY)  Event: refer
│                 │                 │    Subscription-State: terminated;reason=noresource
│                 │                 │    sipfrag: SIP/2.0 200 OK
│                 │                 │  Alice hangs up her call with Carol
│──────────────────────────────────>│  BYE (CSeq 7 BYE)
✓ Blind transfer succeeded in 10ms: 12 messages, 0 retransmissions
`
	checkLadderLines(t, out.String(), want)
}

// checkLadderLines compares got with want line by line, and checks that no
// line is wider than a 100-column terminal.
func checkLadderLines(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n") // the first line of a raw string
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
		g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i] != w[i] {
				t.Errorf("first difference, line %d:\n got %q\nwant %q", i+1, g[i], w[i])
				break
			}
		}
	}
	for i, line := range strings.Split(got, "\n") {
		if n := utf8.RuneCountInString(line); n > lineWidth {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
		}
	}
}

// TestLadderFirstTrace checks that a message is drawn at its first trace:
// on a socket, the receiver may trace a request, and send and trace its
// answer, before the sender's write returns and traces the request.
func TestLadderFirstTrace(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Race")
	l.TraceMessage(&transport.Trace{Local: testBob, Remote: testAlice, Msg: stampedByReceiver(testInvite, testAlice)})
	l.TraceMessage(&transport.Trace{Sent: true, Local: testBob, Remote: testAlice, Msg: testTrying})
	l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite})
	l.TraceMessage(&transport.Trace{Local: testAlice, Remote: testBob, Msg: testTrying})
	l.Summary(nil)
	want := `

━━ Race ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
│<────────────────│                 │  100 Trying (CSeq 1 INVITE)
✓ Race succeeded in 10ms: 2 messages, 0 retransmissions
`
	checkLadderLines(t, out.String(), want)
}

// TestLadderRetransmissions checks that a message sent again is drawn dim
// and counted, whether or not its first copy arrived, with no more than
// what it is, and that Section restarts the counts.
func TestLadderRetransmissions(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Lossy")
	// The first INVITE is lost; Timer A sends it again (RFC 3261 §17.1.1.2).
	l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite})
	traceExchange(l, testAlice, testBob, testInvite)
	traceExchange(l, testBob, testAlice, testOK)
	traceExchange(l, testAlice, testBob, testACK)
	// The 200 went again before the ACK arrived (§13.3.1.4); each 200
	// gets an ACK (§13.2.2.4).
	traceExchange(l, testBob, testAlice, testOK)
	traceExchange(l, testAlice, testBob, testACK)
	l.Summary(errors.New("timed out"))
	l.Section("Clean")
	traceExchange(l, testAlice, testBob, testInvite)
	l.Summary(nil)
	want := `

━━ Lossy ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
│────────────────>│                 │  INVITE (CSeq 1 INVITE)  (retransmission)
│<────────────────│                 │  200 OK (CSeq 1 INVITE)
│────────────────>│                 │  ACK (CSeq 1 ACK)
│<────────────────│                 │  200 OK (CSeq 1 INVITE)  (retransmission)
│────────────────>│                 │  ACK (CSeq 1 ACK)  (retransmission)
✗ Lossy failed after 10ms: timed out; 6 messages, 3 retransmissions

━━ Clean ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
✓ Clean succeeded in 10ms: 1 message, 0 retransmissions
`
	checkLadderLines(t, out.String(), want)
}

// TestLadderStrangers checks the column of an address no party was added
// with, drawn from its one trace; the long label of an attended transfer's
// REFER, wrapped between parameters to fit 100 columns, the Call-ID too
// long for the four columns' narrow label abbreviated with '…'; and a
// message to oneself.
func TestLadderStrangers(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	sipp := testAddr("192.0.2.9:5999")
	l.TraceMessage(&transport.Trace{Local: testAlice, Remote: sipp, Msg: testInvite})
	l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: sipp, Msg: testTrying})
	refer := bytes.Replace(testRefer, []byte("<sip:carol@127.0.0.1:5063>"), []byte(
		"<sip:carol@127.0.0.1:5063?Replaces=6f1c2a9e-0b7d-4c52-a0f3-3d2e1f4c5b6a%40127.0.0.1"+
			"%3Bto-tag%3D8a7b6c5d4e3f%3Bfrom-tag%3D1a2b3c4d5e6f>"), 1)
	refer = bytes.Replace(refer, []byte("Contact:"), []byte("Refer-Sub: false\r\nContact:"), 1)
	traceExchange(l, testAlice, testBob, refer)
	traceExchange(l, testCarol, testCarol, testBye)
	want := `
Alice             Bob               Carol             192.0.2.9:5999
│<────────────────────────────────────────────────────│  INVITE (CSeq 1 INVITE)
│────────────────────────────────────────────────────>│  100 Trying (CSeq 1 INVITE)
│────────────────>│                 │                 │  REFER (CSeq 3 REFER)
│                 │                 │                 │    Refer-To: <sip:carol@127.0.0.1:5063
│                 │                 │                 │    ?Replaces=6f1c2a9e-0b7d-4c52-a0f3-3d2e1f…
│                 │                 │                 │    %3Bto-tag%3D8a7b6c5d4e3f
│                 │                 │                 │    %3Bfrom-tag%3D1a2b3c4d5e6f>
│                 │                 │                 │    Refer-Sub: false
│                 │                 │↺                │  BYE (CSeq 7 BYE)
`
	checkLadderLines(t, out.String(), want)
}

// TestLadderVerbose checks that verbose mode prints the message under its
// arrow, as its first trace saw it.
func TestLadderVerbose(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Verbose = true
	traceExchange(l, testBob, testAlice, testNotifyTrying)
	want := `
Alice             Bob               Carol
│<────────────────│                 │  NOTIFY (CSeq 1 NOTIFY)  Event: refer
│                 │                 │    Subscription-State: active;expires=60
│                 │                 │    sipfrag: SIP/2.0 100 Trying
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
    Content-Length: 20
    
    SIP/2.0 100 Trying

`
	checkLadderLines(t, out.String(), want)
}

// TestLadderColour checks that colour on paints with ANSI escapes, a class
// of message each, and that colour off writes none.
func TestLadderColour(t *testing.T) {
	for _, colour := range []bool{false, true} {
		var out bytes.Buffer
		l := newTestLadder(&out, colour)
		l.Section("Colour")
		traceExchange(l, testAlice, testBob, testInvite)
		traceExchange(l, testBob, testAlice, testTrying)
		traceExchange(l, testBob, testAlice, testOK)
		traceExchange(l, testAlice, testBob, testRefer)
		traceExchange(l, testBob, testAlice, testNotifyTrying)
		l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testRefer})
		l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: []byte("garbage\r\n\r\n")})
		l.Summary(nil)
		got := out.String()
		if !colour {
			if strings.Contains(got, "\x1b") {
				t.Errorf("colour off wrote an escape:\n%q", got)
			}
			continue
		}
		for _, want := range []string{
			ansiBold + "━━ Colour ",
			ansiBold + "Alice             Bob               Carol" + ansiReset,
			colourInvite + "────────────────>" + ansiReset + "│                 │  " + colourInvite + "INVITE (CSeq 1 INVITE)" + ansiReset,
			colour1xx + "100 Trying (CSeq 1 INVITE)" + ansiReset,
			colour2xx + "200 OK (CSeq 1 INVITE)" + ansiReset,
			colourRefer + "REFER (CSeq 3 REFER)  Refer-To: <sip:carol@127.0.0.1:5063>" + ansiReset,
			colourEvent + "NOTIFY (CSeq 1 NOTIFY)  Event: refer" + ansiReset,
			ansiDim + "────────────────>" + ansiReset + "│                 │  " + ansiDim + "REFER (CSeq 3 REFER)  (retransmission)" + ansiReset,
			colourError + "unparsable, 11 bytes: ",
			ansiGreen + "✓ Colour succeeded",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("colour on: no %q in\n%s", want, got)
			}
		}
	}
}

// TestLadderConcurrent traces from several goroutines at once, as the
// layers of a run do, and checks that every line is whole and every
// message drawn once. Run it with -race.
func TestLadderConcurrent(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Concurrent")
	const n = 50
	pairs := [][2]transport.Addr{{testAlice, testBob}, {testBob, testCarol}, {testCarol, testAlice}}
	var wg sync.WaitGroup
	for p, pair := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				msg := bytes.Replace(testBye, []byte("CSeq: 7"), []byte(fmt.Sprintf("CSeq: %d", p*n+i+1)), 1)
				traceExchange(l, pair[0], pair[1], msg)
			}
		}()
	}
	wg.Wait()
	l.Summary(nil)

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	arrows := 0
	for _, line := range lines[3 : len(lines)-1] {
		if !strings.HasPrefix(line, "│") || !strings.HasSuffix(line, " BYE)") {
			t.Errorf("torn line %q", line)
		}
		arrows++
	}
	if arrows != len(pairs)*n {
		t.Errorf("%d arrows, want %d", arrows, len(pairs)*n)
	}
	if want := fmt.Sprintf("%d messages, 0 retransmissions", len(pairs)*n); !strings.HasSuffix(lines[len(lines)-1], want) {
		t.Errorf("summary %q, want it to end %q", lines[len(lines)-1], want)
	}
}

func TestColourWanted(t *testing.T) {
	regular, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	// /dev/null is a character device, as a terminal is.
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	for _, tc := range []struct {
		f              *os.File
		noColour, term string
		want           bool
	}{
		{regular, "", "xterm", false},
		{tty, "", "xterm", true},
		{tty, "1", "xterm", false},
		{tty, "", "dumb", false},
	} {
		t.Setenv("NO_COLOR", tc.noColour)
		t.Setenv("TERM", tc.term)
		if got := colourWanted(tc.f); got != tc.want {
			t.Errorf("colourWanted(%s) with NO_COLOR=%q TERM=%q = %v, want %v", tc.f.Name(), tc.noColour, tc.term, got, tc.want)
		}
	}
}

// TestLadderOverUDP runs requests and answers between two transport layers
// on 127.0.0.1, a Ladder and a PcapWriter attached to both, and checks that
// each message is drawn and recorded once, every answer after its request,
// however the two sockets' traces interleave (here, often the receiver's
// first).
func TestLadderOverUDP(t *testing.T) {
	var out, capture bytes.Buffer
	ladder := NewLadder(&out, false)
	pcap, err := NewPcapWriter(&capture, nil)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := transport.Config{Logger: quiet, Tracer: tracers{ladder, pcap}}
	answered := make(chan struct{}, 1)
	alice := transport.New(cfg, transport.HandlerFunc(func(in *transport.Inbound) { answered <- struct{}{} }))
	defer alice.Close()
	var bob *transport.Layer
	bob = transport.New(cfg, transport.HandlerFunc(func(in *transport.Inbound) {
		resp := sip.AppendNoBody(sip.AppendResponse(nil, in.Msg, 200, "", "b1"))
		if err := bob.SendResponse(in.Reply, resp); err != nil {
			t.Error(err)
		}
	}))
	defer bob.Close()
	loopback := netip.MustParseAddrPort("127.0.0.1:0")
	aliceAt, err := alice.ListenUDP(loopback)
	if err != nil {
		t.Fatal(err)
	}
	bobAt, err := bob.ListenUDP(loopback)
	if err != nil {
		t.Fatal(err)
	}
	ladder.AddParty("Alice", aliceAt)
	ladder.AddParty("Bob", bobAt)

	const n = 20
	for i := range n {
		req := testMessage(fmt.Sprintf(`
OPTIONS sip:bob@%v SIP/2.0
Max-Forwards: 70
From: <sip:alice@%v>;tag=a1
To: <sip:bob@%v>
Call-ID: options%d
CSeq: %d OPTIONS
`, bobAt.AddrPort, aliceAt.AddrPort, bobAt.AddrPort, i, i+1), "")
		if _, _, err := alice.SendRequest(bobAt, transport.NewBranch(nil), req); err != nil {
			t.Fatal(err)
		}
		select {
		case <-answered:
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer to request %d", i+1)
		}
	}
	// Bob's trace of his last answer may still be on its way.
	for deadline := time.Now().Add(5 * time.Second); pcap.Count() < 2*n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	ladder.Summary(nil)

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+2*n+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 1+2*n+1, out.String())
	}
	for i := range n {
		req := fmt.Sprintf("│────────────────>│  OPTIONS (CSeq %d OPTIONS)", i+1)
		resp := fmt.Sprintf("│<────────────────│  200 OK (CSeq %d OPTIONS)", i+1)
		if lines[1+2*i] != req || lines[2+2*i] != resp {
			t.Errorf("lines %d, %d:\n%s\n%s\nwant\n%s\n%s", 2+2*i, 3+2*i, lines[1+2*i], lines[2+2*i], req, resp)
		}
	}
	if want := fmt.Sprintf("%d messages, 0 retransmissions", 2*n); !strings.HasSuffix(lines[len(lines)-1], want) {
		t.Errorf("summary %q, want it to end %q", lines[len(lines)-1], want)
	}
	if err := pcap.Flush(); err != nil || pcap.Count() != 2*n {
		t.Fatalf("pcap: Flush() = %v, Count() = %d, want nil, %d", err, pcap.Count(), 2*n)
	}
	for i, payload := range pcapPayloads(t, capture.Bytes()) {
		want := "OPTIONS "
		if i%2 == 1 {
			want = "SIP/2.0 200 OK"
		}
		cseq := fmt.Sprintf("CSeq: %d OPTIONS", i/2+1)
		if !bytes.HasPrefix(payload, []byte(want)) || !bytes.Contains(payload, []byte(cseq)) {
			t.Errorf("pcap record %d, want %q with %q:\n%s", i, want, cseq, payload)
		}
	}
}

// A label too long for its line is broken between header fields, then
// between the parameters of a value (an attended transfer's Refer-To and
// Replaces), never inside a token; a parameter longer than a line is
// abbreviated with a visible mark.
func TestWrapLabel(t *testing.T) {
	referTo := "Refer-To: <sip:carol@127.0.0.1:54704?Replaces=2eef43bcec947adf5718ddfc5df0e5e5%3Bto-tag%3Dd1bff1ad28a4b6a2%3Bfrom-tag%3D5a5a5a5a5a5a5a5a>"
	parts := []string{"REFER (CSeq 20120 REFER)", referTo, "Event: refer;id=20120"}
	width := 61 // a 100-column terminal, three parties
	lines := wrapLabel(parts, width)
	want := []string{
		"REFER (CSeq 20120 REFER)",
		"Refer-To: <sip:carol@127.0.0.1:54704",
		"?Replaces=2eef43bcec947adf5718ddfc5df0e5e5",
		"%3Bto-tag%3Dd1bff1ad28a4b6a2%3Bfrom-tag%3D5a5a5a5a5a5a5a5a>",
		"Event: refer;id=20120",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for i, l := range lines {
		if n, max := utf8.RuneCountInString(l), width-2*min(i, 1); n > max {
			t.Errorf("line %d: %d runes, more than %d", i+1, n, max)
		}
	}

	// A part that fits a line is never broken, only moved to the next.
	lines = wrapLabel([]string{strings.Repeat("x", 40), "Subscription-State: terminated;reason=noresource"}, width)
	if len(lines) != 2 || lines[1] != "Subscription-State: terminated;reason=noresource" {
		t.Errorf("got %q", lines)
	}

	// One token longer than a line: abbreviated, marked.
	long := "Call-ID: " + strings.Repeat("a", 80)
	lines = wrapLabel([]string{"BYE (CSeq 1 BYE)", long}, width)
	if len(lines) != 2 || lines[1] != long[:width-3]+"…" {
		t.Errorf("got %q", lines)
	}
}

// The intro and summary lines wrap at spaces.
func TestWrapWords(t *testing.T) {
	got := wrapWords([]string{"Over UDP:", "Alice sip:alice@127.0.0.1:5061,", "Bob sip:bob@127.0.0.1:5062,", "Carol sip:carol@127.0.0.1:5063"}, 60)
	want := []string{"Over UDP: Alice sip:alice@127.0.0.1:5061,", "Bob sip:bob@127.0.0.1:5062, Carol sip:carol@127.0.0.1:5063"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// In verbose mode a header line too long for 100 columns (an attended
// transfer's Refer-To) is broken between its parameters, continuation
// lines indented, nothing lost.
func TestLadderVerboseLongLine(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Verbose = true
	referTo := "<sip:carol@127.0.0.1:5063?Replaces=6f1c2a9e0b7d4c52a0f33d2e1f4c5b6a%3Bto-tag%3D8a7b6c5d4e3f2a1b%3Bfrom-tag%3D1a2b3c4d5e6f7a8b>"
	refer := bytes.Replace(testRefer, []byte("<sip:carol@127.0.0.1:5063>"), []byte(referTo), 1)
	traceExchange(l, testAlice, testBob, refer)
	text := out.String()
	want := "    Refer-To: <sip:carol@127.0.0.1:5063?Replaces=6f1c2a9e0b7d4c52a0f33d2e1f4c5b6a\n" +
		"      %3Bto-tag%3D8a7b6c5d4e3f2a1b%3Bfrom-tag%3D1a2b3c4d5e6f7a8b>\n"
	if !strings.Contains(text, want) {
		t.Errorf("no %q in:\n%s", want, text)
	}
	checkLadderLines(t, text, text)
}
